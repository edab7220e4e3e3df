/// An owned, 64-byte aligned, uninitialised-then-written block of `Float`s, freed in `deinit`.
///
/// `@unchecked Sendable` because its two uses are safe by construction: model weights are written only
/// during model loading and read-only afterwards; workspace buffers are handed to one embedding call at
/// a time by the embedder's pool, and that call's workers write disjoint ranges.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// A copy of `pieces`, concatenated.
    convenience init(concatenating pieces: [UnsafeBufferPointer<Float>]) {
        self.init(count: pieces.reduce(0) { $0 + $1.count })
        var offset = 0
        for piece in pieces {
            if let base = piece.baseAddress { (pointer + offset).update(from: base, count: piece.count) }
            offset += piece.count
        }
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}
