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
/// New ids come from `RandomIDs` (a pool filled from the kernel's CSPRNG, no system call per request) and
/// are written as hex with a lookup table.
enum TraceParent {
    static func child(of incoming: String?) -> String {
        if let incoming, (try? TraceContext(traceParentHeaderValue: incoming)) != nil {
            // Valid, hence exactly `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` in ASCII: keep all but the span id.
            let parent = Array(incoming.utf8)
            return String(unsafeUninitializedCapacity: 55) { text in
                for index in 0..<36 { text[index] = parent[index] }
                writeSpanID(to: text, at: 36)
                for index in 52..<55 { text[index] = parent[index] }
                return 55
            }
        }
        return String(unsafeUninitializedCapacity: 55) { text in
            text[0] = UInt8(ascii: "0")
            text[1] = UInt8(ascii: "0")
            text[2] = UInt8(ascii: "-")
            var random = RandomIDs.next128()
            while random == (0, 0) { random = RandomIDs.next128() }
            withUnsafeBytes(of: &random) { bytes in
                for index in 0..<16 { RandomIDs.writeHex(bytes[index], to: text, at: 3 + 2 * index) }
            }
            text[35] = UInt8(ascii: "-")
            writeSpanID(to: text, at: 36)
            for (index, byte) in "-01".utf8.enumerated() { text[52 + index] = byte }  // sampled
            return 55
        }
    }

    /// A random non-zero span id as 16 hex digits at `offset`.
    private static func writeSpanID(to text: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        var random: UInt64 = 0
        repeat { random = RandomIDs.next() } while random == 0
        withUnsafeBytes(of: &random) { bytes in
            for index in 0..<8 { RandomIDs.writeHex(bytes[index], to: text, at: offset + 2 * index) }
        }
    }
}
