import ArgumentParser
import Auth
import Foundation

/// `ragctl token`: prints a development JWT, signed with the development key pair (created on first use),
/// that the local gateway (`make dev`) accepts.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a development JWT (the token alone on one line).",
        discussion: """
            Signs with the RS256 development key in --keys-dir (created when missing), with iss \
            \(DevelopmentKeys.issuer) and aud \(DevelopmentKeys.audience), which `make dev` configures the gateway to accept.
            Example: ragctl token --sub alice --tier standard --tenant acme --scope chunks:write --ttl 1h
            """
    )

    @Option(help: "The user (`sub`).")
    var sub: String

    @Option(help: "The tier: free, standard or enterprise.")
    var tier: String

    @Option(help: "The tenant (organisation).")
    var tenant: String?

    @Option(help: "A scope to grant; repeat, or separate with spaces (e.g. \"chunks:write\").")
    var scope: [String] = []

    @Option(help: "Lifetime: a number with s, m, h or d (e.g. 30m, 1h, 7d).")
    var ttl: String = "1h"

    @Option(help: "Directory of the development key pair.")
    var keysDir: String = ProcessInfo.processInfo.environment["RAG_DEV_KEYS_DIR"] ?? DevelopmentKeys.defaultDirectory

    func run() async throws {
        guard let lifetime = Self.parseTTL(ttl) else {
            throw ValidationError("--ttl \"\(ttl)\" is not a duration such as 30m, 1h or 7d")
        }
        let paths = try DevelopmentKeys.ensure(directory: keysDir)
        let issuer = try await TokenIssuer(
            privateKeyFile: paths.privateKey, kid: DevelopmentKeys.kid, issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)
        let token = try await issuer.issue(
            subject: sub, tier: tier, tenant: tenant, scopes: scope.flatMap { $0.split(separator: " ").map(String.init) }, ttl: lifetime)
        print(token)
    }

    static func parseTTL(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let factor = units[unit], let count = Int64(text.dropLast()), count > 0 {
            return .seconds(count * factor)
        }
        return Int64(text).flatMap { $0 > 0 ? .seconds($0) : nil }
    }
}
