import FakeModelServer
import Foundation
import Logging
import Messaging
import ModelClients
import TestSupport
import Testing
import WorkerRuntime

/// The deployment files (Dockerfile, docker-compose.yml, deploy/) checked without a Docker engine or a
/// cluster: against their schemas and linters, against the executables this build produced, and against a
/// live scrape of every worker's /metrics. The static checks are `scripts/deploy-checks.py` (its header
/// lists them), run here with the project venv's Python and tools (`make deps`).
@Suite("deployment: compose, Kubernetes, Dockerfile, image libraries, configuration, dashboard", .timeLimit(.minutes(5)))
struct DeploymentTests {
    static let root = GatewayHarness.repositoryRoot
    static let binaries = root + "/.build/debug"

    /// Runs one check of `scripts/deploy-checks.py`; returns its exit status and everything it printed.
    static func check(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let python = root + "/.data/venv/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run `make deps`")
        let result = try await ProcessRunner.run(python, [root + "/scripts/deploy-checks.py"] + arguments, currentDirectory: root)
        return (result.status, result.text + result.errors)
    }

    @Test("docker-compose.yml and the SASL override validate against the compose specification's JSON schema")
    func composeSchema() async throws {
        let (status, output) = try await Self.check(["compose"])
        #expect(status == 0, "\(output)")
    }

    @Test("the kustomize builds of the base and the example overlay validate against the Kubernetes and KEDA schemas")
    func kubernetesSchemas() async throws {
        let (status, output) = try await Self.check(["kubernetes"])
        #expect(status == 0, "\(output)")
    }

    @Test("the Dockerfile passes hadolint")
    func hadolint() async throws {
        let (status, output) = try await Self.check(["hadolint"])
        #expect(status == 0, "\(output)")
    }

    @Test("every shared library the executables link comes from a package the runtime stage installs or the base image")
    func runtimeLibraries() async throws {
        let (status, output) = try await Self.check(["runtime-libraries", Self.binaries])
        #expect(status == 0, "\(output)")
    }

    @Test("compose, the ConfigMaps and Secrets and the READMEs set and name only variables the workers read (--help-env), every required one")
    func configurationConsistency() async throws {
        let (status, output) = try await Self.check(["configuration", Self.binaries])
        #expect(status == 0, "\(output)")
    }

    @Test("deploy/kafka/topics.txt (compose's topic-init) lists the topics and configs of RAGTopics.specs() (the local broker's)")
    func topicsMatchTheLocalBroker() throws {
        let text = try String(contentsOfFile: Self.root + "/deploy/kafka/topics.txt", encoding: .utf8)
        var listed: [String: [String: String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let words = line.split(separator: " ").map(String.init)
            listed[words[0]] = Dictionary(uniqueKeysWithValues: words.dropFirst().map { word in
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            })
        }
        let specs = RAGTopics(prefix: "rag.").specs()
        #expect(Set(listed.keys) == Set(specs.map(\.name)))
        for spec in specs {
            #expect(listed[spec.name] == spec.configs, "\(spec.name)")
        }
    }

    @Test("KafkaSecurity: plaintext adds nothing; SASL maps to librdkafka's properties, which librdkafka accepts")
    func kafkaSecurityProperties() throws {
        #expect(KafkaSecurity.plaintext.librdkafkaProperties.isEmpty)
        var reader = ConfigurationReader(environment: [
            "RAG_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "RAG_KAFKA_SASL_USERNAME": "embedder", "RAG_KAFKA_SASL_PASSWORD": "secret",
        ])
        let security = KafkaSecurity(reading: &reader)
        try reader.validate()
        #expect(security.librdkafkaProperties == [
            "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "embedder", "sasl.password": "secret",
        ])
        #expect(reader.effectiveValues["RAG_KAFKA_SASL_PASSWORD"] == "<redacted>")
        // librdkafka checks the mechanism against its build (SCRAM needs SSL support) when the handle is made.
        var configuration = KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "sasl-check")
        configuration.additionalProperties = security.librdkafkaProperties
        _ = try KafkaProducer(configuration: configuration, logger: Logger(label: "test.sasl"))

        var missing = ConfigurationReader(environment: ["RAG_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"])
        _ = KafkaSecurity(reading: &missing)
        #expect(missing.problems.map(\.variable) == ["RAG_KAFKA_SASL_USERNAME", "RAG_KAFKA_SASL_PASSWORD"])
    }

    @Test("every metric the Grafana dashboard queries is in the /metrics of a worker that has done a little work")
    func dashboardMetricsAreExported() async throws {
        let controls = FakeModelServer.Controls(answerTemplate: "According to the handbook it is twenty-five days [1].")
        let harness = try await RagChainHarness(
            provider: .fake(controls),
            environment: ["RAG_RETRIEVAL_MIN_SCORE": "0.9", "RAG_CHAT_PROVIDER": "openai", "RAG_CHAT_MODEL": "fake-chat"])
        let directory = harness.gateway.directory
        let common = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": harness.gateway.bootstrap, "RAG_ADMIN_HOST": "127.0.0.1", "RAG_ADMIN_PORT": "0",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
        ]
        let relay = try ChildProcess(executable: "outbox-relay", arguments: [],
                                     environment: common.merging(["RAG_DATABASE_URL": harness.pipeline.databaseURL]) { $1 },
                                     logPath: directory + "/deploy-outbox-relay.log")
        defer { relay.stop() }
        let relayPort = try await GatewayHarness.waitForStartedLine(of: relay)
        let sampler = try ChildProcess(executable: "review-sampler", arguments: [],
                                       environment: common.merging(["RAG_KAFKA_FETCH_WAIT": "10ms"]) { $1 },
                                       logPath: directory + "/deploy-review-sampler.log")
        defer { sampler.stop() }
        let samplerPort = try await GatewayHarness.waitForStartedLine(of: sampler)

        // A little of everything: chunks indexed, a question answered through the model and published by the
        // relay to an open SSE stream, and a malformed chunk record sent to the dead-letter topic.
        let question = "Employees receive twenty-five days of paid vacation per year."
        try await harness.ingest([("handbook", question, "public")], tenant: "acme")
        let token = try await harness.gateway.token("dana", tier: "standard", tenant: "acme", scopes: [])
        let stream = try await SSESubscriber(harness.gateway, path: "/results", token: token)
        _ = try await harness.answer(try await harness.ask(question, user: "dana", tier: "standard", tenant: "acme", stream: true))
        try await stream.waitFor(1)
        try await harness.gateway.produce(harness.gateway.topics.chunks, key: "broken", value: "not json", headers: [])

        let ports = ["gateway": harness.gateway.port, "embedder": harness.pipeline.embedderAdminPort,
                     "rag-chain": harness.ragChainAdminPort, "outbox-relay": relayPort, "review-sampler": samplerPort]
        func scrape(_ port: Int) async throws -> String {
            let response = try await harness.gateway.http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics"))
            return String(decoding: response.body, as: UTF8.self)
        }
        // The lazily created series exist once their first event happened.
        try await eventually("the dead letter, the published result and the consumers' lag in /metrics", timeout: .seconds(60)) {
            let embedder = try await scrape(harness.pipeline.embedderAdminPort)
            let relayed = try await scrape(relayPort)
            return embedder.contains("rag_dlq_records_total{") && embedder.contains("kafka_consumer_lag{")
                && relayed.contains("rag_outbox_published_total{")
        }
        var files: [String] = []
        for (worker, port) in ports.sorted(by: { $0.key < $1.key }) {
            let path = directory + "/metrics-\(worker).txt"
            try await scrape(port).write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let (status, output) = try await Self.check(["dashboard"] + files)
        #expect(status == 0, "\(output)")
    }
}
