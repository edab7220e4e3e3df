import Hummingbird
import Schemas

/// Server-Sent Events framing (`text/event-stream`): `id:` on every event so `Last-Event-ID` can resume.
enum ServerSentEvent {
    static func encode(_ event: ResultsHub.Event) -> ByteBuffer {
        // A line break inside the data would end the field: each line becomes its own `data:` line.
        let data = event.data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }.joined(separator: "\n")
        return ByteBuffer(string: "id: \(event.id)\nevent: \(event.kind.rawValue)\n\(data)\n\n")
    }

    static func error(code: String, detail: String) -> ByteBuffer {
        let data = JSONValue.object(["code": .string(code), "detail": .string(detail)]).serializedString()
        return ByteBuffer(string: "event: error\ndata: \(data)\n\n")
    }
}

/// W3C trace context: a request's `traceparent` is continued (same trace id, new span id), or started.
enum TraceParent {
    static func child(of incoming: String?) -> String {
        let span = randomHex(bytes: 8)
        if let incoming {
            let parts = incoming.split(separator: "-")
            if parts.count == 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
               parts[1].allSatisfy(\.isHexDigit), parts[1] != String(repeating: "0", count: 32) {
                return "00-\(parts[1])-\(span)-\(parts[3])"
            }
        }
        return "00-\(randomHex(bytes: 16))-\(span)-01"
    }

    private static func randomHex(bytes: Int) -> String {
        (0..<bytes).map { _ in UInt8.random(in: 0...255) }.hexString
    }
}
