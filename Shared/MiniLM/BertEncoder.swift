import CMiniLM

/// The BERT encoder with mean pooling and L2 normalisation: token ids in, unit sentence vectors out.
///
/// Weights point into the memory-mapped safetensors file (kept alive here), except the query, key
/// and value projections, which are copied into one fused `3·hidden × hidden` matrix so that a single
/// `sgemm` computes all three. Forward pass per packed chunk of sequences (no padding: sequences are
/// laid end to end and attention runs per sequence, which equals padding plus an attention mask):
///
///     x = LayerNorm(word[id] + position[p] + tokenType[0])
///     repeat layers:  qkv = x·Wqkvᵀ + b
///                     per sequence and head: ctx = softmax(q·kᵀ/√d)·v
///                     x = LayerNorm(ctx·Woᵀ + bo + x)
///                     x = LayerNorm(GELU(x·W1ᵀ + b1)·W2ᵀ + b2 + x)
///     embedding = normalize(mean over the sequence's tokens of x)
///
/// `@unchecked Sendable`: immutable after `init`; weights are read-only.
final class BertEncoder: @unchecked Sendable {
    struct Linear {
        /// `outFeatures × inFeatures`, row-major (PyTorch layout).
        let weight: UnsafePointer<Float>
        let bias: UnsafePointer<Float>
        let outFeatures: Int
        let inFeatures: Int
    }

    struct LayerNorm {
        let gamma: UnsafePointer<Float>
        let beta: UnsafePointer<Float>
    }

    struct Layer {
        let queryKeyValue: Linear
        let attentionOutput: Linear
        let attentionNorm: LayerNorm
        let intermediate: Linear
        let output: Linear
        let outputNorm: LayerNorm
    }

    let configuration: BertConfiguration
    private let file: SafeTensorsFile
    private let fusedBuffers: [FloatBuffer]
    private let wordEmbeddings: UnsafePointer<Float>
    private let positionEmbeddings: UnsafePointer<Float>
    private let tokenTypeEmbeddings: UnsafePointer<Float>
    private let embeddingNorm: LayerNorm
    private let layers: [Layer]

    /// Binds every tensor of `file`, checking names and shapes against `configuration`.
    init(file: SafeTensorsFile, configuration: BertConfiguration) throws {
        self.file = file
        self.configuration = configuration
        let hidden = configuration.hiddenSize
        let inner = configuration.intermediateSize

        func tensor(_ name: String, _ shape: [Int]) throws -> UnsafeBufferPointer<Float> {
            // Some exports prefix every key with "bert."; accept both spellings.
            if file.tensors[name] == nil, file.tensors["bert." + name] != nil {
                return try file.float32("bert." + name, shape: shape)
            }
            return try file.float32(name, shape: shape)
        }
        func pointer(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            try tensor(name, shape).baseAddress!
        }
        func linear(_ prefix: String, out: Int, in: Int) throws -> Linear {
            Linear(weight: try pointer(prefix + ".weight", [out, `in`]), bias: try pointer(prefix + ".bias", [out]), outFeatures: out, inFeatures: `in`)
        }
        func norm(_ prefix: String) throws -> LayerNorm {
            LayerNorm(gamma: try pointer(prefix + ".weight", [hidden]), beta: try pointer(prefix + ".bias", [hidden]))
        }

        wordEmbeddings = try pointer("embeddings.word_embeddings.weight", [configuration.vocabularySize, hidden])
        positionEmbeddings = try pointer("embeddings.position_embeddings.weight", [configuration.maxPositionEmbeddings, hidden])
        tokenTypeEmbeddings = try pointer("embeddings.token_type_embeddings.weight", [configuration.typeVocabularySize, hidden])
        embeddingNorm = try norm("embeddings.LayerNorm")

        var layers: [Layer] = []
        var fused: [FloatBuffer] = []
        for index in 0..<configuration.layerCount {
            let prefix = "encoder.layer.\(index)."
            let parts = ["query", "key", "value"].map { prefix + "attention.self." + $0 }
            let weights = FloatBuffer(concatenating: try parts.map { try tensor($0 + ".weight", [hidden, hidden]) })
            let biases = FloatBuffer(concatenating: try parts.map { try tensor($0 + ".bias", [hidden]) })
            fused += [weights, biases]
            layers.append(
                Layer(
                    queryKeyValue: Linear(weight: weights.pointer, bias: biases.pointer, outFeatures: 3 * hidden, inFeatures: hidden),
                    attentionOutput: try linear(prefix + "attention.output.dense", out: hidden, in: hidden),
                    attentionNorm: try norm(prefix + "attention.output.LayerNorm"),
                    intermediate: try linear(prefix + "intermediate.dense", out: inner, in: hidden),
                    output: try linear(prefix + "output.dense", out: hidden, in: inner),
                    outputNorm: try norm(prefix + "output.LayerNorm")
                ))
        }
        self.layers = layers
        self.fusedBuffers = fused
    }

    /// Encodes the packed chunk held in `workspace.tokenIDs`: `sequences` are consecutive token ranges
    /// covering `0..<tokenCount`. Writes one unit-length `hiddenSize` vector per sequence to `output`.
    func encode(
        tokenCount: Int, sequences: [Range<Int>], into output: UnsafeMutablePointer<Float>,
        workspace: EncoderWorkspace, executor: ParallelExecutor
    ) {
        precondition(tokenCount <= workspace.tokenCapacity)
        let hidden = configuration.hiddenSize
        let epsilon = configuration.layerNormEpsilon
        let state = workspace.hidden.pointer
        for sequence in sequences {
            for token in sequence { workspace.positions[token] = Int32(token - sequence.lowerBound) }
        }

        executor.forEachRange(tokenCount, grain: 32) { _, rows in
            for row in rows {
                let line = state + row * hidden
                let word = wordEmbeddings + Int(workspace.tokenIDs[row]) * hidden
                let position = positionEmbeddings + Int(workspace.positions[row]) * hidden
                for column in 0..<hidden {
                    line[column] = word[column] + position[column] + tokenTypeEmbeddings[column]
                }
            }
            MathKernels.addResidualLayerNorm(
                input: nil, bias: nil, residual: state + rows.lowerBound * hidden, rows: rows.count, width: hidden,
                gamma: embeddingNorm.gamma, beta: embeddingNorm.beta, epsilon: epsilon)
        }

        for layer in layers {
            linear(state, rows: tokenCount, layer.queryKeyValue, into: workspace.queryKeyValue.pointer, epilogue: .bias, executor: executor)
            attention(tokenCount: tokenCount, sequences: sequences, workspace: workspace, executor: executor)
            linear(workspace.context.pointer, rows: tokenCount, layer.attentionOutput, into: workspace.projection.pointer, epilogue: .none, executor: executor)
            residualLayerNorm(workspace.projection.pointer, bias: layer.attentionOutput.bias, norm: layer.attentionNorm, rows: tokenCount, workspace: workspace, executor: executor)
            linear(state, rows: tokenCount, layer.intermediate, into: workspace.intermediate.pointer, epilogue: .biasGELU, executor: executor)
            linear(workspace.intermediate.pointer, rows: tokenCount, layer.output, into: workspace.projection.pointer, epilogue: .none, executor: executor)
            residualLayerNorm(workspace.projection.pointer, bias: layer.output.bias, norm: layer.outputNorm, rows: tokenCount, workspace: workspace, executor: executor)
        }

        for (index, sequence) in sequences.enumerated() {
            meanPoolAndNormalize(state + sequence.lowerBound * hidden, rows: sequence.count, width: hidden, into: output + index * hidden)
        }
    }

    enum Epilogue {
        case none, bias, biasGELU
    }

    /// `output = input · weightᵀ (+ bias, + GELU)`, `rows × outFeatures`. Large inputs are split by rows
    /// across workers; small ones (few tokens) by output columns, so that batch-1 latency also scales.
    private func linear(
        _ input: UnsafePointer<Float>, rows: Int, _ linear: Linear, into output: UnsafeMutablePointer<Float>,
        epilogue: Epilogue, executor: ParallelExecutor
    ) {
        let outFeatures = linear.outFeatures, inFeatures = linear.inFeatures
        let rowGrain = 64, columnGrain = 64
        let columnBlocks = outFeatures / columnGrain
        if executor.workers == 1 || rows >= rowGrain * executor.workers || columnBlocks < 2 {
            executor.forEachRange(rows, grain: rowGrain) { _, block in
                Self.sgemmTransposed(
                    rows: block.count, columns: outFeatures, depth: inFeatures, a: input + block.lowerBound * inFeatures,
                    lda: inFeatures, b: linear.weight, ldb: inFeatures, c: output + block.lowerBound * outFeatures, ldc: outFeatures)
                if epilogue != .none {
                    MathKernels.addBias(
                        output + block.lowerBound * outFeatures, rows: block.count, width: outFeatures, stride: outFeatures,
                        bias: linear.bias, gelu: epilogue == .biasGELU)
                }
            }
        } else {
            executor.forEachRange(columnBlocks, grain: 1) { _, block in
                let first = block.lowerBound * columnGrain
                let last = block.upperBound == columnBlocks ? outFeatures : block.upperBound * columnGrain
                Self.sgemmTransposed(
                    rows: rows, columns: last - first, depth: inFeatures, a: input, lda: inFeatures,
                    b: linear.weight + first * inFeatures, ldb: inFeatures, c: output + first, ldc: outFeatures)
                if epilogue != .none {
                    MathKernels.addBias(
                        output + first, rows: rows, width: last - first, stride: outFeatures, bias: linear.bias + first,
                        gelu: epilogue == .biasGELU)
                }
            }
        }
    }

    /// Multi-head self-attention of every sequence, from `queryKeyValue` into `context`. One task per
    /// (sequence, head); each worker keeps its scores in its own matrix.
    private func attention(tokenCount: Int, sequences: [Range<Int>], workspace: EncoderWorkspace, executor: ParallelExecutor) {
        let hidden = configuration.hiddenSize
        let heads = configuration.headCount
        let headSize = configuration.headSize
        let stride = 3 * hidden
        let scale = 1 / Float(headSize).squareRoot()
        let qkv = workspace.queryKeyValue.pointer
        let context = workspace.context.pointer
        // A query's few tokens take less time than handing half of the heads to another thread.
        let squares = sequences.reduce(0) { $0 + $1.count * $1.count }
        let executor = squares <= Self.inlineAttentionSquares ? ParallelExecutor.serial : executor
        executor.forEachRange(sequences.count * heads) { worker, tasks in
            let scores = workspace.scores[worker].pointer
            let inverseSums = workspace.rowScales[worker].pointer
            for task in tasks {
                let sequence = sequences[task / heads]
                let head = task % heads
                let length = sequence.count
                let query = qkv + sequence.lowerBound * stride + head * headSize
                let output = context + sequence.lowerBound * hidden + head * headSize
                // scores = q·kᵀ/√d; p = exp(scores − rowmax); context = (p·v) / Σp
                Self.sgemmTransposed(
                    rows: length, columns: length, depth: headSize, alpha: scale, a: query, lda: stride,
                    b: query + hidden, ldb: stride, c: scores, ldc: length)
                MathKernels.exponentiateRows(scores, rows: length, count: length, stride: length, inverseSums: inverseSums)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(headSize), Int32(length), 1,
                    scores, Int32(length), query + 2 * hidden, Int32(stride), 0, output, Int32(hidden))
                MathKernels.scaleRows(output, rows: length, width: headSize, stride: hidden, scales: inverseSums)
            }
        }
    }

    /// `hidden = LayerNorm(projection + bias + hidden)`, by rows.
    private func residualLayerNorm(
        _ projection: UnsafePointer<Float>, bias: UnsafePointer<Float>, norm: LayerNorm, rows: Int,
        workspace: EncoderWorkspace, executor: ParallelExecutor
    ) {
        let hidden = configuration.hiddenSize
        let state = workspace.hidden.pointer
        let epsilon = configuration.layerNormEpsilon
        executor.forEachRange(rows, grain: 32) { _, block in
            MathKernels.addResidualLayerNorm(
                input: projection + block.lowerBound * hidden, bias: bias, residual: state + block.lowerBound * hidden,
                rows: block.count, width: hidden, gamma: norm.gamma, beta: norm.beta, epsilon: epsilon)
        }
    }

    /// Mean over `rows` token vectors, then division by the L2 norm (floored at 1e-12, like the reference).
    private func meanPoolAndNormalize(_ tokens: UnsafePointer<Float>, rows: Int, width: Int, into output: UnsafeMutablePointer<Float>) {
        output.initialize(repeating: 0, count: width)
        for row in 0..<rows {
            let line = tokens + row * width
            for column in 0..<width { output[column] += line[column] }
        }
        let inverseCount = 1 / Float(max(rows, 1))
        var squares: Float = 0
        for column in 0..<width {
            output[column] *= inverseCount
            squares += output[column] * output[column]
        }
        let inverseNorm = 1 / max(squares.squareRoot(), 1e-12)
        for column in 0..<width { output[column] *= inverseNorm }
    }

    /// Attention runs on the calling thread alone when the sequences' squared lengths add up to at most this.
    static let inlineAttentionSquares = 32 * 32

    /// Up to this many rows, ``sgemmTransposed`` uses ``MathKernels/multiplyTransposed`` instead of OpenBLAS.
    static let fewRows = 24

    /// Row-major `c = alpha · a · bᵀ` with `a` `rows × depth` and `b` `columns × depth`: OpenBLAS, or for
    /// at most ``fewRows`` rows the kernel that reads `b` once without packing it.
    @inline(__always)
    private static func sgemmTransposed(
        rows: Int, columns: Int, depth: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if rows <= fewRows, depth % 8 == 0 {
            MathKernels.multiplyTransposed(
                rows: rows, columns: columns, depth: depth, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(depth), alpha, a, Int32(lda),
            b, Int32(ldb), 0, c, Int32(ldc))
    }
}
