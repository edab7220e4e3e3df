import DequeModule

/// Tracks one partition's records between fetch and completion, and answers which offset is safe to
/// commit: the contiguous low-watermark.
///
/// Records arrive in offset order (Kafka guarantees it per partition) but may finish in any order.
/// The committable offset is the first unfinished record's offset, or one past the last record seen when
/// all are finished — never past unfinished work. Offsets need not be contiguous (compaction, transaction
/// markers); only records actually handed out count. Not thread-safe: the owner serialises access.
public struct PartitionOffsetTracker: Sendable {
    private var records: Deque<(offset: Int64, finished: Bool)> = []
    private var lastSeen: Int64?
    /// The number of records handed out and not yet finished.
    public private(set) var inFlight = 0

    public init() {}

    /// Whether `offset` may be registered next: it must be above every offset seen so far.
    public func accepts(_ offset: Int64) -> Bool {
        lastSeen.map { offset > $0 } ?? true
    }

    /// Registers a record handed out for processing. Offsets must increase (check with `accepts`).
    public mutating func started(_ offset: Int64) {
        precondition(accepts(offset), "offsets must increase within a partition")
        records.append((offset, false))
        lastSeen = offset
        inFlight += 1
    }

    /// Marks a record finished. Returns false if the offset was not in flight (already finished or unknown).
    @discardableResult
    public mutating func finished(_ offset: Int64) -> Bool {
        guard let index = index(of: offset), !records[index].finished else { return false }
        records[index].finished = true
        inFlight -= 1
        while let first = records.first, first.finished {
            records.removeFirst()
        }
        return true
    }

    /// The offset to commit (the next one to consume), or nil when no record was seen yet.
    public var committableOffset: Int64? {
        if let first = records.first { return first.offset }
        return lastSeen.map { $0 + 1 }
    }

    /// Binary search: records are sorted by offset.
    private func index(of offset: Int64) -> Int? {
        var low = 0
        var high = records.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let candidate = records[middle].offset
            if candidate == offset { return middle }
            if candidate < offset { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}
