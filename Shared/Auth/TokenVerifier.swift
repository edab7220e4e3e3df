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

        public init(keys: [KeySource]) {
            self.keys = keys
        }
    }

    static let supportedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]

    public let configuration: Configuration
    private let keyRing: KeyRing
    private let now: @Sendable () -> Date

    /// Loads every key; throws `KeyLoadingError` naming the source that cannot be used.
    public init(
        configuration: Configuration,
        fetchJWKS: @escaping JWKSFetcher = JWKSDownloader.fetch,
        logger: Logger = Logger(label: "rag.auth"),
        now: @escaping @Sendable () -> Date = Date.init
    ) async throws {
        self.configuration = configuration
        self.now = now
        self.keyRing = KeyRing(
            sources: configuration.keys,
            fetch: fetchJWKS,
            refreshInterval: configuration.jwksRefreshInterval,
            minimumRefetchInterval: configuration.jwksMinimumRefetchInterval,
            logger: logger
        )
        try await keyRing.load()
    }

    public func verify(bearer token: String) async throws(AuthError) -> Identity {
        let header = try Self.header(of: token)
        guard let alg = header.alg, Self.supportedAlgorithms.contains(alg) else {
            throw .unauthenticated("algorithm_not_allowed", "alg \(header.alg.map { "\"\($0)\"" } ?? "missing") is not accepted; use HS256, RS256, ES256 or EdDSA")
        }
        let key = try await keyRing.key(for: header.kid)
        guard key.algorithm == alg else {
            throw .unauthenticated("algorithm_not_allowed", "alg \(alg) does not match the \(key.algorithm) key that verifies this token")
        }
        let claims: ClaimSet
        do {
            claims = try await key.collection.verify(token, as: ClaimSet.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthenticated("invalid_signature", "the token's signature does not verify")
        } catch {
            throw .unauthenticated("malformed_token", "the token cannot be decoded")
        }
        return try identity(from: claims)
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

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    private static func header(of token: String) throws(AuthError) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URLEncoded: parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: data)
        else {
            throw .unauthenticated("malformed_token", "the token is not a JWS compact serialisation (header.payload.signature)")
        }
        return header
    }
}

extension Data {
    /// Decodes base64url without padding (RFC 7515 §2).
    init?(base64URLEncoded text: Substring) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
