import DequeModule
import Foundation
import Messaging
import Metrics
import Synchronization

/// Fans rag.results and rag.answer-deltas out to SSE subscribers, each seeing only its own events.
///
/// Every gateway instance reads both topics in full (`KafkaTailReader`, no consumer group) from
/// `lookback` ago, and keeps the events of that window in memory, so a subscriber who connects after the
/// answer was produced still gets it, and `Last-Event-ID` resumes from the buffer.
///
/// The window is bounded in bytes (`Limits.windowBytes`, event data plus a fixed overhead each) and shared
/// fairly between tenants: when it is full, the oldest event of the tenant holding the most bytes goes, so
/// a tenant that floods results pushes out its own events, never another tenant's, while that other tenant
/// holds less than its share.
///
/// Event ids are Kafka coordinates (`r.<partition>.<offset>` for results, `d.<partition>.<offset>` for
/// deltas), the same on every instance. Resuming on the instance that served the earlier events is exact:
/// no repeats, no gaps. On another instance a per-query stream still resumes exactly (a query's events
/// sit in one partition per topic); the all-results stream then replays the window (repeats, no gaps).
///
/// A query has one answer, but its result may be on rag.results twice: the outbox relay publishes at least
/// once (a relay killed between the broker's ack and marking the row published sends it again). A result
/// whose query already has one in the window is dropped, so a subscriber sees one result per query.
///
/// Filtering (SPEC §4): an event is delivered only if its `user-id` and `tenant` headers equal the
/// subscriber's and its `user-tier` is not above the subscriber's tier. Events without identity headers
/// are never delivered.
///
/// Subscribers are capped per caller and in total (`subscribe` refuses beyond them). Each has a buffer of
/// `Limits.subscriberBuffer` items; a subscriber that stops reading and fills it is cut off alone: its
/// stream ends with `Subscription.overflowed` set (the SSE writer then sends an `error` event), and no
/// other stream notices. Continuations are finished only after the lock is released, because finishing
/// runs the termination handler, which takes the lock again.
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

        /// What the event counts against the window: its data and ids, plus the bookkeeping around them.
        var windowBytes: Int { data.utf8.count + id.utf8.count + queryID.utf8.count + userID.utf8.count + tenant.utf8.count + 128 }
    }

    struct Filter: Sendable {
        var userID: String
        /// The trusted `tenant` header value: the empty string for callers without a tenant.
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

    /// The hub's bounds (`RAG_GATEWAY_RESULTS_WINDOW_BYTES`, `RAG_GATEWAY_SSE_*`).
    struct Limits: Sendable {
        /// Bytes of events kept for late subscribers and resumption, across all tenants.
        var windowBytes = 64 << 20
        /// Items a subscriber may have waiting before it is cut off.
        var subscriberBuffer = 4096
        /// Open streams per caller (tenant and user).
        var subscribersPerCaller = 16
        /// Open streams on this instance.
        var subscribersTotal = 10_000
    }

    enum Item: Sendable {
        case event(Event)
        case heartbeat
    }

    struct Subscription: Sendable {
        var backlog: [Event]
        var items: AsyncStream<Item>
        /// For the SSE writer's heartbeat task.
        var continuation: AsyncStream<Item>.Continuation
        /// Set (before `items` ends) when the hub cut this subscriber off because its buffer was full.
        var overflowFlag: OverflowFlag

        var overflowed: Bool { overflowFlag.isSet }
    }

    /// Whether a subscription was cut off for falling behind; set once by the hub, read by the SSE writer.
    final class OverflowFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .acquiring) }
        func set() { flag.store(true, ordering: .releasing) }
    }

    enum Refusal: Error, Equatable {
        /// The caller already has `subscribersPerCaller` open streams (429).
        case tooManyForCaller(limit: Int)
        /// The instance already has `subscribersTotal` open streams (503).
        case tooManyInTotal(limit: Int)
    }

    private struct Subscriber {
        var caller: CallerID
        var filter: Filter
        var continuation: AsyncStream<Item>.Continuation
        var overflow: OverflowFlag
    }

    private struct TenantWindow {
        var events: Deque<Event> = []
        var bytes = 0
    }

    private struct State {
        var windows: [String: TenantWindow] = [:]
        var totalBytes = 0
        var sequenceByID: [String: UInt64] = [:]
        /// The queries whose result is in the window (tenant, query id).
        var answeredQueries: Set<[String]> = []
        var nextSequence: UInt64 = 1
        var subscribers: [UInt64: Subscriber] = [:]
        var subscribersByCaller: [CallerID: Int] = [:]
        var nextSubscriber: UInt64 = 1
    }

    private let state = Mutex(State())
    /// `rag_gateway_sse_subscribers`: open SSE streams on this instance.
    private let subscribersGauge = Gauge(label: "rag_gateway_sse_subscribers")
    /// `rag_gateway_sse_overflows_total`: subscribers cut off because they stopped reading.
    private let overflowCounter = Counter(label: "rag_gateway_sse_overflows_total")
    private let lookback: Double
    let limits: Limits
    private let tierRank: @Sendable (String) -> Int?
    private let now: @Sendable () -> Double

    init(lookback: Duration, limits: Limits = Limits(),
         tierRank: @escaping @Sendable (String) -> Int?,
         now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.lookback = Double(lookback.components.seconds)
        self.limits = limits
        self.tierRank = tierRank
        self.now = now
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Bytes the window holds, per tenant (for tests and diagnostics).
    var windowBytesByTenant: [String: Int] { state.withLock { $0.windows.mapValues(\.bytes) } }

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
        let cutOff: [AsyncStream<Item>.Continuation] = state.withLock { state in
            guard state.sequenceByID[event.id] == nil else { return [] }  // already seen (a re-read)
            if kind == .result {
                guard state.answeredQueries.insert([tenant, queryID]).inserted else { return [] }  // published again
            }
            event.sequence = state.nextSequence
            event.receivedAt = time
            state.nextSequence += 1
            let size = event.windowBytes
            state.windows[tenant, default: TenantWindow()].events.append(event)
            state.windows[tenant, default: TenantWindow()].bytes += size
            state.totalBytes += size
            state.sequenceByID[event.id] = event.sequence
            evict(&state, at: time)
            var cutOff: [AsyncStream<Item>.Continuation] = []
            for (key, subscriber) in state.subscribers where subscriber.filter.matches(event) {
                if case .dropped = subscriber.continuation.yield(.event(event)) {
                    subscriber.overflow.set()
                    remove(key, from: &state)
                    cutOff.append(subscriber.continuation)
                }
            }
            if !cutOff.isEmpty { subscribersGauge.record(state.subscribers.count) }
            return cutOff
        }
        // Outside the lock: finishing runs onTermination, which takes the lock.
        for continuation in cutOff {
            overflowCounter.increment()
            continuation.finish()
        }
    }

    /// Registers a subscriber, or refuses it beyond the per-caller and total limits. The backlog (buffered
    /// events after `lastEventID`, or all buffered ones) and the live stream are taken under one lock:
    /// nothing falls between them.
    func subscribe(_ filter: Filter, caller: CallerID, lastEventID: String?) throws(Refusal) -> Subscription {
        let (items, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(limits.subscriberBuffer))
        let overflow = OverflowFlag()
        let limits = limits
        let time = now()
        let lookback = lookback
        let registered: Result<(UInt64, [Event]), Refusal> = state.withLock { state in
            guard state.subscribers.count < limits.subscribersTotal else { return .failure(.tooManyInTotal(limit: limits.subscribersTotal)) }
            guard state.subscribersByCaller[caller, default: 0] < limits.subscribersPerCaller else {
                return .failure(.tooManyForCaller(limit: limits.subscribersPerCaller))
            }
            let key = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[key] = Subscriber(caller: caller, filter: filter, continuation: continuation, overflow: overflow)
            state.subscribersByCaller[caller, default: 0] += 1
            subscribersGauge.record(state.subscribers.count)
            let window = state.windows[filter.tenant]?.events ?? []
            var backlog: [Event] = window.filter {
                time - $0.receivedAt <= lookback && filter.matches($0) && Self.isAfter($0, lastEventID, in: state, filter: filter)
            }
            if filter.queryID != nil {
                // The two topics are read independently, so a result may have arrived before the query's
                // last deltas; a per-query stream ends with its result, so the result goes last.
                backlog = backlog.filter { $0.kind == .delta } + backlog.filter { $0.kind == .result }
            }
            return .success((key, backlog))
        }
        let key: UInt64
        let backlog: [Event]
        switch registered {
        case .success(let value): (key, backlog) = value
        case .failure(let refusal):
            continuation.finish()
            throw refusal
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let remaining = self.state.withLock { state in
                self.remove(key, from: &state)
                return state.subscribers.count
            }
            self.subscribersGauge.record(remaining)
        }
        return Subscription(backlog: backlog, items: items, continuation: continuation, overflowFlag: overflow)
    }

    private func remove(_ key: UInt64, from state: inout State) {
        guard let subscriber = state.subscribers.removeValue(forKey: key) else { return }
        let remaining = state.subscribersByCaller[subscriber.caller, default: 1] - 1
        state.subscribersByCaller[subscriber.caller] = remaining > 0 ? remaining : nil
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

    /// Drops events older than the lookback, then, while the window is over its byte bound, the oldest
    /// event of the tenant holding the most bytes.
    private func evict(_ state: inout State, at time: Double) {
        for tenant in Array(state.windows.keys) {
            while let first = state.windows[tenant]?.events.first, time - first.receivedAt > lookback {
                dropOldest(of: tenant, &state)
            }
        }
        while state.totalBytes > limits.windowBytes,
              let largest = state.windows.max(by: { $0.value.bytes < $1.value.bytes })?.key {
            dropOldest(of: largest, &state)
        }
    }

    private func dropOldest(of tenant: String, _ state: inout State) {
        guard let first = state.windows[tenant]?.events.popFirst() else { return }
        let size = first.windowBytes
        state.windows[tenant]?.bytes -= size
        state.totalBytes -= size
        state.sequenceByID[first.id] = nil
        if first.kind == .result { state.answeredQueries.remove([tenant, first.queryID]) }
        if state.windows[tenant]?.events.isEmpty == true { state.windows[tenant] = nil }
    }
}
