/// The fake server's embedding function: a pure, deterministic function of (model, text, dimensions), public so
/// tests can predict exactly which vector the server returns for a text.
///
/// The vector is a hashed bag of words, so it behaves a little like a real embedding: texts that share words have
/// a positive cosine similarity, and a question retrieves the chunks that use its words.
/// - every lower-cased word (a run of letters and digits) contributes a pseudo-random vector seeded by
///   FNV-1a(model, word), with components uniform in [-1, 1);
/// - the whole text contributes one more such vector, seeded by FNV-1a(model, text), so two different texts
///   (even with the same words, or with no words at all) never get the same vector;
/// - the sum is L2-normalised (unit length) and converted to `Float`.
///
/// Component `i` of every contribution does not depend on `dimensions`, so a shorter vector is the renormalised
/// prefix of a longer one (like Matryoshka embeddings). Only exact arithmetic and `sqrt` are used, so the result
/// is bit-identical on every platform.
public enum FakeEmbedding {
    /// The dimensions used when a request does not ask for a number.
    public static let defaultDimensions = 384

    /// The unit-length vector the fake server returns for `text` under `model`.
    ///
    /// - Parameters:
    ///   - text: The exact input text.
    ///   - model: The model name from the request.
    ///   - dimensions: The vector length; must be positive.
    public static func vector(for text: String, model: String, dimensions: Int = defaultDimensions) -> [Float] {
        precondition(dimensions > 0, "dimensions must be positive")
        var sum = [Double](repeating: 0, count: dimensions)
        func add(seed: UInt64) {
            var generator = SeededGenerator(seed: seed)
            for index in 0..<dimensions {
                sum[index] += generator.nextUnit() * 2 - 1
            }
        }
        for word in self.words(in: text) {
            add(seed: fnv1a64(model, "word", word))
        }
        add(seed: fnv1a64(model, "text", text))

        var squares = 0.0
        for value in sum { squares += value * value }
        let norm = squares.squareRoot()
        // A zero sum is practically impossible (it needs an exact cancellation); fall back to a basis vector.
        guard norm > 0 else {
            var basis = [Float](repeating: 0, count: dimensions)
            basis[0] = 1
            return basis
        }
        return sum.map { Float($0 / norm) }
    }

    /// The words that contribute to a vector: lower-cased runs of letters and digits.
    static func words(in text: String) -> [String] {
        text.lowercased()
            .split(whereSeparator: { !($0.isLetter || $0.isNumber) })
            .map(String.init)
    }
}
