import DequeModule

/// Which records of a partition a `KafkaConsumer` may process at the same time — the ordering modes of
/// Confluent's Parallel Consumer.
///
/// Kafka hands out a partition's records in offset order; processing them concurrently would let a later
/// record of an entity take effect before an earlier one (a re-posted chunk's old text overwriting the new).
/// The consumer therefore runs records in *lanes*: one record at a time per lane, in offset order, and
/// different lanes concurrently (within the in-flight bounds). The ordering decides the lanes:
///
/// - ``perPartition``: one lane per partition — strict order, the least concurrency.
/// - ``perKey``: one lane per record key within a partition, for topics whose key names one entity
///   (rag.queries: a query). Records without a key share their partition's lane.
/// - ``perKey(_:)``: the same with the ordering key computed from the record, for topics whose record key
///   names a group of entities that must each be ordered on their own (rag.chunks is keyed by document for
///   partitioning, while each chunk is its own entity: one document's chunks must not wait for each other).
/// - ``unordered``: every record in a lane of its own — for effects that commute.
///
/// Offsets are still committed as the contiguous low-watermark of finished records, whatever the mode.
public struct KafkaRecordOrdering: Sendable {
    enum Mode: Sendable {
        case partition
        case key(@Sendable (KafkaRecord) -> [UInt8]?)
        case unordered
    }

    let mode: Mode

    /// One record at a time per partition.
    public static let perPartition = KafkaRecordOrdering(mode: .partition)
    /// One record at a time per record key (per partition); different keys concurrently.
    public static let perKey = KafkaRecordOrdering(mode: .key { $0.key })
    /// One record at a time per key that `orderingKey` derives from the record (per partition); `nil`
    /// puts the record in its partition's lane.
    public static func perKey(_ orderingKey: @escaping @Sendable (KafkaRecord) -> [UInt8]?) -> KafkaRecordOrdering {
        KafkaRecordOrdering(mode: .key(orderingKey))
    }
    /// No ordering between records.
    public static let unordered = KafkaRecordOrdering(mode: .unordered)

    /// The lane of `record`, or nil when it needs none (unordered).
    func lane(of record: KafkaRecord) -> RecordLane? {
        switch mode {
        case .partition: RecordLane(topicPartition: record.topicPartition, key: nil)
        case .key(let orderingKey): RecordLane(topicPartition: record.topicPartition, key: orderingKey(record))
        case .unordered: nil
        }
    }
}

/// Records of one lane run one at a time, in the order they were fetched.
struct RecordLane: Hashable, Sendable {
    var topicPartition: KafkaTopicPartition
    /// nil: the partition's own lane.
    var key: [UInt8]?
}

/// The queues of busy lanes. Pure bookkeeping, guarded by the consumer's lock: a lane exists while one of
/// its records runs; later records of the lane wait in its queue.
struct OrderingLanes<Item> {
    private var waiting: [RecordLane: Deque<Item>] = [:]

    /// Registers `item` for `lane`. Returns true when the lane was idle: the caller runs `item` now and
    /// then asks `next(in:)` for more. Otherwise `item` waits its turn.
    mutating func admit(_ item: Item, to lane: RecordLane) -> Bool {
        if waiting[lane] != nil {
            waiting[lane]!.append(item)
            return false
        }
        waiting[lane] = []
        return true
    }

    /// The lane's next waiting item, or nil — then the lane is idle again and forgotten.
    mutating func next(in lane: RecordLane) -> Item? {
        guard var queue = waiting[lane] else { return nil }
        guard !queue.isEmpty else {
            waiting[lane] = nil
            return nil
        }
        let item = queue.removeFirst()
        waiting[lane] = queue
        return item
    }

    /// Lanes with a running record (for tests and metrics).
    var busyLanes: Int { waiting.count }
}
