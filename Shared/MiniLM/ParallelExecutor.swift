import CMiniLM
import Dispatch
import Foundation
import Glibc
import Synchronization

/// Runs work on a fixed number of workers — the calling thread and `workers − 1` helper threads of its
/// own — blocking the caller until all are done.
///
/// A single query's forward pass hands work to the helpers 25 times in about a millisecond, so a
/// hand-off must cost far less than waking a parked thread (tens of µs). Helpers therefore spin for
/// up to ``spinTime`` after each piece of work, waiting for the next, and only then park; the caller
/// publishes work with one atomic increment per helper and wakes a parked helper only when needed.
///
/// One executor serves one call at a time (``MiniLMEmbedder`` keeps a pool). `workers == 1` has no
/// helpers and runs everything inline. The helpers stop when the executor is released.
final class ParallelExecutor: @unchecked Sendable {
    /// Runs everything on the calling thread.
    static let serial = ParallelExecutor(workers: 1)
    /// How long a helper keeps polling for its next piece of work before it parks.
    static let spinTime = Duration.microseconds(200)

    let workers: Int
    private let helpers: [Helper]
    /// The work being run; written by the caller before it publishes a ticket, read by the helpers after.
    private var job: ((Int) -> Void)?
    /// Helpers still running the current job.
    private let unfinished = Atomic<Int>(0)

    init(workers: Int) {
        precondition(workers >= 1, "workers must be at least 1")
        self.workers = workers
        helpers = (1..<workers).map { Helper(index: $0) }
        for helper in helpers {
            let thread = Thread { [unowned(unsafe) self] in self.serve(helper) }
            thread.name = "rag-minilm-\(helper.index)"
            thread.start()
        }
    }

    deinit {
        for helper in helpers {
            helper.stopped.store(true, ordering: .sequentiallyConsistent)
            helper.ticket.add(1, ordering: .sequentiallyConsistent)
            helper.wake.signal()
            helper.exited.wait()
        }
    }

    /// Calls `body(worker)` once for every worker index, concurrently.
    func forEachWorker(_ body: (Int) -> Void) {
        run(iterations: workers, body)
    }

    /// Splits `0..<count` into at most `workers` contiguous, near-equal ranges of at least `grain`
    /// items and calls `body(worker, range)` for each, concurrently. Small counts run inline.
    func forEachRange(_ count: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let parts = max(1, min(workers, count / max(grain, 1)))
        run(iterations: parts) { part in
            body(part, (count * part / parts)..<(count * (part + 1) / parts))
        }
    }

    /// Runs `body(0)` on the calling thread and `body(i)`, `0 < i < iterations`, on helper `i`; returns when
    /// all have finished. Every caller's iterations write disjoint memory.
    private func run(iterations: Int, _ body: (Int) -> Void) {
        precondition(iterations <= workers, "more iterations than workers")
        guard iterations > 1 else {
            body(0)
            return
        }
        // Sound: the closure does not outlive this call, which returns only after every helper has finished.
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            unfinished.store(iterations - 1, ordering: .relaxed)
            for helper in helpers[..<(iterations - 1)] {
                helper.ticket.add(1, ordering: .sequentiallyConsistent)
                if helper.parked.exchange(false, ordering: .sequentiallyConsistent) { helper.wake.signal() }
            }
            escapable(0)
            var polls = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                polls += 1
                // A helper descheduled by a busy machine must not be waited for with a spinning core.
                if polls < 20_000 { rag_cpu_relax() } else { sched_yield() }
            }
            job = nil
        }
    }

    /// A helper thread's loop: wait for the next ticket (polling, then parked), run its iteration, repeat.
    private func serve(_ helper: Helper) {
        var seen = 0
        while true {
            var deadline = ContinuousClock.now + Self.spinTime
            while helper.ticket.load(ordering: .acquiring) == seen {
                for _ in 0..<64 { rag_cpu_relax() }
                guard ContinuousClock.now >= deadline else { continue }
                helper.parked.store(true, ordering: .sequentiallyConsistent)
                if helper.ticket.load(ordering: .sequentiallyConsistent) == seen { helper.wake.wait() }
                helper.parked.store(false, ordering: .sequentiallyConsistent)
                deadline = ContinuousClock.now + Self.spinTime
            }
            seen += 1
            if helper.stopped.load(ordering: .sequentiallyConsistent) {
                helper.exited.signal()
                return
            }
            job!(helper.index)
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    /// One helper thread's mailbox: a ticket per piece of work, and the semaphore it parks on.
    private final class Helper: Sendable {
        let index: Int
        let ticket = Atomic<Int>(0)
        let parked = Atomic<Bool>(false)
        let stopped = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
        let exited = DispatchSemaphore(value: 0)

        init(index: Int) { self.index = index }
    }
}
