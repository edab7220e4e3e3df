import Foundation
import Messaging
import Persistence
import TestSupport
import Testing

/// The outbox relay as a process against a real broker and a real Postgres (SPEC §6, §9, §11).
@Suite("OutboxRelay: Postgres outbox → Kafka, in order per aggregate, at least once", .timeLimit(.minutes(5)))
struct OutboxRelayTests {
    @Test("rows of many aggregates inserted while the relay runs: each published once, in position order per aggregate, key, value and headers exact, rows marked")
    func publishesEveryRowOnceInOrder() async throws {
        let harness = try await OutboxRelayHarness()
        let relay = try await harness.startRelay(["RAG_OUTBOX_BATCH_SIZE": "25"])
        let aggregates = (0..<40).map { "query-\($0)" }
        try await harness.insertConcurrently(aggregates: aggregates, rowsPerAggregate: 15)
        try await eventually("every row marked published", timeout: .seconds(120)) {
            try await harness.count("published_at IS NULL") == 0
        }
        let rows = try await harness.rows()
        #expect(rows.count == 600)
        let records = try await harness.allRecords(covering: Set(rows.keys))

        #expect(records.count == 600, "no row published twice")
        #expect(OutboxRecordChecks.copies(records).values.allSatisfy { $0 == 1 })
        let firstAppearances = OutboxRecordChecks.firstAppearances(records, positions: rows.mapValues { ($0.aggregate, $0.position) })
        for aggregate in aggregates {
            let expected = rows.values.filter { $0.aggregate == aggregate }.map(\.position).sorted()
            #expect(firstAppearances[aggregate] == expected, "\(aggregate): records in position order")
        }
        for record in records {
            let id = try #require(record.headers.value("outbox-id"))
            let row = try #require(rows[id])
            #expect(record.topic == harness.topic)
            #expect(record.keyString == row.aggregate)
            #expect(record.value == Array(row.payload.utf8), "the value is the payload's JSON text")
            let headers = Dictionary(record.headers.map { ($0.name, $0.stringValue ?? "") }, uniquingKeysWith: { first, _ in first })
            #expect(headers == row.headers.merging(["outbox-id": id]) { $1 } && record.headers.count == row.headers.count + 1,
                    "the row's headers plus outbox-id, nothing else")
        }
        #expect(try await harness.metric("rag_outbox_published_total", of: relay, where: harness.topic) == 600)
    }

    @Test("two relays at once: no duplicate and order kept per aggregate; one killed mid-stream: the other drains all, duplicates only within the killed relay's in-flight batches")
    func twoRelaysAndOneKilled() async throws {
        let harness = try await OutboxRelayHarness()
        let batchSize = 10
        // A relay runs this many drains at once (OutboxRelayService.concurrentDrains), each with a batch of its own
        // in flight, so a kill leaves at most this many batches claimed but not marked published.
        let drainsPerRelay = 2
        // Each acknowledgement takes ≥ 20 ms, so batches take a while and a kill lands inside one.
        try await harness.control("brokers/1/rtt", #"{"milliseconds": 20}"#)
        let settings = ["RAG_OUTBOX_BATCH_SIZE": "\(batchSize)", "RAG_OUTBOX_POLL_INTERVAL": "500ms"]
        let first = try await harness.startRelay(settings)
        let second = try await harness.startRelay(settings)

        // Normal run: both publish, nothing twice. Written at once in runs of 3 rows per aggregate: a batch holds
        // chains of rows of one aggregate, and the next rows of the same aggregates come right behind it, so a
        // relay that claimed those without holding the aggregate would race the other one on it.
        let aggregates = (0..<12).map { "query-\($0)" }
        try await harness.insertInOneTransaction(aggregates: aggregates, rowsPerAggregate: 25, run: 3)
        try await eventually("every row marked published", timeout: .seconds(120)) {
            try await harness.count("published_at IS NULL") == 0
        }
        var rows = try await harness.rows()
        var records = try await harness.allRecords(covering: Set(rows.keys))
        #expect(records.count == 300, "two relays, no row published twice")
        let firstShare = try await harness.metric("rag_outbox_published_total", of: first) ?? 0
        let secondShare = try await harness.metric("rag_outbox_published_total", of: second) ?? 0
        #expect(firstShare > 0 && secondShare > 0 && firstShare + secondShare == 300, "both relays published: \(firstShare) + \(secondShare)")
        var firstAppearances = OutboxRecordChecks.firstAppearances(records, positions: rows.mapValues { ($0.aggregate, $0.position) })
        for aggregate in aggregates {
            #expect(firstAppearances[aggregate] == rows.values.filter { $0.aggregate == aggregate }.map(\.position).sorted(), "\(aggregate) in order")
        }

        // Kill one while both are draining a backlog (written in one transaction, so it is there at once).
        let backlogAggregates = (0..<20).map { "query-b\($0)" }
        try await harness.insertInOneTransaction(aggregates: backlogAggregates, rowsPerAggregate: 50, run: 3)
        let publishedBefore = try await harness.metric("rag_outbox_published_total", of: first) ?? 0
        try await eventually("the first relay is publishing the backlog") {
            try await harness.metric("rag_outbox_published_total", of: first) ?? 0 >= publishedBefore + Double(batchSize)
        }
        await first.process.kill()
        #expect(try await harness.count("published_at IS NULL") > 0, "killed mid-stream, with rows left")
        try await eventually("the survivor publishes every row", timeout: .seconds(180)) {
            try await harness.count("published_at IS NULL") == 0
        }
        rows = try await harness.rows()
        #expect(rows.count == 1300)
        records = try await harness.allRecords(covering: Set(rows.keys))
        let copies = OutboxRecordChecks.copies(records)
        let duplicated = copies.filter { $0.value > 1 }
        #expect(Set(copies.keys) == Set(rows.keys), "every row on the topic")
        #expect(duplicated.count <= drainsPerRelay * batchSize && duplicated.values.allSatisfy { $0 == 2 },
                "only the killed relay's uncommitted batches are published again: \(duplicated)")
        #expect(duplicated.keys.allSatisfy { rows[$0]?.aggregate.hasPrefix("query-b") == true }, "no row of the first round again")
        firstAppearances = OutboxRecordChecks.firstAppearances(records, positions: rows.mapValues { ($0.aggregate, $0.position) })
        for aggregate in aggregates + backlogAggregates {
            #expect(firstAppearances[aggregate] == rows.values.filter { $0.aggregate == aggregate }.map(\.position).sorted(), "\(aggregate) in order")
        }
    }

    @Test("LISTEN/NOTIFY: a row is published long before the next poll")
    func notificationWakesTheRelay() async throws {
        let harness = try await OutboxRelayHarness()
        try await harness.startRelay(["RAG_OUTBOX_POLL_INTERVAL": "300s"])
        try await harness.waitUntilListening()
        for seq in 0..<2 {
            let id = try await harness.insert(aggregate: "query-notified", seq: seq)
            // Without a notification the row would wait for the poll, 300 s after the start. (The first row may
            // also be caught by the drain every relay starts with; the second comes after that drain.)
            try await eventually("row \(seq) published", timeout: .seconds(60)) {
                try await harness.count("published_at IS NOT NULL AND id = '\(id)'") == 1
            }
        }
        let rows = try await harness.rows()
        #expect(try await harness.allRecords(covering: Set(rows.keys)).count == 2)
    }

    @Test("backlog and oldest age rise while the broker is down and fall to 0 after; retention deletes only rows published long enough ago")
    func backlogMetricsAndRetention() async throws {
        let harness = try await OutboxRelayHarness()
        // Retention 5 min: rows published 10 min ago are expired; rows published 10 s ago are kept for ~5 min more.
        try await harness.pool.query(
            """
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, created_at, published_at)
            SELECT 'query', 'expired-' || i, 'answer.ready', '{}', $1, 'k', now() - interval '11 min', now() - interval '10 min'
            FROM generate_series(1, 30) i
            """, harness.topic)
        try await harness.pool.query(
            """
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, created_at, published_at)
            SELECT 'query', 'recent-' || i, 'answer.ready', '{}', $1, 'k', now() - interval '1 min', now() - interval '10 s'
            FROM generate_series(1, 5) i
            """, harness.topic)
        try await harness.control("brokers/1/down")
        let relay = try await harness.startRelay([
            "RAG_OUTBOX_RETENTION": "5m", "RAG_OUTBOX_CLEANUP_INTERVAL": "300ms", "RAG_OUTBOX_CLEANUP_BATCH_SIZE": "7",
            "RAG_OUTBOX_DELIVERY_TIMEOUT": "2s",
        ])
        try await eventually("expired rows deleted in batches of 7") {
            try await harness.count("aggregateid LIKE 'expired-%'") == 0
        }
        #expect(try await harness.count("aggregateid LIKE 'recent-%'") == 5, "rows published within the retention are kept")
        #expect(try await harness.metric("rag_outbox_deleted_total", of: relay) == 30)

        for seq in 0..<10 { try await harness.insert(aggregate: "query-waiting", seq: seq) }
        try await eventually("backlog 10") { try await harness.metric("rag_outbox_backlog", of: relay) == 10 }
        let firstAge = try #require(try await harness.metric("rag_outbox_oldest_age_seconds", of: relay))
        try await eventually("delivery failures counted") {
            try await harness.metric("rag_outbox_failures_total", of: relay, where: #"reason="delivery""#) ?? 0 >= 1
        }
        try await eventually("oldest age rises") {
            try await harness.metric("rag_outbox_oldest_age_seconds", of: relay) ?? 0 >= firstAge + 2
        }
        #expect(try await harness.count("published_at IS NULL") == 10, "nothing marked published while the broker is down")
        #expect(try await harness.metric("rag_outbox_backlog", of: relay) == 10)

        try await harness.control("brokers/1/up")
        try await eventually("backlog back to 0", timeout: .seconds(120)) { try await harness.metric("rag_outbox_backlog", of: relay) == 0 }
        try await eventually("oldest age back to 0") { try await harness.metric("rag_outbox_oldest_age_seconds", of: relay) == 0 }
        #expect(try await harness.count("published_at IS NULL") == 0)
    }

    @Test("broker down for a while: nothing marked published that was not delivered; everything lands, in order, after it returns")
    func brokerOutage() async throws {
        let harness = try await OutboxRelayHarness()
        let relay = try await harness.startRelay(["RAG_OUTBOX_BATCH_SIZE": "10", "RAG_OUTBOX_DELIVERY_TIMEOUT": "2s"])
        let aggregates = (0..<6).map { "query-\($0)" }
        try await harness.insertConcurrently(aggregates: aggregates, rowsPerAggregate: 2)
        try await eventually("the first rows published") { try await harness.count("published_at IS NULL") == 0 }

        try await harness.control("brokers/1/down")
        try await harness.insertConcurrently(aggregates: aggregates, rowsPerAggregate: 8)
        try await eventually("several failed attempts", timeout: .seconds(60)) {
            try await harness.metric("rag_outbox_failures_total", of: relay, where: #"reason="delivery""#) ?? 0 >= 12
        }
        #expect(try await harness.count("published_at IS NOT NULL") == 12, "no row marked published while the broker is down")

        try await harness.control("brokers/1/up")
        try await eventually("every row published after the broker returns", timeout: .seconds(120)) {
            try await harness.count("published_at IS NULL") == 0
        }
        let rows = try await harness.rows()
        let records = try await harness.allRecords(covering: Set(rows.keys))
        #expect(Set(OutboxRecordChecks.copies(records).keys) == Set(rows.keys), "every marked row was delivered")
        let firstAppearances = OutboxRecordChecks.firstAppearances(records, positions: rows.mapValues { ($0.aggregate, $0.position) })
        for aggregate in aggregates {
            #expect(firstAppearances[aggregate] == rows.values.filter { $0.aggregate == aggregate }.map(\.position).sorted(), "\(aggregate) in order")
        }
    }
}
