@testable import Messaging
import TestSupport
import Testing

@Suite("Offset tracking")
struct PartitionOffsetTrackerTests {
    @Test("completions in random order never move the committable offset past unfinished work")
    func randomCompletionOrder() {
        for seed in 0..<20 {
            var generator = SeededRandom(seed: UInt64(seed))
            var tracker = PartitionOffsetTracker()
            // Non-contiguous offsets, as after compaction or transaction markers.
            var offsets: [Int64] = []
            var next: Int64 = 100
            for _ in 0..<500 {
                offsets.append(next)
                next += Int64.random(in: 1...3, using: &generator)
            }
            offsets.forEach { tracker.started($0) }
            #expect(tracker.committableOffset == 100)
            var done = Set<Int64>()
            for offset in offsets.shuffled(using: &generator) {
                let accepted = tracker.finished(offset)
                #expect(accepted)
                done.insert(offset)
                let committable = tracker.committableOffset!
                #expect(offsets.filter { $0 < committable }.allSatisfy(done.contains))
                if let firstUnfinished = offsets.first(where: { !done.contains($0) }) {
                    #expect(committable == firstUnfinished)
                }
            }
            #expect(tracker.committableOffset == offsets.last! + 1)
            #expect(tracker.inFlight == 0)
        }
    }

    @Test("a record finished twice or never started is ignored")
    func unknownCompletions() {
        var tracker = PartitionOffsetTracker()
        #expect(tracker.committableOffset == nil)
        tracker.started(5)
        tracker.started(6)
        let unknown = tracker.finished(4)
        let first = tracker.finished(6)
        let second = tracker.finished(6)
        #expect(!unknown)
        #expect(first)
        #expect(!second)
        #expect(tracker.committableOffset == 5)
        #expect(tracker.inFlight == 1)
    }

    @Test("partitions pause at their bound, resume at half, and all pause at the total bound")
    func pauseHysteresis() {
        var state = ConsumerState()
        let limits = ConsumerState.Limits(total: 6, perPartition: 4)
        let a = KafkaTopicPartition(topic: "t", partition: 0)
        let b = KafkaTopicPartition(topic: "t", partition: 1)
        state.partitions[a] = .init(generation: 1)
        state.partitions[b] = .init(generation: 2)
        func record(_ tp: KafkaTopicPartition, _ offset: Int64) -> KafkaRecord {
            KafkaRecord(topic: tp.topic, partition: tp.partition, offset: offset, key: nil, value: nil, headers: [], timestampMilliseconds: nil)
        }
        for offset in 0..<4 {
            let generation = state.start(record(a, Int64(offset)))
            #expect(generation == 1)
        }
        var changes = state.pauseResumeChanges(limits: limits)
        #expect(changes.pause == [a] && changes.resume.isEmpty)
        _ = state.finish(a, offset: 0, generation: 1, limits: limits)
        changes = state.pauseResumeChanges(limits: limits)
        #expect(changes.resume.isEmpty, "3 > 4/2: still paused")
        let wakes = state.finish(a, offset: 1, generation: 1, limits: limits)
        #expect(wakes, "at half the poll loop is woken")
        changes = state.pauseResumeChanges(limits: limits)
        #expect(changes.resume == [a])
        // Total bound: 2 (a) + 4 (b) = 6 → everything pauses.
        for offset in 0..<4 { _ = state.start(record(b, Int64(offset))) }
        changes = state.pauseResumeChanges(limits: limits)
        #expect(Set(changes.pause) == [a, b])
        // A completion from an earlier assignment (generation) changes nothing.
        let stale = state.finish(b, offset: 0, generation: 99, limits: limits)
        #expect(!stale)
        #expect(state.totalInFlight == 6)
    }
}
