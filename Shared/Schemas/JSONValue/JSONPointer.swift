/// An RFC 6901 JSON pointer: a path of reference tokens from the root of a document to one value.
///
/// Its text form is `""` for the root and `/`-prefixed tokens otherwise, with `~` written `~0` and `/`
/// written `~1`: the token `a/b` of member `x~y` is `/x~0y/a~1b`. Array elements are addressed by
/// their decimal index.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens, outermost first.
    public var tokens: [String]

    /// The root pointer `""`.
    public static let root = JSONPointer(tokens: [])

    /// The pointer made of `tokens` (unescaped).
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses the text form. Throws when the text is neither empty nor starts with `/`, or has a `~` not
    /// followed by `0` or `1`.
    public init(parsing text: String) throws(JSONPointerError) {
        guard !text.isEmpty else {
            self.init(tokens: [])
            return
        }
        guard text.hasPrefix("/") else {
            throw JSONPointerError(pointer: text, message: "a JSON pointer must be empty or start with '/'")
        }
        var tokens: [String] = []
        for rawToken in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var scalars = rawToken.unicodeScalars.makeIterator()
            while let scalar = scalars.next() {
                guard scalar == "~" else {
                    token.unicodeScalars.append(scalar)
                    continue
                }
                switch scalars.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default:
                    throw JSONPointerError(pointer: text, message: "'~' must be followed by '0' or '1'")
                }
            }
            tokens.append(token)
        }
        self.init(tokens: tokens)
    }

    /// The pointer to member `key` of the value this pointer addresses.
    public func appending(_ key: String) -> JSONPointer {
        JSONPointer(tokens: tokens + [key])
    }

    /// The pointer to element `index` of the array this pointer addresses.
    public func appending(index: Int) -> JSONPointer {
        JSONPointer(tokens: tokens + [String(index)])
    }

    /// The text form, e.g. `/chunks/3/text`.
    public var description: String {
        var text = ""
        for token in tokens {
            text.append("/")
            Self.appendEscaped(token, to: &text)
        }
        return text
    }

    /// Escapes one reference token: `~` → `~0`, `/` → `~1`.
    public static func escape(_ token: String) -> String {
        var text = ""
        appendEscaped(token, to: &text)
        return text
    }

    static func appendEscaped(_ token: String, to text: inout String) {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
            text.append(token)
            return
        }
        for scalar in token.unicodeScalars {
            switch scalar {
            case "~": text.append("~0")
            case "/": text.append("~1")
            default: text.unicodeScalars.append(scalar)
            }
        }
    }
}

/// A malformed JSON pointer.
public struct JSONPointerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text that failed to parse.
    public let pointer: String
    /// What is wrong with it.
    public let message: String

    public var description: String { "invalid JSON pointer \"\(pointer)\": \(message)" }
}

extension JSONValue {
    /// The value `pointer` addresses within this one, or `nil` when there is none. Array tokens must be
    /// canonical decimal indexes (`0`, `12`; not `01` or `-1`).
    public subscript(pointer pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let object):
                guard let member = object[token] else { return nil }
                current = member
            case .array(let elements):
                guard let index = JSONPointer.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}

extension JSONPointer {
    /// The array index a token denotes: decimal digits without leading zeros.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            token == "0" || !token.hasPrefix("0")
        else { return nil }
        return Int(token)
    }
}
