/// pgvector's text form of `vector` (`[1,2.5,-3e-05]`) and Postgres's array form (`{1,2.5}`).
/// Stateless, hence safe from any thread.
enum PostgresVectorText {
    /// Parses `[a,b,…]` or `{a,b,…}` (spaces allowed); `nil` when malformed or an element is not a number.
    static func parse(_ text: String) -> [Float]? {
        let trimmed = text.trimmingCharacters(in: " ")
        guard let first = trimmed.first, let last = trimmed.last, trimmed.count >= 2,
              (first == "[" && last == "]") || (first == "{" && last == "}")
        else { return nil }
        let body = trimmed.dropFirst().dropLast()
        if body.allSatisfy({ $0 == " " }) { return [] }
        var result: [Float] = []
        result.reserveCapacity(body.count / 4)
        for element in body.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Float(element.trimmingCharacters(in: " ")) else { return nil }
            result.append(value)
        }
        return result
    }

    /// Formats as `[a,b,…]` with each element's shortest round-trip text. pgvector rejects NaN and
    /// infinities, so they are refused here with a clear error instead of a server round trip.
    static func format(_ vector: [Float]) throws -> String {
        var text = "["
        text.reserveCapacity(vector.count * 10 + 2)
        for (index, value) in vector.enumerated() {
            guard value.isFinite else {
                throw PostgresError(code: .encoding, message: "vector element \(index) is \(value); pgvector accepts finite values only")
            }
            if index > 0 { text += "," }
            text += value.description
        }
        text += "]"
        return text
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in character: Character) -> Substring {
        var slice = self[...]
        while slice.first == character { slice = slice.dropFirst() }
        while slice.last == character { slice = slice.dropLast() }
        return Substring(slice)
    }
}
