import Metrics

/// Masks personal data in text that leaves for an external model (SPEC §8): email addresses, card numbers
/// (Luhn-checked), IBANs (mod-97-checked), phone numbers and configurable patterns, each replaced by a
/// placeholder such as `[EMAIL]`. Every masked span is counted in `rag_pii_masked_total{kind}`.
///
/// The order matters: cards and IBANs are found before phone numbers, whose loose pattern would otherwise
/// take their digits. Only what is sent to an external model is masked; the stored chunks are not.
struct PIIMasker: Sendable {
    /// A named pattern: its matches become `[NAME]` (upper-cased).
    struct Pattern: @unchecked Sendable {  // Regex is immutable once built.
        let name: String
        let regex: Regex<AnyRegexOutput>
        /// An extra check of a match (a checksum); nil accepts every match.
        let accepts: (@Sendable (Substring) -> Bool)?
        /// A digit run: a match right after another digit (up to two separators between) is part of a longer
        /// number, not this kind (Swift's Regex has no lookbehind to say so).
        let isDigitRun: Bool
        /// What every match holds at the least: this many ASCII digits, and an `@` when `needsAtSign`. Checked
        /// once per text, before any regex runs: most text holds no personal data, and Swift's Regex is slow
        /// (it was most of the rag-chain's CPU time per query that went to masking).
        let minimumDigits: Int
        let needsAtSign: Bool

        init(name: String, regex: Regex<AnyRegexOutput>, isDigitRun: Bool = false, minimumDigits: Int = 0, needsAtSign: Bool = false,
             accepts: (@Sendable (Substring) -> Bool)? = nil) {
            self.name = name
            self.regex = regex
            self.isDigitRun = isDigitRun
            self.minimumDigits = minimumDigits
            self.needsAtSign = needsAtSign
            self.accepts = accepts
        }

        /// Parses `name=regex` entries separated by `;;` (`RAG_PII_PATTERNS`).
        static func parseList(_ text: String) throws -> [Pattern] {
            try text.split(separator: ";;", omittingEmptySubsequences: true).map { entry in
                guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                    throw PatternError(entry: String(entry), problem: "expected name=regex")
                }
                let name = entry[..<equals].trimmingCharacters(in: .whitespaces)
                do {
                    return Pattern(name: name, regex: try Regex(String(entry[entry.index(after: equals)...])))
                } catch {
                    throw PatternError(entry: String(entry), problem: "not a regular expression: \(error)")
                }
            }
        }
    }

    struct PatternError: Error, CustomStringConvertible {
        var entry: String
        var problem: String
        var description: String { "\(entry): \(problem)" }
    }

    let patterns: [Pattern]

    init(extraPatterns: [Pattern] = []) {
        patterns = Self.builtIn + extraPatterns
    }

    /// `text` with every match replaced, and the number of spans masked per pattern name.
    func mask(_ text: String) -> (text: String, masked: [String: Int]) {
        var result = text
        var counts: [String: Int] = [:]
        let digits = text.utf8.count { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        let hasAtSign = text.utf8.contains(UInt8(ascii: "@"))
        for pattern in patterns where digits >= pattern.minimumDigits && (hasAtSign || !pattern.needsAtSign) {
            var output = ""
            var rest = result[...]
            while let match = rest.firstMatch(of: pattern.regex) {
                output += rest[..<match.range.lowerBound]
                let span = rest[match.range]
                let continuesANumber = pattern.isDigitRun
                    && output.reversed().prefix(3).drop(while: { " ./()-".contains($0) }).first?.isNumber == true
                if !continuesANumber, pattern.accepts?(span) ?? true {
                    output += "[\(pattern.name.uppercased())]"
                    counts[pattern.name, default: 0] += 1
                } else {
                    output += span
                }
                guard match.range.upperBound > match.range.lowerBound else {
                    // An empty match: move on by one character.
                    if rest.isEmpty { break }
                    output.append(rest[rest.startIndex])
                    rest = rest[rest.index(after: rest.startIndex)...]
                    continue
                }
                rest = rest[match.range.upperBound...]
            }
            output += rest
            result = output
        }
        for (name, count) in counts {
            Counter(label: "rag_pii_masked_total", dimensions: [("kind", name)]).increment(by: count)
        }
        return (result, counts)
    }

    static let builtIn: [Pattern] = [
        Pattern(name: "email", regex: try! Regex(#"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"#), needsAtSign: true),
        Pattern(name: "iban", regex: try! Regex(#"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"#), minimumDigits: 2, accepts: { isValidIBAN($0) }),
        Pattern(name: "card", regex: try! Regex(#"\b[0-9](?:[ -]?[0-9]){12,18}\b"#), isDigitRun: true, minimumDigits: 13, accepts: { passesLuhn($0) }),
        // 8 to 15 digits (E.164), not part of a longer run of digits.
        Pattern(name: "phone", regex: try! Regex(#"(?:\+|\b)[0-9](?:[ ./()-]{0,2}[0-9]){7,14}(?![ ./()-]{0,2}[0-9])"#), isDigitRun: true, minimumDigits: 8),
    ]

    /// The Luhn checksum of the digits in `text` (card numbers).
    static func passesLuhn(_ text: Substring) -> Bool {
        let digits = text.compactMap(\.wholeNumberValue)
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (index, digit) in digits.reversed().enumerated() {
            if index % 2 == 1 {
                let doubled = digit * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += digit
            }
        }
        return sum % 10 == 0
    }

    /// ISO 13616 mod-97 check of an IBAN (spaces ignored).
    static func isValidIBAN(_ text: Substring) -> Bool {
        let compact = text.filter { $0 != " " }
        guard (15...34).contains(compact.count) else { return false }
        let rearranged = compact.dropFirst(4) + compact.prefix(4)
        var remainder = 0
        for character in rearranged {
            guard let value = character.isNumber ? character.wholeNumberValue : character.isLetter ? Int(character.asciiValue ?? 0) - 55 : nil,
                  value >= 0 else { return false }
            for digit in String(value) {
                remainder = (remainder * 10 + digit.wholeNumberValue!) % 97
            }
        }
        return remainder == 1
    }
}
