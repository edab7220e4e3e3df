import Auth
import Foundation
import JWTKit
import Synchronization
import Testing

@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    static let alice = Identity(userID: "alice", tier: TierPolicy.default.tier(named: "standard")!, tenant: "acme", scopes: [])

    static func key(_ text: String) -> VerifiedTokenCache.Key { VerifiedTokenCache.key(of: Array(text.utf8)) }

    @Test("bounded: never more entries than its capacity; the clock keeps a recently used entry over an unused one")
    func bounded() {
        let cache = VerifiedTokenCache(capacity: 3)
        let generation = cache.generation
        for name in ["a", "b", "c"] {
            cache.insert(Self.key(name), identity: Self.alice, expiresAt: 1000, now: 0, generation: generation)
        }
        #expect(cache.identity(for: Self.key("a"), now: 1) == Self.alice)  // a is referenced
        cache.insert(Self.key("d"), identity: Self.alice, expiresAt: 1000, now: 0, generation: generation)
        #expect(cache.statistics.entries == 3)
        #expect(cache.identity(for: Self.key("a"), now: 1) != nil)
        #expect(cache.identity(for: Self.key("b"), now: 1) == nil, "the unreferenced entry under the hand goes first")
        #expect(cache.identity(for: Self.key("d"), now: 1) != nil)
        for index in 0..<100 {
            cache.insert(Self.key("token \(index)"), identity: Self.alice, expiresAt: 1000, now: 0, generation: generation)
            #expect(cache.statistics.entries <= 3)
        }
        #expect(cache.identity(for: Self.key("token 99"), now: 1) != nil)
    }

    @Test("an entry is never returned at or after its exp, and an already expired token is not stored")
    func expiry() {
        let cache = VerifiedTokenCache(capacity: 10)
        cache.insert(Self.key("t"), identity: Self.alice, expiresAt: 100, now: 50, generation: cache.generation)
        #expect(cache.identity(for: Self.key("t"), now: 99.9) == Self.alice)
        #expect(cache.identity(for: Self.key("t"), now: 100) == nil)
        #expect(cache.identity(for: Self.key("t"), now: 99.9) == nil, "the expired entry was dropped")
        #expect(cache.statistics.entries == 0)
        cache.insert(Self.key("late"), identity: Self.alice, expiresAt: 100, now: 100, generation: cache.generation)
        #expect(cache.statistics.entries == 0)
    }

    @Test("removeAll empties the cache, and an insert begun before it (an older key generation) is refused")
    func generations() {
        let cache = VerifiedTokenCache(capacity: 10)
        let before = cache.generation
        cache.insert(Self.key("t"), identity: Self.alice, expiresAt: 100, now: 0, generation: before)
        cache.removeAll()
        #expect(cache.identity(for: Self.key("t"), now: 1) == nil)
        cache.insert(Self.key("u"), identity: Self.alice, expiresAt: 100, now: 0, generation: before)
        #expect(cache.statistics.entries == 0)
        cache.insert(Self.key("u"), identity: Self.alice, expiresAt: 100, now: 0, generation: cache.generation)
        #expect(cache.identity(for: Self.key("u"), now: 1) == Self.alice)
    }

    @Test("capacity 0 is off: nothing is stored; the verifier then has no cache")
    func off() async throws {
        let cache = VerifiedTokenCache(capacity: 0)
        cache.insert(Self.key("t"), identity: Self.alice, expiresAt: 100, now: 0, generation: cache.generation)
        #expect(cache.identity(for: Self.key("t"), now: 1) == nil)
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier()
        #expect(verifier.cacheStatistics == nil)
        let token = try await fixture.issuer.sign(AuthFixture.claims())
        #expect(try await verifier.verify(bearer: token).userID == "alice")
    }

    @Test("the verifier answers a token again from the cache until exp; after exp it verifies in full (and refuses past the leeway)")
    func verifierRespectsExp() async throws {
        let fixture = try await AuthFixture()
        let start = Date().timeIntervalSince1970.rounded(.down)
        let clock = Mutex(start)
        var configuration = TokenVerifier.Configuration(keys: [.publicKeyFile(path: fixture.rsa.publicKey)])
        configuration.issuer = "test-issuer"
        configuration.audience = "kafka-rag"
        configuration.leeway = .zero
        configuration.cacheCapacity = 10
        let verifier = try await TokenVerifier(configuration: configuration, now: { Date(timeIntervalSince1970: clock.withLock { $0 }) })
        let token = try await fixture.issuer.sign(AuthFixture.claims(["exp": .number(start + 60), "nbf": .number(start)]))

        #expect(try await verifier.verify(bearer: token).userID == "alice")
        #expect(verifier.cacheStatistics?.entries == 1)
        clock.withLock { $0 = start + 59 }
        #expect(try await verifier.verify(bearer: token).userID == "alice")
        #expect(verifier.cacheStatistics?.hits == 1)
        clock.withLock { $0 = start + 60 }  // at exp: not from the cache (verified in full, accepted: exp itself is within)
        #expect(try await verifier.verify(bearer: token).userID == "alice")
        #expect(verifier.cacheStatistics?.hits == 1)
        clock.withLock { $0 = start + 61 }
        await expectRejected(verifier, token, code: "token_expired")
        #expect(verifier.cacheStatistics?.hits == 1)
    }

    @Test("a tampered token (signature or payload) never hits the cache entry of the genuine one")
    func tamperedNeverHits() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier { $0.cacheCapacity = 10 }
        let token = try await fixture.issuer.sign(AuthFixture.claims())
        #expect(try await verifier.verify(bearer: token).userID == "alice")

        var parts = token.split(separator: ".").map(String.init)
        var signature = Array(parts[2].utf8)
        signature[signature.count / 2] = signature[signature.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        parts[2] = String(decoding: signature, as: UTF8.self)
        await expectRejected(verifier, parts.joined(separator: "."), code: "invalid_signature")

        // The genuine signature over a payload naming another user.
        parts = token.split(separator: ".").map(String.init)
        let claims = AuthFixture.claims(["sub": .string("mallory"), "tier": .string("enterprise")])
        parts[1] = base64URL(try JSONEncoder().encode(claims))
        await expectRejected(verifier, parts.joined(separator: "."), code: "invalid_signature")

        #expect(verifier.cacheStatistics?.hits == 0)
        #expect(try await verifier.verify(bearer: token).userID == "alice")
        #expect(verifier.cacheStatistics?.hits == 1)
    }

    @Test("key rotation drops the cache: a token of a withdrawn key is refused even though it was cached")
    func rotationDropsEntries() async throws {
        let fixture = try await AuthFixture()
        let second = try DevelopmentKeys.ensure(directory: fixture.directory + "/second")
        let path = try fixture.write(jwks([try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "k1")]), to: "jwks.json")
        let verifier = try await fixture.verifier([.jwksFile(path: path)]) {
            $0.jwksMinimumRefetchInterval = .zero
            $0.cacheCapacity = 10
        }
        let k1 = try await TokenIssuer(privateKeyFile: fixture.rsa.privateKey, kid: "k1", issuer: "test-issuer", audience: "kafka-rag")
        let k2 = try await TokenIssuer(privateKeyFile: second.privateKey, kid: "k2", issuer: "test-issuer", audience: "kafka-rag")
        let old = try await k1.sign(AuthFixture.claims())
        #expect(try await verifier.verify(bearer: old).userID == "alice")
        #expect(try await verifier.verify(bearer: old).userID == "alice")
        #expect(verifier.cacheStatistics?.hits == 1)

        // k1 is withdrawn, k2 published; a k2 token's unknown kid reloads the JWKS, which empties the cache.
        _ = try fixture.write(jwks([try rsaJWK(publicKeyFile: second.publicKey, kid: "k2")]), to: "jwks.json")
        #expect(try await verifier.verify(bearer: try await k2.sign(AuthFixture.claims())).userID == "alice")
        await expectRejected(verifier, old, code: "unknown_kid")
        #expect(verifier.cacheStatistics?.hits == 1)
    }

    @Test("once a periodic JWKS refresh is due the cache is not used: the refresh runs first and a withdrawn key's token is refused")
    func periodicRefreshBeforeCache() async throws {
        let fixture = try await AuthFixture()
        let second = try DevelopmentKeys.ensure(directory: fixture.directory + "/second")
        let path = try fixture.write(jwks([try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "k1")]), to: "jwks.json")
        let verifier = try await fixture.verifier([.jwksFile(path: path)]) {
            $0.jwksRefreshInterval = .milliseconds(300)
            $0.jwksMinimumRefetchInterval = .seconds(3600)
            $0.cacheCapacity = 10
        }
        let k1 = try await TokenIssuer(privateKeyFile: fixture.rsa.privateKey, kid: "k1", issuer: "test-issuer", audience: "kafka-rag")
        let old = try await k1.sign(AuthFixture.claims())
        #expect(try await verifier.verify(bearer: old).userID == "alice")
        _ = try fixture.write(jwks([try rsaJWK(publicKeyFile: second.publicKey, kid: "k2")]), to: "jwks.json")
        try await Task.sleep(for: .milliseconds(500))
        await expectRejected(verifier, old, code: "unknown_kid")
        #expect(verifier.cacheStatistics?.hits == 0)
    }
}
