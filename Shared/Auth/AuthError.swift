/// Why a request was not authenticated (401) or not authorised (403).
///
/// `code` is stable and machine-readable (it becomes the problem `code` in the gateway's answer);
/// `message` is for people and never echoes the token.
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: String
    /// 401 (the token is missing or not acceptable) or 403 (the caller is known but not allowed).
    public let status: Int
    public let message: String

    public init(code: String, status: Int = 401, message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    static func unauthenticated(_ code: String, _ message: String) -> AuthError {
        AuthError(code: code, status: 401, message: message)
    }

    static func forbidden(_ code: String, _ message: String) -> AuthError {
        AuthError(code: code, status: 403, message: message)
    }
}
