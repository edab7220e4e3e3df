import Foundation
import Logging
import Testing

@testable import WorkerRuntime

@Suite("ConfigurationReader", .timeLimit(.minutes(1)))
struct ConfigurationReaderTests {
    /// Reads one variable of each kind, the way a worker's configuration does.
    struct SampleConfiguration: WorkerConfiguration {
        var servers: [String]
        var database: String
        var batchSize: Int
        var pollInterval: Duration
        var streaming: Bool
        var apiKey: String
        var mode: String

        init(reading reader: inout ConfigurationReader) {
            self.servers = reader.read(.kafkaBootstrapServers)
            self.database = reader.read(.databaseURL)
            self.batchSize = reader.read(
                .integer("RAG_TEST_BATCH_SIZE", default: 32, range: 1...1024, summary: "Records per batch.")
            )
            self.pollInterval = reader.read(
                .duration("RAG_TEST_POLL_INTERVAL", default: .seconds(1), range: .milliseconds(10)...(.seconds(300)), summary: "Poll interval.")
            )
            self.streaming = reader.read(.bool("RAG_TEST_STREAMING", default: true, summary: "Stream answers."))
            self.apiKey = reader.read(.string("RAG_TEST_API_KEY", default: "", summary: "API key.", redaction: .secret))
            self.mode = reader.read(
                .oneOf("RAG_TEST_MODE", options: ["embedded": "embedded", "rpc": "rpc", "sidecar": "sidecar"], default: "embedded", summary: "Inference mode.")
            )
        }
    }

    private func read(_ environment: [String: String]) throws(ConfigurationError) -> (SampleConfiguration, ConfigurationReader) {
        var reader = ConfigurationReader(environment: environment)
        let configuration = SampleConfiguration(reading: &reader)
        try reader.validate()
        return (configuration, reader)
    }

    @Test("collects every problem and names each variable with what is expected")
    func collectsEveryProblem() throws {
        let environment = [
            // RAG_DATABASE_URL missing
            "RAG_KAFKA_BOOTSTRAP_SERVERS": "broker-1:9092,broker-2",
            "RAG_TEST_BATCH_SIZE": "5000",
            "RAG_TEST_POLL_INTERVAL": "soon",
            "RAG_TEST_STREAMING": "maybe",
            "RAG_TEST_MODE": "telepathy",
        ]
        let error = try #require(throws: ConfigurationError.self) { try self.read(environment) }

        #expect(error.variables == [
            "RAG_KAFKA_BOOTSTRAP_SERVERS", "RAG_DATABASE_URL", "RAG_TEST_BATCH_SIZE",
            "RAG_TEST_POLL_INTERVAL", "RAG_TEST_STREAMING", "RAG_TEST_MODE",
        ])
        let message = error.description
        #expect(message.hasPrefix("invalid configuration: 6 problems"))
        #expect(message.contains("RAG_KAFKA_BOOTSTRAP_SERVERS: \"broker-1:9092,broker-2\" has an entry that is not host:port (\"broker-2\"); expected a comma-separated list of host:port"))
        #expect(message.contains("RAG_DATABASE_URL: is required but not set; expected a URL starting with postgres:// or postgresql://"))
        #expect(message.contains("RAG_TEST_BATCH_SIZE: \"5000\" is out of range; expected an integer in 1...1024"))
        #expect(message.contains("RAG_TEST_POLL_INTERVAL: \"soon\" is not a duration; expected a duration such as 500ms"))
        #expect(message.contains("RAG_TEST_STREAMING: \"maybe\" is not a boolean; expected true or false"))
        #expect(message.contains("RAG_TEST_MODE: \"telepathy\" is not an allowed value; expected one of embedded, rpc, sidecar"))
        #expect(message.split(separator: "\n").count == 7)
    }

    @Test("applies defaults, treats empty values as unset and parses every kind")
    func parsesValuesAndDefaults() throws {
        let (defaults, _) = try self.read([
            "RAG_KAFKA_BOOTSTRAP_SERVERS": " localhost:9092 ",
            "RAG_DATABASE_URL": "postgresql://rag@localhost:5432/rag",
            "RAG_TEST_BATCH_SIZE": "",
        ])
        #expect(defaults.servers == ["localhost:9092"])
        #expect(defaults.batchSize == 32)
        #expect(defaults.pollInterval == .seconds(1))
        #expect(defaults.streaming)
        #expect(defaults.mode == "embedded")

        let (custom, _) = try self.read([
            "RAG_KAFKA_BOOTSTRAP_SERVERS": "a:1, b:2,[::1]:9092",
            "RAG_DATABASE_URL": "postgres:///rag?host=/run/postgresql",
            "RAG_TEST_BATCH_SIZE": "1024",
            "RAG_TEST_POLL_INTERVAL": "1.5m",
            "RAG_TEST_STREAMING": "OFF",
            "RAG_TEST_MODE": "RPC",
        ])
        #expect(custom.servers == ["a:1", "b:2", "[::1]:9092"])
        #expect(custom.database == "postgres:///rag?host=/run/postgresql")
        #expect(custom.batchSize == 1024)
        #expect(custom.pollInterval == .seconds(90))
        #expect(!custom.streaming)
        #expect(custom.mode == "rpc")
    }

    @Test("durations accept ms, s, m, h and bare seconds", arguments: [
        ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("2m", .seconds(120)),
        ("1h", .seconds(3600)), ("10", .seconds(10)), ("0.5s", .milliseconds(500)),
    ])
    func parsesDurations(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test("rejects database URLs with another scheme and ports that are not numbers")
    func rejectsURLAndPort() throws {
        var reader = ConfigurationReader(environment: [
            "RAG_DATABASE_URL": "mysql://db/rag",
            "RAG_ADMIN_PORT": "abc",
        ])
        _ = reader.read(.databaseURL)
        _ = reader.read(.adminPort(default: 9101))
        let error = try #require(throws: ConfigurationError.self) { try reader.validate() }
        #expect(error.variables == ["RAG_DATABASE_URL", "RAG_ADMIN_PORT"])
        #expect(error.description.contains("RAG_ADMIN_PORT: \"abc\" is not an integer; expected a TCP port"))
        #expect(error.description.contains("has an unsupported scheme"))
    }

    @Test("effective values redact secrets and URL passwords")
    func redactsSecrets() throws {
        let (_, reader) = try self.read([
            "RAG_KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
            "RAG_DATABASE_URL": "postgresql://rag:hunter2@db:5432/rag?sslmode=require&password=hunter2",
            "RAG_TEST_API_KEY": "sk-very-secret",
        ])
        #expect(reader.effectiveValues["RAG_DATABASE_URL"] == "postgresql://rag:***@db:5432/rag?sslmode=require&password=***")
        #expect(reader.effectiveValues["RAG_TEST_API_KEY"] == "<redacted>")
        #expect(reader.effectiveValues["RAG_TEST_BATCH_SIZE"] == "32")
        #expect(reader.effectiveValues["RAG_TEST_POLL_INTERVAL"] == "1s")
        #expect(!reader.effectiveValues.values.contains { $0.contains("hunter2") || $0.contains("sk-very-secret") })

        // An unset secret shows as empty, so the log tells "not set" from "set".
        let (_, unset) = try self.read(["RAG_KAFKA_BOOTSTRAP_SERVERS": "localhost:9092", "RAG_DATABASE_URL": "postgresql://db/rag"])
        #expect(unset.effectiveValues["RAG_TEST_API_KEY"] == "")
    }

    @Test("an invalid secret is reported without echoing its value")
    func invalidSecretIsNotEchoed() throws {
        var reader = ConfigurationReader(environment: ["RAG_DATABASE_URL": "mysql://root:hunter2@db/rag"])
        _ = reader.read(.databaseURL)
        let error = try #require(throws: ConfigurationError.self) { try reader.validate() }
        #expect(!error.description.contains("hunter2"))
        #expect(error.description.contains("RAG_DATABASE_URL: the value has an unsupported scheme"))
    }

    @Test("documents every variable read, required ones included, as a Markdown table")
    func documentsVariables() {
        var reader = ConfigurationReader(environment: [:])
        _ = SampleConfiguration(reading: &reader)
        let names = reader.documentation.map(\.name)
        #expect(names == [
            "RAG_KAFKA_BOOTSTRAP_SERVERS", "RAG_DATABASE_URL", "RAG_TEST_BATCH_SIZE", "RAG_TEST_POLL_INTERVAL",
            "RAG_TEST_STREAMING", "RAG_TEST_API_KEY", "RAG_TEST_MODE",
        ])
        #expect(names.allSatisfy { $0.hasPrefix(ConfigurationReader.prefix) })
        let table = DocumentedVariable.markdownTable(reader.documentation)
        #expect(table.contains("| `RAG_DATABASE_URL` | **required** |"))
        #expect(table.contains("| `RAG_TEST_POLL_INTERVAL` | `1s` | Poll interval. Expected: a duration"))
        #expect(table.split(separator: "\n").count == 2 + names.count)
    }

    @Test("reports RAG_ variables nothing reads")
    func reportsUnrecognizedVariables() {
        var reader = ConfigurationReader(environment: ["RAG_ADMN_PORT": "1", "RAG_ADMIN_PORT": "2", "HOME": "/root"])
        _ = reader.read(.adminPort(default: 9101))
        #expect(reader.unrecognizedVariables == ["RAG_ADMN_PORT"])
    }

    @Test("a worker reads its own and the runtime's variables, and reports problems in both together")
    func workerConfiguration() throws {
        let worker = Worker(name: "sample", configuration: SampleConfiguration.self, listener: .admin(defaultPort: 9101))
        let error = try #require(throws: ConfigurationError.self) {
            try worker.readConfiguration(from: [
                "RAG_KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
                "RAG_ADMIN_PORT": "abc",
                "RAG_LOG_LEVEL": "chatty",
                "RAG_SHUTDOWN_TIMEOUT": "2d",
            ])
        }
        #expect(error.variables == ["RAG_DATABASE_URL", "RAG_LOG_LEVEL", "RAG_ADMIN_PORT", "RAG_SHUTDOWN_TIMEOUT"])

        let loaded = try worker.readConfiguration(from: [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
            "RAG_DATABASE_URL": "postgresql://localhost/rag",
            "RAG_LOG_LEVEL": "DEBUG",
        ])
        #expect(loaded.runtime.logLevel == .debug)
        #expect(loaded.runtime.adminHost == "0.0.0.0")
        #expect(loaded.runtime.adminPort == 9101)
        #expect(loaded.runtime.shutdownTimeout == .seconds(30))
        #expect(loaded.configuration.database == "postgresql://localhost/rag")

        let gateway = Worker(name: "gateway", configuration: SampleConfiguration.self, listener: .http(defaultPort: 8080))
        let documented = gateway.documentedVariables.map(\.name)
        #expect(documented.contains("RAG_HTTP_PORT"))
        #expect(!documented.contains("RAG_ADMIN_PORT"))
        #expect(documented.suffix(6) == ["RAG_LOG_LEVEL", "RAG_HTTP_HOST", "RAG_HTTP_PORT", "RAG_SHUTDOWN_TIMEOUT",
                                         "RAG_OTLP_ENDPOINT", "RAG_OTLP_PROTOCOL"])
    }
}
