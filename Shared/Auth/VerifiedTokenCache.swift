public import Crypto
import Synchronization

/// The identities of tokens verified recently, so a client sending the same bearer token again is not
/// verified again (signature, header and claims): what a production gateway does to keep per-request CPU
/// low.
///
/// - Keyed by the SHA-256 of the whole compact token, signature included: a token changed in any byte
///   (a tampered payload or signature) is another key, never a hit, and goes through full verification.
/// - Bounded: at most `capacity` entries; a full cache evicts with the clock (second-chance) algorithm,
///   so the tokens in use stay and one-off tokens go first. Capacity 0 turns the cache off.
/// - An entry is never returned at or after its token's `exp` (the leeway the verifier grants on `exp`
///   is not extended to cached entries: past `exp` the token is verified again, and refused once the
///   leeway is over too).
/// - `removeAll()` drops everything when the verification keys change (a JWKS reload, key
///   rotation); an insert made by a verification that started before that change is refused, so an
///   identity established with a withdrawn key never enters the emptied cache.
public final class VerifiedTokenCache: Sendable {
    /// SHA-256 of the compact token.
    public typealias Key = SHA256Digest

    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var entries = 0
    }

    private struct Entry {
        var key: Key
        var identity: Identity
        /// The token's `exp` (seconds since 1970).
        var expiresAt: Double
        var referenced: Bool
    }

    private struct State {
        var slots: [Entry?] = []
        var index: [Key: Int] = [:]
        var hand = 0
        var generation: UInt64 = 0
        var statistics = Statistics()
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The key of a compact token.
    public static func key(of token: some Sequence<UInt8>) -> Key {
        SHA256.hash(data: Array(token))
    }

    /// The key generation inserts must name (see `insert`).
    public var generation: UInt64 { state.withLock { $0.generation } }

    public var statistics: Statistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.entries = state.index.count
            return statistics
        }
    }

    /// The identity of a token verified before, unless `now` (seconds since 1970) is at or after its `exp`;
    /// an expired entry is dropped.
    public func identity(for key: Key, now: Double) -> Identity? {
        guard capacity > 0 else { return nil }
        return state.withLock { state -> Identity? in
            guard let slot = state.index[key], let entry = state.slots[slot] else {
                state.statistics.misses += 1
                return nil
            }
            guard now < entry.expiresAt else {
                state.index[key] = nil
                state.slots[slot] = nil
                state.statistics.misses += 1
                return nil
            }
            state.slots[slot]!.referenced = true
            state.statistics.hits += 1
            return entry.identity
        }
    }

    /// Remembers a verified token's identity until its `exp`. Ignored when the keys changed since
    /// `generation` was read (the verification may have used a withdrawn key), when `now` is already at or
    /// after `expiresAt`, and when the cache is off.
    public func insert(_ key: Key, identity: Identity, expiresAt: Double, now: Double, generation: UInt64) {
        guard capacity > 0, now < expiresAt else { return }
        state.withLock { state in
            guard state.generation == generation else { return }
            let entry = Entry(key: key, identity: identity, expiresAt: expiresAt, referenced: false)
            if let slot = state.index[key] {
                state.slots[slot] = entry
                return
            }
            let slot: Int
            if state.slots.count < capacity {
                slot = state.slots.count
                state.slots.append(entry)
            } else {
                // Clock: clear reference bits until an unreferenced (or empty) slot comes under the hand.
                while let current = state.slots[state.hand], current.referenced {
                    state.slots[state.hand]!.referenced = false
                    state.hand = (state.hand + 1) % capacity
                }
                slot = state.hand
                if let evicted = state.slots[slot] { state.index[evicted.key] = nil }
                state.slots[slot] = entry
                state.hand = (state.hand + 1) % capacity
            }
            state.index[key] = slot
        }
    }

    /// Drops every entry and starts a new key generation: called when the verification keys change.
    public func removeAll() {
        state.withLock { state in
            state.slots.removeAll(keepingCapacity: true)
            state.index.removeAll(keepingCapacity: true)
            state.hand = 0
            state.generation &+= 1
        }
    }
}
