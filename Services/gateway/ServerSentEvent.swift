import Hummingbird
import Schemas
import W3CTraceContext

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

/// W3C trace context: a request's valid `traceparent` is continued (same trace id and flags, new span id);
/// anything else starts a new trace.
///
/// Validation is `W3CTraceContext`'s, which is strict: version `00` only (so `ff` is refused), exactly 55
/// characters, lower-case hex, `-` delimiters, and neither an all-zero trace id nor an all-zero span id.
enum TraceParent {
    static func child(of incoming: String?) -> String {
        if let incoming, let parent = try? TraceContext(traceParentHeaderValue: incoming) {
            return TraceContext(traceID: parent.traceID, spanID: .random(), flags: parent.flags, state: TraceState()).traceParentHeaderValue
        }
        return TraceContext(traceID: .random(), spanID: .random(), flags: .sampled, state: TraceState()).traceParentHeaderValue
    }
}
