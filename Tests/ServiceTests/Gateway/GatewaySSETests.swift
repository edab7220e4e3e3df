import Foundation
import Messaging
import ModelClients
import Synchronization
import TestSupport
import Testing

/// One Server-Sent Events subscriber: reads the stream in a task and keeps what arrived.
final class SSESubscriber: Sendable {
    struct Event: Sendable, Equatable {
        var id: String?
        var event: String
        var data: String
    }

    final class State: Sendable {
        let received = Mutex<(events: [Event], comments: [String], ended: Bool)>(([], [], false))
        func withLock<T>(_ body: (inout (events: [Event], comments: [String], ended: Bool)) -> T) -> T { received.withLock { body(&$0) } }
    }

    let status: Int
    private let state = State()
    private let reader: Task<Void, Never>

    init(_ gateway: GatewayHarness, path: String, token: String, lastEventID: String? = nil) async throws {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(token)", "Accept": "text/event-stream"]
        if let lastEventID { headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await gateway.http.stream(HTTPRequest(url: gateway.url(path), headers: headers, timeout: .seconds(120)))
        status = response.status
        let state = state
        reader = Task {
            var buffer = ""
            do {
                for try await chunk in response.body {
                    buffer += String(decoding: chunk, as: UTF8.self)
                    while let end = buffer.range(of: "\n\n") {
                        let block = String(buffer[..<end.lowerBound])
                        buffer = String(buffer[end.upperBound...])
                        var event = Event(id: nil, event: "message", data: "")
                        var dataLines: [String] = []
                        var comment: String?
                        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                            if line.hasPrefix(":") { comment = String(line.dropFirst()).trimmingCharacters(in: .whitespaces) }
                            else if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                            else if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)) }
                            else if line.hasPrefix("data: ") { dataLines.append(String(line.dropFirst(6))) }
                        }
                        event.data = dataLines.joined(separator: "\n")
                        state.withLock { state in
                            if let comment { state.comments.append(comment) }
                            if !dataLines.isEmpty { state.events.append(event) }
                        }
                    }
                }
            } catch {}
            state.withLock { $0.ended = true }
        }
    }

    deinit { reader.cancel() }

    var events: [Event] { state.withLock { $0.events } }
    var comments: [String] { state.withLock { $0.comments } }
    var ended: Bool { state.withLock { $0.ended } }
    func close() { reader.cancel() }

    func waitFor(_ count: Int, timeout: Duration = .seconds(60)) async throws {
        try await eventually("\(count) SSE events (have \(events.count))", timeout: timeout) { self.events.count >= count }
    }
}

@Suite("Gateway: results over Server-Sent Events", .timeLimit(.minutes(3)))
struct GatewaySSETests {
    /// A result event as the outbox relay publishes it, owned by (user, tenant, tier).
    static func publishResult(_ gateway: GatewayHarness, query: String, user: String, tenant: String, tier: String, answer: String) async throws {
        let value = #"{"query_id":"\#(query)","status":"answered","answer":"\#(answer)","citations":[],"model":"test","prompt_version":"v1","usage":{"prompt_tokens":1,"completion_tokens":1},"latency_ms":5}"#
        try await gateway.produce(gateway.topics.results, key: query, value: value,
                                  headers: [KafkaHeader("user-id", user), KafkaHeader("tenant", tenant), KafkaHeader("user-tier", tier)])
    }

    static func publishDelta(_ gateway: GatewayHarness, query: String, index: Int, text: String) async throws {
        try await gateway.produce(gateway.topics.answerDeltas, key: query, value: #"{"query_id":"\#(query)","index":\#(index),"text":"\#(text)"}"#,
                                  headers: [KafkaHeader("user-id", "alice"), KafkaHeader("tenant", "acme"), KafkaHeader("user-tier", "standard")])
    }

    @Test("a subscriber gets only its own results: never another user's, another tenant's, or above its tier")
    func filtering() async throws {
        let gateway = try await GatewayHarness()
        let alice = try await SSESubscriber(gateway, path: "/results", token: try await gateway.token("alice", tier: "standard", tenant: "acme"))
        let bob = try await SSESubscriber(gateway, path: "/results", token: try await gateway.token("bob", tier: "enterprise", tenant: "acme"))
        #expect(alice.status == 200)
        try await eventually("subscribed") { alice.comments.count + alice.events.count >= 0 }
        try await Task.sleep(for: .milliseconds(300))

        try await Self.publishResult(gateway, query: "q-own", user: "alice", tenant: "acme", tier: "standard", answer: "yours")
        try await Self.publishResult(gateway, query: "q-bob", user: "bob", tenant: "acme", tier: "enterprise", answer: "bob's")
        try await Self.publishResult(gateway, query: "q-other-tenant", user: "alice", tenant: "globex", tier: "standard", answer: "globex alice")
        try await Self.publishResult(gateway, query: "q-above-tier", user: "alice", tenant: "acme", tier: "enterprise", answer: "confidential")
        try await Self.publishResult(gateway, query: "q-lower-tier", user: "alice", tenant: "acme", tier: "free", answer: "free answer")
        try await Self.publishResult(gateway, query: "q-last", user: "alice", tenant: "acme", tier: "standard", answer: "marker")

        try await alice.waitFor(3)
        try await bob.waitFor(1)
        try await Task.sleep(for: .milliseconds(500))
        let queries = alice.events.compactMap { event in
            (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])?["query_id"] as? String
        }
        // Results of different queries sit on different partitions: no order between them.
        #expect(queries.sorted() == ["q-last", "q-lower-tier", "q-own"])
        #expect(alice.events.allSatisfy { $0.event == "result" && $0.id?.hasPrefix("r.") == true })
        #expect(bob.events.count == 1 && bob.events[0].data.contains("q-bob"))
    }

    @Test("a late subscriber still gets the result; the per-query stream ends after it")
    func lateSubscriber() async throws {
        let gateway = try await GatewayHarness()
        try await Self.publishResult(gateway, query: "q-early", user: "alice", tenant: "acme", tier: "standard", answer: "already done")
        try await Task.sleep(for: .milliseconds(500))
        let late = try await SSESubscriber(gateway, path: "/results/q-early", token: try await gateway.token())
        try await late.waitFor(1)
        #expect(late.events[0].event == "result" && late.events[0].data.contains("already done"))
        try await eventually("the stream ends after the result") { late.ended }
        // Another user asking for the same query id sees nothing of it.
        let mallory = try await SSESubscriber(gateway, path: "/results/q-early", token: try await gateway.token("mallory"))
        try await Task.sleep(for: .seconds(1))
        #expect(mallory.events.isEmpty && !mallory.ended)
    }

    @Test("deltas then the result; Last-Event-ID resumes without repeats or gaps")
    func resume() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        let first = try await SSESubscriber(gateway, path: "/results/q-stream", token: token)
        for index in 0..<3 { try await Self.publishDelta(gateway, query: "q-stream", index: index, text: "part\(index) ") }
        try await first.waitFor(2)
        first.close()
        let seen = Array(first.events.prefix(2))
        #expect(seen.map(\.event) == ["delta", "delta"])

        // The gateway reads deltas and results as two topics, independently: a result read before the last
        // deltas ends a per-query stream without them. So the result is published once the gateway has the
        // deltas (a watcher sees them), as the relay publishes it after the model's last token; the watcher
        // then sees the result too, so the gateway's window holds all six events.
        let watcher = try await SSESubscriber(gateway, path: "/results/q-stream", token: token)
        for index in 3..<5 { try await Self.publishDelta(gateway, query: "q-stream", index: index, text: "part\(index) ") }
        try await watcher.waitFor(5)
        try await Self.publishResult(gateway, query: "q-stream", user: "alice", tenant: "acme", tier: "standard", answer: "part0 part1 part2 part3 part4")
        try await watcher.waitFor(6)
        watcher.close()

        let resumed = try await SSESubscriber(gateway, path: "/results/q-stream", token: token, lastEventID: seen[1].id)
        try await resumed.waitFor(4)
        try await eventually("the stream ends after the result") { resumed.ended }
        let all = seen + resumed.events
        #expect(all.map(\.event) == ["delta", "delta", "delta", "delta", "delta", "result"])
        let indices = all.filter { $0.event == "delta" }.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any])?["index"] as? Int
        }
        #expect(indices == [0, 1, 2, 3, 4], "no repeat, no gap")
        #expect(Set(all.compactMap(\.id)).count == 6, "every event has its own id")
    }

    @Test("heartbeat comments keep an idle stream open")
    func heartbeats() async throws {
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_SSE_HEARTBEAT": "200ms"])
        let idle = try await SSESubscriber(gateway, path: "/results", token: try await gateway.token())
        try await eventually("three heartbeats") { idle.comments.filter { $0 == "heartbeat" }.count >= 3 }
        #expect(!idle.ended && idle.events.isEmpty)
    }

    @Test("many subscribers of one query all get it; disconnects free their subscriptions")
    func manySubscribers() async throws {
        // A disconnect is noticed when the next write fails: the heartbeat bounds how long that takes.
        // One user with 40 streams: above the default per-user cap (16), which GatewayLimitsTests checks.
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_SSE_HEARTBEAT": "300ms", "RAG_GATEWAY_SSE_MAX_PER_USER": "100"])
        let token = try await gateway.token()
        var subscribers: [SSESubscriber] = []
        for _ in 0..<40 { subscribers.append(try await SSESubscriber(gateway, path: "/results/q-popular", token: token)) }
        try await eventually("40 subscribers registered") { try await Self.subscriberGauge(gateway) == 40 }
        try await Self.publishResult(gateway, query: "q-popular", user: "alice", tenant: "acme", tier: "standard", answer: "for everyone")
        for subscriber in subscribers { try await subscriber.waitFor(1) }
        #expect(subscribers.allSatisfy { $0.events.count == 1 && $0.events[0].data.contains("for everyone") })
        try await eventually("finished streams are released") { try await Self.subscriberGauge(gateway) == 0 }

        let idle = (0..<10).map { _ in Task { try await SSESubscriber(gateway, path: "/results", token: token) } }
        var open: [SSESubscriber] = []
        for task in idle { open.append(try await task.value) }
        try await eventually("10 open streams") { try await Self.subscriberGauge(gateway) == 10 }
        open.forEach { $0.close() }
        open.removeAll()
        try await eventually("client disconnects free the subscriptions") { try await Self.subscriberGauge(gateway) == 0 }
    }

    /// `rag_gateway_sse_subscribers` from /metrics.
    static func subscriberGauge(_ gateway: GatewayHarness) async throws -> Int? {
        let metrics = try await gateway.get("/metrics").text
        guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix("rag_gateway_sse_subscribers") }) else { return nil }
        return line.split(separator: " ").last.flatMap { Double($0) }.map { Int($0) }
    }
}
