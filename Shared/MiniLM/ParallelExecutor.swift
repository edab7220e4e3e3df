import Dispatch

/// Runs work on a fixed number of workers, blocking the caller until all are done.
///
/// `workers == 1` runs everything inline on the calling thread; otherwise the work is spread with
/// `DispatchQueue.concurrentPerform`, whose calling thread takes part. Blocking: do not call from
/// Swift concurrency's cooperative pool for long (see ``MiniLMEmbedder``).
struct ParallelExecutor {
    let workers: Int

    /// Calls `body(worker)` once for every worker index, concurrently.
    func forEachWorker(_ body: (Int) -> Void) {
        if workers == 1 {
            body(0)
        } else {
            Self.concurrentPerform(iterations: workers, body)
        }
    }

    /// Splits `0..<count` into at most `workers` contiguous, near-equal ranges of at least `grain`
    /// items and calls `body(worker, range)` for each, concurrently. Small counts run inline.
    func forEachRange(_ count: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let parts = max(1, min(workers, count / max(grain, 1)))
        if parts == 1 {
            body(0, 0..<count)
            return
        }
        Self.concurrentPerform(iterations: parts) { part in
            body(part, (count * part / parts)..<(count * (part + 1) / parts))
        }
    }

    /// Wraps a closure so it can cross into `concurrentPerform`, whose parameter is `@Sendable`.
    /// Sound here because `concurrentPerform` returns only after every iteration has finished (the
    /// closure never outlives the call), and every caller's iterations write disjoint memory.
    private struct UncheckedClosure: @unchecked Sendable {
        let body: (Int) -> Void
    }

    private static func concurrentPerform(iterations: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            let closure = UncheckedClosure(body: escapable)
            DispatchQueue.concurrentPerform(iterations: iterations) { closure.body($0) }
        }
    }
}
