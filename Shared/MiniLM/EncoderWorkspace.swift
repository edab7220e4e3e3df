/// Scratch memory for running the encoder on one packed chunk of up to ``tokenCapacity`` tokens.
///
/// Allocated once and reused (the embedder keeps a pool), so the forward pass allocates nothing.
/// Pages that a small input never touches are never faulted in. One workspace serves one chunk at a
/// time; ``scores`` has one attention-score matrix per worker so that workers can share a chunk.
final class EncoderWorkspace: @unchecked Sendable {
    let tokenCapacity: Int
    /// Token ids and in-sequence positions of the packed chunk.
    let tokenIDs: UnsafeMutablePointer<Int32>
    let positions: UnsafeMutablePointer<Int32>
    /// `tokens × hidden`: the running hidden state.
    let hidden: FloatBuffer
    /// `tokens × 3·hidden`: fused query | key | value projections.
    let queryKeyValue: FloatBuffer
    /// `tokens × hidden`: attention output before the output projection.
    let context: FloatBuffer
    /// `tokens × hidden`: output of a projection before the residual LayerNorm.
    let projection: FloatBuffer
    /// `tokens × intermediate`: the feed-forward activations.
    let intermediate: FloatBuffer
    /// One `maxSequenceLength²` score matrix per worker.
    let scores: [FloatBuffer]
    /// One `maxSequenceLength` vector of softmax row scales per worker.
    let rowScales: [FloatBuffer]

    init(tokenCapacity: Int, configuration: BertConfiguration, workers: Int) {
        self.tokenCapacity = tokenCapacity
        let hiddenSize = configuration.hiddenSize
        tokenIDs = .allocate(capacity: tokenCapacity)
        positions = .allocate(capacity: tokenCapacity)
        hidden = FloatBuffer(count: tokenCapacity * hiddenSize)
        queryKeyValue = FloatBuffer(count: tokenCapacity * 3 * hiddenSize)
        context = FloatBuffer(count: tokenCapacity * hiddenSize)
        projection = FloatBuffer(count: tokenCapacity * hiddenSize)
        intermediate = FloatBuffer(count: tokenCapacity * configuration.intermediateSize)
        let length = configuration.maxSequenceLength
        scores = (0..<max(workers, 1)).map { _ in FloatBuffer(count: length * length) }
        rowScales = (0..<max(workers, 1)).map { _ in FloatBuffer(count: length) }
    }

    deinit {
        tokenIDs.deallocate()
        positions.deallocate()
    }
}
