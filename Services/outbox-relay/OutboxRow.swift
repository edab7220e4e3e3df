import Foundation
import Messaging
import Persistence

/// One unpublished `outbox` row as the relay claimed it, and the Kafka record it becomes
/// (Debezium outbox-event-router convention, SPEC §6).
///
/// A plain value copied out of the query result, hence `Sendable`.
struct OutboxRow: Sendable, Hashable {
    /// The columns `OutboxStore.beginAndClaim` selects, in this order.
    static let selectList = "o.id, o.position, o.aggregatetype, o.aggregateid, o.type, o.topic, o.key, o.payload::text, o.headers::text"

    /// The header that carries the row's id, so consumers can drop the duplicates that at-least-once allows.
    static let idHeader = "outbox-id"

    /// The row's uuid, in Postgres' text form.
    let id: String
    /// Insertion order: rows of one aggregate are published in ascending position.
    let position: Int64
    let aggregateType: String
    let aggregateID: String
    let type: String
    let topic: String
    let key: String?
    /// The payload's JSON text (Postgres' rendering of the jsonb value), sent as the record's value.
    let payload: String
    /// The row's headers (a jsonb object of strings; migration 0002 checks that), by name.
    let headers: [String: String]

    /// The lock and ordering unit: rows of one aggregate are published one after another, by one relay at a time.
    var aggregate: Aggregate { Aggregate(type: aggregateType, id: aggregateID) }

    struct Aggregate: Sendable, Hashable {
        let type: String
        let id: String
    }

    init(_ row: PostgresRow) throws {
        id = try row.decode(String.self, at: 0)
        position = try row.decode(Int64.self, at: 1)
        aggregateType = try row.decode(String.self, at: 2)
        aggregateID = try row.decode(String.self, at: 3)
        type = try row.decode(String.self, at: 4)
        topic = try row.decode(String.self, at: 5)
        key = try row.decode(String?.self, at: 6)
        payload = try row.decode(String.self, at: 7)
        headers = try PostgresJSON(try row.decode(String.self, at: 8)).decode([String: String].self)
    }

    /// The record: the row's topic and key, the payload as the value, the row's headers (sorted by name, so a
    /// republished row carries identical headers) and `outbox-id`.
    var record: KafkaOutgoingRecord {
        let rowHeaders = headers.filter { $0.key != Self.idHeader }.sorted { $0.key < $1.key }.map { KafkaHeader($0.key, $0.value) }
        return KafkaOutgoingRecord(topic: topic, key: key, value: Array(payload.utf8), headers: rowHeaders + [KafkaHeader(Self.idHeader, id)])
    }
}
