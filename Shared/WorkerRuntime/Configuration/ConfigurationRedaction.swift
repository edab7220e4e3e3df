/// How a configuration value may appear in logs and error messages.
public enum ConfigurationRedaction: Sendable, Equatable {
    /// The value is not sensitive and is shown as is.
    case none
    /// The value is a secret (token, key, password): it is never shown, only whether it is set
    /// (`<redacted>`, or the empty string when it is empty).
    case secret
    /// The value is a URL that may carry credentials: the password in the user-info part and any
    /// `password=` query parameter are replaced with `***`; the rest is shown.
    case urlCredentials

    /// The text to show for `value` under this redaction.
    public func apply(to value: String) -> String {
        switch self {
        case .none:
            return value
        case .secret:
            return value.isEmpty ? "" : "<redacted>"
        case .urlCredentials:
            return Self.redactURLCredentials(value)
        }
    }

    private static func redactURLCredentials(_ value: String) -> String {
        var result = value
        // user:password@ in the authority
        if let schemeEnd = result.range(of: "://") {
            let authorityEnd = result[schemeEnd.upperBound...].firstIndex(where: { "/?#".contains($0) }) ?? result.endIndex
            let authority = result[schemeEnd.upperBound..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // password=… in the query string
        if let query = result.firstIndex(of: "?") {
            let parts = result[result.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false)
            let redacted = parts.map { part -> String in
                let lower = part.lowercased()
                return lower.hasPrefix("password=") ? "password=***" : String(part)
            }
            result = String(result[...query]) + redacted.joined(separator: "&")
        }
        return result
    }
}
