import Foundation

/// An `NSRegularExpression` compiled once from an ECMA-262 pattern.
///
/// `@unchecked Sendable`: an `NSRegularExpression` is immutable after creation and documented as safe to
/// use from several threads at once.
final class CompiledRegex: @unchecked Sendable {
    private let regex: NSRegularExpression

    init(ecmaPattern: String) throws(SchemaPattern.PatternError) {
        do {
            regex = try NSRegularExpression(pattern: Self.icuPattern(fromECMA: ecmaPattern))
        } catch {
            throw SchemaPattern.PatternError(message: "pattern \"\(ecmaPattern)\" is not a valid regular expression")
        }
    }

    func matches(_ string: String) -> Bool {
        regex.firstMatch(in: string, range: NSRange(location: 0, length: string.utf16.count)) != nil
    }

    /// Rewrites the ECMA-262 constructs whose ICU meaning differs (see `SchemaPattern`).
    static func icuPattern(fromECMA source: String) -> String {
        var result = ""
        var inClass = false
        var scalars = source.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "\\":
                guard let escaped = scalars.next() else {
                    result.append("\\")
                    continue
                }
                switch (escaped, inClass) {
                case ("d", false): result.append("[0-9]")
                case ("d", true): result.append("0-9")
                case ("D", false): result.append("[^0-9]")
                case ("w", false): result.append("[A-Za-z0-9_]")
                case ("w", true): result.append("A-Za-z0-9_")
                case ("W", false): result.append("[^A-Za-z0-9_]")
                default:
                    result.append("\\")
                    result.unicodeScalars.append(escaped)
                }
            case "[" where !inClass:
                inClass = true
                result.append("[")
                // A `]` right after `[` or `[^` is literal in ICU but ends an empty class in ECMA; leave
                // it to ICU (no bundled schema writes one).
            case "]" where inClass:
                inClass = false
                result.append("]")
            case "$" where !inClass:
                result.append("\\z")
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
