import ModelClients
import Synchronization
import Testing

@Suite("ConcurrencyLimiter", .timeLimit(.minutes(1)))
struct ConcurrencyLimiterTests {
    @Test("never more than the limit in flight; everyone gets a turn")
    func boundsInFlight() async throws {
        let limiter = ConcurrencyLimiter(limit: 3)
        let current = Locked(0)
        let highest = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await limiter.acquire()
                    defer { limiter.release() }
                    let now = current.withLock { $0 += 1; return $0 }
                    highest.withLock { $0 = max($0, now) }
                    try await Task.sleep(for: .milliseconds(10))
                    current.withLock { $0 -= 1 }
                }
            }
            try await group.waitForAll()
        }
        #expect(highest.withLock { $0 } == 3)
        #expect(limiter.inFlight == 0)
        #expect(limiter.waiting == 0)
    }

    @Test("waiters are served in arrival order")
    func fifo() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire()
        let order = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<5 {
                group.addTask {
                    try await limiter.acquire()
                    order.withLock { $0.append(index) }
                    limiter.release()
                }
                // Let each waiter queue before the next one starts.
                await EmbeddingTestSupport.eventually { limiter.waiting == index + 1 }
            }
            limiter.release()
            try await group.waitForAll()
        }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
    }

    @Test("a cancelled waiter leaves the queue at once and holds no permit")
    func cancellation() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        await EmbeddingTestSupport.eventually { limiter.waiting == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(limiter.waiting == 0)
        limiter.release()
        #expect(limiter.inFlight == 0)
        // The permit is free for the next caller.
        try await limiter.acquire()
        #expect(limiter.inFlight == 1)
        limiter.release()
    }

    @Test("a task cancelled before it waits does not queue")
    func alreadyCancelled() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await limiter.acquire()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(limiter.waiting == 0)
        limiter.release()
    }
}
