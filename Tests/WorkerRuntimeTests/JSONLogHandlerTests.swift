import Foundation
import Logging
import Testing

@testable import WorkerRuntime

@Suite("JSONLogHandler", .timeLimit(.minutes(1)))
struct JSONLogHandlerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk on fire" }
    }

    @Test("each line is one JSON object with the fixed fields and flattened metadata")
    func writesJSONLines() throws {
        let collector = LogLineCollector()
        var logger = Logger(label: "embedder.consumer") { label in
            JSONLogHandler(label: label, logLevel: .debug, output: collector.output)
        }
        logger[metadataKey: "worker"] = "embedder"
        logger.info(
            "record \"processed\"\nnext",
            metadata: [
                "topic": "rag.chunks",
                "partition": .stringConvertible(3),
                "retry": .stringConvertible(false),
                "kafka": ["offset": .stringConvertible(42), "group": "embedder"],
                "chunk_ids": ["c1", "c2"],
                "message": "collides with a fixed field",
            ]
        )

        let lines = collector.all
        try #require(lines.count == 1)
        let line = lines[0]
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false, "one line per event")

        let object = try #require(try collector.objects().first)
        let timestamp = try #require(object["timestamp"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(timestamp)")
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "embedder.consumer")
        #expect(object["message"] as? String == "record \"processed\"\nnext")
        #expect(object["source"] as? String == "WorkerRuntimeTests")
        #expect(object["worker"] as? String == "embedder")
        #expect(object["topic"] as? String == "rag.chunks")
        #expect(object["partition"] as? Int == 3)
        #expect(object["retry"] as? Bool == false)
        #expect(object["kafka.offset"] as? Int == 42)
        #expect(object["kafka.group"] as? String == "embedder")
        #expect(object["chunk_ids"] as? [String] == ["c1", "c2"])
        #expect(object["metadata.message"] as? String == "collides with a fixed field")
        #expect(object["kafka"] == nil)

        // The fixed fields come first, in a stable order.
        let keyOrder = ["\"timestamp\"", "\"level\"", "\"label\"", "\"message\"", "\"source\""].compactMap {
            line.range(of: $0)?.lowerBound
        }
        #expect(keyOrder.count == 5 && keyOrder == keyOrder.sorted())
    }

    @Test("respects the level, merges provider metadata and records errors")
    func levelsProvidersAndErrors() throws {
        let collector = LogLineCollector()
        let provider = Logger.MetadataProvider { ["trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"] }
        let logger = Logger(label: "rag-chain") { label in
            JSONLogHandler(label: label, logLevel: .warning, metadataProvider: provider, output: collector.output)
        }
        logger.info("below the level")
        logger.debug("below the level")
        logger.error("model call failed", error: Failure(), metadata: ["trace_id": "overridden"])

        let objects = try collector.objects()
        try #require(objects.count == 1)
        #expect(objects[0]["level"] as? String == "error")
        #expect(objects[0]["error"] as? String == "disk on fire")
        #expect(objects[0]["trace_id"] as? String == "overridden")
    }

    @Test("control characters and non-ASCII text survive the round trip")
    func escapesStrings() throws {
        let collector = LogLineCollector()
        let logger = Logger(label: "gateway") { JSONLogHandler(label: $0, output: collector.output) }
        let text = "tab\there \u{01} back\\slash é 漢字 🚀"
        logger.notice("\(text)")
        let object = try #require(try collector.objects().first)
        #expect(object["message"] as? String == text)
        #expect(object["level"] as? String == "notice")
    }
}
