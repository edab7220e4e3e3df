/// Splits a `text/event-stream` body into events, as the WHATWG HTML standard describes ("Server-sent
/// events", parsing an event stream), fed with the body's bytes in whatever pieces the network delivers.
///
/// - Lines end with LF, CRLF or a lone CR; a CRLF split across two pieces counts once.
/// - `data:` lines accumulate (joined with `\n`); `event:` names the event; lines starting with `:` are
///   comments (keep-alives) and ignored, as are `id:`, `retry:` and unknown fields. One space after the
///   colon is dropped.
/// - A blank line ends an event; an event without `data` is not dispatched.
/// - Bytes are decoded as UTF-8 only once a whole line is in, so a character split across pieces is
///   read whole.
///
/// A value type used by one task; not shared. Memory is bounded by ``maxEventBytes``. Public for clients of
/// the gateway's `GET /results` streams (`ragctl query`).
public struct ServerSentEventParser: Sendable {
    /// One dispatched event.
    public struct Event: Sendable, Equatable {
        /// The `event:` field, if any (OpenAI-compatible servers send none; some send `error`).
        public var name: String?
        /// The `data:` lines joined with `\n`.
        public var data: String
    }

    /// An event or line grew past ``maxEventBytes``.
    public struct EventTooLarge: Error, Sendable, Equatable {
        public var limit: Int
    }

    /// The most bytes one line, or one event's data, may hold.
    public let maxEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var name: String?
    /// The last piece ended with CR: an LF starting the next piece belongs to that line end.
    private var skipsLineFeed = false

    public init(maxEventBytes: Int = 1 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Reads `bytes` and returns the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(EventTooLarge) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if skipsLineFeed {
                skipsLineFeed = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = try endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                skipsLineFeed = true
                if let event = try endLine() { events.append(event) }
            default:
                line.append(byte)
                if line.count > maxEventBytes { throw EventTooLarge(limit: maxEventBytes) }
            }
        }
        return events
    }

    /// Ends the stream: a last line without its line end is read, and an event without its blank line
    /// is dispatched (servers that close right after `data: [DONE]` are common enough to be lenient).
    public mutating func finish() throws(EventTooLarge) -> Event? {
        if !line.isEmpty, let event = try endLine() { return event }
        return dispatch()
    }

    private mutating func endLine() throws(EventTooLarge) -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }  // a comment
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            field = line[...]
            value = []
        }
        switch String(decoding: field, as: UTF8.self) {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
            if data.count > maxEventBytes { throw EventTooLarge(limit: maxEventBytes) }
        case "event":
            name = String(decoding: value, as: UTF8.self)
        default:
            break  // id, retry and unknown fields
        }
        return nil
    }

    private mutating func dispatch() -> Event? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            name = nil
        }
        guard hasData else { return nil }
        return Event(name: name, data: String(decoding: data, as: UTF8.self))
    }
}
