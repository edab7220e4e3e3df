public import Foundation
import JWTKit
public import Logging

/// Turns a bearer token into an `Identity`, or says precisely why not (SPEC §4).
///
/// In order: the token has three base64url parts; its `alg` is one of HS256, RS256, ES256, EdDSA (never
/// `none`); its `kid` selects a key (JWKS sources are re-fetched for an unknown kid); the key's own algorithm
/// is the token's `alg` (no algorithm confusion: an HS256 token is never checked against an RSA key); the
/// signature verifies; `exp` (required) and `nbf` hold within the leeway; `iss` and `aud` match when
/// configured; `sub` names the user; the tier claim names a tier of the policy.
///
/// The header is read on the token's bytes and the claims with the byte parser of `Schemas` (not
/// Foundation's `JSONDecoder`). With `Configuration.cacheCapacity` above 0 a token verified once is
/// answered from a `VerifiedTokenCache` until its `exp`; the cache is emptied whenever the JWKS keys are
/// reloaded and is not consulted once a periodic JWKS refresh is due (the next verification does it).
public final class TokenVerifier: Sendable {
    public struct Configuration: Sendable {
        public var keys: [KeySource]
        /// Required `iss`, when set.
        public var issuer: String?
        /// Required member of `aud`, when set.
        public var audience: String?
        /// Clock skew allowed on `exp` and `nbf`.
        public var leeway: Duration = .seconds(30)
        /// The claim holding the tier: a string, or an array holding exactly one tier.
        public var tierClaim = "tier"
        /// The claim holding the tenant (optional in tokens).
        public var tenantClaim = "tenant"
        public var policy: TierPolicy = .default
        /// How often JWKS sources are re-read.
        public var jwksRefreshInterval: Duration = .seconds(300)
        /// The least time between two re-reads caused by unknown kids.
        public var jwksMinimumRefetchInterval: Duration = .seconds(10)
        /// Verified tokens remembered (`VerifiedTokenCache`); 0 verifies every token in full.
        public var cacheCapacity = 0

        public init(keys: [KeySource]) {
            self.keys = keys
        }
    }

    static let supportedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]

    public let configuration: Configuration
    private let keyRing: KeyRing
    private let now: @Sendable () -> Date
    /// Nil when `cacheCapacity` is 0.
    private let cache: VerifiedTokenCache?

    /// Loads every key; throws `KeyLoadingError` naming the source that cannot be used.
    public init(
        configuration: Configuration,
        fetchJWKS: @escaping JWKSFetcher = JWKSDownloader.fetch,
        logger: Logger = Logger(label: "rag.auth"),
        now: @escaping @Sendable () -> Date = Date.init
    ) async throws {
        self.configuration = configuration
        self.now = now
        let cache = configuration.cacheCapacity > 0 ? VerifiedTokenCache(capacity: configuration.cacheCapacity) : nil
        self.cache = cache
        self.keyRing = KeyRing(
            sources: configuration.keys,
            fetch: fetchJWKS,
            refreshInterval: configuration.jwksRefreshInterval,
            minimumRefetchInterval: configuration.jwksMinimumRefetchInterval,
            logger: logger,
            keysReloaded: { cache?.removeAll() }
        )
        try await keyRing.load()
    }

    /// Hits, misses and entries of the verified-token cache; nil when it is off.
    public var cacheStatistics: VerifiedTokenCache.Statistics? { cache?.statistics }

    public func verify(bearer token: String) async throws(AuthError) -> Identity {
        guard let compact = CompactToken(token) else { throw Self.notCompact }
        // The cache is read only while the keys are current: once a JWKS refresh is due, the key ring
        // (below) refreshes first, which empties the cache.
        var cacheEntry: (key: VerifiedTokenCache.Key, generation: UInt64)?
        if let cache, !keyRing.refreshIsDue {
            let generation = cache.generation  // before any key is looked up
            let key = VerifiedTokenCache.key(of: compact.bytes)
            if let identity = cache.identity(for: key, now: now().timeIntervalSince1970) { return identity }
            cacheEntry = (key, generation)
        }
        guard let header = compact.header() else { throw Self.notCompact }
        guard let alg = header.alg, Self.supportedAlgorithms.contains(alg) else {
            throw .unauthenticated("algorithm_not_allowed", "alg \(header.alg.map { "\"\($0)\"" } ?? "missing") is not accepted; use HS256, RS256, ES256 or EdDSA")
        }
        let key: VerificationKey
        if let current = keyRing.currentKey(for: header.kid) { key = current } else { key = try await keyRing.key(for: header.kid) }
        guard key.algorithm == alg else {
            throw .unauthenticated("algorithm_not_allowed", "alg \(alg) does not match the \(key.algorithm) key that verifies this token")
        }
        let claims: ClaimSet
        do {
            claims = try await key.collection.verify(compact.bytes, as: ClaimSet.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthenticated("invalid_signature", "the token's signature does not verify")
        } catch {
            throw .unauthenticated("malformed_token", "the token cannot be decoded")
        }
        let identity = try identity(from: claims)
        if let cache, let cacheEntry, let exp = claims["exp"]?.numberValue {
            cache.insert(cacheEntry.key, identity: identity, expiresAt: exp, now: now().timeIntervalSince1970, generation: cacheEntry.generation)
        }
        return identity
    }

    func identity(from claims: ClaimSet) throws(AuthError) -> Identity {
        let now = now().timeIntervalSince1970
        let leeway = Double(configuration.leeway.components.seconds) + Double(configuration.leeway.components.attoseconds) / 1e18
        guard let exp = claims["exp"]?.numberValue else {
            throw .unauthenticated("missing_exp", "the token has no exp claim")
        }
        guard now <= exp + leeway else { throw .unauthenticated("token_expired", "the token has expired") }
        if let nbf = claims["nbf"] {
            guard let nbf = nbf.numberValue else { throw .unauthenticated("malformed_token", "nbf is not a number") }
            guard now + leeway >= nbf else { throw .unauthenticated("token_not_yet_valid", "the token is not valid yet (nbf)") }
        }
        if let issuer = configuration.issuer, claims["iss"]?.stringValue != issuer {
            throw .unauthenticated("invalid_issuer", "the token was not issued by \(issuer)")
        }
        if let audience = configuration.audience {
            let audiences: [String] =
                switch claims["aud"] {
                case .string(let value)?: [value]
                case .array(let values)?: values.compactMap(\.stringValue)
                default: []
                }
            guard audiences.contains(audience) else {
                throw .unauthenticated("invalid_audience", "the token is not meant for audience \(audience)")
            }
        }
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty else {
            throw .unauthenticated("missing_subject", "the token has no sub claim")
        }
        let tierName: String?
        switch claims[configuration.tierClaim] {
        case .string(let value)?: tierName = value
        case .array(let values)? where values.count == 1: tierName = values[0].stringValue
        case nil: throw .forbidden("missing_tier", "the token has no \(configuration.tierClaim) claim")
        default: tierName = nil
        }
        guard let tierName, let tier = configuration.policy.tier(named: tierName) else {
            throw .forbidden("unknown_tier", "the \(configuration.tierClaim) claim does not name one known tier")
        }
        let tenant: String?
        switch claims[configuration.tenantClaim] {
        case nil, .null?: tenant = nil
        case .string(let value)? where !value.isEmpty: tenant = value
        default: throw .unauthenticated("malformed_token", "the \(configuration.tenantClaim) claim is not a non-empty string")
        }
        var scopes: Set<String> = []
        if case .string(let scope)? = claims["scope"] { scopes.formUnion(scope.split(separator: " ").map(String.init)) }
        switch claims["scp"] {
        case .string(let scope)?: scopes.formUnion(scope.split(separator: " ").map(String.init))
        case .array(let values)?: scopes.formUnion(values.compactMap(\.stringValue))
        default: break
        }
        return Identity(userID: subject, tier: tier, tenant: tenant, scopes: scopes)
    }

    private static let notCompact = AuthError.unauthenticated(
        "malformed_token", "the token is not a JWS compact serialisation (header.payload.signature)")
}
