import Auth
import CryptoExtras
import Foundation
import JWTKit
import Testing

/// Keys and files for one test: an RS256 dev key pair in a fresh directory, and helpers to make tokens.
struct AuthFixture {
    let directory: String
    let rsa: DevelopmentKeys.Paths
    let issuer: TokenIssuer

    init() async throws {
        directory = NSTemporaryDirectory() + "auth-tests-\(UUID().uuidString)"
        rsa = try DevelopmentKeys.ensure(directory: directory)
        issuer = try await TokenIssuer(privateKeyFile: rsa.privateKey, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
    }

    func verifier(_ keys: [KeySource]? = nil, configure: (inout TokenVerifier.Configuration) -> Void = { _ in }) async throws -> TokenVerifier {
        var configuration = TokenVerifier.Configuration(keys: keys ?? [.publicKeyFile(path: rsa.publicKey)])
        configuration.issuer = "test-issuer"
        configuration.audience = "kafka-rag"
        configure(&configuration)
        return try await TokenVerifier(configuration: configuration)
    }

    func write(_ text: String, to name: String) throws -> String {
        let path = directory + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Standard claims for alice, valid now.
    static func claims(_ changes: [String: ClaimValue?] = [:]) -> ClaimSet {
        let now = Date().timeIntervalSince1970.rounded(.down)
        var claims = ClaimSet([
            "sub": .string("alice"), "tier": .string("standard"), "tenant": .string("acme"),
            "iss": .string("test-issuer"), "aud": .string("kafka-rag"),
            "exp": .number(now + 3600), "nbf": .number(now), "scope": .string("chunks:write queries:write"),
        ])
        for (name, value) in changes { claims.claims[name] = value }
        return claims
    }
}

func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// Expects `verify` to throw an `AuthError` with this code and status.
func expectRejected(_ verifier: TokenVerifier, _ token: String, code: String, status: Int = 401, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        let identity = try await verifier.verify(bearer: token)
        Issue.record("expected \(code), got \(identity)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Token verification")
struct TokenVerifierTests {
    @Test("an RS256 token gives user, tier, tenant and scopes")
    func validRS256() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier()
        let token = try await fixture.issuer.issue(subject: "alice", tier: "standard", tenant: "acme", scopes: ["chunks:write"])
        let identity = try await verifier.verify(bearer: token)
        #expect(identity.userID == "alice")
        #expect(identity.tier.rawValue == "standard")
        #expect(identity.tenant == "acme")
        #expect(identity.scopes == ["chunks:write"])
        try identity.require(scope: "chunks:write")
        #expect(throws: AuthError.self) { try identity.require(scope: "admin") }
    }

    @Test("HS256, ES256 and EdDSA tokens verify with their keys")
    func otherAlgorithms() async throws {
        let fixture = try await AuthFixture()
        let secret = String(repeating: "s3cret-", count: 6)
        let hs = await TokenIssuer(sharedSecret: secret, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
        let hsToken = try await hs.issue(subject: "bob", tier: "free", tenant: nil)
        #expect(try await fixture.verifier([.sharedSecret(secret)]).verify(bearer: hsToken).userID == "bob")

        let es = ES256PrivateKey()
        let esPublic = try fixture.write(es.publicKey.pemRepresentation, to: "es.pem")
        let esPrivate = try fixture.write(es.pemRepresentation, to: "es-private.pem")
        let esToken = try await TokenIssuer(privateKeyFile: esPrivate, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
            .issue(subject: "carol", tier: "enterprise", tenant: "globex")
        let carol = try await fixture.verifier([.publicKeyFile(path: esPublic)]).verify(bearer: esToken)
        #expect(carol.userID == "carol" && carol.tier.rawValue == "enterprise" && carol.tenant == "globex")

        let ed = Curve25519.Signing.PrivateKey()
        let edPublic = try fixture.write(ed.publicKey.pemRepresentation, to: "ed.pem")
        let edPrivate = try fixture.write(ed.pemRepresentation, to: "ed-private.pem")
        let edToken = try await TokenIssuer(privateKeyFile: edPrivate, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
            .issue(subject: "dave", tier: "standard", tenant: "acme")
        #expect(try await fixture.verifier([.publicKeyFile(path: edPublic)]).verify(bearer: edToken).userID == "dave")
    }

    @Test("signature, algorithm and format attacks are 401 with a precise code")
    func forgedTokens() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier()
        let valid = try await fixture.issuer.sign(AuthFixture.claims())

        // Signed by another RSA key.
        let other = try DevelopmentKeys.ensure(directory: fixture.directory + "/other")
        let stranger = try await TokenIssuer(privateKeyFile: other.privateKey, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
        await expectRejected(verifier, try await stranger.sign(AuthFixture.claims()), code: "invalid_signature")

        // A payload swapped under a valid signature (tier raised to enterprise).
        let parts = valid.split(separator: ".")
        let raised = try JSONEncoder().encode(AuthFixture.claims(["tier": .string("enterprise")]))
        await expectRejected(verifier, "\(parts[0]).\(base64URL(raised)).\(parts[2])", code: "invalid_signature")

        // alg: none, with and without a signature.
        let noneHeader = base64URL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        await expectRejected(verifier, "\(noneHeader).\(parts[1]).", code: "algorithm_not_allowed")
        await expectRejected(verifier, "\(noneHeader).\(parts[1]).\(parts[2])", code: "algorithm_not_allowed")

        // Algorithm confusion: HS256 with the RS256 public key PEM as the HMAC secret.
        let publicPEM = try String(contentsOfFile: fixture.rsa.publicKey, encoding: .utf8)
        let confused = await TokenIssuer(sharedSecret: publicPEM, kid: nil, issuer: "test-issuer", audience: "kafka-rag")
        await expectRejected(verifier, try await confused.sign(AuthFixture.claims()), code: "algorithm_not_allowed")

        // Garbage.
        for garbage in ["", "garbage", "a.b", "a.b.c", "...."] {
            await expectRejected(verifier, garbage, code: "malformed_token")
        }
    }

    @Test("exp, nbf, iss and aud are checked, with the leeway")
    func registeredClaims() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier()
        let now = Date().timeIntervalSince1970.rounded(.down)
        func token(_ changes: [String: ClaimValue?]) async throws -> String {
            try await fixture.issuer.sign(AuthFixture.claims(changes))
        }
        await expectRejected(verifier, try await token(["exp": .number(now - 120)]), code: "token_expired")
        await expectRejected(verifier, try await token(["exp": nil]), code: "missing_exp")
        await expectRejected(verifier, try await token(["nbf": .number(now + 600)]), code: "token_not_yet_valid")
        await expectRejected(verifier, try await token(["iss": .string("evil")]), code: "invalid_issuer")
        await expectRejected(verifier, try await token(["iss": nil]), code: "invalid_issuer")
        await expectRejected(verifier, try await token(["aud": .string("other-app")]), code: "invalid_audience")
        await expectRejected(verifier, try await token(["sub": nil]), code: "missing_subject")

        // Within the 30 s leeway both ways; aud may be an array.
        _ = try await verifier.verify(bearer: try await token(["exp": .number(now - 10), "nbf": .number(now + 10)]))
        _ = try await verifier.verify(bearer: try await token(["aud": .array([.string("x"), .string("kafka-rag")])]))
    }

    @Test("tier from a configurable claim, string or one-element array; unknown tier is 403")
    func tierClaim() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier { $0.tierClaim = "https://example.com/tier"; $0.tenantClaim = "org" }
        func identity(_ changes: [String: ClaimValue?]) async throws -> Identity {
            try await verifier.verify(bearer: try await fixture.issuer.sign(AuthFixture.claims(changes)))
        }
        let fromString = try await identity(["https://example.com/tier": .string("enterprise"), "org": .string("initech")])
        #expect(fromString.tier.rawValue == "enterprise" && fromString.tenant == "initech")
        #expect(try await identity(["https://example.com/tier": .array([.string("free")])]).tier.rawValue == "free")
        // The default claim names are not read when others are configured.
        #expect(try await identity(["https://example.com/tier": .string("free"), "tier": .string("enterprise")]).tier.rawValue == "free")
        #expect(try await identity(["https://example.com/tier": .string("free")]).tenant == nil)

        for bad: ClaimValue in [.string("platinum"), .array([.string("free"), .string("enterprise")]), .array([]), .number(3)] {
            await expectRejected(verifier, try await fixture.issuer.sign(AuthFixture.claims(["https://example.com/tier": bad])),
                                 code: "unknown_tier", status: 403)
        }
        await expectRejected(verifier, try await fixture.issuer.sign(AuthFixture.claims()), code: "missing_tier", status: 403)
    }

    @Test("scopes come from scope (space-separated) and scp (string or array)")
    func scopes() async throws {
        let fixture = try await AuthFixture()
        let verifier = try await fixture.verifier()
        let identity = try await verifier.verify(bearer: try await fixture.issuer.sign(AuthFixture.claims([
            "scope": .string("a b"), "scp": .array([.string("c"), .string("chunks:write")]),
        ])))
        #expect(identity.scopes == ["a", "b", "c", "chunks:write"])
    }

    @Test("an unreadable or unusable key source fails at start, naming it")
    func badKeySources() async throws {
        let fixture = try await AuthFixture()
        let notAKey = try fixture.write("hello", to: "not-a-key.pem")
        for source: KeySource in [.publicKeyFile(path: "/nonexistent/key.pem"), .publicKeyFile(path: notAKey), .sharedSecret("short"),
                                  .jwksFile(path: notAKey)] {
            do {
                _ = try await fixture.verifier([source])
                Issue.record("\(source) was accepted")
            } catch let error as KeyLoadingError {
                #expect(error.description.contains(source.description))
            }
        }
    }
}

@Suite("Tier policy")
struct TierPolicyTests {
    @Test("the default mapping of SPEC §4 and rank order")
    func defaults() throws {
        let policy = TierPolicy.default
        let free = try #require(policy.tier(named: "free"))
        let standard = try #require(policy.tier(named: "standard"))
        let enterprise = try #require(policy.tier(named: "enterprise"))
        #expect(policy.visibilities(for: free) == [.public])
        #expect(policy.visibilities(for: standard) == [.public, .internal])
        #expect(policy.visibilities(for: enterprise) == [.public, .internal, .confidential])
        #expect(free.rank < standard.rank && standard.rank < enterprise.rank)
        #expect(!policy.allows(tier: standard, visibility: .confidential))
        #expect(policy.tier(named: "platinum") == nil)
    }

    @Test("a configured mapping parses; mistakes are named")
    func parsing() throws {
        let policy = try TierPolicy(parsing: "guest=public; staff=public,internal,confidential")
        #expect(policy.visibilities(for: try #require(policy.tier(named: "staff"))).count == 3)
        #expect(policy.tier(named: "free") == nil)
        for bad in ["", "guest", "guest=secret", "guest=public;guest=internal", "=public"] {
            #expect(throws: TierPolicyError.self, "\(bad)") { try TierPolicy(parsing: bad) }
        }
    }
}
