/// The consumer end of a streamed body: what `HTTPStreamingResponse.body` calls for each element.
///
/// It ties the body's lifetime to the transfer's: if the stream (and its iterators) are dropped
/// before the end, `deinit` cancels the transfer so its concurrency slot is freed. Cancelling the
/// iterating task cancels the transfer too. `Sendable`: immutable references to `Sendable` objects.
final class CurlStreamReader: Sendable {
    private let buffer: CurlStreamBuffer
    private let transfer: CurlTransfer
    private let loop: CurlMultiLoop

    init(buffer: CurlStreamBuffer, transfer: CurlTransfer, loop: CurlMultiLoop) {
        self.buffer = buffer
        self.transfer = transfer
        self.loop = loop
    }

    deinit {
        loop.cancel(transfer)  // no-op if the transfer already finished
    }

    /// The next chunk, `nil` at the end.
    func next() async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            let (chunk, resumeTransfer) = try await buffer.next()
            if resumeTransfer { loop.resume(transfer) }
            return chunk
        } onCancel: {
            buffer.cancelConsumer()
            loop.cancel(transfer)
        }
    }
}
