import Crypto
import Foundation
import Synchronization

/// Remembers `Idempotency-Key`s of POST /queries so a retried request gets the same query_id and
/// produces no second record (SPEC §5).
///
/// Keys are scoped by tenant (or its absence) and user, so two callers never collide. The query_id is derived from the
/// scoped key (a name-based UUID over SHA-256), so even another gateway instance, or this one after a
/// restart, answers a retry with the same query_id; rag-chain then refuses to answer a query_id twice.
/// Within one instance the entry (with a hash of the body) is kept for `retention` (default 24 h,
/// bounded to `capacity` keys, oldest first out): the same key with a different body is a conflict.
final class IdempotencyStore: Sendable {
    enum Reservation: Equatable {
        /// First use: produce the record, then call `complete` (or `release` if producing failed).
        case new(queryID: String)
        /// A completed earlier request with the same body: answer with its query_id, produce nothing.
        case replay(queryID: String)
        /// The same key is being processed by a concurrent request right now.
        case inProgress
        /// The key was used with a different body.
        case conflict
    }

    private struct Entry {
        var bodyHash: String
        var queryID: String
        var completed: Bool
        var createdAt: Double
    }

    private let entries = Mutex<(byKey: [String: Entry], order: [String])>(([:], []))
    let retention: Double
    private let capacity: Int
    private let now: @Sendable () -> Double

    init(retention: Duration = .seconds(24 * 3600), capacity: Int = 100_000,
         now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.retention = Double(retention.components.seconds)
        self.capacity = capacity
        self.now = now
    }

    func reserve(key: String, tenant: String?, user: String, body: [UInt8]) -> Reservation {
        let scopedKey = Self.scope(key: key, tenant: tenant, user: user)
        let bodyHash = SHA256.hash(data: body).hexString
        let time = now()
        return entries.withLock { state in
            expire(&state, at: time)
            if let entry = state.byKey[scopedKey] {
                guard entry.bodyHash == bodyHash else { return .conflict }
                return entry.completed ? .replay(queryID: entry.queryID) : .inProgress
            }
            let queryID = Self.queryID(forScopedKey: scopedKey)
            state.byKey[scopedKey] = Entry(bodyHash: bodyHash, queryID: queryID, completed: false, createdAt: time)
            state.order.append(scopedKey)
            if state.order.count > capacity, let oldest = state.order.first {
                state.order.removeFirst()
                state.byKey[oldest] = nil
            }
            return .new(queryID: queryID)
        }
    }

    /// The record was acknowledged by the broker: later retries are replays.
    func complete(key: String, tenant: String?, user: String) {
        let scopedKey = Self.scope(key: key, tenant: tenant, user: user)
        entries.withLock { $0.byKey[scopedKey]?.completed = true }
    }

    /// Producing failed: forget the key so the client's retry starts afresh.
    func release(key: String, tenant: String?, user: String) {
        let scopedKey = Self.scope(key: key, tenant: tenant, user: user)
        entries.withLock { state in
            state.byKey[scopedKey] = nil
            state.order.removeAll { $0 == scopedKey }
        }
    }

    private func expire(_ state: inout (byKey: [String: Entry], order: [String]), at time: Double) {
        while let oldest = state.order.first, let entry = state.byKey[oldest], time - entry.createdAt > retention {
            state.order.removeFirst()
            state.byKey[oldest] = nil
        }
    }

    /// The key scoped by its caller, unambiguously: length-prefixed tenant and user, and `-` for a token
    /// without a tenant (a present tenant always starts with its length), so no caller without a tenant
    /// shares keys, or query_ids, with a tenant named `default`.
    static func scope(key: String, tenant: String?, user: String) -> String {
        let tenantPart = tenant.map { "\($0.count):\($0)" } ?? "-"
        return "\(tenantPart)|\(user.count):\(user)|\(key)"
    }

    /// A version-8 (custom, name-based) UUID from SHA-256 of the scoped key.
    static func queryID(forScopedKey scopedKey: String) -> String {
        var bytes = Array(SHA256.hash(data: Array(scopedKey.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.uuidString.lowercased()
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
