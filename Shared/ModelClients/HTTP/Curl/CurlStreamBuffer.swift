import Synchronization

/// The hand-over point between a streamed transfer (producer: the loop thread, inside libcurl's
/// write callback) and the task iterating the response body (consumer).
///
/// `Sendable` because all state is inside a `Mutex`; continuations are resumed after the lock is
/// released. At most one consumer waits at a time (an `AsyncThrowingStream` iterator is not shared).
///
/// Backpressure: `offer` refuses data once `limit` unread bytes are buffered, and the transfer then
/// pauses (libcurl keeps the refused bytes and offers them again after unpausing). `next` reports
/// when the consumer has drained a paused buffer to half the limit, so the reader can ask the loop
/// to unpause.
final class CurlStreamBuffer: Sendable {
    private enum End {
        case finished
        case failed(any Error)
    }

    private struct State {
        var chunks: [[UInt8]] = []
        var firstChunk = 0
        var bufferedBytes = 0
        var paused = false
        var end: End?
        var endDelivered = false
        var consumerCancelled = false
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
    }

    private enum NextStep {
        case chunk([UInt8], resumeTransfer: Bool)
        case end
        case fail(any Error)
        case wait
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    // MARK: Producer (loop thread)

    /// Offers received bytes. Returns false when the buffer is full: the caller must pause the
    /// transfer without consuming them. After the end or a consumer cancellation, data is dropped.
    func offer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let (accepted, waiter): (Bool, CheckedContinuation<[UInt8]?, any Error>?) = state.withLock { state in
            if state.end != nil || state.consumerCancelled { return (true, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            if state.bufferedBytes >= limit {
                state.paused = true
                return (false, nil)
            }
            state.chunks.append(Array(bytes))
            state.bufferedBytes += bytes.count
            return (true, nil)
        }
        waiter?.resume(returning: Array(bytes))
        return accepted
    }

    /// Ends the body: `nil` for a complete transfer, else the error the consumer will see after
    /// the buffered chunks. Only the first call counts.
    func finish(_ error: (any Error)?) {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = error.map { .failed($0) } ?? .finished
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.endDelivered = true
            return waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    // MARK: Consumer

    /// The next chunk, or `nil` at the end; throws the transfer's error once, then returns `nil`.
    /// `resumeTransfer` is true when the caller should unpause the transfer.
    func next() async throws -> (chunk: [UInt8]?, resumeTransfer: Bool) {
        switch state.withLock({ Self.nextStep(&$0, limit: limit) }) {
        case .chunk(let chunk, let resume):
            return (chunk, resume)
        case .end:
            return (nil, false)
        case .fail(let error):
            throw error
        case .wait:
            var resumeTransfer = false
            let chunk = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                // Data, the end or a cancellation may have arrived since the check above.
                let step: NextStep = state.withLock { state in
                    let step = Self.nextStep(&state, limit: limit)
                    if case .wait = step { state.waiter = continuation }
                    return step
                }
                switch step {
                case .chunk(let chunk, let resume):
                    resumeTransfer = resume
                    continuation.resume(returning: chunk)
                case .end: continuation.resume(returning: nil)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait: break
                }
            }
            return (chunk, resumeTransfer)
        }
    }

    /// The consuming task was cancelled: a waiting `next` throws `CancellationError` now, later
    /// calls end the sequence, and further data is dropped.
    func cancelConsumer() {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard !state.consumerCancelled else { return nil }
            state.consumerCancelled = true
            state.chunks = []
            state.firstChunk = 0
            state.bufferedBytes = 0
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.endDelivered = true
            return waiter
        }
        waiter?.resume(throwing: CancellationError())
    }

    private static func nextStep(_ state: inout State, limit: Int) -> NextStep {
        if state.consumerCancelled {
            if state.endDelivered { return .end }
            state.endDelivered = true
            return .fail(CancellationError())
        }
        if state.firstChunk < state.chunks.count {
            let chunk = state.chunks[state.firstChunk]
            state.firstChunk += 1
            if state.firstChunk == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.firstChunk = 0
            }
            state.bufferedBytes -= chunk.count
            var resume = false
            if state.paused && state.bufferedBytes <= limit / 2 {
                state.paused = false
                resume = true
            }
            return .chunk(chunk, resumeTransfer: resume)
        }
        switch state.end {
        case nil:
            return .wait
        case _ where state.endDelivered:
            return .end
        case .finished:
            state.endDelivered = true
            return .end
        case .failed(let error):
            state.endDelivered = true
            return .fail(error)
        }
    }
}
