// minilm-bench: speed of the in-process all-MiniLM-L6-v2 embedder — batch-1 latency of one query and
// batch-32 throughput of synthetic ~200- and ~40-word texts (seeded, the same on every run). Build in
// release: scripts/bench-minilm.sh, which runs it beside ONNX Runtime and PyTorch
// (bench/minilm-peers/compare.py) and prints the ratios.
//
// Usage: minilm-bench [--threads N] [--model-dir DIR] [--latency-runs N] [--texts N]
//                     [--case all|latency|long|short] [--write-texts FILE]
//   --case latency|long|short  runs only that case (no golden check) and prints one `result {json}` line
//   --write-texts FILE         writes the query and both text sets as JSON (for the peers) and exits
import Foundation
import MiniLM

// MARK: - Options

var threads = 2
var modelDirectory = MiniLMEmbedder.resolveModelDirectory()
var latencyRuns = 300
var textCount = 512
var benchCase = "all"
var textsFile: String?
var arguments = CommandLine.arguments.dropFirst()
while let option = arguments.popFirst() {
    guard let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("missing value for \(option)\n".utf8))
        exit(2)
    }
    switch option {
    case "--threads": threads = Int(value) ?? threads
    case "--model-dir": modelDirectory = value
    case "--latency-runs": latencyRuns = Int(value) ?? latencyRuns
    case "--texts": textCount = Int(value) ?? textCount
    case "--case": benchCase = value
    case "--write-texts": textsFile = value
    default:
        FileHandle.standardError.write(Data("unknown option \(option)\n".utf8))
        exit(2)
    }
}

// MARK: - Helpers

/// SplitMix64: a tiny seeded generator, so the synthetic texts are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let vocabulary = """
    the of and to in is that for it as was with be by on not he this are or his from at which but have an \
    they you were her she there been one all we their has would when if so no what up out more can said \
    time about other into some could them only new people two first over like these may such now years \
    way between many most made after also did through before well back where much should because each \
    just those how too little state good very make world still own see men work long get here both \
    system water during without place around however home small found thought went say part once general \
    high upon school every never under might while last country government market energy research \
    data model language network learning company service report price city history music science health \
    infrastructure photovoltaic quantization sustainability neighbourhood electromagnetic archaeologist \
    biodiversity cryptocurrency microprocessor thermodynamics unprecedented pharmaceutical bureaucracy \
    decentralised interoperability photosynthesis mitochondria semiconductor geopolitical renewable \
    anthropologist cardiovascular hydroelectric entrepreneurship counterintuitive telecommunications
    """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

/// `count` pseudo-English texts of `words` words each: random common words, sentences of 8–16 words.
func syntheticTexts(count: Int, words: Int, seed: UInt64) -> [String] {
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in
        var text = ""
        var sentenceLeft = 0
        for index in 0..<words {
            var word = vocabulary.randomElement(using: &generator)!
            if sentenceLeft == 0 {
                word = word.prefix(1).uppercased() + word.dropFirst()
                sentenceLeft = Int.random(in: 8...16, using: &generator)
            }
            text += (index == 0 ? "" : " ") + word
            sentenceLeft -= 1
            if sentenceLeft == 0 || index == words - 1 { text += Int.random(in: 0..<5, using: &generator) == 0 ? "," : "." }
            if text.hasSuffix(",") { sentenceLeft = max(sentenceLeft, 1) }
        }
        return text
    }
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// User + system CPU seconds of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}

func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return .nan }
    return kib / 1024
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

// MARK: - Inputs

let query = "What is the best way to learn Spanish quickly online?"
let longTexts = syntheticTexts(count: textCount, words: 200, seed: 200)
let shortTexts = syntheticTexts(count: textCount, words: 40, seed: 40)

if let textsFile {
    let inputs: [String: Any] = ["query": query, "long": longTexts, "short": shortTexts]
    let data = try JSONSerialization.data(withJSONObject: inputs)
    guard FileManager.default.createFile(atPath: textsFile, contents: data) else {
        FileHandle.standardError.write(Data("minilm-bench: cannot write \(textsFile)\n".utf8))
        exit(1)
    }
    exit(0)
}
guard ["all", "latency", "long", "short"].contains(benchCase) else {
    FileHandle.standardError.write(Data("minilm-bench: --case must be all, latency, long or short\n".utf8))
    exit(2)
}

// MARK: - Run

let embedder: MiniLMEmbedder
do {
    let start = now()
    embedder = try MiniLMEmbedder(modelDirectory: modelDirectory, threads: threads)
    if benchCase == "all" {
        print("model \(MiniLMEmbedder.modelName) from \(modelDirectory), loaded in \(format((now() - start) * 1000)) ms, \(threads) threads")
        print("BLAS: \(MiniLMEmbedder.blasDescription); few-token products: \(MiniLMEmbedder.kernelDescription)")
    }
} catch {
    FileHandle.standardError.write(Data("minilm-bench: \(error)\n".utf8))
    exit(1)
}

// MARK: - Correctness against the reference, before timing anything

struct Golden: Decodable {
    struct Item: Decodable {
        let text: String
        let input_ids: [Int32]
        let embedding: [Float]
    }
    let items: [Item]
}

let goldenPath = ProcessInfo.processInfo.environment["RAG_MINILM_GOLDEN"] ?? "Tests/MiniLMTests/Golden/minilm-golden.json"
if benchCase == "all" {
    if let data = FileManager.default.contents(atPath: goldenPath), let golden = try? JSONDecoder().decode(Golden.self, from: data) {
        let vectors = try embedder.embed(golden.items.map(\.text))
        var sameIDs = 0
        var maxDifference: Float = 0
        var minCosine: Float = 1
        for (item, vector) in zip(golden.items, vectors) {
            if embedder.tokenize(item.text) == item.input_ids { sameIDs += 1 }
            maxDifference = max(maxDifference, zip(item.embedding, vector).map { abs($0 - $1) }.max() ?? .infinity)
            minCosine = min(minCosine, zip(item.embedding, vector).map { $0 * $1 }.reduce(0, +))
        }
        print("golden check (\(goldenPath)): input_ids identical \(sameIDs)/\(golden.items.count), max |Δ| \(maxDifference), min cosine \(minCosine)")
    } else {
        print("golden check skipped: \(goldenPath) not readable")
    }
}

/// Median and p99 of `latencyRuns` single-text calls after 30 warm-up calls, and the mean CPU time
/// (all threads) per call, in ms.
@MainActor func latency() throws -> (median: Double, p99: Double, cpu: Double) {
    for _ in 0..<30 { _ = try embedder.embed(query) }
    var latencies: [Double] = []
    let startCPU = cpuSeconds()
    for _ in 0..<latencyRuns {
        let start = now()
        _ = try embedder.embed(query)
        latencies.append((now() - start) * 1000)
    }
    let cpu = (cpuSeconds() - startCPU) * 1000 / Double(latencyRuns)
    latencies.sort()
    return (percentile(latencies, 0.5), percentile(latencies, 0.99), cpu)
}

/// All of `texts` in batches of 32, after a one-batch warm-up.
@MainActor func throughput(_ texts: [String]) throws -> (textsPerSecond: Double, textsPerCPUSecond: Double, meanTokens: Double) {
    let meanTokens = Double(texts.reduce(0) { $0 + embedder.tokenize($1).count }) / Double(texts.count)
    _ = try embedder.embed(Array(texts.prefix(32)), batchSize: 32)  // warm-up
    let start = now(), startCPU = cpuSeconds()
    _ = try embedder.embed(texts, batchSize: 32)
    return (Double(texts.count) / (now() - start), Double(texts.count) / (cpuSeconds() - startCPU), meanTokens)
}

/// One machine-readable line for bench/minilm-peers/compare.py.
func printResult(_ fields: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print("result " + String(decoding: data, as: UTF8.self))
}

switch benchCase {
case "latency":
    let (median, p99, cpu) = try latency()
    try printResult(["case": "latency", "median_ms": median, "p99_ms": p99, "cpu_ms": cpu, "tokens": embedder.tokenize(query).count])
case "long", "short":
    let result = try throughput(benchCase == "long" ? longTexts : shortTexts)
    try printResult([
        "case": benchCase, "texts_per_s": result.textsPerSecond, "texts_per_cpu_s": result.textsPerCPUSecond,
        "mean_tokens": result.meanTokens,
    ])
default:
    print("batch-1 query: \(embedder.tokenize(query).count) tokens")
    let (median, p99, _) = try latency()
    let long = try throughput(longTexts)
    let short = try throughput(shortTexts)
    let rss = peakResidentMiB()
    func row(_ label: String, _ value: String) {
        print(label.padding(toLength: max(58, label.count), withPad: " ", startingAt: 0) + " | " + value)
    }
    print("")
    row("case (\(threads) threads)", "Swift+OpenBLAS")
    row(String(repeating: "-", count: 58), String(repeating: "-", count: 14))
    row("batch-1 latency, median (ms)", format(median, 2))
    row("batch-1 latency, p99 (ms)", format(p99, 2))
    row("\(textCount) texts ~200 words (\(format(long.meanTokens)) tokens), batch 32 (texts/s)", format(long.textsPerSecond))
    row("\(textCount) texts ~40 words (\(format(short.meanTokens)) tokens), batch 32 (texts/s)", format(short.textsPerSecond))
    row("peak RSS, VmHWM (MiB)", format(rss))
    print("")
    print("texts per CPU-second (insensitive to other load): ~200 words \(format(long.textsPerCPUSecond)), ~40 words \(format(short.textsPerCPUSecond))")
    print("ONNX Runtime and PyTorch on the same texts, alternating with this: scripts/bench-minilm.sh")
}
fflush(nil)
