/// A topic to create: name, partition count, replication factor and topic-level configs.
public struct KafkaTopicSpec: Sendable, Hashable {
    public var name: String
    public var partitions: Int32
    public var replicationFactor: Int16
    public var configs: [String: String]

    public init(name: String, partitions: Int32, replicationFactor: Int16 = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// The platform's topics (SPEC §3), named with a configurable prefix (default `rag.`).
public struct RAGTopics: Sendable {
    public var prefix: String

    public init(prefix: String = "rag.") {
        self.prefix = prefix
    }

    public var chunks: String { prefix + "chunks" }
    public var queries: String { prefix + "queries" }
    public var context: String { prefix + "context" }
    public var answerDeltas: String { prefix + "answer-deltas" }
    public var results: String { prefix + "results" }
    public var indexEvents: String { prefix + "index-events" }
    public var humanReview: String { prefix + "human-review" }
    public var deadLetters: String { prefix + "dlq" }

    /// Every topic with its partitions and configs: what `ragctl broker` pre-creates and what
    /// `KafkaAdmin.createTopics` creates on a real cluster.
    public func specs(partitions: Int32 = 6, replicationFactor: Int16 = 1) -> [KafkaTopicSpec] {
        let day = 24 * 60 * 60 * 1000
        func topic(_ name: String, retentionMs: Int, _ extra: [String: String] = [:]) -> KafkaTopicSpec {
            KafkaTopicSpec(name: name, partitions: partitions, replicationFactor: replicationFactor,
                           configs: ["retention.ms": String(retentionMs)].merging(extra) { _, new in new })
        }
        return [
            topic(chunks, retentionMs: 7 * day),
            topic(queries, retentionMs: 7 * day),
            topic(context, retentionMs: 30 * day),
            topic(answerDeltas, retentionMs: 60 * 60 * 1000),
            topic(results, retentionMs: 30 * day),
            topic(indexEvents, retentionMs: 7 * day),
            // Compacted: the latest review item per query is kept for as long as the cluster lives.
            topic(humanReview, retentionMs: -1, ["cleanup.policy": "compact"]),
            topic(deadLetters, retentionMs: 30 * day),
        ]
    }
}
