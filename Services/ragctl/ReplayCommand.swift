import ArgumentParser
import Foundation
import Messaging

/// `ragctl replay`: moves a stopped consumer group's committed offsets back (or forward), so its workers
/// process the records again from there when they start.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Reset a stopped consumer group's committed offsets to the earliest records or to a point in time.",
        discussion: """
            --to earliest: every partition's low watermark (the oldest record still retained). --to latest: the \
            high watermark (skip everything waiting). --to 2025-01-31T12:00:00Z (RFC 3339): per partition the \
            first record whose timestamp is at or after that time (ListOffsets by timestamp), or the end where \
            there is none. The topic defaults to the one the group consumes (embedder: chunks, rag-chain: \
            queries, review-sampler: results).

            The group must be stopped: with members it refuses (non-zero exit) and changes nothing. On Kafka the \
            group coordinator is asked (DescribeGroups), then the offsets are committed from outside the group \
            (no join; the coordinator accepts that only for a group without members, so a member that starts \
            in between is not overridden). librdkafka 2.0.2's mock cluster (`ragctl broker`) implements neither \
            (no DescribeGroups; outside commits refused for any group that ever had members): there ragctl \
            joins the group as its only member and commits, and refuses if the group gives it fewer than all \
            the topic's partitions — a running group rebalances while that is tried (a partition may wait a \
            few seconds for its owner again), and a group consuming a one-partition topic could lose it to \
            the join. Nor does the mock answer timestamp lookups: a "none" answer is checked against the \
            partition's last record, and where it is wrong the partition is read to find the offset (exact, \
            but it reads the partition; Kafka answers from its time index).

            Example: ragctl replay --group embedder --to earliest
            """
    )

    @Option(help: "The consumer group.")
    var group: String

    @Option(help: "earliest, latest, or an RFC 3339 timestamp.")
    var to: String

    @Option(help: "The topic whose offsets to reset (default: the topic the platform group of that name consumes).")
    var topic: String?

    @Flag(help: "Print the plan without committing.")
    var dryRun = false

    @OptionGroup var kafka: KafkaOptions

    enum Target: Equatable {
        case earliest, latest
        case time(Date)
    }

    static func parseTarget(_ text: String) -> Target? {
        switch text.lowercased() {
        case "earliest", "beginning": return .earliest
        case "latest", "end": return .latest
        default:
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return .time(date) }
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text.replacingOccurrences(of: " ", with: "T")).map { .time($0) }
        }
    }

    func validate() throws {
        guard Self.parseTarget(to) != nil else {
            throw ValidationError("--to must be earliest, latest or an RFC 3339 timestamp such as 2025-01-31T12:00:00Z")
        }
    }

    func run() async throws {
        let target = Self.parseTarget(to)!
        let topics = kafka.topics
        guard let topic = topic ?? LagCommand.knownGroups(topics)[group] else {
            throw ValidationError("--topic is needed: \(group) is not one of the platform's groups (\(LagCommand.knownGroups(topics).keys.sorted().joined(separator: ", ")))")
        }
        let admin = try kafka.admin()
        let partitions = (0..<(try await admin.partitionCount(of: topic))).map { KafkaTopicPartition(topic: topic, partition: $0) }

        // The plan: where each partition goes.
        var marks: [KafkaTopicPartition: (low: Int64, high: Int64)] = [:]
        for partition in partitions { marks[partition] = try await admin.watermarks(partition) }
        var targets: [KafkaTopicPartition: Int64] = [:]
        switch target {
        case .earliest:
            for partition in partitions { targets[partition] = marks[partition]!.low }
        case .latest:
            for partition in partitions { targets[partition] = marks[partition]!.high }
        case .time(let date):
            let found = try await admin.offsets(atTimestamp: Int64(date.timeIntervalSince1970 * 1000), of: partitions)
            let milliseconds = Int64(date.timeIntervalSince1970 * 1000)
            targets = try await verified(found, at: milliseconds, marks: marks)
        }
        let before = try await admin.committedOffsets(group: group, partitions: partitions)
        print("group \(group), topic \(topic), to \(to)")
        print(Table(["partition", "committed", "low", "high", "new offset", "to re-read"], partitions.map { partition in
            let mark = marks[partition]!
            return ["\(partition.partition)", (before[partition] ?? nil).map(String.init) ?? "-", "\(mark.low)", "\(mark.high)",
                    "\(targets[partition]!)", "\(mark.high - targets[partition]!)"]
        }).rendered, terminator: "")
        if dryRun {
            print("dry run: nothing committed")
            return
        }

        // The guard: a group with members must not be touched.
        let probe = try kafka.admin(timeout: .seconds(5))
        var described = false
        do {
            let description = try await probe.describeGroup(group)
            described = true
            if let description, !description.members.isEmpty {
                let clients = description.members.map { "\($0.clientID)@\($0.clientHost)" }.joined(separator: ", ")
                throw CommandFailure("""
                    refusing: group \(group) has \(description.members.count) active member(s) (\(clients)), state \(description.state); \
                    stop its consumers first. Nothing was changed
                    """)
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            printError("note: the cluster cannot describe groups (\(error))")
        }
        // A commit from outside the group: Kafka accepts it only while the group has no members.
        do {
            try await kafka.admin(timeout: .seconds(10)).commitOffsetsFromOutside(group: group, targets)
        } catch {
            if described {
                throw CommandFailure("refusing: the coordinator refused a commit from outside group \(group) (\(error)): it has members again; stop its consumers first. Nothing was changed")
            }
            // Without DescribeGroups (librdkafka's mock cluster, which also refuses outside commits to any group
            // that ever had members): commit as the group's only member, or refuse.
            printError("note: the commit from outside was refused (\(error)); committing as the group's only member instead")
            do {
                try await kafka.admin(timeout: .seconds(10)).commitOffsets(group: group, targets)
            } catch {
                throw CommandFailure("""
                    refusing: could not commit as the only member of group \(group) (\(error)); stop its consumers first. \
                    Nothing was changed
                    """)
            }
        }
        let after = try await admin.committedOffsets(group: group, partitions: partitions)
        let moved = partitions.filter { (after[$0] ?? nil) == targets[$0] }.count
        print("committed: \(moved) of \(partitions.count) partitions now at their new offsets; start the group's workers to replay")
        if moved != partitions.count { throw CommandFailure("some partitions did not take the new offsets") }
    }
}

extension ReplayCommand {
    /// The broker's answers to a timestamp lookup, checked: "no record at or after the time" (nil) is believed
    /// only if the partition's last record is older. librdkafka 2.0.2's mock cluster answers every timestamp
    /// lookup with "none"; there (and on any broker caught doing so) the partition is read from its low
    /// watermark and the first record at or after the time is taken — exact, but it reads the partition.
    func verified(_ found: [KafkaTopicPartition: Int64?], at milliseconds: Int64,
                  marks: [KafkaTopicPartition: (low: Int64, high: Int64)]) async throws -> [KafkaTopicPartition: Int64] {
        let reader = KafkaRangeReader(bootstrapServers: try kafka.bootstrap(), clientID: "ragctl-replay", timeout: .seconds(120),
                                      logger: KafkaOptions.logger)
        var targets: [KafkaTopicPartition: Int64] = [:]
        for (partition, mark) in marks.sorted(by: { $0.key.partition < $1.key.partition }) {
            if let offset = found[partition] ?? nil {
                targets[partition] = offset
                continue
            }
            targets[partition] = mark.high
            guard mark.high > mark.low else { continue }
            let last = try await reader.read([partition: (mark.high - 1)..<mark.high]).last
            guard let lastTime = last?.timestampMilliseconds, lastTime >= milliseconds else { continue }
            printError("note: the cluster answered \(partition)'s timestamp lookup with \"none\" though its last record is newer "
                       + "(librdkafka's mock cluster does); reading the partition to find the offset")
            let records = try await reader.read([partition: mark.low..<mark.high])
            targets[partition] = records.first { ($0.timestampMilliseconds ?? .min) >= milliseconds }?.offset ?? mark.high
        }
        return targets
    }
}

/// A plain text table: columns padded to their widest cell.
struct Table {
    var header: [String]
    var rows: [[String]]

    init(_ header: [String], _ rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    var rendered: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
