import FakeModelServer
import Foundation
import TestSupport
import Testing

/// One query followed end to end: every hop exports its spans over OTLP/HTTP to a real HTTP receiver, and
/// the spans form one trace, each the child of the hop before, starting at the caller's `traceparent`.
@Suite("tracing: one query through every hop", .timeLimit(.minutes(3)))
struct TracingEndToEndTests {
    @Test("gateway request → rag-chain query (retrieval, model call, write answer) → outbox publish: one trace, parented hop by hop")
    func oneTraceAcrossTheQueryPath() async throws {
        let receiver = try await OTLPReceiver.start()
        let otlp = ["RAG_OTLP_ENDPOINT": receiver.url, "RAG_OTLP_PROTOCOL": "http/json"]
        let controls = FakeModelServer.Controls(answerTemplate: QueryPathEndToEndTests.answerText)
        let harness = try await RagChainHarness(provider: .fake(controls),
                                                environment: QueryPathEndToEndTests.chatEnvironment.merging(otlp) { $1 },
                                                gatewayEnvironment: otlp)
        try await harness.startRelay(environment: otlp)
        try await harness.ingest(QueryPathEndToEndTests.chunks, tenant: "acme")

        // The caller's own trace: the gateway continues it.
        let traceID = (0..<16).map { _ in String(UInt8.random(in: 0...255) | 0x10, radix: 16) }.joined()
        let callerSpanID = "00f067aa0ba902b7"
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["question": QueryPathEndToEndTests.chunks[0].1]), as: UTF8.self)
        let response = try await harness.gateway.post("/queries", body, token: try await harness.gateway.token("tess", tier: "standard", tenant: "acme", scopes: []),
                                                      headers: [("traceparent", "00-\(traceID)-\(callerSpanID)-01")])
        try #require(response.status == 202, "\(response.text)")
        let answer = try await harness.answer(try #require(response.json["query_id"] as? String))
        #expect(answer.status == "answered")

        // Spans leave each process in batches, about once a second, and a process's spans of one query may
        // be split across batches: wait for every span the trace should hold, then check how they link.
        let expected = [("gateway", "/queries"), ("rag-chain", "rag-chain query"), ("rag-chain", "retrieval"),
                        ("rag-chain", "model call"), ("rag-chain", "write answer"), ("outbox-relay", "outbox publish")]
        try await eventually("every hop's spans arrive", timeout: .seconds(30)) {
            let arrived = receiver.spans.filter { $0.traceID == traceID }
            return expected.allSatisfy { service, name in arrived.contains { $0.service == service && $0.name == name } }
        }
        let trace = receiver.spans.filter { $0.traceID == traceID }
        func only(_ service: String, _ name: String) throws -> OTLPReceiver.Span {
            let matching = trace.filter { $0.service == service && $0.name == name }
            try #require(matching.count == 1, "one \(service) span \"\(name)\" in the trace: \(trace)")
            return matching[0]
        }
        let request = try only("gateway", "/queries")
        #expect(request.parentSpanID == callerSpanID)
        let query = try only("rag-chain", "rag-chain query")
        #expect(query.parentSpanID == request.spanID)
        for step in ["retrieval", "model call", "write answer"] {
            #expect(try only("rag-chain", step).parentSpanID == query.spanID, "\(step)")
        }
        #expect(try only("outbox-relay", "outbox publish").parentSpanID == (try only("rag-chain", "write answer")).spanID)
    }
}
