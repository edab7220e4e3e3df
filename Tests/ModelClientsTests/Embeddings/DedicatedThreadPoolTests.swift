import Foundation
import ModelClients
import Synchronization
import Testing

@Suite("DedicatedThreadPool", .timeLimit(.minutes(1)))
struct DedicatedThreadPoolTests {
    @Test("work runs on the pool's own named threads, not the caller's")
    func runsOnOwnThreads() async throws {
        let pool = DedicatedThreadPool(name: "test-pool", threads: 2)
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask { try await pool.run { DedicatedThreadPool.currentThreadName } }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(!names.isEmpty)
        #expect(names.isSubset(of: ["test-pool-0", "test-pool-1"]))
        #expect(pool.completedJobs == 8)
    }

    @Test("one thread runs jobs one at a time, in order")
    func serialInOrder() async throws {
        let pool = DedicatedThreadPool(name: "serial-pool", threads: 1)
        let order = Locked<[Int]>([])
        let running = Locked(0)
        let overlap = Locked(false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<6 {
                group.addTask {
                    try await pool.run {
                        if running.withLock({ $0 += 1; return $0 }) > 1 { overlap.withLock { $0 = true } }
                        usleep(5_000)  // blocking on purpose: this thread is ours
                        order.withLock { $0.append(index) }
                        running.withLock { $0 -= 1 }
                    }
                }
                await EmbeddingTestSupport.eventually { pool.queuedJobs + pool.completedJobs + running.withLock({ $0 }) >= index + 1 }
            }
            try await group.waitForAll()
        }
        #expect(overlap.withLock { $0 } == false)
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4, 5])
    }

    @Test("a queued job whose task is cancelled is dropped and throws at once")
    func cancelQueued() async throws {
        let pool = DedicatedThreadPool(name: "cancel-pool", threads: 1)
        let release = DispatchSemaphore(value: 0)
        let started = Locked(false)
        let blocker = Task {
            try await pool.run {
                started.withLock { $0 = true }
                release.wait()
            }
        }
        await EmbeddingTestSupport.eventually { started.withLock { $0 } }
        let ran = Locked(false)
        let queued = Task { try await pool.run { ran.withLock { $0 = true } } }
        await EmbeddingTestSupport.eventually { pool.queuedJobs == 1 }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        #expect(pool.queuedJobs == 0)
        release.signal()
        try await blocker.value
        #expect(ran.withLock { $0 } == false)
        #expect(pool.completedJobs == 1)
    }

    @Test("after shutdown, run throws CancellationError")
    func shutdown() async throws {
        let pool = DedicatedThreadPool(name: "stopped-pool")
        #expect(try await pool.run { 1 + 1 } == 2)
        pool.shutdown()
        await #expect(throws: CancellationError.self) { try await pool.run { 0 } }
    }
}
