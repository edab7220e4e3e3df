@testable import Messaging
import Testing

@Suite("Consumer bookkeeping")
struct ConsumerStateTests {
    private static let partition = KafkaTopicPartition(topic: "t", partition: 0)
    private static let limits = ConsumerState.Limits(total: 100, perPartition: 10)

    private static func record(_ offset: Int64) -> KafkaRecord {
        KafkaRecord(topic: "t", partition: 0, offset: offset, key: nil, value: nil, headers: [], timestampMilliseconds: nil)
    }

    @Test("an offset that goes backwards within an assignment starts the partition afresh instead of crashing")
    func offsetRewind() throws {
        var state = ConsumerState()
        state.partitions[Self.partition] = .init(generation: 1)
        state.nextGeneration = 2
        let started = state.start(Self.record(10))
        let first = try #require(started)
        let next = state.start(Self.record(11))
        #expect(next == first)
        let wake = state.finish(Self.partition, offset: 10, generation: first, limits: Self.limits)
        #expect(!wake)
        let committable = state.takeCommittableOffsets().map(\.1)
        #expect(committable == [11])

        // The log was truncated / the position reset: offset 5 comes next.
        let rewound = state.start(Self.record(5))
        let second = try #require(rewound)
        #expect(second != first)
        #expect(state.offsetRewinds == 1)
        #expect(state.totalInFlight == 1, "the abandoned record 11 no longer counts")
        // A late completion of the old generation changes nothing.
        _ = state.finish(Self.partition, offset: 11, generation: first, limits: Self.limits)
        #expect(state.lowWatermarks().first?.1 == 5)
        _ = state.finish(Self.partition, offset: 5, generation: second, limits: Self.limits)
        let afterRewind = state.takeCommittableOffsets().map(\.1)
        #expect(afterRewind == [6], "the commit follows the new position, even below the last one")
        #expect(!state.isOwned(Self.partition, generation: first) && state.isOwned(Self.partition, generation: second))
    }
}

@Suite("Ordering lanes")
struct OrderingLanesTests {
    private static func record(_ offset: Int64, key: String?, partition: Int32 = 0) -> KafkaRecord {
        KafkaRecord(topic: "t", partition: partition, offset: offset, key: key.map { Array($0.utf8) }, value: nil, headers: [],
                    timestampMilliseconds: nil)
    }

    @Test("per key: records of one key queue behind each other in offset order; other keys start at once")
    func perKey() throws {
        var lanes = OrderingLanes<Int64>()
        let ordering = KafkaRecordOrdering.perKey
        let records = [Self.record(0, key: "a"), Self.record(1, key: "b"), Self.record(2, key: "a"), Self.record(3, key: "a")]
        var started: [Bool] = []
        for record in records { started.append(lanes.admit(record.offset, to: ordering.lane(of: record)!)) }
        #expect(started == [true, true, false, false])
        let laneA = try #require(ordering.lane(of: records[0]))
        var drained: [Int64?] = []
        for _ in 0..<3 { drained.append(lanes.next(in: laneA)) }
        #expect(drained == [2, 3, nil])
        #expect(lanes.busyLanes == 1, "lane a is idle and forgotten; b still runs")
        let startsAtOnce = lanes.admit(4, to: laneA)
        #expect(startsAtOnce, "an idle lane starts its next record at once")
    }

    @Test("the modes map records to lanes as documented")
    func modes() {
        let a0 = Self.record(0, key: "a"), b0 = Self.record(1, key: "b"), a1 = Self.record(2, key: "a", partition: 1)
        let none = Self.record(3, key: nil)
        #expect(KafkaRecordOrdering.perPartition.lane(of: a0) == KafkaRecordOrdering.perPartition.lane(of: b0))
        #expect(KafkaRecordOrdering.perPartition.lane(of: a0) != KafkaRecordOrdering.perPartition.lane(of: a1))
        #expect(KafkaRecordOrdering.perKey.lane(of: a0) != KafkaRecordOrdering.perKey.lane(of: b0))
        #expect(KafkaRecordOrdering.perKey.lane(of: none) == KafkaRecordOrdering.perPartition.lane(of: none), "no key: the partition's lane")
        #expect(KafkaRecordOrdering.unordered.lane(of: a0) == nil)
        let byFirstByte = KafkaRecordOrdering.perKey { record in record.key.map { Array($0.prefix(1)) } }
        #expect(byFirstByte.lane(of: a0) == byFirstByte.lane(of: Self.record(9, key: "ab")))
    }
}
