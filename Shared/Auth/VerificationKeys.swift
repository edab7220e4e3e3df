import Foundation
import JWTKit
import Logging
import Synchronization

/// Where the gateway's verification keys come from (SPEC §4). Several may be combined.
public enum KeySource: Sendable, Hashable, CustomStringConvertible {
    /// An HS256 shared secret (development; anyone who verifies can also sign).
    case sharedSecret(String, kid: String? = nil)
    /// A public key PEM file: RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA.
    case publicKeyFile(path: String, kid: String? = nil)
    /// A JWKS document in a file, re-read on refresh (rotate by rewriting the file).
    case jwksFile(path: String)
    /// A JWKS document at an HTTP(S) URL, re-fetched on refresh.
    case jwksURL(String)

    public var description: String {
        switch self {
        case .sharedSecret(_, let kid): "HS256 secret" + (kid.map { " (kid \($0))" } ?? "")
        case .publicKeyFile(let path, let kid): "public key \(path)" + (kid.map { " (kid \($0))" } ?? "")
        case .jwksFile(let path): "JWKS file \(path)"
        case .jwksURL(let url): "JWKS \(url)"
        }
    }

    /// Whether tokens verified by this source are signed by someone who cannot verify them alone: a public
    /// key or a JWKS, whose issuer may mint tokens for other services too (hence the audience rule).
    public var isAsymmetric: Bool {
        switch self {
        case .publicKeyFile, .jwksFile, .jwksURL: true
        case .sharedSecret: false
        }
    }

    var isJWKS: Bool {
        switch self {
        case .jwksFile, .jwksURL: true
        case .sharedSecret, .publicKeyFile: false
        }
    }
}

/// A key that can verify tokens of exactly one algorithm.
struct VerificationKey: Sendable {
    let kid: String?
    /// The only `alg` a token verified by this key may name.
    let algorithm: String
    let collection: JWTKeyCollection
}

/// A key source could not be read or holds no usable key.
public struct KeyLoadingError: Error, Sendable, CustomStringConvertible {
    public let source: String
    public let reason: String
    public var description: String { "cannot load \(source): \(reason)" }
}

/// Fetches a JWKS document (the body of a GET).
public typealias JWKSFetcher = @Sendable (_ url: String) async throws -> [UInt8]

/// Every verification key, found by `kid`; JWKS sources are refreshed periodically and when a token names
/// a `kid` not seen yet (at most once per `minimumRefetchInterval`, so garbage kids cannot flood the issuer).
///
/// The keys in use are also published behind a lock (`currentKey(for:)`, `refreshIsDue`), so verifying a
/// token with a known kid does not hop onto the actor; only refreshes and unknown kids do.
actor KeyRing {
    private let sources: [KeySource]
    private let fetch: JWKSFetcher
    private let refreshInterval: Duration
    private let minimumRefetchInterval: Duration
    private let logger: Logger
    private let clock = ContinuousClock()
    /// Called after every load of the JWKS sources (the keys may have changed: rotation).
    private let keysReloaded: @Sendable () -> Void

    private var staticKeys: [VerificationKey] = [] { didSet { publish() } }
    private var jwksKeys: [VerificationKey] = [] { didSet { publish() } }
    private var lastJWKSLoad: ContinuousClock.Instant? { didSet { publish() } }

    /// The keys in use and when the next periodic JWKS refresh is due (nil: no JWKS source, never).
    private struct Published {
        var keys: [VerificationKey] = []
        var refreshDue: ContinuousClock.Instant?
    }
    private nonisolated let published = Mutex(Published())

    init(sources: [KeySource], fetch: @escaping JWKSFetcher, refreshInterval: Duration, minimumRefetchInterval: Duration, logger: Logger,
         keysReloaded: @escaping @Sendable () -> Void = {}) {
        self.sources = sources
        self.fetch = fetch
        self.refreshInterval = refreshInterval
        self.minimumRefetchInterval = minimumRefetchInterval
        self.logger = logger
        self.keysReloaded = keysReloaded
    }

    private func publish() {
        let keys = staticKeys + jwksKeys
        let refreshDue = sources.contains(where: \.isJWKS) ? lastJWKSLoad.map { $0 + refreshInterval } : nil
        published.withLock { $0 = Published(keys: keys, refreshDue: refreshDue) }
    }

    /// Whether a periodic JWKS refresh is due; until `key(for:)` has done it, the keys may be stale.
    nonisolated var refreshIsDue: Bool {
        guard let due = published.withLock({ $0.refreshDue }) else { return false }
        return ContinuousClock.now > due
    }

    /// The key for `kid` among the keys in use, without touching the actor; nil when a refresh is due or
    /// the kid is unknown (then `key(for:)` decides: refresh, or an error).
    nonisolated func currentKey(for kid: String?) -> VerificationKey? {
        published.withLock { published -> VerificationKey? in
            if let due = published.refreshDue, ContinuousClock.now > due { return nil }
            if let kid { return published.keys.first { $0.kid == kid } }
            return published.keys.count == 1 ? published.keys[0] : nil
        }
    }

    /// Loads every source; any failure here is a start-up error.
    func load() async throws(KeyLoadingError) {
        var keys: [VerificationKey] = []
        for source in sources where !source.isJWKS {
            keys.append(try await Self.loadStatic(source))
        }
        staticKeys = keys
        jwksKeys = try await loadJWKS()
        lastJWKSLoad = clock.now
        keysReloaded()
        guard !(staticKeys + jwksKeys).isEmpty else {
            throw KeyLoadingError(source: sources.map(\.description).joined(separator: ", "), reason: "no verification key configured")
        }
    }

    /// The key a token with this `kid` (or none) must verify with.
    func key(for kid: String?) async throws(AuthError) -> VerificationKey {
        if let lastJWKSLoad, clock.now - lastJWKSLoad > refreshInterval {
            await refreshJWKS(reason: "periodic")
        }
        if let key = find(kid) { return key }
        if let kid, sources.contains(where: \.isJWKS),
            lastJWKSLoad.map({ clock.now - $0 >= minimumRefetchInterval }) ?? true
        {
            await refreshJWKS(reason: "unknown kid \(kid)")
            if let key = find(kid) { return key }
        }
        if let kid {
            throw .unauthenticated("unknown_kid", "no verification key has kid \"\(kid)\"")
        }
        throw .unauthenticated("missing_kid", "the token has no kid and more than one verification key is configured")
    }

    private func find(_ kid: String?) -> VerificationKey? {
        let all = staticKeys + jwksKeys
        if let kid { return all.first { $0.kid == kid } }
        return all.count == 1 ? all[0] : nil
    }

    private func refreshJWKS(reason: String) async {
        lastJWKSLoad = clock.now
        do {
            jwksKeys = try await loadJWKS()
            keysReloaded()
            logger.info("reloaded JWKS", metadata: ["reason": "\(reason)", "keys": "\(jwksKeys.count)"])
        } catch {
            logger.warning("JWKS refresh failed; keeping the keys loaded before", metadata: ["error": "\(error)"])
        }
    }

    private func loadJWKS() async throws(KeyLoadingError) -> [VerificationKey] {
        var keys: [VerificationKey] = []
        for source in sources {
            let document: [UInt8]
            switch source {
            case .jwksFile(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw KeyLoadingError(source: source.description, reason: "file not found or unreadable")
                }
                document = Array(data)
            case .jwksURL(let url):
                do { document = try await fetch(url) } catch {
                    throw KeyLoadingError(source: source.description, reason: "\(error)")
                }
            case .sharedSecret, .publicKeyFile:
                continue
            }
            keys += try await Self.keys(fromJWKS: document, source: source, logger: logger)
        }
        return keys
    }

    /// The usable keys of a JWKS document. A document that is not a JWKS is an error; a key the gateway
    /// cannot use for verifying tokens (no `kid`, `use` other than `sig`, an algorithm or key type other
    /// than RS256, ES256, EdDSA, or key material that does not load) is skipped with a warning, so an
    /// issuer's JWKS that also publishes encryption keys or other algorithms still works.
    static func keys(fromJWKS document: [UInt8], source: KeySource, logger: Logger) async throws(KeyLoadingError) -> [VerificationKey] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(document)) as? [String: Any],
              let members = object["keys"] as? [Any]
        else {
            throw KeyLoadingError(source: source.description, reason: "not a JWKS document (expected an object with a \"keys\" array)")
        }
        var keys: [VerificationKey] = []
        for (index, member) in members.enumerated() {
            let skip = { (reason: String) in
                logger.warning("skipping a JWKS key the gateway cannot use", metadata: [
                    "source": "\(source)", "key": "\(index)", "kid": "\((member as? [String: Any])?["kid"] ?? "none")", "reason": "\(reason)",
                ])
            }
            guard let fields = member as? [String: Any] else { skip("not an object"); continue }
            guard let kid = fields["kid"] as? String, !kid.isEmpty else { skip("no kid"); continue }
            if let use = fields["use"] as? String, use != "sig" { skip("use is \(use), not sig"); continue }
            let jwk: JWK
            do {
                jwk = try JSONDecoder().decode(JWK.self, from: JSONSerialization.data(withJSONObject: fields))
            } catch {
                skip("unsupported key type or algorithm (\(fields["kty"] ?? "no kty"), \(fields["alg"] ?? "no alg"))")
                continue
            }
            let algorithm: String
            switch (jwk.algorithm?.rawValue, jwk.keyType) {
            case (let named?, _): algorithm = named
            case (nil, .rsa): algorithm = "RS256"
            case (nil, .ecdsa): algorithm = "ES256"
            case (nil, .octetKeyPair): algorithm = "EdDSA"
            default: skip("unsupported key type"); continue
            }
            guard TokenVerifier.supportedAlgorithms.contains(algorithm), algorithm != "HS256" else {
                skip("uses \(algorithm); supported: RS256, ES256, EdDSA")
                continue
            }
            let collection = JWTKeyCollection(defaultJWTParser: ClaimsJSONDecoder.parser)
            do { try await collection.add(jwk: jwk) } catch {
                skip("the key does not load: \(error)")
                continue
            }
            keys.append(VerificationKey(kid: kid, algorithm: algorithm, collection: collection))
        }
        return keys
    }

    private static func loadStatic(_ source: KeySource) async throws(KeyLoadingError) -> VerificationKey {
        let collection = JWTKeyCollection(defaultJWTParser: ClaimsJSONDecoder.parser)
        let parser = ClaimsJSONDecoder.parser
        switch source {
        case .sharedSecret(let secret, let kid):
            guard secret.utf8.count >= 32 else {
                throw KeyLoadingError(source: source.description, reason: "an HS256 secret needs at least 32 bytes")
            }
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, parser: parser)
            return VerificationKey(kid: kid, algorithm: "HS256", collection: collection)
        case .publicKeyFile(let path, let kid):
            guard let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8) else {
                throw KeyLoadingError(source: source.description, reason: "file not found or unreadable")
            }
            if let key = try? Insecure.RSA.PublicKey(pem: pem) {
                await collection.add(rsa: key, digestAlgorithm: .sha256, parser: parser)
                return VerificationKey(kid: kid, algorithm: "RS256", collection: collection)
            }
            if let key = try? ES256PublicKey(pem: pem) {
                await collection.add(ecdsa: key, parser: parser)
                return VerificationKey(kid: kid, algorithm: "ES256", collection: collection)
            }
            if let key = try? EdDSA.PublicKey(pem: pem) {
                await collection.add(eddsa: key, parser: parser)
                return VerificationKey(kid: kid, algorithm: "EdDSA", collection: collection)
            }
            throw KeyLoadingError(source: source.description, reason: "not an RSA, EC P-256 or Ed25519 public key in PEM")
        case .jwksFile, .jwksURL:
            preconditionFailure("JWKS sources are loaded by loadJWKS")
        }
    }
}
