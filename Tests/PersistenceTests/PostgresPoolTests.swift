import Foundation
import Persistence
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresPoolTests {
    /// Terminates every session of `applicationName` from a separate connection and waits until they are gone.
    static func killSessions(of applicationName: String) async throws -> Int {
        try await TestDatabase.withConnection { admin in
            try await admin.query("""
                SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
                FROM pg_stat_activity WHERE application_name = $1
                """, applicationName).singleValue(Int.self)
        }
    }

    @Test func poolRecoversAfterItsConnectionsAreKilled() async throws {
        let application = TestDatabase.uniqueName("pool_kill")
        try await TestDatabase.withPool(maxConnections: 3, applicationName: application) { pool in
            // Open three connections at once so all of them sit idle in the pool afterwards.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await pool.query("SELECT pg_sleep(0.2)") }
                }
                try await group.waitForAll()
            }
            #expect(pool.statistics.open == 3)
            #expect(pool.statistics.idle == 3)

            let killed = try await Self.killSessions(of: application)
            #expect(killed == 3)

            // The very next query works: a dead idle connection is noticed before it is lent out, and replaced.
            #expect(try await pool.query("SELECT 41 + 1").singleValue(Int.self) == 42)
            #expect(try await pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application
            ).singleValue(Int.self) == 1)

            // So do three at once, which take every connection the pool had (the other two dead ones included).
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for value in 0..<3 {
                    group.addTask { try await pool.query("SELECT $1::int, pg_sleep(0.1)", value).singleValue(Int.self) }
                }
                return try await group.reduce(0, +)
            }
            #expect(sum == 3)
            #expect(pool.statistics.open == 3)
            #expect(try await pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application
            ).singleValue(Int.self) == 3)
        }
    }

    @Test func connectionKilledWhileBorrowedFailsAsConnectionFailureThenPoolRecovers() async throws {
        let application = TestDatabase.uniqueName("pool_kill_busy")
        try await TestDatabase.withPool(maxConnections: 2, applicationName: application) { pool throws in
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withConnection { connection in
                    try await connection.query("SELECT 1")
                    _ = try await Self.killSessions(of: application)
                    try await connection.query("SELECT 2")
                }
            }
            #expect(error?.isConnectionFailure == true)
            #expect(pool.statistics.open == 0)
            #expect(try await pool.query("SELECT 'back'").singleValue(String.self) == "back")
        }
    }

    @Test func poolNeverExceedsItsSizeAndServesWaitersInOrder() async throws {
        let application = TestDatabase.uniqueName("pool_size")
        try await TestDatabase.withPool(maxConnections: 2, applicationName: application) { pool in
            let order = Locked<[Int]>([])
            let peak = Locked(0)
            let active = Locked(0)
            // Hold both connections, then queue six waiters one by one. Releasing one holder lets its
            // connection pass from waiter to waiter, which must happen in arrival order; the other holder
            // keeps the second connection until the end, and no third connection is ever opened.
            let holders = AsyncStream<Void>.makeStream()
            let releases = [AsyncStream<Void>.makeStream(), AsyncStream<Void>.makeStream()]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for release in releases {
                    group.addTask {
                        try await pool.withConnection { _ in
                            holders.continuation.yield()
                            var iterator = release.stream.makeAsyncIterator()
                            _ = await iterator.next()
                        }
                    }
                }
                var held = holders.stream.makeAsyncIterator()
                _ = await held.next()
                _ = await held.next()
                for index in 0..<6 {
                    group.addTask {
                        try await pool.withConnection { connection in
                            order.withLock { $0.append(index) }
                            let now = active.withLock { $0 += 1; return $0 }
                            peak.withLock { $0 = max($0, now) }
                            try await connection.query("SELECT pg_sleep(0.02)")
                            active.withLock { $0 -= 1 }
                        }
                    }
                    // Wait until this caller is queued before adding the next.
                    while pool.statistics.waiting < index + 1 { try await Task.sleep(for: .milliseconds(5)) }
                }
                #expect(pool.statistics.open == 2)
                releases[0].continuation.finish()
                while order.withLock({ $0.count }) < 6 { try await Task.sleep(for: .milliseconds(5)) }
                releases[1].continuation.finish()
                try await group.waitForAll()
            }
            #expect(order.withLock { $0 } == Array(0..<6))
            #expect(peak.withLock { $0 } == 1)
            #expect(pool.statistics.open <= 2)
            let sessions = try await pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application
            ).singleValue(Int.self)
            #expect(sessions <= 2)
        }
    }

    @Test func cancelledWaiterLeavesTheQueue() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let holding = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await pool.withConnection { _ in
                    holding.continuation.yield()
                    var iterator = release.stream.makeAsyncIterator()
                    _ = await iterator.next()
                }
            }
            var held = holding.stream.makeAsyncIterator()
            _ = await held.next()
            let waiter = Task { try await pool.query("SELECT 1") }
            while pool.statistics.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(pool.statistics.waiting == 0)
            release.continuation.finish()
            try await holder.value
            #expect(try await pool.query("SELECT 7").singleValue(Int.self) == 7)
        }
    }

    @Test func closedPoolRejectsCalls() async throws {
        let pool = try TestDatabase.makePool()
        #expect(try await pool.query("SELECT 1").singleValue(Int.self) == 1)
        await pool.close()
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.code == .closed)
        #expect(pool.statistics.open == 0)
    }
}
