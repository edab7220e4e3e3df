import ArgumentParser
import Foundation
import Messaging

/// `ragctl lag`: per consumer group and partition, the committed offset, the high watermark and the lag.
struct LagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Show consumer lag per group and partition: committed offset, watermarks, lag.",
        discussion: """
            lag = high watermark − committed offset; a partition the group has never committed: high − low \
            (every retained record is waiting: the workers start at the earliest record). Read from the broker, \
            so it is right whether or not the group's workers run.

            The workers' metric kafka_consumer_lag{group,topic,partition} counts from the consumer's side: high \
            watermark (as of its last fetch) − the offset below which its work is done (what its next commit \
            will hold; before its first record, its fetch position), for the partitions it owns, refreshed with \
            every commit (each second). Once the consumer has committed what it finished, the two agree; in \
            between, the metric is lower by work done but not committed yet, and it is not exported for \
            partitions nobody owns (a stopped group) — this command still shows those.

            Without --group: the platform's groups (embedder on chunks, rag-chain on queries, review-sampler on \
            results).

            Example: ragctl lag --group embedder
            """
    )

    @Option(help: "A consumer group (repeat for several; default: the platform's groups).")
    var group: [String] = []

    @Option(help: "The topic (default: the group's usual topic).")
    var topic: String?

    @Flag(help: "One JSON object per partition instead of a table.")
    var json = false

    @OptionGroup var kafka: KafkaOptions

    /// The platform's consumer groups (their default names) and the topic each consumes.
    static func knownGroups(_ topics: RAGTopics) -> [String: String] {
        ["embedder": topics.chunks, "rag-chain": topics.queries, "review-sampler": topics.results]
    }

    func run() async throws {
        let known = Self.knownGroups(kafka.topics)
        let groups = group.isEmpty ? known.keys.sorted() : group
        let admin = try kafka.admin()
        var rows: [[String]] = []
        for group in groups {
            guard let topic = topic ?? known[group] else {
                throw ValidationError("--topic is needed: \(group) is not one of the platform's groups (\(known.keys.sorted().joined(separator: ", ")))")
            }
            let partitions = (0..<(try await admin.partitionCount(of: topic))).map { KafkaTopicPartition(topic: topic, partition: $0) }
            let committed = try await admin.committedOffsets(group: group, partitions: partitions)
            var total: Int64 = 0
            for partition in partitions {
                let (low, high) = try await admin.watermarks(partition)
                let offset = committed[partition] ?? nil
                let lag = max(0, high - (offset ?? low))
                total += lag
                if json {
                    var object: [String: Any] = ["group": group, "topic": topic, "partition": partition.partition, "low": low, "high": high, "lag": lag]
                    object["committed"] = offset ?? NSNull()
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    rows.append([group, topic, "\(partition.partition)", offset.map(String.init) ?? "-", "\(low)", "\(high)", "\(lag)"])
                }
            }
            if !json { rows.append([group, topic, "total", "", "", "", "\(total)"]) }
        }
        if !json { print(Table(["group", "topic", "partition", "committed", "low", "high", "lag"], rows).rendered, terminator: "") }
    }
}
