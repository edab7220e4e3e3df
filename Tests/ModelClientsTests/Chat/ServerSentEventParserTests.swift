@testable import ModelClients
import Testing

/// The event-stream parser on its own: the same events whatever the network's cuts.
@Suite("ServerSentEventParser")
struct ServerSentEventParserTests {
    typealias Event = ServerSentEventParser.Event

    private static let stream =
        ": comment\n"
        + "data: {\"a\":1}\n\n"
        + "event: error\r\ndata: first line\r\ndata:second line\r\n\r\n"
        + "id: 7\nretry: 100\n\n"  // no data: not dispatched
        + "data: ünï 東京\r\r"
        + "data\n\n"  // a field without a colon: empty data
        + "data: [DONE]\n\n"

    private static let expected: [Event] = [
        Event(name: nil, data: "{\"a\":1}"),
        Event(name: "error", data: "first line\nsecond line"),
        Event(name: nil, data: "ünï 東京"),
        Event(name: nil, data: ""),
        Event(name: nil, data: "[DONE]"),
    ]

    private func parse(_ pieces: [[UInt8]]) throws -> [Event] {
        var parser = ServerSentEventParser()
        var events: [Event] = []
        for piece in pieces { events += try parser.feed(piece) }
        if let last = try parser.finish() { events.append(last) }
        return events
    }

    @Test("the whole stream at once")
    func wholeStream() throws {
        #expect(try parse([Array(Self.stream.utf8)]) == Self.expected)
    }

    @Test("one byte at a time: CRLF, lone CR and multi-byte characters split across pieces give the same events")
    func byteByByte() throws {
        #expect(try parse(Array(Self.stream.utf8).map { [$0] }) == Self.expected)
    }

    @Test("every two-piece cut gives the same events")
    func everyCut() throws {
        let bytes = Array(Self.stream.utf8)
        for cut in 1..<bytes.count {
            #expect(try parse([Array(bytes[..<cut]), Array(bytes[cut...])]) == Self.expected, "cut at \(cut)")
        }
    }

    @Test("a last event without its blank line is dispatched at the end; a half line too")
    func lenientEnd() throws {
        #expect(try parse([Array("data: [DONE]\n".utf8)]) == [Event(name: nil, data: "[DONE]")])
        #expect(try parse([Array("data: [DONE]".utf8)]) == [Event(name: nil, data: "[DONE]")])
        #expect(try parse([Array(": only a comment".utf8)]) == [])
    }

    @Test("a line or an event longer than the limit is refused")
    func limits() {
        var parser = ServerSentEventParser(maxEventBytes: 1024)
        #expect(throws: ServerSentEventParser.EventTooLarge.self) { _ = try parser.feed(Array(repeating: UInt8(ascii: "x"), count: 2000)) }
        var lines = ServerSentEventParser(maxEventBytes: 1024)
        let line = Array(("data: " + String(repeating: "y", count: 600) + "\n").utf8)
        #expect(throws: ServerSentEventParser.EventTooLarge.self) { _ = try lines.feed(line + line) }
    }
}
