import ArgumentParser
import Auth
import Foundation
import Logging
import Messaging

/// `--bootstrap-servers` and `--topic-prefix`, defaulting like the workers' variables.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers, host:port[,host:port…] (default: $RAG_KAFKA_BOOTSTRAP_SERVERS).")
    var bootstrapServers: String?

    @Option(help: "Topic name prefix (default: $RAG_TOPIC_PREFIX, else rag.).")
    var topicPrefix: String?

    /// The bootstrap list, or a usage error naming both ways to give it.
    func bootstrap() throws -> String {
        guard let servers = bootstrapServers ?? ProcessInfo.processInfo.environment["RAG_KAFKA_BOOTSTRAP_SERVERS"], !servers.isEmpty else {
            throw ValidationError("no Kafka cluster: pass --bootstrap-servers or set RAG_KAFKA_BOOTSTRAP_SERVERS")
        }
        return servers
    }

    var topics: RAGTopics {
        RAGTopics(prefix: topicPrefix ?? ProcessInfo.processInfo.environment["RAG_TOPIC_PREFIX"] ?? "rag.")
    }

    /// Warnings and errors only: the commands print what they do themselves.
    static var logger: Logger {
        var logger = Logger(label: "ragctl")
        logger.logLevel = .error
        return logger
    }

    func admin(timeout: Duration = .seconds(15)) throws -> KafkaAdmin {
        KafkaAdmin(bootstrapServers: try bootstrap(), timeout: timeout, logger: Self.logger)
    }
}

/// `--gateway`, `--token` and what a development token is minted with when there is none.
struct GatewayOptions: ParsableArguments {
    @Option(help: "The gateway's base URL.")
    var gateway = ProcessInfo.processInfo.environment["RAG_GATEWAY_URL"] ?? "http://127.0.0.1:8080"

    @Option(help: "A bearer JWT (default: $RAG_TOKEN, else a development token minted with --keys-dir, as `ragctl token` does).")
    var token: String?

    @Option(help: "The user (`sub`) of a minted development token.")
    var user = "ragctl"

    @Option(help: "The tenant of a minted development token (queries see, and ingested chunks belong to, this tenant).")
    var tenant: String?

    @Option(help: "Directory of the development key pair (for minting).")
    var keysDir: String = ProcessInfo.processInfo.environment["RAG_DEV_KEYS_DIR"] ?? DevelopmentKeys.defaultDirectory

    /// `--token`, `$RAG_TOKEN`, or a fresh development token of `tier` with `scopes`, valid for an hour.
    func bearerToken(tier: String, scopes: [String]) async throws -> String {
        if let token = token ?? ProcessInfo.processInfo.environment["RAG_TOKEN"], !token.isEmpty { return token }
        let paths = try DevelopmentKeys.ensure(directory: keysDir)
        let issuer = try await TokenIssuer(privateKeyFile: paths.privateKey, kid: DevelopmentKeys.kid,
                                           issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)
        return try await issuer.issue(subject: user, tier: tier, tenant: tenant, scopes: scopes, ttl: .seconds(3600))
    }

    func url(_ path: String) -> String {
        (gateway.hasSuffix("/") ? String(gateway.dropLast()) : gateway) + path
    }
}

/// Writes a line to standard error (progress and diagnostics; standard output carries the results).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A command failure with a message for the operator; exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
