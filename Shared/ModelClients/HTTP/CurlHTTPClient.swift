public import Logging

/// An HTTP/1.1 and HTTP/2 client for model APIs, built on one libcurl multi handle.
///
/// - Threading: all network I/O runs on one dedicated OS thread per client (never on Swift's
///   cooperative pool); `execute` and `stream` suspend the calling task until the result is ready.
///   Every method may be called from any task or thread; the class is `Sendable` because its
///   state lives in the loop object behind a lock and its stored properties are immutable.
/// - Connections: requests share the client's connection cache (keep-alive, HTTP/2 multiplexing
///   negotiated with ALPN over TLS, cleartext stays HTTP/1.1), so create one client per process
///   or per provider and keep it.
/// - Concurrency: at most ``HTTPClientConfiguration/maxConcurrentRequests`` transfers run at once;
///   the rest wait in FIFO order. A request's timeout starts when it gets a slot — waiting does not
///   count — so bound the overall latency with task cancellation or a deadline around the call.
/// - Errors: transport failures throw ``HTTPClientError``; HTTP statuses (429, 5xx, …) are returned
///   as responses for the caller to judge. Cancelling the calling task removes the transfer at once,
///   frees its slot and throws `CancellationError`.
/// - Lifetime: ``shutdown()`` (or the last reference going away) cancels everything still running
///   or waiting with ``HTTPClientError/Kind/cancelled`` and joins the thread.
public final class CurlHTTPClient: Sendable {
    /// The settings this client was created with.
    public let configuration: HTTPClientConfiguration
    private let loop: CurlMultiLoop
    private let logger: Logger

    /// Creates the client and starts its I/O thread.
    /// - Precondition: `configuration.maxConcurrentRequests >= 1`.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(), logger: Logger = Logger(label: "rag.model-clients.http")) {
        precondition(configuration.maxConcurrentRequests >= 1, "maxConcurrentRequests must be at least 1")
        self.configuration = configuration
        self.logger = logger
        self.loop = CurlMultiLoop(maxConcurrentTransfers: configuration.maxConcurrentRequests, logger: logger)
    }

    deinit {
        loop.shutdown()
    }

    /// Sends `request` and returns the complete response, whatever its status.
    ///
    /// Throws ``HTTPClientError`` when no response was received (`.timeout`, `.connectionFailed`,
    /// `.connectionLost`, …; see ``HTTPClientError/isRetryable``), and `CancellationError` when the
    /// calling task is cancelled — before, while waiting for a slot, or during the transfer.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Task.checkCancellation()
        let transfer = try CurlTransfer(request: request, configuration: configuration)
        let loop = self.loop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                transfer.setDelivery(.collect(continuation))
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// Sends `request` and returns as soon as the response head (status and headers) has arrived;
    /// the body follows through ``HTTPStreamingResponse/body`` as the server sends it — the shape
    /// for `stream: true` chat completions (Server-Sent Events).
    ///
    /// Errors before the head are thrown here, as in ``execute(_:)``; later ones are thrown by the
    /// body sequence. The transfer keeps its concurrency slot until the body ends or the response is
    /// dropped. The request timeout covers the whole transfer including the body, so give long
    /// generations a long timeout.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try Task.checkCancellation()
        let transfer = try CurlTransfer(request: request, configuration: configuration)
        let loop = self.loop
        let buffer = CurlStreamBuffer(limit: configuration.streamBufferLimit)
        let reader = CurlStreamReader(buffer: buffer, transfer: transfer, loop: loop)
        let body = AsyncThrowingStream<[UInt8], any Error>(unfolding: { try await reader.next() })
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPStreamingResponse, any Error>) in
                transfer.setDelivery(.streamHead(continuation, body, buffer))
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// Cancels every running and waiting request (they throw ``HTTPClientError/Kind/cancelled``),
    /// closes the connections and joins the I/O thread. Later requests fail the same way.
    /// Idempotent; blocks the caller only for the thread's last pass (milliseconds).
    public func shutdown() {
        loop.shutdown()
    }

    /// The number of transfers running and waiting for a slot right now (a snapshot, for metrics).
    public var load: (active: Int, waiting: Int) { loop.load }
}
