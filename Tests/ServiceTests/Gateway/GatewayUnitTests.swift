@testable import Gateway
import Messaging
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let time = Mutex<Double>(1000)
    func advance(by seconds: Double) { time.withLock { $0 += seconds } }
    var now: @Sendable () -> Double { { [self] in time.withLock { $0 } } }
}

@Suite("Gateway building blocks")
struct GatewayUnitTests {
    @Test("token buckets: burst, refill, Retry-After, per user")
    func rateLimiter() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(now: clock.now)
        let limit = TokenBucketRateLimiter.Limit(perSecond: 2, burst: 3)
        for _ in 0..<3 { #expect(limiter.acquire(CallerID(tenant: "acme", userID: "alice"), limit: limit) == .allowed) }
        #expect(limiter.acquire(CallerID(tenant: "acme", userID: "alice"), limit: limit) == .limited(retryAfterSeconds: 1))
        #expect(limiter.acquire(CallerID(tenant: "acme", userID: "bob"), limit: limit) == .allowed, "buckets are per user")
        clock.advance(by: 0.5)
        #expect(limiter.acquire(CallerID(tenant: "acme", userID: "alice"), limit: limit) == .allowed)
        let slow = TokenBucketRateLimiter.Limit(perSecond: 0.1, burst: 1)
        #expect(limiter.acquire(CallerID(tenant: "acme", userID: "carol"), limit: slow) == .allowed)
        #expect(limiter.acquire(CallerID(tenant: "acme", userID: "carol"), limit: slow) == .limited(retryAfterSeconds: 10))
    }

    @Test("idempotency keys: same body replays, other body conflicts, scoped by user, released on failure")
    func idempotency() throws {
        let clock = ManualClock()
        let store = IdempotencyStore(retention: .seconds(60), now: clock.now)
        let body = Array(#"{"question":"q"}"#.utf8)
        guard case .new(let queryID) = store.reserve(key: "k1", tenant: "acme", user: "alice", body: body) else {
            Issue.record("first use must be new"); return
        }
        #expect(store.reserve(key: "k1", tenant: "acme", user: "alice", body: body) == .inProgress)
        store.complete(key: "k1", tenant: "acme", user: "alice")
        #expect(store.reserve(key: "k1", tenant: "acme", user: "alice", body: body) == .replay(queryID: queryID))
        #expect(store.reserve(key: "k1", tenant: "acme", user: "alice", body: Array("{}".utf8)) == .conflict)
        guard case .new(let otherID) = store.reserve(key: "k1", tenant: "acme", user: "bob", body: body) else {
            Issue.record("another user's key is independent"); return
        }
        #expect(otherID != queryID)
        store.release(key: "k1", tenant: "acme", user: "bob")
        #expect(store.reserve(key: "k1", tenant: "acme", user: "bob", body: body) == .new(queryID: otherID),
                "a released key starts afresh with the same deterministic query_id")
        clock.advance(by: 61)
        #expect(store.reserve(key: "k1", tenant: "acme", user: "alice", body: Array("{}".utf8)) == .new(queryID: queryID),
                "expired keys are forgotten")
        #expect(UUIDShape.matches(queryID))
    }

    func record(_ topicPartition: Int32, _ offset: Int64, query: String, user: String, tenant: String, tier: String, value: String = "{}") -> KafkaRecord {
        KafkaRecord(topic: "rag.results", partition: topicPartition, offset: offset, key: Array(query.utf8), value: Array(value.utf8),
                    headers: [KafkaHeader("user-id", user), KafkaHeader("tenant", tenant), KafkaHeader("user-tier", tier)],
                    timestampMilliseconds: 0)
    }

    let ranks: @Sendable (String) -> Int? = { ["free": 0, "standard": 1, "enterprise": 2][$0] }

    @Test("results hub: own events only, never above the tier, backlog for late subscribers, exact resume")
    func hubFiltering() async throws {
        let hub = ResultsHub(lookback: .seconds(600), tierRank: ranks)
        hub.ingest(record(0, 1, query: "q1", user: "alice", tenant: "acme", tier: "standard"), kind: .result)
        hub.ingest(record(0, 2, query: "q2", user: "alice", tenant: "other", tier: "standard"), kind: .result)
        hub.ingest(record(1, 1, query: "q3", user: "bob", tenant: "acme", tier: "standard"), kind: .result)
        hub.ingest(record(1, 2, query: "q4", user: "alice", tenant: "acme", tier: "enterprise"), kind: .result)
        hub.ingest(record(1, 3, query: "q5", user: "alice", tenant: "acme", tier: "free"), kind: .result)

        let alice = ResultsHub.Filter(userID: "alice", tenant: "acme", tierRank: 1, queryID: nil)
        let late = try hub.subscribe(alice, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: nil)
        #expect(late.backlog.map(\.queryID) == ["q1", "q5"], "own tenant and user only; the enterprise-tier result is withheld")

        let resumed = try hub.subscribe(alice, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: "r.0.1")
        #expect(resumed.backlog.map(\.queryID) == ["q5"], "resume starts right after the last seen event")

        hub.ingest(record(2, 1, query: "q6", user: "alice", tenant: "acme", tier: "standard"), kind: .result)
        hub.ingest(record(2, 2, query: "q7", user: "mallory", tenant: "acme", tier: "standard"), kind: .result)
        var iterator = late.items.makeAsyncIterator()
        guard case .event(let live)? = await iterator.next() else { Issue.record("expected a live event"); return }
        #expect(live.queryID == "q6")
        #expect(hub.subscriberCount == 2)
    }

    @Test("results hub: a result published twice (the relay is at least once) reaches a subscriber once")
    func hubDropsRepublishedResults() async throws {
        let hub = ResultsHub(lookback: .seconds(600), tierRank: ranks)
        let alice = ResultsHub.Filter(userID: "alice", tenant: "acme", tierRank: 1, queryID: nil)
        let live = try hub.subscribe(alice, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: nil)
        hub.ingest(record(0, 1, query: "q1", user: "alice", tenant: "acme", tier: "standard"), kind: .result)
        hub.ingest(record(0, 2, query: "q1", user: "alice", tenant: "acme", tier: "standard"), kind: .result)  // the same row again
        hub.ingest(record(0, 3, query: "q2", user: "alice", tenant: "acme", tier: "standard"), kind: .result)
        hub.ingest(record(0, 4, query: "q2", user: "alice", tenant: "other", tier: "standard"), kind: .result)  // another tenant's q2
        var iterator = live.items.makeAsyncIterator()
        var received: [String] = []
        for _ in 0..<2 {
            if case .event(let event)? = await iterator.next() { received.append(event.id) }
        }
        #expect(received == ["r.0.1", "r.0.3"])
        let late = try hub.subscribe(alice, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: nil)
        #expect(late.backlog.map(\.id) == ["r.0.1", "r.0.3"])
        let other = ResultsHub.Filter(userID: "alice", tenant: "other", tierRank: 1, queryID: nil)
        #expect(try hub.subscribe(other, caller: CallerID(tenant: "other", userID: "alice"), lastEventID: nil).backlog.map(\.id) == ["r.0.4"])
    }

    @Test("results hub: a per-query stream resumes by Kafka coordinates where the last id is unknown")
    func hubResumeAcrossInstances() throws {
        // This instance's window starts after the client's last event, d.4.10, which it never saw.
        let hub = ResultsHub(lookback: .seconds(600), tierRank: ranks)
        for offset in [Int64(11), 12] {
            var delta = record(4, offset, query: "q1", user: "alice", tenant: "acme", tier: "free")
            delta.topic = "rag.answer-deltas"
            hub.ingest(delta, kind: .delta)
        }
        hub.ingest(record(4, 7, query: "q1", user: "alice", tenant: "acme", tier: "free"), kind: .result)
        let filter = ResultsHub.Filter(userID: "alice", tenant: "acme", tierRank: 0, queryID: "q1")
        #expect(try hub.subscribe(filter, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: "d.4.10").backlog.map(\.id) == ["d.4.11", "d.4.12", "r.4.7"])
        #expect(try hub.subscribe(filter, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: "d.4.11").backlog.map(\.id) == ["d.4.12", "r.4.7"])
        #expect(try hub.subscribe(filter, caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: "r.4.7").backlog.isEmpty)
    }
}

enum UUIDShape {
    static func matches(_ text: String) -> Bool {
        text.count == 36 && text.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12]
    }
}
