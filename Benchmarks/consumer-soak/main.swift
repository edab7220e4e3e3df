// consumer-soak: the Shared Kafka consumer (`KafkaConsumer`, Shared/Messaging) through many records with a
// no-op handler — does its memory stay flat, and how many records/s does it hand out? Build in release and
// run against a private local broker: scripts/bench-consumer.sh.
//
// Two phases, each its own process so the consumer's RSS carries nothing of the producer's:
//
//   consumer-soak produce --bootstrap HOSTS --topic T [--records 1000000] [--value-bytes 64] [--concurrency 4096]
//       sends the records with `KafkaProducer` (a bounded number of `send` calls in flight), keys
//       "key-<i mod 1024>", and prints records/s;
//   consumer-soak consume --bootstrap HOSTS --topic T [--records 1000000] [--group G] [--warm-up 100000]
//                         [--max-in-flight N] [--max-in-flight-per-partition N]  (default: the configuration's)
//       joins group G, runs `KafkaConsumer.run { _ in }` until that many records were handled, samples
//       VmRSS (/proc/self/status) at the first record, after the warm-up and at the end (and its peak),
//       prints records/s over the consume phase and the RSS growth next to the goal (< 20 MiB), then shuts
//       the consumer down gracefully.
//
// The bench fails (status 1) only when the records are not all produced or consumed within --timeout
// seconds; a growth over the goal is reported, not failed on.
import Foundation
import Logging
import Messaging
import Synchronization

// MARK: - Options

let usage = """
    usage: consumer-soak produce|consume --bootstrap HOSTS --topic TOPIC [--records N] [--value-bytes N]
                         [--concurrency N] [--group G] [--warm-up N] [--timeout SECONDS]
                         [--max-in-flight N] [--max-in-flight-per-partition N]
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("consumer-soak: \(message)\n".utf8))
    exit(1)
}

struct Options: Sendable {
    var phase = ""
    var bootstrap = ""
    var topic = ""
    var records = 1_000_000
    var valueBytes = 64
    var concurrency = 4096
    var group = "consumer-soak"
    var warmUp = 100_000
    var timeoutSeconds = 600.0
    /// KafkaConsumerConfiguration's in-flight bounds; nil keeps its defaults.
    var maxInFlight: Int?
    var maxInFlightPerPartition: Int?

    static func parse(_ commandLine: [String]) -> Options {
        var options = Options()
        var arguments = commandLine.dropFirst()
        guard let phase = arguments.popFirst(), phase == "produce" || phase == "consume" else { fail(usage) }
        options.phase = phase
        while let option = arguments.popFirst() {
            guard let value = arguments.popFirst() else { fail("missing value for \(option)\n\(usage)") }
            switch option {
            case "--bootstrap": options.bootstrap = value
            case "--topic": options.topic = value
            case "--records": options.records = Int(value) ?? options.records
            case "--value-bytes": options.valueBytes = Int(value) ?? options.valueBytes
            case "--concurrency": options.concurrency = Int(value) ?? options.concurrency
            case "--group": options.group = value
            case "--warm-up": options.warmUp = Int(value) ?? options.warmUp
            case "--timeout": options.timeoutSeconds = Double(value) ?? options.timeoutSeconds
            case "--max-in-flight": options.maxInFlight = Int(value)
            case "--max-in-flight-per-partition": options.maxInFlightPerPartition = Int(value)
            default: fail("unknown option \(option)\n\(usage)")
            }
        }
        guard !options.bootstrap.isEmpty, !options.topic.isEmpty, options.records > 0 else { fail(usage) }
        options.warmUp = min(options.warmUp, options.records / 2)
        return options
    }
}

let options = Options.parse(CommandLine.arguments)
let logger: Logger = {
    var logger = Logger(label: "consumer-soak")
    logger.logLevel = .warning
    return logger
}()

// MARK: - Helpers

/// VmRSS of this process in KiB, from /proc/self/status.
func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
    }
    return -1
}

func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }
func grouped(_ value: Int) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
}
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
func say(_ line: String) { print("consumer-soak: \(line)") }

/// Runs `body`, failing the bench when it takes longer than the timeout.
func withTimeout<T: Sendable>(_ what: String, progress: @escaping @Sendable () -> String = { "" },
                              _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let limit = options.timeoutSeconds
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask { try await body() }
        tasks.addTask {
            try await Task.sleep(for: .seconds(limit))
            return nil
        }
        guard let first = try await tasks.next(), let value = first else { fail("\(what) did not finish within \(Int(limit)) s\(progress())") }
        tasks.cancelAll()
        return value
    }
}

// MARK: - produce

/// The index of the next record to send, shared by the senders.
final class NextIndex: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

func produce() async throws {
    var configuration = KafkaProducerConfiguration(bootstrapServers: options.bootstrap, clientID: "consumer-soak-producer")
    configuration.additionalProperties = ["queue.buffering.max.messages": "1000000"]
    let producer = try KafkaProducer(configuration: configuration, logger: logger)
    try await producer.prepare(topics: [options.topic])
    let value = [UInt8](repeating: UInt8(ascii: "x"), count: options.valueBytes)
    let keys = (0..<1024).map { Array("key-\($0)".utf8) }
    let next = NextIndex()
    let count = options.records, topicName = options.topic, senders = min(options.concurrency, options.records)
    let clock = ContinuousClock()
    let started = clock.now
    try await withTimeout("producing \(count) records") {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // `senders` tasks, each sending the next unsent record and waiting for its acknowledgement.
            for _ in 0..<senders {
                group.addTask {
                    while true {
                        let index = next.take()
                        guard index < count else { return }
                        try await producer.send(KafkaOutgoingRecord(topic: topicName, key: keys[index % keys.count], value: value))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let elapsed = seconds(clock.now - started)
    await producer.shutdown()
    say("produced \(grouped(count)) records (\(options.valueBytes)-byte values, 1024 keys) to \(topicName) in \(String(format: "%.1f", elapsed)) s: \(grouped(Int(Double(count) / elapsed))) records/s (KafkaProducer, \(senders) sends in flight)")
}

// MARK: - consume

/// What the handler sees: the handled count and the RSS samples, taken by the handler that crosses each mark.
struct Progress: Sendable {
    var handled = 0
    var firstRecordAt: ContinuousClock.Instant?
    var lastRecordAt: ContinuousClock.Instant?
    var rssAtFirst = 0
    var rssAfterWarmUp = 0
    var rssPeak = 0
    var samples: [Int] = []  // KiB, every tenth of the records
    var done: CheckedContinuation<Void, Never>?
    var finished = false
}

/// The progress behind a lock, in a class so the handler and the main task can share it.
final class SharedProgress: Sendable {
    private let state = Mutex(Progress())
    func withLock<T: Sendable>(_ body: (inout Progress) -> T) -> T { state.withLock { body(&$0) } }
}

func consume() async throws {
    let rssBeforeJoin = residentKiB()
    var configuration = KafkaConsumerConfiguration(bootstrapServers: options.bootstrap, groupID: options.group,
                                                   topics: [options.topic], clientID: "consumer-soak")
    if let bound = options.maxInFlight { configuration.maxInFlight = bound }
    if let bound = options.maxInFlightPerPartition { configuration.maxInFlightPerPartition = bound }
    let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
    let progress = SharedProgress()
    let count = options.records, warmUp = options.warmUp
    let sampleEvery = max(count / 10, 1)
    let clock = ContinuousClock()

    let running = Task {
        try await consumer.run { _ in
            // The no-op handler, plus the bench's own counting (a lock and an integer per record).
            let handled = progress.withLock { state -> Int in
                state.handled += 1
                return state.handled
            }
            guard handled == 1 || handled == warmUp || handled % sampleEvery == 0 || handled >= count else { return }
            let now = clock.now, rss = residentKiB()
            let done = progress.withLock { state -> CheckedContinuation<Void, Never>? in
                state.rssPeak = max(state.rssPeak, rss)
                if handled == 1 { state.firstRecordAt = now; state.rssAtFirst = rss }
                if handled == warmUp { state.rssAfterWarmUp = rss }
                if handled % sampleEvery == 0 { state.samples.append(rss) }
                guard handled >= count, !state.finished else { return nil }
                state.finished = true
                state.lastRecordAt = now
                defer { state.done = nil }
                return state.done
            }
            done?.resume()
        }
    }

    try await withTimeout("consuming \(count) records", progress: {
        let handled = progress.withLock { $0.handled }
        return ": \(grouped(handled)) handled, \(grouped(handled / Int(options.timeoutSeconds))) records/s on average"
    }) {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let already = progress.withLock { state -> Bool in
                if state.finished { return true }
                state.done = waiter
                return false
            }
            if already { waiter.resume() }
        }
    }
    let rssAtEnd = residentKiB()
    consumer.triggerGracefulShutdown()
    try await running.value

    let state = progress.withLock { $0 }
    guard let first = state.firstRecordAt, let last = state.lastRecordAt else { fail("no records consumed") }
    let elapsed = seconds(last - first)
    let growth = rssAtEnd - state.rssAfterWarmUp
    let goalKiB = 20 * 1024
    say("consumed \(grouped(state.handled)) records in \(String(format: "%.1f", elapsed)) s (first to last record): \(grouped(Int(Double(state.handled) / elapsed))) records/s (KafkaConsumer.run, no-op handler, maxInFlight \(configuration.maxInFlight), maxInFlightPerPartition \(configuration.maxInFlightPerPartition), default ordering)")
    say("RSS: \(mib(rssBeforeJoin)) before joining, \(mib(state.rssAtFirst)) at the first record, \(mib(state.rssAfterWarmUp)) after \(grouped(warmUp)) records (warm-up: fetch queues full), \(mib(rssAtEnd)) at the end; peak \(mib(state.rssPeak))")
    say("RSS every \(grouped(sampleEvery)) records: " + state.samples.map { mib($0).replacingOccurrences(of: " MiB", with: "") }.joined(separator: " ") + " MiB")
    say("RSS growth from the warm-up to the end (\(grouped(count - warmUp)) records): \(growth >= 0 ? "+" : "")\(mib(growth)) — goal < 20 MiB: \(growth < goalKiB ? "met" : "NOT met")")
}

// MARK: - main

do {
    if options.phase == "produce" { try await produce() } else { try await consume() }
} catch {
    fail("\(options.phase) failed: \(error)")
}
