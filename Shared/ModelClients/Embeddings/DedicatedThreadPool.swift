import Dispatch
import Foundation
import Synchronization

/// A few OS threads of its own for blocking, CPU-heavy work (in-process model inference), so that such
/// work never occupies a thread of Swift's cooperative pool.
///
/// - Ordering: jobs run in submission order (FIFO), at most ``threadCount`` at once.
/// - Cancellation: cancelling the calling task while its job is still queued removes the job and
///   throws `CancellationError` at once; a job that has started runs to completion (the caller waits
///   for it — blocking work cannot be interrupted halfway).
/// - Lifetime: the threads run until ``shutdown()`` or until the last reference to the pool goes away;
///   queued jobs are then cancelled, running ones finish. Threads are named `<name>-<index>`.
///
/// `Sendable`: all mutable state sits behind a `Mutex`; the threads share only that state and a semaphore.
public final class DedicatedThreadPool: Sendable {
    /// The prefix of the threads' names.
    public let name: String
    /// The number of threads.
    public let threadCount: Int
    private let core: Core

    /// Starts `threads` threads named `<name>-0`, `<name>-1`, ….
    /// - Precondition: `threads >= 1`.
    public init(name: String, threads: Int = 1) {
        precondition(threads >= 1, "a thread pool needs at least one thread")
        self.name = name
        self.threadCount = threads
        self.core = Core()
        for index in 0..<threads {
            let core = self.core
            let threadName = "\(name)-\(index)"
            // The thread names itself once `start()` has returned: on Linux, Foundation applies a name
            // to the OS thread only when set after that (before, the thread would keep the name it
            // inherited from its creator, e.g. a cooperative-pool thread's).
            let started = DispatchSemaphore(value: 0)
            let thread = Thread {
                started.wait()
                Thread.current.name = threadName
                core.workLoop()
            }
            thread.start()
            started.signal()
        }
    }

    deinit {
        core.shutdown(threads: threadCount)
    }

    /// Runs `work` on one of the pool's threads and returns its result; the calling task suspends
    /// (it does not block) meanwhile.
    ///
    /// - Throws: `CancellationError` when the task is cancelled before the job started, or when the
    ///   pool was shut down before it could run the job.
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws(CancellationError) -> T {
        let core = self.core
        let id = core.nextID()
        let result: Result<T, CancellationError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, CancellationError>, Never>) in
                let job = Job(
                    id: id,
                    execute: {
                        let value = work()
                        core.didComplete()
                        continuation.resume(returning: .success(value))
                    },
                    abandon: { continuation.resume(returning: .failure(CancellationError())) }
                )
                core.enqueue(job)
            }
        } onCancel: {
            core.cancel(id)
        }
        return try result.get()
    }

    /// The name of the calling thread, e.g. `rag-minilm-0` on a pool thread. For logs and tests.
    public static var currentThreadName: String {
        Thread.current.name ?? ""
    }

    /// Stops the threads once they finish what they are running; queued jobs throw
    /// `CancellationError`, and so does every later ``run(_:)``. Idempotent; does not wait.
    public func shutdown() {
        core.shutdown(threads: threadCount)
    }

    /// Jobs that have run to completion so far (a snapshot, for metrics and tests).
    public var completedJobs: Int { core.snapshot.completed }
    /// Jobs waiting for a thread right now (a snapshot).
    public var queuedJobs: Int { core.snapshot.queued }
}

extension DedicatedThreadPool {
    /// One submitted closure. `execute` and `abandon` each resume the submitter's continuation; the
    /// core calls exactly one of them, exactly once (a job leaves the queue under the lock first).
    fileprivate final class Job: Sendable {
        let id: UInt64
        let execute: @Sendable () -> Void
        let abandon: @Sendable () -> Void

        init(id: UInt64, execute: @escaping @Sendable () -> Void, abandon: @escaping @Sendable () -> Void) {
            self.id = id
            self.execute = execute
            self.abandon = abandon
        }
    }

    /// The queue the threads share. The semaphore counts signals, not jobs: a thread that wakes to
    /// an empty queue (its job was cancelled) goes back to waiting, or exits after shutdown.
    fileprivate final class Core: Sendable {
        private struct State {
            var pending: [Job] = []
            var isShutdown = false
            var completed = 0
            var lastID: UInt64 = 0
        }

        private let state = Mutex(State())
        private let wakeUp = DispatchSemaphore(value: 0)

        var snapshot: (completed: Int, queued: Int) {
            state.withLock { ($0.completed, $0.pending.count) }
        }

        func nextID() -> UInt64 {
            state.withLock { state in
                state.lastID &+= 1
                return state.lastID
            }
        }

        /// Queues `job`, or abandons it at once when the pool is shut down or the submitting task is
        /// already cancelled. Checking `Task.isCancelled` under the lock closes the race with `cancel`:
        /// a cancellation handler that ran before the job was queued found nothing to remove, but the
        /// task's cancelled flag was set before it ran, so it is seen here.
        func enqueue(_ job: Job) {
            let accepted = state.withLock { state in
                guard !state.isShutdown, !Task.isCancelled else { return false }
                state.pending.append(job)
                return true
            }
            if accepted {
                wakeUp.signal()
            } else {
                job.abandon()
            }
        }

        /// Removes the job with `id` if it is still queued and abandons it.
        func cancel(_ id: UInt64) {
            let removed: Job? = state.withLock { state in
                guard let index = state.pending.firstIndex(where: { $0.id == id }) else { return nil }
                return state.pending.remove(at: index)
            }
            removed?.abandon()
        }

        /// Counts a finished job (before its submitter resumes, so the count is current when it does).
        func didComplete() {
            state.withLock { $0.completed += 1 }
        }

        func shutdown(threads: Int) {
            let abandoned: [Job]? = state.withLock { state in
                guard !state.isShutdown else { return nil }
                state.isShutdown = true
                defer { state.pending.removeAll() }
                return state.pending
            }
            guard let abandoned else { return }
            for job in abandoned { job.abandon() }
            for _ in 0..<threads { wakeUp.signal() }
        }

        /// The body of every thread: take the oldest job and run it, until shutdown.
        func workLoop() {
            while true {
                wakeUp.wait()
                let next: Job?? = state.withLock { state in
                    if !state.pending.isEmpty { return .some(state.pending.removeFirst()) }
                    return state.isShutdown ? .none : .some(nil)
                }
                guard let job = next else { return }
                guard let job else { continue }
                job.execute()
            }
        }
    }
}
