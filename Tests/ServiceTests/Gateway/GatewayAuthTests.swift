import Auth
import CryptoExtras
import Foundation
import JWTKit
import Testing

@Suite("Gateway: authentication and authorisation", .timeLimit(.minutes(3)))
struct GatewayAuthTests {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test("every kind of bad token is 401 problem+json; missing scope and visibility above the tier are 403; nothing produced")
    func rejections() async throws {
        let gateway = try await GatewayHarness()
        let now = Date().timeIntervalSince1970.rounded(.down)
        func claims(_ changes: [String: ClaimValue?] = [:]) -> ClaimSet {
            var claims = ClaimSet([
                "sub": .string("alice"), "tier": .string("standard"), "tenant": .string("acme"), "scope": .string("chunks:write"),
                "iss": .string(DevelopmentKeys.issuer), "aud": .string(DevelopmentKeys.audience),
                "exp": .number(now + 600), "nbf": .number(now),
            ])
            for (name, value) in changes { claims.claims[name] = value }
            return claims
        }
        let valid = try await gateway.issuer.sign(claims())
        let parts = valid.split(separator: ".").map(String.init)
        let strangerKeys = try DevelopmentKeys.ensure(directory: gateway.directory + "/stranger")
        let stranger = try await TokenIssuer(privateKeyFile: strangerKeys.privateKey, kid: DevelopmentKeys.kid,
                                             issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)
        let publicPEM = try String(contentsOfFile: gateway.keys.publicKey, encoding: .utf8)
        let confused = await TokenIssuer(sharedSecret: publicPEM, kid: DevelopmentKeys.kid, issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)
        let otherKid = try await TokenIssuer(privateKeyFile: gateway.keys.privateKey, kid: "retired-key",
                                             issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)
        let noneHeader = Self.base64URL(Array(#"{"alg":"none","typ":"JWT","kid":"dev-rs256"}"#.utf8))

        let cases: [(String, String?, String)] = [
            ("no token", nil, "missing_token"),
            ("bad signature", try await stranger.sign(claims()), "invalid_signature"),
            ("alg none", "\(noneHeader).\(parts[1]).", "algorithm_not_allowed"),
            ("HS256 with the RS256 public key as secret", try await confused.sign(claims()), "algorithm_not_allowed"),
            ("expired", try await gateway.issuer.sign(claims(["exp": .number(now - 300)])), "token_expired"),
            ("nbf in the future", try await gateway.issuer.sign(claims(["nbf": .number(now + 300)])), "token_not_yet_valid"),
            ("wrong iss", try await gateway.issuer.sign(claims(["iss": .string("https://evil.example")])), "invalid_issuer"),
            ("wrong aud", try await gateway.issuer.sign(claims(["aud": .string("another-api")])), "invalid_audience"),
            ("unknown kid", try await otherKid.sign(claims()), "unknown_kid"),
            ("garbage", "not-a-jwt", "malformed_token"),
        ]
        for (name, token, code) in cases {
            for (path, body) in [("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"public"}"#), ("/queries", #"{"question":"q"}"#)] {
                let response = try await gateway.post(path, body, token: token)
                #expect(response.status == 401, "\(name) \(path): \(response.text)")
                #expect(response.headers["content-type"] == "application/problem+json", "\(name)")
                #expect(response.problemCode == code, "\(name) \(path): \(response.text)")
                #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer") == true, "\(name)")
            }
            let stream = try await gateway.get("/results", token: token)
            #expect(stream.status == 401 && stream.problemCode == code, "\(name) GET /results: \(stream.text)")
        }

        let unknownTier = try await gateway.post("/queries", #"{"question":"q"}"#, token: try await gateway.issuer.sign(claims(["tier": .string("platinum")])))
        #expect(unknownTier.status == 403 && unknownTier.problemCode == "unknown_tier", "\(unknownTier.text)")

        let reader = try await gateway.token("rita", tier: "enterprise", scopes: [])
        let noScope = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"public"}"#, token: reader)
        #expect(noScope.status == 403 && noScope.problemCode == "insufficient_scope", "\(noScope.text)")
        #expect(try await gateway.post("/queries", #"{"question":"q"}"#, token: reader).status == 202, "queries need no scope")

        let standard = try await gateway.token("sam", tier: "standard")
        let aboveTier = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"confidential"}"#, token: standard)
        #expect(aboveTier.status == 403 && aboveTier.problemCode == "visibility_not_allowed", "\(aboveTier.text)")
        #expect(aboveTier.violationPointers == ["/visibility"])
        let free = try await gateway.token("fay", tier: "free")
        let batch = try await gateway.post("/chunks", #"{"chunks":[{"doc_id":"d","seq":0,"text":"t","visibility":"public"},{"doc_id":"d","seq":1,"text":"t","visibility":"internal"}]}"#, token: free)
        #expect(batch.status == 403 && batch.violationPointers == ["/chunks/1/visibility"], "\(batch.text)")

        #expect(try await gateway.recordCount(gateway.topics.chunks) == 0, "nothing from a rejected request")
        #expect(try await gateway.recordCount(gateway.topics.queries) == 1, "only the accepted query")
    }

    @Test("the token may come as ?access_token= on GET (EventSource), never on POST")
    func accessTokenParameter() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        let post = try await gateway.post("/queries?access_token=\(token)", #"{"question":"q"}"#, token: nil)
        #expect(post.status == 401 && post.problemCode == "missing_token")
        let stream = try await gateway.http.stream(.init(url: gateway.url("/results?access_token=\(token)"), timeout: .seconds(10)))
        #expect(stream.status == 200)
        #expect(stream.headers["content-type"] == "text/event-stream")
    }

    @Test("public routes: the UI, the OpenAPI document, health; unknown routes are 404 problem+json")
    func publicRoutes() async throws {
        let gateway = try await GatewayHarness()
        let ui = try await gateway.get("/")
        #expect(ui.status == 200 && ui.headers["content-type"]?.hasPrefix("text/html") == true && ui.text.contains("EventSource"))
        #expect(try await gateway.get("/healthz").status == 200)
        let readiness = try await gateway.get("/readyz")
        #expect(readiness.status == 200)
        // Ready means: the producer has its topics' metadata, and the results feed its partitions.
        let checks = (readiness.json["checks"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["status"] ?? "")" }
        #expect(checks.sorted() == ["kafka-producer=ready", "producer=ready", "results-feed=ready"])
        #expect(try await gateway.get("/metrics").status == 200)
        let missing = try await gateway.get("/nowhere")
        #expect(missing.status == 404 && missing.problemCode == "not_found")
        let devToken = try await gateway.post("/dev/token", #"{"sub":"x","tier":"free"}"#, token: nil)
        #expect(devToken.status == 404, "development tokens are off unless configured")
    }

    @Test("with a development signing key, POST /dev/token mints tokens the gateway accepts")
    func developmentTokens() async throws {
        let keys = try DevelopmentKeys.ensure(directory: NSTemporaryDirectory() + "dev-keys-\(UUID().uuidString)")
        let gateway = try await GatewayHarness(environment: [
            "RAG_JWT_PUBLIC_KEY_FILE": keys.publicKey, "RAG_GATEWAY_DEV_SIGNING_KEY_FILE": keys.privateKey,
        ])
        let minted = try await gateway.post("/dev/token", #"{"sub":"ui-user","tier":"enterprise","tenant":"acme","scope":"chunks:write"}"#, token: nil)
        #expect(minted.status == 200, "\(minted.text)")
        let token = try #require(minted.json["token"] as? String)
        let chunk = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"confidential"}"#, token: token)
        #expect(chunk.status == 202, "\(chunk.text)")
        #expect(try await gateway.post("/dev/token", #"{"sub":"x","tier":"platinum"}"#, token: nil).status == 400)
    }
}
