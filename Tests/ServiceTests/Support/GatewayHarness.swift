import Glibc
import Auth
import Foundation
import Logging
import Messaging
import ModelClients
import Synchronization
import TestSupport
import Testing

/// One gateway under test, with everything it talks to real and private to the test: its own local broker
/// (`ragctl broker`, so brokers can be stopped without disturbing other tests), the gateway executable as a
/// child process on a free port, development keys in a temporary directory, and an HTTP client (libcurl).
final class GatewayHarness: Sendable {
    /// The repository root, from this file's path (`Tests/ServiceTests/Support/GatewayHarness.swift`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let logger: Logger = {
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .warning
        return logger
    }()

    let directory: String
    let bootstrap: String
    let controlURL: String
    let port: Int
    let topics = RAGTopics(prefix: "rag.")
    let http = CurlHTTPClient()
    let keys: DevelopmentKeys.Paths
    let issuer: TokenIssuer
    private let broker: ChildProcess
    private let gateway: ChildProcess

    /// Starts a broker and a gateway; `environment` adds to or overrides the gateway's variables.
    /// `developmentTokens` turns on `POST /dev/token` (signed with the harness's key), as `make dev` does for
    /// the browser UI.
    init(environment extra: [String: String] = [:], developmentTokens: Bool = false) async throws {
        directory = NSTemporaryDirectory() + "gateway-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        keys = try DevelopmentKeys.ensure(directory: directory + "/keys")
        issuer = try await TokenIssuer(privateKeyFile: keys.privateKey, kid: DevelopmentKeys.kid,
                                       issuer: DevelopmentKeys.issuer, audience: DevelopmentKeys.audience)

        broker = try ChildProcess(executable: "ragctl", arguments: ["broker", "--brokers", "1", "--partitions", "3", "--state-dir", directory + "/broker"],
                                  environment: [:], logPath: directory + "/broker.log")
        (bootstrap, controlURL) = try await Self.waitForBroker(in: directory + "/broker", process: broker)

        var environment = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            // The local broker holds every empty fetch for the whole wait (a real broker answers when a record
            // arrives), so the harnesses, like `make dev`, keep it short.
            "RAG_KAFKA_FETCH_WAIT": "10ms",
            "RAG_HTTP_HOST": "127.0.0.1",
            "RAG_HTTP_PORT": "0",
            "RAG_JWT_PUBLIC_KEY_FILE": keys.publicKey,
            "RAG_JWT_KEY_ID": DevelopmentKeys.kid,
            "RAG_JWT_ISSUER": DevelopmentKeys.issuer,
            "RAG_JWT_AUDIENCE": DevelopmentKeys.audience,
            "RAG_GATEWAY_PRODUCE_TIMEOUT": "3s",
            "RAG_GATEWAY_RATE_LIMITS": "free=1000/1000;standard=1000/1000;enterprise=1000/1000",
            "RAG_GATEWAY_MAX_BODY_BYTES": "65536",
            "RAG_SHUTDOWN_TIMEOUT": "5s",
        ]
        if developmentTokens { environment["RAG_GATEWAY_DEV_SIGNING_KEY_FILE"] = keys.privateKey }
        environment.merge(extra) { $1 }
        gateway = try ChildProcess(executable: "gateway", arguments: [], environment: environment, logPath: directory + "/gateway.log")
        port = try await Self.waitForStartedLine(of: gateway)
        // Ready once the results feed has its partitions.
        try await eventually("gateway ready", timeout: .seconds(30)) {
            (try? await self.http.execute(HTTPRequest(url: self.url("/readyz"))))?.status == 200
        }
    }

    deinit {
        gateway.stop()
        broker.stop()
        http.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var gatewayLog: String { gateway.log }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func token(_ subject: String = "alice", tier: String = "standard", tenant: String? = "acme", scopes: [String] = ["chunks:write"]) async throws -> String {
        try await issuer.issue(subject: subject, tier: tier, tenant: tenant, scopes: scopes)
    }

    /// POSTs a body (a JSON text unless `contentType` says otherwise) with a bearer token.
    func post(_ path: String, _ body: String, token: String?, contentType: String = "application/json",
              headers extra: [(String, String)] = []) async throws -> GatewayResponse {
        var headers = HTTPHeaders([("Content-Type", contentType)] + extra)
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await http.execute(HTTPRequest(method: .post, url: url(path), headers: headers, body: Array(body.utf8), timeout: .seconds(30)))
        return GatewayResponse(response)
    }

    func get(_ path: String, token: String? = nil) async throws -> GatewayResponse {
        var headers = HTTPHeaders()
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return GatewayResponse(try await http.execute(HTTPRequest(url: url(path), headers: headers, timeout: .seconds(30))))
    }

    /// POSTs to the broker's control port (fault injection).
    func control(_ path: String, _ body: String = "{}") async throws {
        let response = try await http.execute(HTTPRequest(method: .post, url: "\(controlURL)/\(path)", headers: ["Content-Type": "application/json"],
                                                          body: Array(body.utf8)))
        #expect((200..<300).contains(response.status), "control \(path): \(response.status)")
    }

    /// How many records `topic` holds (sum of high − low watermarks).
    func recordCount(_ topic: String) async throws -> Int64 { try await Self.recordCount(topic, bootstrap: bootstrap) }

    /// Every record of `topic`, once `count` of them are there.
    func records(_ topic: String, count: Int) async throws -> [KafkaRecord] { try await Self.records(topic, count: count, bootstrap: bootstrap) }

    /// How many records `topic` of the broker at `bootstrap` holds (sum of high − low watermarks).
    static func recordCount(_ topic: String, bootstrap: String) async throws -> Int64 {
        let admin = KafkaAdmin(bootstrapServers: bootstrap, logger: Self.logger)
        var total: Int64 = 0
        for partition in 0..<(try await admin.partitionCount(of: topic)) {
            let (low, high) = try await admin.watermarks(KafkaTopicPartition(topic: topic, partition: partition))
            total += high - low
        }
        return total
    }

    /// Every record of `topic` of the broker at `bootstrap`, once `count` of them are there (in offset order
    /// per partition).
    static func records(_ topic: String, count: Int, bootstrap: String) async throws -> [KafkaRecord] {
        let seen = RecordList()
        let reader = KafkaTailReader(bootstrapServers: bootstrap, topics: [topic], clientID: "test-reader", fetchWaitMax: .milliseconds(10),
                                     logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run(lastRecordsPerPartition: 1_000_000) { seen.append($0) } }
            try await eventually("\(count) records on \(topic)", timeout: .seconds(30)) { seen.all.count >= count }
            group.cancelAll()
        }
        return seen.all
    }

    /// Produces a record as rag-chain/outbox-relay would (for the SSE tests).
    func produce(_ topic: String, key: String, value: String, headers: [KafkaHeader]) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: bootstrap, clientID: "test-producer"), logger: Self.logger)
        try await producer.send(KafkaOutgoingRecord(topic: topic, key: key, value: Array(value.utf8), headers: headers))
        await producer.shutdown()
    }

    /// The bootstrap servers and control URL a `ragctl broker --state-dir directory` writes once it is up.
    static func waitForBroker(in directory: String, process: ChildProcess) async throws -> (String, String) {
        var result: (String, String)?
        try await eventually("broker up", timeout: .seconds(30)) {
            let bootstrap = try? String(contentsOfFile: directory + "/bootstrap", encoding: .utf8)
            let control = try? String(contentsOfFile: directory + "/control.url", encoding: .utf8)
            if let bootstrap, let control, !bootstrap.isEmpty, !control.isEmpty {
                result = (bootstrap.trimmingCharacters(in: .whitespacesAndNewlines), control.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return result != nil || !process.isRunning
        }
        return try #require(result, "broker exited: \(process.log)")
    }

    /// The port of the `started` log line of a worker started with port 0.
    static func waitForStartedLine(of process: ChildProcess) async throws -> Int {
        var port: Int?
        try await eventually("gateway started", timeout: .seconds(60)) {
            for line in process.log.split(separator: "\n") where line.contains(#""message":"started""#) {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
                    port = object["http.port"] as? Int
                }
            }
            return port != nil || !process.isRunning
        }
        return try #require(port, "the worker did not start: \(process.log)")
    }
}

final class RecordList: Sendable {
    private let records = Mutex<[KafkaRecord]>([])
    func append(_ record: KafkaRecord) { records.withLock { $0.append(record) } }
    var all: [KafkaRecord] { records.withLock { $0 } }
}

/// A response with its body as text and, when it is JSON, parsed.
struct GatewayResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let text: String

    init(_ response: HTTPResponse) {
        status = response.status
        headers = response.headers
        text = String(decoding: response.body, as: UTF8.self)
    }

    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:] }
    var problemCode: String? { json["code"] as? String }
    var violationPointers: [String] { ((json["violations"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String } }
}

/// A built executable of this package run as a child process, stdout and stderr into one log file.
/// (`Process` is not marked Sendable; its `isRunning`, `terminate` and pid are safe from any thread.)
final class ChildProcess: @unchecked Sendable {
    private let process: Process
    private let logPath: String

    init(executable: String, arguments: [String], environment: [String: String], logPath: String) throws {
        let path = GatewayHarness.repositoryRoot + "/.build/debug/" + executable
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run `swift build` first (make test does)")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        self.logPath = logPath
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    /// `VmHWM` of /proc/PID/status: the process's peak resident memory so far, in bytes.
    var peakResidentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return kilobytes * 1024
    }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL: no shutdown, no commit, no group leave. Returns once the process is gone.
    func kill() async {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// SIGTERM, and SIGKILL if the process is still running 5 s later. Returns at once (it is called from
    /// `deinit`s, which must not hold a thread of the cooperative pool); a thread of its own keeps watch.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        Thread.detachNewThread { [self] in
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
    }
}

