import DequeModule

/// The consumer's bookkeeping, guarded by one lock: which partitions it owns, what is in flight, what
/// waits for a free slot, what is paused, and what was asked to be committed. Pure logic; the poll thread
/// turns its answers into librdkafka calls outside the lock.
struct ConsumerState {
    struct Partition {
        /// Distinguishes this assignment from an earlier one of the same partition, so late completions
        /// of revoked work never touch the new owner's bookkeeping.
        let generation: UInt64
        var tracker = PartitionOffsetTracker()
        var paused = false
        var revoking = false
        var lastCommitRequested: Int64?
    }

    var partitions: [KafkaTopicPartition: Partition] = [:]
    var nextGeneration: UInt64 = 1
    /// Records handed to the handlers and not finished (running, or queued behind their key's lane).
    var totalInFlight = 0
    /// Records fetched while `totalInFlight` was at the total bound, in fetch order: they start the moment
    /// a slot frees, instead of waiting for a fetch after a resume. Not registered with the partition's
    /// tracker until they start, so a commit never passes them (the tracker commits at most one past the
    /// last record it saw).
    var waiting: Deque<KafkaRecord> = []
    /// Every partition is paused because the total bound was reached.
    var pausedForTotal = false
    var stopRequested = false
    var abandonInFlight = false
    var crashRequested = false
    /// Set (under the lock) before the handle is destroyed, so completions stop waking the poll loop.
    var handleClosed = false
    var rebalanceEvents = 0
    /// How often a partition's offsets went backwards within an assignment.
    var offsetRewinds = 0
    var confirmedCommits: [KafkaTopicPartition: Int64] = [:]
    var fatalError: KafkaError?

    /// Queues a fetched record behind the waiting ones; `startWaiting` hands it out.
    mutating func receive(_ record: KafkaRecord) {
        waiting.append(record)
    }

    /// Starts waiting records, oldest first, while fewer than `limits.total` are in flight. Returns them
    /// with their generations; records of partitions no longer owned (or of a stopping consumer) are dropped.
    mutating func startWaiting(limits: Limits) -> [(KafkaRecord, generation: UInt64)] {
        var started: [(KafkaRecord, generation: UInt64)] = []
        while totalInFlight < limits.total, let record = waiting.popFirst() {
            if let generation = start(record) { started.append((record, generation)) }
        }
        return started
    }

    /// Registers a fetched record for processing. Returns its generation, or nil to drop it
    /// (partition no longer owned, being revoked, or the consumer is stopping).
    ///
    /// An offset at or below one already handed out (the log was truncated, or the position was reset
    /// while the partition stayed assigned) starts the partition's bookkeeping afresh under a new
    /// generation, as a re-assignment would: the earlier records' completions are ignored, and what is
    /// committed next follows the new position. Nothing crashes.
    mutating func start(_ record: KafkaRecord) -> UInt64? {
        let topicPartition = record.topicPartition
        guard !stopRequested, var partition = partitions[topicPartition], !partition.revoking else { return nil }
        if !partition.tracker.accepts(record.offset) {
            totalInFlight -= partition.tracker.inFlight
            partition = Partition(generation: nextGeneration)
            nextGeneration += 1
            offsetRewinds += 1
        }
        partition.tracker.started(record.offset)
        partitions[topicPartition] = partition
        totalInFlight += 1
        return partition.generation
    }

    /// Marks a record finished. Returns true when the poll loop should wake up now (a paused partition
    /// may resume, or shutdown is waiting for the last record).
    mutating func finish(_ topicPartition: KafkaTopicPartition, offset: Int64, generation: UInt64, limits: Limits) -> Bool {
        guard var partition = partitions[topicPartition], partition.generation == generation,
              partition.tracker.finished(offset) else { return false }
        partitions[topicPartition] = partition
        totalInFlight -= 1
        return (partition.paused && partition.tracker.inFlight <= limits.perPartition / 2)
            || (!waiting.isEmpty && totalInFlight < limits.total)
            || (pausedForTotal && fetched <= limits.resumeAt)
            || (stopRequested && totalInFlight == 0)
    }

    /// Whether a record of `generation` may still start: its partition is still owned under that
    /// assignment (a revoking partition's records may, within the revoke timeout).
    func isOwned(_ topicPartition: KafkaTopicPartition, generation: UInt64) -> Bool {
        partitions[topicPartition]?.generation == generation && !crashRequested
    }

    func isCurrent(_ topicPartition: KafkaTopicPartition, generation: UInt64) -> Bool {
        guard let partition = partitions[topicPartition] else { return false }
        return partition.generation == generation && !partition.revoking && !crashRequested
    }

    /// Records in flight plus those waiting for a slot.
    var fetched: Int { totalInFlight + waiting.count }

    struct Limits {
        /// Records in flight at most.
        var total: Int
        /// A partition with this many in flight stops fetching.
        var perPartition: Int

        /// Every partition stops fetching when this many records are in flight or waiting: as many again as
        /// the bound wait, so a burst of completions (a wave of slow model calls ending together) refills
        /// every slot at once.
        var pauseAt: Int { 2 * total }
        /// … and fetches again when the waiting records are half used up, so the next fetch lands before
        /// the rest are.
        var resumeAt: Int { total + total / 2 }
    }

    /// Decides which partitions to pause and which to resume, with hysteresis: a partition pauses at its
    /// bound and resumes at half of it; all of them pause at `limits.pauseAt` and resume at `limits.resumeAt`.
    mutating func pauseResumeChanges(limits: Limits) -> (pause: [KafkaTopicPartition], resume: [KafkaTopicPartition]) {
        if fetched >= limits.pauseAt {
            pausedForTotal = true
        } else if pausedForTotal && fetched <= limits.resumeAt {
            pausedForTotal = false
        }
        var pause: [KafkaTopicPartition] = []
        var resume: [KafkaTopicPartition] = []
        for (topicPartition, partition) in partitions {
            let inFlight = partition.tracker.inFlight
            let overBound = inFlight >= limits.perPartition || (partition.paused && inFlight > limits.perPartition / 2)
            let shouldPause = stopRequested || partition.revoking || pausedForTotal || overBound
            if shouldPause != partition.paused {
                partitions[topicPartition]!.paused = shouldPause
                if shouldPause { pause.append(topicPartition) } else { resume.append(topicPartition) }
            }
        }
        return (pause, resume)
    }

    /// Offsets that moved since they were last sent for commit; records them as requested.
    mutating func takeCommittableOffsets(of selection: Set<KafkaTopicPartition>? = nil) -> [(KafkaTopicPartition, Int64)] {
        var offsets: [(KafkaTopicPartition, Int64)] = []
        for (topicPartition, partition) in partitions where selection?.contains(topicPartition) ?? true {
            guard let offset = partition.tracker.committableOffset,
                  offset > (partition.lastCommitRequested ?? Int64.min) else { continue }
            partitions[topicPartition]!.lastCommitRequested = offset
            offsets.append((topicPartition, offset))
        }
        return offsets
    }

    /// Records the broker's answer to a commit. A failed partition is committed again on the next tick.
    mutating func commitCompleted(_ topicPartition: KafkaTopicPartition, offset: Int64, succeeded: Bool) {
        if succeeded {
            confirmedCommits[topicPartition] = max(confirmedCommits[topicPartition] ?? Int64.min, offset)
        } else if partitions[topicPartition]?.lastCommitRequested == offset {
            partitions[topicPartition]!.lastCommitRequested = nil
        }
    }

    /// Forgets revoked partitions and their waiting records; their late completions will find no matching
    /// generation.
    mutating func remove(_ revoked: [KafkaTopicPartition]) {
        let revokedSet = Set(revoked)
        waiting.removeAll { revokedSet.contains($0.topicPartition) }
        for topicPartition in revoked {
            if let partition = partitions.removeValue(forKey: topicPartition) {
                totalInFlight -= partition.tracker.inFlight
            }
        }
    }

    /// Per owned partition, the offset below which all work is done (what the next commit holds), or nil
    /// before its first record.
    func lowWatermarks() -> [(KafkaTopicPartition, Int64?)] {
        partitions.map { ($0.key, $0.value.tracker.committableOffset) }
    }

    func inFlight(of selection: [KafkaTopicPartition]) -> Int {
        selection.reduce(0) { $0 + (partitions[$1]?.tracker.inFlight ?? 0) }
    }
}
