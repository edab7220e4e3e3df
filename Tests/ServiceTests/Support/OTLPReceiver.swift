import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// An OpenTelemetry collector as far as the workers can tell: a real HTTP server taking OTLP/HTTP JSON
/// (`POST /v1/traces`, `RAG_OTLP_PROTOCOL=http/json`) and keeping every span it receives.
final class OTLPReceiver: Sendable {
    /// One received span, ids as lower-case hex.
    struct Span: Sendable, CustomStringConvertible {
        var service: String
        var name: String
        var traceID: String
        var spanID: String
        var parentSpanID: String

        var description: String { "\(service) \"\(name)\" \(spanID) ← \(parentSpanID.isEmpty ? "root" : parentSpanID)" }
    }

    private let received = Mutex<[Span]>([])
    private let port = Mutex<Int?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    /// The base URL for `RAG_OTLP_ENDPOINT`, once listening.
    var url: String { "http://127.0.0.1:\(port.withLock { $0 } ?? 0)" }

    static func start() async throws -> OTLPReceiver {
        let receiver = OTLPReceiver()
        try await receiver.run()
        return receiver
    }

    var spans: [Span] { received.withLock { $0 } }

    private func run() async throws {
        let router = Router()
        router.post("v1/traces") { request, context -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            self.record(Data(buffer: body))
            // An empty ExportTraceServiceResponse: everything accepted.
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } })
        task.withLock { $0 = Task { try await app.runService() } }
        let deadline = ContinuousClock.now + .seconds(20)
        while port.withLock({ $0 }) == nil {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit { task.withLock { $0?.cancel() } }

    /// Parses an ExportTraceServiceRequest in OTLP's JSON encoding.
    private func record(_ body: Data) {
        guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return }
        var spans: [Span] = []
        for resourceSpans in request["resourceSpans"] as? [[String: Any]] ?? [] {
            let attributes = (resourceSpans["resource"] as? [String: Any])?["attributes"] as? [[String: Any]] ?? []
            let service = attributes.first { $0["key"] as? String == "service.name" }
                .flatMap { ($0["value"] as? [String: Any])?["stringValue"] as? String } ?? "?"
            for scopeSpans in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scopeSpans["spans"] as? [[String: Any]] ?? [] {
                    spans.append(Span(service: service, name: span["name"] as? String ?? "",
                                      traceID: Self.hex(span["traceId"]), spanID: Self.hex(span["spanId"]),
                                      parentSpanID: Self.hex(span["parentSpanId"])))
                }
            }
        }
        received.withLock { $0 += spans }
    }

    /// OTLP/JSON writes ids as hex; protobuf's generic JSON mapping as base64. Either becomes hex.
    private static func hex(_ value: Any?) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        if text.count % 16 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let bytes = Data(base64Encoded: text) else { return text }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
