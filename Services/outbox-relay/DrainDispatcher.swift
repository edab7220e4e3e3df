import Synchronization

/// Hands wake-ups to a fixed set of drain workers: a wake-up resumes one idle worker, or, when every worker is
/// draining, is remembered (once) for the first that finishes. So a row committed while a batch is publishing
/// is claimed by another batch at once instead of after it, and no wake-up is lost.
final class DrainDispatcher: Sendable {
    private struct State {
        var idle: [CheckedContinuation<Bool, Never>] = []
        var pending = false
        var finished = false
    }

    private let state = Mutex(State())

    /// Wakes one idle worker, or marks a drain as pending.
    func wake() {
        let worker = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.finished else { return nil }
            guard !state.idle.isEmpty else {
                state.pending = true
                return nil
            }
            return state.idle.removeFirst()
        }
        worker?.resume(returning: true)
    }

    /// Waits for the next wake-up; false once `finish()` was called (the worker should end).
    func next() async -> Bool {
        await withCheckedContinuation { continuation in
            let answer = state.withLock { state -> Bool? in
                if state.finished { return false }
                if state.pending {
                    state.pending = false
                    return true
                }
                state.idle.append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Ends every worker: the idle ones now, the draining ones at their next `next()`.
    func finish() {
        let idle = state.withLock { state in
            state.finished = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        idle.forEach { $0.resume(returning: false) }
    }
}
