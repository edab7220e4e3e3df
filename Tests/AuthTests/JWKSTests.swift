import Auth
import CryptoExtras
import Foundation
import Hummingbird
import JWTKit
import Logging
import Synchronization
import Testing

/// A JWKS entry for an RSA public key PEM.
func rsaJWK(publicKeyFile path: String, kid: String) throws -> String {
    let key = try Insecure.RSA.PublicKey(pem: try String(contentsOfFile: path, encoding: .utf8))
    let (modulus, exponent) = try key.getKeyPrimitives()
    return #"{"kty":"RSA","kid":"\#(kid)","use":"sig","alg":"RS256","n":"\#(base64URL(modulus))","e":"\#(base64URL(exponent))"}"#
}

func jwks(_ keys: [String]) -> String { #"{"keys":[\#(keys.joined(separator: ","))]}"# }

@Suite("JWKS key sources")
struct JWKSTests {
    @Test("keys are selected by kid; a rotated-in key is picked up from the file; unknown kids are 401")
    func fileRotation() async throws {
        let fixture = try await AuthFixture()
        let second = try DevelopmentKeys.ensure(directory: fixture.directory + "/second")
        let path = try fixture.write(jwks([try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "k1")]), to: "jwks.json")
        let verifier = try await fixture.verifier([.jwksFile(path: path)]) { $0.jwksMinimumRefetchInterval = .zero }

        let k1 = try await TokenIssuer(privateKeyFile: fixture.rsa.privateKey, kid: "k1", issuer: "test-issuer", audience: "kafka-rag")
        let k2 = try await TokenIssuer(privateKeyFile: second.privateKey, kid: "k2", issuer: "test-issuer", audience: "kafka-rag")
        #expect(try await verifier.verify(bearer: try await k1.sign(AuthFixture.claims())).userID == "alice")
        await expectRejected(verifier, try await k2.sign(AuthFixture.claims()), code: "unknown_kid")

        // A token signed by k2 but claiming kid k1 does not verify.
        let lying = try await TokenIssuer(privateKeyFile: second.privateKey, kid: "k1", issuer: "test-issuer", audience: "kafka-rag")
        await expectRejected(verifier, try await lying.sign(AuthFixture.claims()), code: "invalid_signature")

        // Rotation: k2 is published next to k1, then k1 is withdrawn.
        _ = try fixture.write(jwks([try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "k1"),
                                    try rsaJWK(publicKeyFile: second.publicKey, kid: "k2")]), to: "jwks.json")
        #expect(try await verifier.verify(bearer: try await k2.sign(AuthFixture.claims())).userID == "alice")
        #expect(try await verifier.verify(bearer: try await k1.sign(AuthFixture.claims())).userID == "alice")
    }

    @Test("a JWKS URL is fetched over HTTP, re-fetched for an unknown kid, but not more often than the minimum interval")
    func urlRefetch() async throws {
        let fixture = try await AuthFixture()
        let second = try DevelopmentKeys.ensure(directory: fixture.directory + "/second")
        let document = Mutex(jwks([try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "k1")]))
        let fetches = Atomic<Int>(0)

        let router = Router()
        router.get("/.well-known/jwks.json") { _, _ -> Response in
            fetches.add(1, ordering: .relaxed)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: document.withLock { $0 })))
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) },
                              logger: Logger(label: "jwks", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let url = "http://127.0.0.1:\(port)/.well-known/jwks.json"

            let verifier = try await fixture.verifier([.jwksURL(url)]) { $0.jwksMinimumRefetchInterval = .seconds(1) }
            #expect(fetches.load(ordering: .relaxed) == 1)
            let k1 = try await TokenIssuer(privateKeyFile: fixture.rsa.privateKey, kid: "k1", issuer: "test-issuer", audience: "kafka-rag")
            let k2 = try await TokenIssuer(privateKeyFile: second.privateKey, kid: "k2", issuer: "test-issuer", audience: "kafka-rag")
            _ = try await verifier.verify(bearer: try await k1.sign(AuthFixture.claims()))
            #expect(fetches.load(ordering: .relaxed) == 1)

            // Within the minimum interval an unknown kid does not cause a fetch.
            for _ in 0..<5 { await expectRejected(verifier, try await k2.sign(AuthFixture.claims()), code: "unknown_kid") }
            #expect(fetches.load(ordering: .relaxed) == 1)

            // The issuer publishes k2; after the interval the unknown kid triggers one fetch and verifies.
            document.withLock { $0 = jwks([try! rsaJWK(publicKeyFile: second.publicKey, kid: "k2")]) }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await verifier.verify(bearer: try await k2.sign(AuthFixture.claims())).userID == "alice")
            #expect(fetches.load(ordering: .relaxed) == 2)
            group.cancelAll()
        }
    }

    @Test("keys the gateway cannot use (use enc, no kid, other algorithms or key types) are skipped; the usable ones verify")
    func unusableKeysSkipped() async throws {
        let fixture = try await AuthFixture()
        let encryption = try DevelopmentKeys.ensure(directory: fixture.directory + "/enc")
        let signing = try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "sig-1")
        let encryptionKey = try rsaJWK(publicKeyFile: encryption.publicKey, kid: "enc-1")
            .replacingOccurrences(of: #""use":"sig","alg":"RS256""#, with: #""use":"enc","alg":"RSA-OAEP""#)
        let withoutKid = try rsaJWK(publicKeyFile: encryption.publicKey, kid: "x").replacingOccurrences(of: #""kid":"x","#, with: "")
        let ps256 = try rsaJWK(publicKeyFile: encryption.publicKey, kid: "ps-1").replacingOccurrences(of: "RS256", with: "PS256")
        let symmetric = #"{"kty":"oct","kid":"hmac-1","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}"#
        let unknownType = #"{"kty":"XYZ","kid":"odd-1"}"#
        let path = try fixture.write(jwks([encryptionKey, withoutKid, ps256, symmetric, unknownType, signing]), to: "jwks.json")

        let verifier = try await fixture.verifier([.jwksFile(path: path)])
        let issuer = try await TokenIssuer(privateKeyFile: fixture.rsa.privateKey, kid: "sig-1", issuer: "test-issuer", audience: "kafka-rag")
        #expect(try await verifier.verify(bearer: try await issuer.sign(AuthFixture.claims())).userID == "alice")
        // A token naming the skipped encryption key's kid does not verify with it.
        let encryptionSigned = try await TokenIssuer(privateKeyFile: encryption.privateKey, kid: "enc-1", issuer: "test-issuer", audience: "kafka-rag")
        await expectRejected(verifier, try await encryptionSigned.sign(AuthFixture.claims()), code: "unknown_kid")
    }

    @Test("a JWKS without a single usable key is refused at start")
    func noUsableKey() async throws {
        let fixture = try await AuthFixture()
        let encryptionKey = try rsaJWK(publicKeyFile: fixture.rsa.publicKey, kid: "enc-1").replacingOccurrences(of: #""use":"sig""#, with: #""use":"enc""#)
        let path = try fixture.write(jwks([encryptionKey]), to: "jwks.json")
        await #expect(throws: KeyLoadingError.self) { _ = try await fixture.verifier([.jwksFile(path: path)]) }
    }

    @Test("an unreachable JWKS URL fails at start, naming it")
    func unreachable() async throws {
        let fixture = try await AuthFixture()
        await #expect(throws: KeyLoadingError.self) {
            _ = try await fixture.verifier([.jwksURL("http://127.0.0.1:9/jwks.json")])
        }
    }
}
