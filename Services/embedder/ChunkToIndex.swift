import Crypto
import Foundation
import Messaging
import Schemas

/// One rag.chunks record, checked and ready to index: its ChunkEvent value, the trusted headers, and the
/// deterministic chunk id.
struct ChunkToIndex: Sendable {
    var chunkID: String
    var docID: String
    var seq: Int
    var text: String
    var visibility: String
    /// The `metadata` object as JSON text (`{}` when absent).
    var metadataJSON: String
    var contentSHA256: String
    /// From the trusted headers set by the gateway.
    var tenant: String
    var userID: String
    var requestID: String?
    var traceparent: String?

    /// The consumer's ordering key of a rag.chunks record: the chunk it writes (tenant, doc_id, seq), so
    /// that two versions of one chunk take effect in offset order. nil for a record that does not parse
    /// (it is dead-lettered; it waits in its partition's lane).
    @Sendable static func orderingKey(_ record: KafkaRecord) -> [UInt8]? {
        guard let value = record.value, let event = try? JSONValue.parse(value),
              let docID = event["doc_id"]?.stringValue, let seq = event["seq"]?.intValue else { return nil }
        let tenant = record.headers.value("tenant") ?? ""
        return Array("\(tenant)\u{0}\(docID)\u{0}\(seq)".utf8)
    }

    /// Why a record cannot be indexed, ever: it goes to rag.dlq with `reason` as `dlq-reason`.
    struct Rejection: Error, Sendable {
        var reason: String
        var message: String
    }
}

extension ChunkToIndex {
    /// Parses and validates a rag.chunks record; a record that fails here is a poison pill.
    init(record: KafkaRecord, schemas: SchemaRegistry, model: String) throws(Rejection) {
        guard let value = record.value else { throw Rejection(reason: "invalid_message", message: "the record has no value") }
        let event: ChunkEvent
        do { event = try ChunkEvent.decode(value, schemas: schemas) } catch {
            throw Rejection(reason: error.kind.rawValue, message: error.message)
        }
        guard let tenant = record.headers.value("tenant"), let userID = record.headers.value("user-id") else {
            throw Rejection(reason: "missing_identity", message: "the trusted headers tenant and user-id are missing (records come through the gateway)")
        }
        docID = event.docID
        seq = event.seq
        text = event.text
        visibility = event.visibility
        metadataJSON = event.metadata.map { String(decoding: JSONValue.object($0).serialized(), as: UTF8.self) } ?? "{}"
        contentSHA256 = event.contentSHA256
        let actual = SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        guard actual == contentSHA256 else {
            throw Rejection(reason: "content_hash_mismatch", message: "content_sha256 is not the SHA-256 of text")
        }
        guard record.keyString == docID else {
            throw Rejection(reason: "key_mismatch", message: "the record key is not the doc_id")
        }
        self.tenant = tenant
        self.userID = userID
        requestID = record.headers.value("request-id")
        traceparent = record.headers.value("traceparent")
        chunkID = ChunkID.make(tenant: tenant, docID: docID, seq: seq, model: model)
    }
}
