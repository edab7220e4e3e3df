public import Foundation

/// A complete HTTP response as returned by ``CurlHTTPClient/execute(_:)``.
///
/// Any status is a response, not an error: the caller decides what 429 or 5xx mean (see
/// ``retryAfter(now:)``). A value type that owns copies of everything libcurl delivered; `Sendable`.
public struct HTTPResponse: Sendable, Hashable {
    /// The final status code (after any redirects the client was configured to follow).
    public var status: Int
    /// The headers of the final response, in received order.
    public var headers: HTTPHeaders
    /// The body, decoded if the server used a content encoding libcurl understands (gzip, br, zstd).
    public var body: [UInt8]

    /// Creates a response value (the client builds these; tests and fakes may too).
    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The delay the server asked for in `Retry-After`, if any; see ``HTTPHeaders/retryAfter(now:)``.
    public func retryAfter(now: Date = Date()) -> Duration? { headers.retryAfter(now: now) }
}
