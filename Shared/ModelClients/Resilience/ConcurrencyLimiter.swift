import Synchronization

/// At most ``limit`` calls in flight: an asynchronous semaphore whose waiters suspend (never block a
/// thread), are served in arrival order, and leave the queue at once when their task is cancelled.
///
/// Every successful ``acquire()`` must be matched by exactly one ``release()``. Thread-safe (`Mutex`).
public final class ConcurrencyLimiter: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var lastID: UInt64 = 0
    }

    /// The most permits out at once.
    public let limit: Int
    private let state: Mutex<State>

    /// Creates a limiter with `limit` permits.
    /// - Precondition: `limit >= 1`.
    public init(limit: Int) {
        precondition(limit >= 1, "the concurrency limit must be at least 1")
        self.limit = limit
        self.state = Mutex(State(available: limit))
    }

    /// Permits held right now.
    public var inFlight: Int { state.withLock { limit - $0.available } }
    /// Tasks waiting for a permit right now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Takes a permit, waiting for one if all are out.
    /// - Throws: `CancellationError` when the task is (or gets) cancelled before it has a permit;
    ///   it then holds none.
    public func acquire() async throws(CancellationError) {
        let id: UInt64? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.lastID &+= 1
            return state.lastID
        }
        guard let id else { return }
        let granted = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Checking cancellation under the lock closes the race with the handler below: if it ran
                // first it found no waiter to remove, but the task's flag was already set.
                let granted: Bool? = state.withLock { state in
                    if Task.isCancelled { return false }
                    if state.available > 0 {  // released between the first look and now
                        state.available -= 1
                        return true
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let granted { continuation.resume(returning: granted) }
            }
        } onCancel: {
            let removed: Waiter? = state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(returning: false)
        }
        if !granted { throw CancellationError() }
    }

    /// Returns a permit: hands it to the longest waiter, if any.
    public func release() {
        let next: Waiter? = state.withLock { state in
            if state.waiters.isEmpty {
                precondition(state.available < limit, "release() without a matching acquire()")
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume(returning: true)
    }
}
