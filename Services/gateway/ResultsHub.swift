import DequeModule
import Foundation
import Messaging
import Metrics
import Synchronization

/// Fans rag.results and rag.answer-deltas out to SSE subscribers, each seeing only its own events.
///
/// Every gateway instance reads both topics in full (`KafkaTailReader`, no consumer group) from
/// `lookback` ago, and keeps the events of that window (bounded by `capacity`) in memory, so a subscriber
/// who connects after the answer was produced still gets it, and `Last-Event-ID` resumes from the buffer.
///
/// Event ids are Kafka coordinates (`r.<partition>.<offset>` for results, `d.<partition>.<offset>` for
/// deltas), the same on every instance. Resuming on the instance that served the earlier events is exact:
/// no repeats, no gaps. On another instance a per-query stream still resumes exactly (a query's events
/// sit in one partition per topic); the all-results stream then replays the window (repeats, no gaps).
///
/// Filtering (SPEC §4): an event is delivered only if its `user-id` and `tenant` headers equal the
/// subscriber's and its `user-tier` is not above the subscriber's tier. Events without identity headers
/// are never delivered.
final class ResultsHub: Sendable {
    struct Event: Sendable, Equatable {
        enum Kind: String, Sendable { case delta, result }
        var kind: Kind
        var id: String
        var partition: Int32
        var offset: Int64
        var queryID: String
        var userID: String
        var tenant: String
        var tierRank: Int
        /// The record value, a JSON document.
        var data: String
        var sequence: UInt64 = 0
        var receivedAt: Double = 0
    }

    struct Filter: Sendable {
        var userID: String
        var tenant: String
        var tierRank: Int
        /// Only this query's events (GET /results/{query_id}); nil for all of the caller's results.
        var queryID: String?

        func matches(_ event: Event) -> Bool {
            event.userID == userID && event.tenant == tenant && event.tierRank <= tierRank
                && (queryID == nil || event.queryID == queryID)
                // The all-results stream carries results only; deltas belong to per-query streams.
                && (queryID != nil || event.kind == .result)
        }
    }

    enum Item: Sendable {
        case event(Event)
        case heartbeat
        /// The subscriber fell too far behind; it should reconnect with Last-Event-ID.
        case overflow
    }

    struct Subscription: Sendable {
        var backlog: [Event]
        var items: AsyncStream<Item>
        /// For the SSE writer's heartbeat task.
        var continuation: AsyncStream<Item>.Continuation
    }

    private struct State {
        var events: Deque<Event> = []
        var sequenceByID: [String: UInt64] = [:]
        var nextSequence: UInt64 = 1
        var subscribers: [UInt64: (filter: Filter, continuation: AsyncStream<Item>.Continuation)] = [:]
        var nextSubscriber: UInt64 = 1
    }

    private let state = Mutex(State())
    /// `rag_gateway_sse_subscribers`: open SSE streams on this instance.
    private let subscribersGauge = Gauge(label: "rag_gateway_sse_subscribers")
    private let lookback: Double
    private let capacity: Int
    private let subscriberBuffer: Int
    private let tierRank: @Sendable (String) -> Int?
    private let now: @Sendable () -> Double

    init(lookback: Duration, capacity: Int = 200_000, subscriberBuffer: Int = 4096,
         tierRank: @escaping @Sendable (String) -> Int?,
         now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.lookback = Double(lookback.components.seconds)
        self.capacity = capacity
        self.subscriberBuffer = subscriberBuffer
        self.tierRank = tierRank
        self.now = now
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Takes a record from rag.results or rag.answer-deltas (called on the tail reader's poll thread).
    func ingest(_ record: KafkaRecord, kind: Event.Kind) {
        guard let queryID = record.keyString, let value = record.value,
              let userID = record.headers.value("user-id"), let tenant = record.headers.value("tenant"),
              let tier = record.headers.value("user-tier") else { return }
        var event = Event(
            kind: kind, id: "\(kind == .result ? "r" : "d").\(record.partition).\(record.offset)",
            partition: record.partition, offset: record.offset, queryID: queryID, userID: userID, tenant: tenant,
            tierRank: tierRank(tier) ?? Int.max, data: String(decoding: value, as: UTF8.self))
        let time = now()
        state.withLock { state in
            guard state.sequenceByID[event.id] == nil else { return }  // already seen (a re-read)
            event.sequence = state.nextSequence
            event.receivedAt = time
            state.nextSequence += 1
            state.events.append(event)
            state.sequenceByID[event.id] = event.sequence
            evict(&state, at: time)
            var overflowed: [UInt64] = []
            for (key, subscriber) in state.subscribers where subscriber.filter.matches(event) {
                if case .dropped = subscriber.continuation.yield(.event(event)) { overflowed.append(key) }
            }
            for key in overflowed {
                state.subscribers.removeValue(forKey: key)?.continuation.finish()
            }
            if !overflowed.isEmpty { subscribersGauge.record(state.subscribers.count) }
        }
    }

    /// Registers a subscriber. The backlog (buffered events after `lastEventID`, or all buffered ones) and
    /// the live stream are taken under one lock: nothing falls between them.
    func subscribe(_ filter: Filter, lastEventID: String?) -> Subscription {
        let (items, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(subscriberBuffer))
        let (key, backlog) = state.withLock { state in
            let key = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[key] = (filter, continuation)
            subscribersGauge.record(state.subscribers.count)
            var backlog = Array(state.events).filter { filter.matches($0) && Self.isAfter($0, lastEventID, in: state, filter: filter) }
            if filter.queryID != nil {
                // The two topics are read independently, so a result may have arrived before the query's
                // last deltas; a per-query stream ends with its result, so the result goes last.
                backlog = backlog.filter { $0.kind == .delta } + backlog.filter { $0.kind == .result }
            }
            return (key, backlog)
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let remaining = self.state.withLock { state in
                state.subscribers.removeValue(forKey: key)
                return state.subscribers.count
            }
            self.subscribersGauge.record(remaining)
        }
        return Subscription(backlog: backlog, items: items, continuation: continuation)
    }

    /// Whether `event` comes after the event a client last saw.
    private static func isAfter(_ event: Event, _ lastEventID: String?, in state: State, filter: Filter) -> Bool {
        guard let lastEventID else { return true }
        if let sequence = state.sequenceByID[lastEventID] { return event.sequence > sequence }
        // Not in this instance's window: compare Kafka coordinates.
        let parts = lastEventID.split(separator: ".")
        guard parts.count == 3, let partition = Int32(parts[1]), let offset = Int64(parts[2]) else { return true }
        let lastKind: Event.Kind = parts[0] == "r" ? .result : .delta
        if event.kind == lastKind && event.partition == partition { return event.offset > offset }
        if filter.queryID != nil {
            // One query: its deltas precede its result.
            return lastKind == .delta && event.kind == .result
        }
        return true
    }

    private func evict(_ state: inout State, at time: Double) {
        while let first = state.events.first, state.events.count > capacity || time - first.receivedAt > lookback {
            state.events.removeFirst()
            state.sequenceByID[first.id] = nil
        }
    }
}
