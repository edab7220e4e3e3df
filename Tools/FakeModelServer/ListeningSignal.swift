import Synchronization

/// Tells ``FakeModelServer/listening()`` callers when every listener of a run is bound, or why the run ended.
final class ListeningSignal: Sendable {
    /// One listener of the server.
    enum Part: Hashable, Sendable {
        case tcp
        case unixSocket
    }

    private struct State {
        var started = false
        var expected: Set<Part> = []
        var bound: Set<Part> = []
        var endpoints = FakeModelServer.Endpoints()
        var result: Result<FakeModelServer.Endpoints, any Error>?
        var waiters: [Int: CheckedContinuation<FakeModelServer.Endpoints, any Error>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Marks the run as started; `false` if it already was.
    func start() -> Bool {
        self.state.withLock { state in
            guard !state.started else { return false }
            state.started = true
            return true
        }
    }

    /// The listeners that must be bound before the server counts as listening.
    func expect(_ parts: Set<Part>) {
        self.state.withLock { $0.expected = parts }
    }

    /// Records that a listener is bound; resumes the waiters once all are.
    func bound(_ part: Part, host: String? = nil, port: Int? = nil, path: String? = nil) {
        let (waiters, endpoints) = self.state.withLock { state -> ([CheckedContinuation<FakeModelServer.Endpoints, any Error>], FakeModelServer.Endpoints) in
            switch part {
            case .tcp:
                state.endpoints.host = host
                state.endpoints.port = port
            case .unixSocket:
                state.endpoints.unixSocketPath = path
            }
            state.bound.insert(part)
            guard state.result == nil, state.bound.isSuperset(of: state.expected) else { return ([], state.endpoints) }
            state.result = .success(state.endpoints)
            defer { state.waiters = [:] }
            return (Array(state.waiters.values), state.endpoints)
        }
        for waiter in waiters { waiter.resume(returning: endpoints) }
    }

    /// Records that the run ended (or could not start); later waits throw `error`.
    func fail(_ error: any Error) {
        let waiters = self.state.withLock { state in
            state.result = .failure(error)
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    /// Waits for the endpoints; throws the run's error, or `CancellationError` when the waiting task is cancelled.
    func wait() async throws -> FakeModelServer.Endpoints {
        let id = self.state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let resumeNow: Result<FakeModelServer.Endpoints, any Error>? = self.state.withLock { state in
                    if state.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                    if let result = state.result { return result }
                    state.waiters[id] = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.cancelledWaiters.insert(id)
                    return nil as CheckedContinuation<FakeModelServer.Endpoints, any Error>?
                }
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
