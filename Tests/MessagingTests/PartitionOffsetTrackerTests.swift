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

    @Test("partitions pause at their bound, resume at half; beyond the total bound records wait and start as slots free; all pause when as many wait")
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
        // Total bound: 2 (a) + 4 (b) = 6 in flight; what is fetched beyond waits for a slot.
        for offset in 0..<4 { state.receive(record(b, Int64(offset))) }
        let firstStarted = state.startWaiting(limits: limits).map(\.0.offset)
        #expect(firstStarted == [0, 1, 2, 3])
        for offset in 4..<10 { state.receive(record(b, Int64(offset))) }
        let noneStarted = state.startWaiting(limits: limits)
        #expect(noneStarted.isEmpty, "6 in flight: the rest wait")
        #expect(state.totalInFlight == 6 && state.waiting.count == 6)
        // 6 in flight + 6 waiting = twice the bound → everything pauses.
        changes = state.pauseResumeChanges(limits: limits)
        #expect(Set(changes.pause) == [a, b])
        // A completion from an earlier assignment (generation) changes nothing.
        let stale = state.finish(b, offset: 0, generation: 99, limits: limits)
        #expect(!stale)
        #expect(state.totalInFlight == 6)
        // A freed slot wakes the poll loop and is taken by the oldest waiting record at once.
        let slotFreed = state.finish(b, offset: 0, generation: 2, limits: limits)
        #expect(slotFreed, "a slot freed while records wait")
        let oldestStarted = state.startWaiting(limits: limits).map(\.0.offset)
        #expect(oldestStarted == [4])
        // Resume when half of the waiting ones have started: 6 + 3 fetched.
        for offset in 1...2 {
            _ = state.finish(b, offset: Int64(offset), generation: 2, limits: limits)
            _ = state.startWaiting(limits: limits)
        }
        #expect(state.fetched == 9)
        changes = state.pauseResumeChanges(limits: limits)
        #expect(Set(changes.resume) == [a], "b is at its own bound of 4 in flight")
        // Revoking b forgets its waiting records.
        state.remove([b])
        #expect(state.waiting.isEmpty && state.totalInFlight == 2)
    }
}
