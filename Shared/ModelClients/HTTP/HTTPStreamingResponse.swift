public import Foundation

/// A response whose head has arrived and whose body is still streaming, from ``CurlHTTPClient/stream(_:)``.
///
/// `body` yields the bytes in the pieces libcurl receives them (typically one per network read, up to
/// 16 KiB), in order, then finishes; it throws ``HTTPClientError`` if the transfer fails midway and
/// `CancellationError` if the iterating task is cancelled. It can be iterated once.
///
/// Backpressure: the client buffers at most about ``HTTPClientConfiguration/streamBufferLimit`` bytes
/// that the consumer has not taken yet; beyond that it pauses the transfer (the server then sees TCP or
/// HTTP/2 flow control) and resumes when the consumer catches up.
///
/// Ownership: the transfer holds one of the client's concurrency slots until the body ends, fails,
/// or is abandoned. Dropping this value (and any iterator of `body`) without reading to the end
/// cancels the transfer and frees its slot; keeping it without reading keeps the slot.
public struct HTTPStreamingResponse: Sendable {
    /// The final status code.
    public var status: Int
    /// The headers of the final response.
    public var headers: HTTPHeaders
    /// The body, as chunks in arrival order.
    public var body: AsyncThrowingStream<[UInt8], any Error>

    /// Creates a streaming response value (the client builds these).
    public init(status: Int, headers: HTTPHeaders, body: AsyncThrowingStream<[UInt8], any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The delay the server asked for in `Retry-After`, if any; see ``HTTPHeaders/retryAfter(now:)``.
    public func retryAfter(now: Date = Date()) -> Duration? { headers.retryAfter(now: now) }
}
