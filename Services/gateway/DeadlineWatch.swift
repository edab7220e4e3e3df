import Synchronization

/// Deadlines of many concurrent operations watched by one task that wakes every `tick`: registering and
/// unregistering is a dictionary insert and removal under a lock, with no timer per operation. An expired
/// watch is marked (`expired`) and its `onExpiry` called once, at most `tick` late.
final class DeadlineWatch: Sendable {
    /// The gateway's watch (request-body deadlines); its task lives as long as the process.
    static let shared = DeadlineWatch(tick: .milliseconds(50))

    final class Watch: Sendable {
        fileprivate let id: UInt64
        fileprivate let deadline: ContinuousClock.Instant
        fileprivate let onExpiry: @Sendable () -> Void
        private let expiredFlag = Atomic(false)

        /// Whether the deadline passed before `unwatch`.
        var expired: Bool { expiredFlag.load(ordering: .acquiring) }

        fileprivate init(id: UInt64, deadline: ContinuousClock.Instant, onExpiry: @escaping @Sendable () -> Void) {
            self.id = id
            self.deadline = deadline
            self.onExpiry = onExpiry
        }

        fileprivate func expire() {
            expiredFlag.store(true, ordering: .releasing)
            onExpiry()
        }
    }

    private struct State {
        var nextID: UInt64 = 0
        var watches: [UInt64: Watch] = [:]
    }

    private let state = Mutex(State())

    init(tick: Duration) {
        Task.detached { [weak self] in
            while let watch = self {
                watch.expireDue()
                try? await Task.sleep(for: tick)
            }
        }
    }

    /// Calls `onExpiry` (once, from the watch's task) when `deadline` passes before `unwatch`.
    func watch(until deadline: ContinuousClock.Instant, onExpiry: @escaping @Sendable () -> Void) -> Watch {
        state.withLock { state in
            state.nextID &+= 1
            let watch = Watch(id: state.nextID, deadline: deadline, onExpiry: onExpiry)
            state.watches[watch.id] = watch
            return watch
        }
    }

    func unwatch(_ watch: Watch) {
        _ = state.withLock { $0.watches.removeValue(forKey: watch.id) }
    }

    private func expireDue() {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [Watch] in
            let due = state.watches.values.filter { $0.deadline <= now }
            for watch in due { state.watches[watch.id] = nil }
            return due
        }
        for watch in due { watch.expire() }
    }
}
