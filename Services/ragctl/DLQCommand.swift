import ArgumentParser
import Foundation
import Messaging

/// `ragctl dlq`: inspect the dead-letter topic and send records back to where they came from.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show and redrive dead letters (the rag.dlq topic).",
        discussion: """
            The topic is read from each partition's low to its high watermark without joining a consumer group \
            (nothing is committed; any number of operators may look at once). Every dead letter carries the \
            original key and value unchanged and the headers dlq-stage, dlq-reason, dlq-error, original-topic, \
            original-partition, original-offset, original-timestamp and attempts (SPEC §3).
            """,
        subcommands: [List.self, Show.self, Redrive.self]
    )

    /// The DLQ bookkeeping headers, removed when a record is redriven.
    static func isBookkeeping(_ name: String) -> Bool {
        name.hasPrefix("dlq-") || name.hasPrefix("original-") || name == "attempts"
    }

    /// `--stage`, `--reason` and `--original-topic`.
    struct Filters: ParsableArguments {
        @Option(help: "Only dead letters of this stage (dlq-stage, e.g. embedder, rag-chain).")
        var stage: String?

        @Option(help: "Only dead letters with this reason (dlq-reason, e.g. embedding_failed, schema_violation).")
        var reason: String?

        @Option(help: "Only dead letters from this topic (original-topic, e.g. rag.chunks).")
        var originalTopic: String?

        var isEmpty: Bool { stage == nil && reason == nil && originalTopic == nil }

        func matches(_ record: KafkaRecord) -> Bool {
            (stage == nil || record.headers.value("dlq-stage") == stage)
                && (reason == nil || record.headers.value("dlq-reason") == reason)
                && (originalTopic == nil || record.headers.value("original-topic") == originalTopic)
        }
    }

    /// A record's place in rag.dlq, `PARTITION:OFFSET`.
    struct Position: ExpressibleByArgument, Hashable, CustomStringConvertible {
        var partition: Int32
        var offset: Int64

        init?(argument: String) {
            let parts = argument.split(separator: ":")
            guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1]), partition >= 0, offset >= 0 else { return nil }
            self.partition = partition
            self.offset = offset
        }

        var description: String { "\(partition):\(offset)" }
    }

    static func readAll(_ kafka: KafkaOptions) async throws -> [KafkaRecord] {
        try await KafkaRangeReader(bootstrapServers: try kafka.bootstrap(), clientID: "ragctl-dlq", timeout: .seconds(60), logger: KafkaOptions.logger)
            .readAll(topic: kafka.topics.deadLetters)
    }

    static func read(_ positions: [Position], _ kafka: KafkaOptions) async throws -> [KafkaRecord] {
        let topic = kafka.topics.deadLetters
        var ranges: [KafkaTopicPartition: Range<Int64>] = [:]
        for position in positions {
            let partition = KafkaTopicPartition(topic: topic, partition: position.partition)
            let range = ranges[partition] ?? position.offset..<(position.offset + 1)
            ranges[partition] = min(range.lowerBound, position.offset)..<max(range.upperBound, position.offset + 1)
        }
        let records = try await KafkaRangeReader(bootstrapServers: try kafka.bootstrap(), clientID: "ragctl-dlq", timeout: .seconds(30),
                                                 logger: KafkaOptions.logger).read(ranges)
        let wanted = Set(positions)
        let found = records.filter { wanted.contains(Position(partition: $0.partition, offset: $0.offset)) }
        let missing = positions.filter { position in !found.contains { $0.partition == position.partition && $0.offset == position.offset } }
        guard missing.isEmpty else {
            throw CommandFailure("no record at \(missing.map(\.description).joined(separator: ", ")) of \(topic)")
        }
        return found
    }

    static func original(_ record: KafkaRecord) -> String {
        let topic = record.headers.value("original-topic") ?? "?"
        return "\(topic)[\(record.headers.value("original-partition") ?? "?")]@\(record.headers.value("original-offset") ?? "?")"
    }

    static func text(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "(null)" }
        return String(validating: bytes, as: UTF8.self) ?? "(\(bytes.count) bytes, not UTF-8)"
    }

    // MARK: - list

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters as a table (partition:offset, stage, reason, original coordinates, attempts, error).",
            discussion: "Example: ragctl dlq list --stage embedder --reason embedding_failed"
        )

        @OptionGroup var filters: Filters
        @Flag(help: "Print whole error texts instead of cutting them at 80 characters.") var wide = false
        @Flag(help: "One JSON object per dead letter instead of a table.") var json = false
        @OptionGroup var kafka: KafkaOptions

        func run() async throws {
            let records = try await DLQCommand.readAll(kafka).filter(filters.matches)
            if json {
                for record in records {
                    var object: [String: Any] = ["partition": record.partition, "offset": record.offset, "key": record.keyString ?? NSNull()]
                    for header in record.headers where DLQCommand.isBookkeeping(header.name) { object[header.name] = header.stringValue ?? NSNull() }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                }
                return
            }
            let rows = records.map { record -> [String] in
                var error = (record.headers.value("dlq-error") ?? "").replacingOccurrences(of: "\n", with: " ")
                if !wide && error.count > 80 { error = String(error.prefix(79)) + "…" }
                return ["\(record.partition):\(record.offset)", record.headers.value("dlq-stage") ?? "-", record.headers.value("dlq-reason") ?? "-",
                        DLQCommand.original(record), record.headers.value("attempts") ?? "-", error]
            }
            print(Table(["position", "stage", "reason", "original", "attempts", "error"], rows).rendered, terminator: "")
            print("\(records.count) dead letter(s)\(filters.isEmpty ? "" : " matching")")
        }
    }

    // MARK: - show

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one dead letter: its headers, key and value.",
            discussion: "Example: ragctl dlq show 2:17"
        )

        @Argument(help: "PARTITION:OFFSET in rag.dlq (from `ragctl dlq list`).") var position: Position
        @OptionGroup var kafka: KafkaOptions

        func run() async throws {
            let record = try await DLQCommand.read([position], kafka)[0]
            var output = "position:  \(kafka.topics.deadLetters)[\(record.partition)]@\(record.offset)\n"
            if let timestamp = record.timestampMilliseconds {
                output += "timestamp: \(Date(timeIntervalSince1970: Double(timestamp) / 1000).ISO8601Format())\n"
            }
            output += "headers:\n"
            let width = record.headers.map(\.name.count).max() ?? 0
            for header in record.headers {
                output += "  \(header.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(DLQCommand.text(header.value))\n"
            }
            output += "key:   \(DLQCommand.text(record.key))\nvalue:\n"
            if let value = record.value, let object = try? JSONSerialization.jsonObject(with: Data(value)),
               let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
                output += String(decoding: pretty, as: UTF8.self) + "\n"
            } else {
                output += DLQCommand.text(record.value) + "\n"
            }
            print(output, terminator: "")
        }
    }

    // MARK: - redrive

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to their original topics, to be processed again.",
            discussion: """
                Each selected record is produced to its original-topic with its original key, value and headers; \
                the DLQ bookkeeping headers (dlq-*, original-*, attempts) are removed. The key decides the \
                partition, as for the first delivery. The dead letter itself stays in rag.dlq (Kafka cannot delete \
                one record); processing is idempotent, so redriving a record twice does no harm. Select records by \
                position, or by filters (all matching dead letters), or --all. Fix the cause first (a provider \
                that failed, a bad deployment): a record that fails again lands in rag.dlq again.

                Example: ragctl dlq redrive --stage embedder --reason embedding_failed
                         ragctl dlq redrive 2:17 2:18
                """
        )

        @Argument(help: "PARTITION:OFFSET positions in rag.dlq.") var positions: [Position] = []
        @OptionGroup var filters: Filters
        @Flag(help: "Redrive every dead letter.") var all = false
        @Flag(help: "Print what would be sent without sending.") var dryRun = false
        @OptionGroup var kafka: KafkaOptions

        func validate() throws {
            guard !positions.isEmpty || !filters.isEmpty || all else {
                throw ValidationError("select what to redrive: PARTITION:OFFSET positions, --stage/--reason/--original-topic, or --all")
            }
        }

        func run() async throws {
            var records = positions.isEmpty ? try await DLQCommand.readAll(kafka) : try await DLQCommand.read(positions, kafka)
            records = records.filter(filters.matches)
            guard !records.isEmpty else {
                print("nothing to redrive: no dead letter matches")
                return
            }
            let producer = try KafkaProducer(configuration: .init(bootstrapServers: try kafka.bootstrap(), clientID: "ragctl-dlq-redrive"),
                                             logger: KafkaOptions.logger)
            var sent = 0
            var failures: [String] = []
            for record in records {
                let from = "\(kafka.topics.deadLetters)[\(record.partition)]@\(record.offset)"
                guard let topic = record.headers.value("original-topic"), !topic.isEmpty else {
                    failures.append("\(from): no original-topic header")
                    print("\(from): skipped, no original-topic header")
                    continue
                }
                let outgoing = KafkaOutgoingRecord(topic: topic, key: record.key, value: record.value,
                                                   headers: record.headers.filter { !DLQCommand.isBookkeeping($0.name) })
                let what = "\(from) (\(record.headers.value("dlq-stage") ?? "?")/\(record.headers.value("dlq-reason") ?? "?"), key \(record.keyString ?? "-"))"
                if dryRun {
                    print("\(what) → would send to \(topic), \(outgoing.headers.count) headers")
                    continue
                }
                do {
                    let report = try await producer.send(outgoing)
                    print("\(what) → \(report.topic)[\(report.partition)]@\(report.offset)")
                    sent += 1
                } catch {
                    failures.append("\(from): \(error)")
                    print("\(what) → failed: \(error)")
                }
            }
            await producer.shutdown()
            print(dryRun ? "dry run: \(records.count) record(s) would be redriven" : "redrove \(sent) of \(records.count) record(s)")
            if !failures.isEmpty { throw CommandFailure("\(failures.count) record(s) not redriven") }
        }
    }
}

extension DLQCommand.Position {
    init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }
}
