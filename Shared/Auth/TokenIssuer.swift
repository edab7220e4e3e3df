import CryptoExtras
public import Foundation
import JWTKit

/// Signs tokens: `ragctl token`, the gateway's development-token endpoint and tests.
public struct TokenIssuer: Sendable {
    private let collection: JWTKeyCollection
    private let kid: String?
    /// `iss` of the tokens issued.
    public let issuer: String?
    /// `aud` of the tokens issued.
    public let audience: String?

    /// Signs with a private key PEM file: RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA.
    public init(privateKeyFile path: String, kid: String?, issuer: String?, audience: String?) async throws(KeyLoadingError) {
        guard let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8) else {
            throw KeyLoadingError(source: path, reason: "file not found or unreadable")
        }
        let collection = JWTKeyCollection()
        if let key = try? Insecure.RSA.PrivateKey(pem: pem) {
            await collection.add(rsa: key, digestAlgorithm: .sha256, kid: kid.map(JWKIdentifier.init(string:)))
        } else if let key = try? ES256PrivateKey(pem: pem) {
            await collection.add(ecdsa: key, kid: kid.map(JWKIdentifier.init(string:)))
        } else if let key = try? EdDSA.PrivateKey(pem: pem) {
            await collection.add(eddsa: key, kid: kid.map(JWKIdentifier.init(string:)))
        } else {
            throw KeyLoadingError(source: path, reason: "not an RSA, EC P-256 or Ed25519 private key in PEM")
        }
        self.init(collection: collection, kid: kid, issuer: issuer, audience: audience)
    }

    /// Signs with an HS256 shared secret.
    public init(sharedSecret: String, kid: String?, issuer: String?, audience: String?) async {
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: sharedSecret), digestAlgorithm: .sha256, kid: kid.map(JWKIdentifier.init(string:)))
        self.init(collection: collection, kid: kid, issuer: issuer, audience: audience)
    }

    init(collection: JWTKeyCollection, kid: String?, issuer: String?, audience: String?) {
        self.collection = collection
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
    }

    /// A token for `subject` with the given tier, tenant and scopes, valid from now for `ttl`.
    public func issue(
        subject: String,
        tier: String,
        tenant: String?,
        scopes: [String] = [],
        ttl: Duration = .seconds(3600),
        tierClaim: String = "tier",
        tenantClaim: String = "tenant",
        now: Date = Date()
    ) async throws -> String {
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        var claims = ClaimSet([
            "sub": .string(subject),
            tierClaim: .string(tier),
            "iat": .number(issuedAt),
            "nbf": .number(issuedAt),
            "exp": .number(issuedAt + Double(ttl.components.seconds)),
        ])
        if let tenant { claims[tenantClaim] = .string(tenant) }
        if !scopes.isEmpty { claims["scope"] = .string(scopes.joined(separator: " ")) }
        if let issuer { claims["iss"] = .string(issuer) }
        if let audience { claims["aud"] = .string(audience) }
        return try await sign(claims)
    }

    /// Signs any claims as they are (tests use this for tokens that must be rejected).
    public func sign(_ claims: ClaimSet) async throws -> String {
        try await collection.sign(claims, kid: kid.map(JWKIdentifier.init(string:)))
    }
}

/// The development key pair `make dev`, `ragctl token` and the tests share: an RS256 key made on first
/// use in a project-local directory (default `.data/dev-keys`). Never for production.
public enum DevelopmentKeys {
    public static let kid = "dev-rs256"
    public static let issuer = "kafka-rag-dev"
    public static let audience = "kafka-rag"
    public static let defaultDirectory = ".data/dev-keys"

    public struct Paths: Sendable {
        public let privateKey: String
        public let publicKey: String
    }

    /// The key files in `directory`, created (private key mode 0600) when missing.
    public static func ensure(directory: String = defaultDirectory) throws -> Paths {
        let paths = Paths(privateKey: directory + "/dev-rs256-private.pem", publicKey: directory + "/dev-rs256-public.pem")
        let files = FileManager.default
        if files.fileExists(atPath: paths.privateKey), files.fileExists(atPath: paths.publicKey) { return paths }
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        // Write to temporary names and rename, so a concurrent reader never sees half a key.
        let suffix = ".\(ProcessInfo.processInfo.processIdentifier).tmp"
        try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: paths.privateKey + suffix))
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: paths.privateKey + suffix)
        try Data(key.publicKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: paths.publicKey + suffix))
        _ = rename(paths.publicKey + suffix, paths.publicKey)
        _ = rename(paths.privateKey + suffix, paths.privateKey)
        return paths
    }
}
