import Foundation
import Persistence
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresListenerTests {
    /// Waits for the next notification on `channel`, skipping others.
    static func next(
        on channel: String,
        from iterator: inout AsyncStream<PostgresNotification>.Iterator
    ) async -> PostgresNotification? {
        while let notification = await iterator.next() {
            if notification.channel == channel { return notification }
        }
        return nil
    }

    @Test func notifyWakesAWaitingListener() async throws {
        let url = try TestDatabase.requireURL()
        let channel = TestDatabase.uniqueName("wake")
        let listener = PostgresListener(connectionString: url, channels: [channel])
        listener.start()
        try await listener.waitUntilListening()
        #expect(listener.isListening)
        #expect(listener.connectionGeneration == 1)

        try await TestDatabase.withPool { pool in
            // A waiter already suspended in next() is woken by the NOTIFY.
            async let received = { () async -> PostgresNotification? in
                var iterator = listener.notifications.makeAsyncIterator()
                return await Self.next(on: channel, from: &iterator)
            }()
            try await Task.sleep(for: .milliseconds(100))
            try await pool.notify(channel: channel, payload: "héllo 👋 \"quoted\" 漢字")
            let notification = await received
            #expect(notification?.payload == "héllo 👋 \"quoted\" 漢字")
            #expect(notification?.senderPID != 0)
        }
        listener.stop()
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await iterator.next() == nil)  // the stream finishes on stop
    }

    @Test func notificationsFromATransactionArriveOnCommitOnly() async throws {
        let url = try TestDatabase.requireURL()
        let channel = TestDatabase.uniqueName("txnotify")
        let listener = PostgresListener(connectionString: url)
        listener.listen(channel)
        listener.start()
        try await listener.waitUntilListening()
        try await TestDatabase.withPool { pool in
            struct Abort: Error {}
            try? await pool.withTransaction { tx in
                try await tx.notify(channel: channel, payload: "rolled-back")
                throw Abort()
            }
            try await pool.withTransaction { tx in
                try await tx.notify(channel: channel, payload: "first")
                try await tx.notify(channel: channel, payload: "second")
            }
        }
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await Self.next(on: channel, from: &iterator)?.payload == "first")
        #expect(await Self.next(on: channel, from: &iterator)?.payload == "second")
        listener.stop()
    }

    @Test func listenerReconnectsAndListensAgainAfterItsSessionIsKilled() async throws {
        let url = try TestDatabase.requireURL()
        let channel = TestDatabase.uniqueName("reconnect")
        let application = TestDatabase.uniqueName("listener")
        let listener = PostgresListener(
            connectionString: url, channels: [channel], applicationName: application, reconnectDelay: .milliseconds(50)
        )
        listener.start()
        try await listener.waitUntilListening()
        #expect(listener.connectionGeneration == 1)

        let killed = try await TestDatabase.withConnection { admin in
            try await admin.query(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1",
                application
            ).singleValue(Int.self)
        }
        #expect(killed == 1)
        let deadline = ContinuousClock.now + .seconds(20)
        while listener.connectionGeneration < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(listener.connectionGeneration == 2)
        try await listener.waitUntilListening()

        try await TestDatabase.withPool { pool in
            try await pool.notify(channel: channel, payload: "after reconnect")
        }
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await Self.next(on: channel, from: &iterator)?.payload == "after reconnect")
        listener.stop()
    }

    @Test func unlistenStopsDelivery() async throws {
        let url = try TestDatabase.requireURL()
        let dropped = TestDatabase.uniqueName("dropped")
        let kept = TestDatabase.uniqueName("kept")
        let listener = PostgresListener(connectionString: url, channels: [dropped, kept])
        listener.start()
        try await listener.waitUntilListening()
        listener.unlisten(dropped)
        try await listener.waitUntilListening()
        try await TestDatabase.withPool { pool in
            try await pool.notify(channel: dropped, payload: "not delivered")
            try await pool.notify(channel: kept, payload: "delivered")
        }
        var iterator = listener.notifications.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.channel == kept)
        #expect(first?.payload == "delivered")
        listener.stop()
    }
}
