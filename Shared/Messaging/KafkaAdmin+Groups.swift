import CRdKafka

/// A consumer group as its coordinator describes it (Kafka's DescribeGroups).
public struct KafkaGroupDescription: Sendable, Hashable {
    /// One member of the group: a consumer that has joined and not left or timed out.
    public struct Member: Sendable, Hashable {
        public var memberID: String
        public var clientID: String
        public var clientHost: String
    }

    public var group: String
    /// The coordinator's state: `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance` or `Dead`.
    public var state: String
    /// `consumer` for Kafka consumers; empty for a group that only has committed offsets.
    public var protocolType: String
    public var members: [Member]
}

extension KafkaAdmin {
    /// Describes `group` (ListGroups and DescribeGroups requests, librdkafka's `rd_kafka_list_groups`).
    ///
    /// Returns nil when no coordinator knows the group. Throws when the cluster does not answer; librdkafka
    /// 2.0.2's mock cluster (`ragctl broker`) implements neither request, so against it this throws after
    /// `timeout` (callers fall back to another guard, see `ragctl replay`).
    public func describeGroup(_ group: String) async throws -> KafkaGroupDescription? {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_PRODUCER, extra: [:])
        defer { client.destroy() }
        return try await runBlocking {
            var list: UnsafePointer<rd_kafka_group_list>?
            let err = rd_kafka_list_groups(client.handle, group, &list, timeoutMs)
            defer { if let list { rd_kafka_group_list_destroy(list) } }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(err, message: "describing group \(group): " + String(cString: rd_kafka_err2str(err))) }
            for index in 0..<Int(list.pointee.group_cnt) {
                let info = list.pointee.groups[index]
                guard String(cString: info.group) == group else { continue }
                if info.err == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND { return nil }
                guard info.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(info.err, message: "describing group \(group): " + String(cString: rd_kafka_err2str(info.err))) }
                let members = (0..<Int(info.member_cnt)).map { memberIndex in
                    let member = info.members[memberIndex]
                    return KafkaGroupDescription.Member(
                        memberID: member.member_id.map { String(cString: $0) } ?? "",
                        clientID: member.client_id.map { String(cString: $0) } ?? "",
                        clientHost: member.client_host.map { String(cString: $0) } ?? "")
                }
                let state = info.state.map { String(cString: $0) } ?? ""
                // Kafka answers DescribeGroups for an unknown group with state Dead and no members.
                if state == "Dead" && members.isEmpty { return nil }
                return KafkaGroupDescription(group: group, state: state,
                                             protocolType: info.protocol_type.map { String(cString: $0) } ?? "", members: members)
            }
            return nil
        }
    }

    /// The first offset of each partition whose record timestamp is at or after `timestampMilliseconds`
    /// (ListOffsets by timestamp, `rd_kafka_offsets_for_times`); nil for a partition with no such record
    /// (a consumer starting there would start at the end).
    ///
    /// Real Kafka only: librdkafka 2.0.2's mock cluster does not answer timestamp lookups (it fails them).
    public func offsets(atTimestamp timestampMilliseconds: Int64, of partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64?] {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_PRODUCER, extra: [:])
        defer { client.destroy() }
        return try await runBlocking {
            try withPartitionList(partitions.map { ($0, timestampMilliseconds) }) { list in
                let err = rd_kafka_offsets_for_times(client.handle, list, timeoutMs)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, message: "looking up offsets by timestamp: " + String(cString: rd_kafka_err2str(err))) }
                var offsets: [KafkaTopicPartition: Int64?] = [:]
                for index in 0..<Int(list.pointee.cnt) {
                    let element = list.pointee.elems[index]
                    let topicPartition = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
                    guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(element.err, message: "looking up \(topicPartition) by timestamp: " + String(cString: rd_kafka_err2str(element.err)))
                    }
                    offsets[topicPartition] = element.offset >= 0 ? element.offset : nil
                }
                return offsets
            }
        }
    }
}

extension KafkaAdmin {
    /// Commits `offsets` for `group` from outside the group (no JoinGroup: generation -1, no member id), as a
    /// standalone consumer does. The coordinator accepts this only while the group has no members — Kafka
    /// refuses it for a group with active members (UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION) — so a success
    /// means the group was empty, and nothing is disturbed either way. librdkafka 2.0.2's mock cluster refuses
    /// it for any group that has ever had a member.
    public func commitOffsetsFromOutside(group: String, _ offsets: [KafkaTopicPartition: Int64]) async throws {
        let client = try makeClient(type: RD_KAFKA_CONSUMER, extra: ["group.id": group, "enable.auto.commit": "false"])
        defer { client.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE) }
        try await runBlocking {
            try withPartitionList(offsets.map { ($0.key, $0.value) }) { list in
                let err = rd_kafka_commit(client.handle, list, 0)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(err, message: "committing for group \(group) from outside: " + String(cString: rd_kafka_err2str(err)))
                }
                for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    let element = list.pointee.elems[index]
                    throw KafkaError(element.err, message: "committing for group \(group) from outside: " + String(cString: rd_kafka_err2str(element.err)))
                }
            }
        }
    }
}
