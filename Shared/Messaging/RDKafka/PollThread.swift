import Dispatch
import Foundation
import Synchronization

/// A dedicated OS thread that runs `iteration` in a loop until asked to stop.
///
/// librdkafka's poll calls block; they run here, never on Swift's cooperative thread pool.
final class PollThread: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)

    init(name: String, iteration: @escaping @Sendable (_ thread: PollThread) -> Void) {
        let thread = Thread { [self] in
            while !stopRequested.load(ordering: .acquiring) {
                iteration(self)
            }
            exited.signal()
        }
        thread.name = name
        thread.start()
    }

    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Asks the loop to end after the current iteration.
    func requestStop() { stopRequested.store(true, ordering: .releasing) }

    /// Blocks until the loop has ended. Call `requestStop()` first (or end the loop from `iteration`).
    func join() { exited.wait() }

    /// Waits for the loop to end without blocking the cooperative pool.
    func joinAsync() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.exited.wait()
                self.exited.signal()  // keep the semaphore signalled for later joins
                continuation.resume()
            }
        }
    }
}

/// Runs blocking work on a Dispatch thread (not the cooperative pool) and awaits its result.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
