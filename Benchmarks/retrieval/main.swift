// retrieval-bench: the rag-chain's vector search (`ChunkRetriever`, Shared/Retrieval) over a large synthetic
// `chunks` table — how many of the true 10 nearest chunks does it find (recall@10 against an exact scan with
// the same filter), and how long does a call take (p50/p99)? Build in release and run against a private local
// Postgres: scripts/bench-retrieval.sh.
//
// Against the server of RAG_DATABASE_URL it:
//   1. creates a fresh database `bench_retrieval_<random>` and applies the project's migrations (`Migrator`);
//   2. drops the HNSW index of migration 0001, bulk-loads BENCH_CHUNKS rows of the real `chunks` schema
//      (multi-row INSERT … SELECT FROM unnest(arrays), BENCH_BATCH rows per statement, two at a time), then
//      creates the index again from its own definition (pg_indexes) and ANALYZEs — load and build timed;
//   3. computes, for BENCH_QUERIES queries, the exact top 10 with the retriever's filter (tenant, model,
//      visibility ∈ the tier's list) by a sequential scan (index scans disabled; the plan of a query of each
//      tier is checked: a Seq Scan, not the HNSW index);
//   4. after BENCH_WARM_UP unmeasured queries, calls `ChunkRetriever.retrieve(…, topK: 10)` (minScore -1, so
//      nothing is cut) once per query, one at a time, timing each call, for ef_search BENCH_EF_SEARCH
//      (default 100, the rag-chain's RAG_RETRIEVAL_EF_SEARCH) and each value of BENCH_EF_SWEEP. That the HNSW
//      index serves these calls is checked twice: the retriever's plan (`ChunkRetriever.explain`) for queries
//      of each tier and tenant must scan chunks_embedding_hnsw, and the index's scan counter
//      (pg_stat_user_indexes.idx_scan, read after the pass's own connection has closed and flushed its
//      statistics) must have grown by one per call;
//   5. prints a table: recall@10 (mean |ANN ∩ exact| / |exact|, also per tier) and p50/p99/max latency per
//      ef_search, next to the goals (recall ≥ 0.95, p99 ≤ 20 ms); drops the database.
//
// Data (fixed seed): BENCH_CLUSTERS random unit centres in 384-d; each chunk is a centre plus gaussian noise
// of BENCH_NOISE per dimension, normalised (noise 0.05 → cosine ≈ 0.7 to its centre, ≈ 0.5 to the chunks of its
// cluster, ≈ 0 to other clusters'); tenant ∈ {acme, globex} and visibility ∈ {public, internal, confidential}
// uniformly; one model name; text of ~700 bytes. Each query is a random chunk plus noise of BENCH_QUERY_NOISE
// per dimension, normalised, with a random tenant and a random tier of the default policy (free → public,
// standard → public, internal, enterprise → all three).
//
// Tunables (environment): BENCH_CHUNKS=100000 BENCH_QUERIES=1000 BENCH_WARM_UP=100 BENCH_EF_SEARCH=100
// BENCH_EF_SWEEP="" (comma-separated extra ef_search values) BENCH_SEED=1 BENCH_CLUSTERS=300 BENCH_NOISE=0.05
// BENCH_QUERY_NOISE=0.03 BENCH_BATCH=1000 BENCH_MAINTENANCE_WORK_MEM=1GB (for the index build) BENCH_KEEP_DB=1
// (do not drop the database). Exits 1 on an error; goals not met are reported, not failed on.
import Auth
import Foundation
import Persistence
import Retrieval
import Schemas

// MARK: - Options

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("retrieval-bench: \(message)\n".utf8))
    exit(1)
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("retrieval-bench: \(message)\n".utf8))
}

struct Options: Sendable {
    var databaseURL = ""
    var chunks = 100_000
    var queries = 1000
    var warmUp = 100
    var efSearch = 100
    var efSweep: [Int] = []
    var seed: UInt64 = 1
    var clusters = 300
    var noise = 0.05
    var queryNoise = 0.03
    var batch = 1000
    var maintenanceWorkMem = "1GB"
    var keepDatabase = false

    static func fromEnvironment() -> Options {
        let environment = ProcessInfo.processInfo.environment
        var options = Options()
        func integer(_ name: String, _ value: inout Int, minimum: Int) {
            guard let text = environment[name], !text.isEmpty else { return }
            guard let parsed = Int(text.replacingOccurrences(of: "_", with: "")), parsed >= minimum else {
                fail("\(name)=\(text) is not an integer ≥ \(minimum)")
            }
            value = parsed
        }
        func number(_ name: String, _ value: inout Double) {
            guard let text = environment[name], !text.isEmpty else { return }
            guard let parsed = Double(text), parsed >= 0, parsed.isFinite else { fail("\(name)=\(text) is not a number ≥ 0") }
            value = parsed
        }
        guard let url = environment["RAG_DATABASE_URL"], !url.isEmpty else { fail("RAG_DATABASE_URL is not set") }
        options.databaseURL = url
        integer("BENCH_CHUNKS", &options.chunks, minimum: 100)
        integer("BENCH_QUERIES", &options.queries, minimum: 1)
        integer("BENCH_WARM_UP", &options.warmUp, minimum: 0)
        integer("BENCH_EF_SEARCH", &options.efSearch, minimum: 10)
        integer("BENCH_CLUSTERS", &options.clusters, minimum: 1)
        integer("BENCH_BATCH", &options.batch, minimum: 1)
        var seed = 1
        integer("BENCH_SEED", &seed, minimum: 0)
        options.seed = UInt64(seed)
        number("BENCH_NOISE", &options.noise)
        number("BENCH_QUERY_NOISE", &options.queryNoise)
        if let sweep = environment["BENCH_EF_SWEEP"], !sweep.isEmpty {
            options.efSweep = sweep.split(separator: ",").map { part in
                guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value >= 10 else {
                    fail("BENCH_EF_SWEEP=\(sweep): comma-separated integers ≥ 10 expected")
                }
                return value
            }
        }
        if let memory = environment["BENCH_MAINTENANCE_WORK_MEM"], !memory.isEmpty {
            guard memory.allSatisfy({ $0.isLetter || $0.isNumber }) else { fail("BENCH_MAINTENANCE_WORK_MEM=\(memory): e.g. 1GB") }
            options.maintenanceWorkMem = memory
        }
        options.keepDatabase = environment["BENCH_KEEP_DB"] == "1"
        return options
    }
}

// MARK: - Synthetic data

let dimensions = 384
let tenants = ["acme", "globex"]
let visibilities = Visibility.allCases.map(\.rawValue)  // public, internal, confidential
let model = "bench-embedding-384"
let tierNames = ["free", "standard", "enterprise"]
let topK = 10

/// SplitMix64: a small, fast, seedable generator; each chunk and query gets its own stream, so any vector can
/// be regenerated from its index alone (and batches can be generated in parallel, deterministically).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 0x632B_E59B_D9B4_E019) &* 0xBF58_476D_1CE4_E5B9
        _ = next()
    }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform value in (0, 1].
    mutating func unit() -> Double { (Double(next() >> 11) + 1) / 9_007_199_254_740_992 }
    /// `count` standard normal values (Box–Muller).
    mutating func gaussians(_ count: Int) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(count + 1)
        while values.count < count {
            let radius = (-2 * Foundation.log(unit())).squareRoot(), angle = 2 * Double.pi * unit()
            values.append(radius * cos(angle))
            values.append(radius * sin(angle))
        }
        return Array(values.prefix(count))
    }
}

func normalised(_ vector: [Double]) -> [Float] {
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return vector.map { Float($0 / norm) }
}

/// The corpus: cluster centres plus per-chunk noise, all derived from the seed.
struct Corpus: Sendable {
    let options: Options
    let centres: [[Double]]

    init(options: Options) {
        self.options = options
        var generator = SplitMix64(seed: options.seed, stream: .max)
        centres = (0..<options.clusters).map { _ in normalised(generator.gaussians(dimensions)).map(Double.init) }
    }

    struct Chunk {
        var tenant: String
        var visibility: String
        var embedding: [Float]
    }

    func chunk(_ index: Int) -> Chunk {
        var generator = SplitMix64(seed: options.seed, stream: UInt64(index))
        let centre = centres[Int(generator.next() % UInt64(centres.count))]
        let tenant = tenants[Int(generator.next() % UInt64(tenants.count))]
        let visibility = visibilities[Int(generator.next() % UInt64(visibilities.count))]
        let noise = generator.gaussians(dimensions)
        let vector = (0..<dimensions).map { centre[$0] + options.noise * noise[$0] }
        return Chunk(tenant: tenant, visibility: visibility, embedding: normalised(vector))
    }

    struct Query: Sendable {
        var embedding: [Float]
        var tenant: String
        var tier: String
        var visibilities: [String]
    }

    /// Query `index` of a set (`set` separates the warm-up queries from the measured ones).
    func query(_ index: Int, set: UInt64) -> Query {
        var generator = SplitMix64(seed: options.seed ^ (set &* 0xD6E8_FEB8_6659_FD93), stream: UInt64(index) | 1 << 62)
        let source = chunk(Int(generator.next() % UInt64(options.chunks))).embedding
        let noise = generator.gaussians(dimensions)
        let vector = (0..<dimensions).map { Double(source[$0]) + options.queryNoise * noise[$0] }
        let tenant = tenants[Int(generator.next() % UInt64(tenants.count))]
        let tierName = tierNames[Int(generator.next() % UInt64(tierNames.count))]
        // The rag-chain's own derivation: the tier policy's visibilities, sorted (RagChainService).
        let policy = TierPolicy.default
        guard let tier = policy.tier(named: tierName) else { fail("the default tier policy has no tier \(tierName)") }
        return Query(embedding: normalised(vector), tenant: tenant, tier: tierName,
                     visibilities: policy.visibilities(for: tier).map(\.rawValue).sorted())
    }
}

// MARK: - Database

/// The connection string for database `name` on the server of `url` (a URI or a `key=value` string).
func connectionString(_ url: String, database name: String) -> String {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        guard var components = URLComponents(string: url) else { fail("RAG_DATABASE_URL is not a valid URI") }
        components.path = "/" + name
        guard let result = components.string else { fail("cannot build a URI for database \(name)") }
        return result
    }
    return url + " dbname=\(name)"
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `{"[…]","[…]"}`: a `vector[]` literal.
func vectorArrayLiteral(_ vectors: [[Float]]) -> String {
    var text = "{"
    text.reserveCapacity(vectors.count * (dimensions * 11 + 4))
    for (index, vector) in vectors.enumerated() {
        if index > 0 { text += "," }
        text += "\"["
        for (position, value) in vector.enumerated() {
            if position > 0 { text += "," }
            text += value.description
        }
        text += "]\""
    }
    return text + "}"
}

func load(_ corpus: Corpus, pool: PostgresPool) async throws {
    let options = corpus.options
    let batches = stride(from: 0, to: options.chunks, by: options.batch).map { $0..<min($0 + options.batch, options.chunks) }
    // doc_id: documents of 20 chunks; chunk_id: a hash of (tenant, doc_id, seq, model) as the embedder's is;
    // content_sha256 of the text, as the embedder writes it.
    let insert = """
        INSERT INTO chunks (chunk_id, doc_id, seq, tenant, visibility, text, content_sha256, model, embedding)
        SELECT encode(sha256(convert_to(r.tenant || '/' || r.doc_id || '/' || r.seq || '/' || $5, 'UTF8')), 'hex'),
               r.doc_id, r.seq, r.tenant, r.visibility, r.text,
               encode(sha256(convert_to(r.text, 'UTF8')), 'hex'), $5, r.embedding
        FROM (
            SELECT u.*, format('Synthetic chunk %s of %s (%s, %s). ', u.seq, u.doc_id, u.tenant, u.visibility)
                        || repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 12) AS text
            FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $6::vector[])
                AS u(doc_id, seq, tenant, visibility, embedding)
        ) r
        """
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        func addBatch() {
            let range = batches[next]
            next += 1
            group.addTask {
                let rows = range.map { corpus.chunk($0) }
                let docs = "{" + range.map { "bench-doc-\($0 / 20)" }.joined(separator: ",") + "}"
                let seqs = "{" + range.map { String($0 % 20) }.joined(separator: ",") + "}"
                let rowTenants = "{" + rows.map(\.tenant).joined(separator: ",") + "}"
                let rowVisibilities = "{" + rows.map(\.visibility).joined(separator: ",") + "}"
                let embeddings = vectorArrayLiteral(rows.map(\.embedding))
                let result = try await pool.query(insert, docs, seqs, rowTenants, rowVisibilities, model, embeddings)
                guard result.affectedRows == range.count else {
                    throw PostgresError(code: .server, message: "inserted \(result.affectedRows ?? -1) rows, not \(range.count)")
                }
            }
        }
        for _ in 0..<min(2, batches.count) { addBatch() }
        var done = 0
        while try await group.next() != nil {
            done += 1
            if done % max(1, batches.count / 10) == 0 { log("  loaded \(min(done * options.batch, options.chunks)) rows") }
            if next < batches.count { addBatch() }
        }
    }
}

// MARK: - Measurements

struct Pass {
    var efSearch: Int
    /// Retriever calls of the pass (warm-up included) and the HNSW index scans counted meanwhile.
    var calls: Int
    var indexScans: Int
    var recall: Double
    var recallByTier: [String: Double]
    var shortResults: Int
    var latencies: [Double]  // ms, sorted

    func percentile(_ p: Double) -> Double {
        latencies[max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1)]
    }
}

func exactTopK(_ query: Corpus.Query, pool: PostgresPool) async throws -> [String] {
    try await pool.withTransaction { connection in
        // No index scan: the HNSW index would make this approximate; a sequential scan and a top-N sort is exact.
        try await connection.query("SET LOCAL enable_indexscan = off")
        try await connection.query("SET LOCAL enable_bitmapscan = off")
        return try await connection.query(
            """
            SELECT chunk_id FROM chunks
            WHERE tenant = $2 AND model = $3 AND visibility = ANY (string_to_array($4, ','))
            ORDER BY embedding <=> $1::vector, chunk_id
            LIMIT $5
            """,
            query.embedding, query.tenant, model, query.visibilities.joined(separator: ","), topK
        ).map { try $0.decode(String.self, at: 0) }
    }
}

/// Fails unless the exact query's plan for `query` is a sequential scan (a top-N sort over every row that
/// passes the filter), never the approximate HNSW index.
func checkExactPlan(_ query: Corpus.Query, pool: PostgresPool) async throws {
    let plan = try await pool.withTransaction { connection in
        try await connection.query("SET LOCAL enable_indexscan = off")
        try await connection.query("SET LOCAL enable_bitmapscan = off")
        return try await connection.query(
            """
            EXPLAIN SELECT chunk_id FROM chunks
            WHERE tenant = $2 AND model = $3 AND visibility = ANY (string_to_array($4, ','))
            ORDER BY embedding <=> $1::vector, chunk_id LIMIT $5
            """,
            query.embedding, query.tenant, model, query.visibilities.joined(separator: ","), topK
        ).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
    }
    guard !plan.contains("chunks_embedding_hnsw"), plan.contains("Seq Scan") else {
        throw PostgresError(code: .server, message: "the exact query's plan is not a sequential scan:\n\(plan)")
    }
}

/// Fails unless the retriever's plan for `query` scans the HNSW index (with a selective filter the planner
/// could prefer a sequential scan: exact, so recall 1.0, and not the search the rag-chain relies on).
func checkApproximatePlan(_ query: Corpus.Query, retriever: ChunkRetriever) async throws {
    let plan = try await retriever.explain(query.embedding, tenant: query.tenant, visibilities: query.visibilities, topK: topK)
    guard plan.contains("Index Scan using chunks_embedding_hnsw") else {
        throw PostgresError(code: .server, message: "the retriever's plan (\(query.tier), \(query.tenant)) does not scan the HNSW index:\n\(plan)")
    }
}

/// How many scans the HNSW index has served since the statistics were reset (all backends' flushed counts).
func hnswIndexScans(pool: PostgresPool) async throws -> Int {
    try await pool.query("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'chunks_embedding_hnsw'").singleValue(Int.self)
}

/// One pass at `efSearch`, on a connection of its own (closed at the end, so that its backend's index-scan
/// count reaches pg_stat_user_indexes, read through `pool`).
func measure(efSearch: Int, queries: [Corpus.Query], exact: [[String]], warmUp: [Corpus.Query], pool: PostgresPool) async throws -> Pass {
    var configuration = pool.configuration
    configuration.maxConnections = 1
    configuration.applicationName = "retrieval-bench-search"
    let searchPool = PostgresPool(configuration: configuration)
    let retriever = ChunkRetriever(pool: searchPool, model: model, minScore: -1, efSearch: efSearch)
    for tier in tierNames {
        for tenant in tenants {
            for query in queries.lazy.filter({ $0.tier == tier && $0.tenant == tenant }).prefix(3) {
                try await checkApproximatePlan(query, retriever: retriever)
            }
        }
    }
    let scansBefore = try await hnswIndexScans(pool: pool)
    for query in warmUp {
        _ = try await retriever.retrieve(query.embedding, tenant: query.tenant, visibilities: query.visibilities, topK: topK)
    }
    var latencies: [Double] = []
    latencies.reserveCapacity(queries.count)
    var recallSum = 0.0, shortResults = 0
    var byTier: [String: (sum: Double, count: Int)] = [:]
    let clock = ContinuousClock()
    for (index, query) in queries.enumerated() {
        let started = clock.now
        let found = try await retriever.retrieve(query.embedding, tenant: query.tenant, visibilities: query.visibilities, topK: topK)
        latencies.append(seconds(clock.now - started) * 1000)
        if found.count < topK { shortResults += 1 }
        let truth = Set(exact[index])
        let recall = truth.isEmpty ? 1 : Double(found.filter { truth.contains($0.chunkID) }.count) / Double(truth.count)
        recallSum += recall
        byTier[query.tier, default: (0, 0)].sum += recall
        byTier[query.tier, default: (0, 0)].count += 1
    }
    await searchPool.close()
    // A backend flushes its statistics when it exits; wait for that (a few hundred ms at most, normally).
    let calls = warmUp.count + queries.count
    var indexScans = try await hnswIndexScans(pool: pool) - scansBefore
    for _ in 0..<150 where indexScans < calls {
        try await Task.sleep(for: .milliseconds(100))
        indexScans = try await hnswIndexScans(pool: pool) - scansBefore
    }
    guard indexScans >= calls else {
        throw PostgresError(code: .server, message: "the HNSW index served \(indexScans) scans for \(calls) retriever calls (ef_search \(efSearch))")
    }
    return Pass(efSearch: efSearch, calls: calls, indexScans: indexScans, recall: recallSum / Double(queries.count),
                recallByTier: byTier.mapValues { $0.sum / Double($0.count) }, shortResults: shortResults,
                latencies: latencies.sorted())
}

// MARK: - Run

let options = Options.fromEnvironment()
let recallGoal = 0.95, p99GoalMs = 20.0
let clock = ContinuousClock()
let databaseName = "bench_retrieval_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
let admin = PostgresPool(configuration: .init(connectionString: options.databaseURL, maxConnections: 1, applicationName: "retrieval-bench"))
let pool = PostgresPool(configuration: .init(
    connectionString: connectionString(options.databaseURL, database: databaseName), maxConnections: 2,
    applicationName: "retrieval-bench", callTimeout: .seconds(3600)))

func run() async throws {
    let serverVersion = try await admin.query("SHOW server_version").singleValue(String.self)
    try await admin.query("CREATE DATABASE \(databaseName)")
    log("database \(databaseName) on PostgreSQL \(serverVersion)")
    let applied = try await Migrator(pool: pool).migrate()
    let pgvector = try await pool.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'").singleValue(String.self)
    log("applied migrations \(applied.map(\.version)); pgvector \(pgvector)")

    // Bulk load with the HNSW index dropped, then the index as migration 0001 defines it.
    let indexDefinition = try await pool.query(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname = 'chunks_embedding_hnsw'"
    ).singleValue(String.self)
    // `… USING hnsw (embedding vector_cosine_ops) WITH (m='24')`, or pgvector's defaults without WITH.
    let indexParameters = indexDefinition.range(of: " WITH (").map { "HNSW " + indexDefinition[$0.upperBound...].dropLast() }
        ?? "HNSW m 16, ef_construction 64: pgvector's defaults"
    try await pool.query("DROP INDEX chunks_embedding_hnsw")
    let corpus = Corpus(options: options)
    log("loading \(options.chunks) chunks (\(options.clusters) clusters, noise \(options.noise), seed \(options.seed)), batches of \(options.batch)")
    let loadStarted = clock.now
    try await load(corpus, pool: pool)
    let loadSeconds = seconds(clock.now - loadStarted)
    log("  \(String(format: "%.1f", loadSeconds)) s; building the index: \(indexDefinition)")
    let indexStarted = clock.now
    let workers = try await pool.withConnection { connection in
        try await connection.query("SET maintenance_work_mem = '\(options.maintenanceWorkMem)'")
        try await connection.query(indexDefinition)
        return try await connection.query("SHOW max_parallel_maintenance_workers").singleValue(String.self)
    }
    let indexSeconds = seconds(clock.now - indexStarted)
    try await pool.query("ANALYZE chunks")
    let sizes = try await pool.query(
        "SELECT pg_total_relation_size('chunks') - pg_indexes_size('chunks') AS heap, pg_relation_size('chunks_embedding_hnsw')"
    ).singleRow()
    let heapMiB = Double(try sizes.decode(Int.self, at: 0)) / 1_048_576, indexMiB = Double(try sizes.decode(Int.self, at: 1)) / 1_048_576
    let sharedBuffers = try await pool.query("SHOW shared_buffers").singleValue(String.self)
    log("  index built in \(String(format: "%.1f", indexSeconds)) s")

    // Queries and their exact answers (two scans at a time).
    let queries = (0..<options.queries).map { corpus.query($0, set: 1) }
    let warmUp = (0..<options.warmUp).map { corpus.query($0, set: 2) }
    for tier in tierNames {
        guard let query = queries.first(where: { $0.tier == tier }) else { continue }
        try await checkExactPlan(query, pool: pool)
    }
    log("exact top \(topK) of \(queries.count) queries (sequential scans)")
    let exactStarted = clock.now
    let exact = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
        var results = [[String]](repeating: [], count: queries.count)
        var next = 0
        for _ in 0..<min(2, queries.count) {
            let index = next
            next += 1
            group.addTask { (index, try await exactTopK(queries[index], pool: pool)) }
        }
        while let (index, ids) = try await group.next() {
            results[index] = ids
            if next < queries.count {
                let index = next
                next += 1
                group.addTask { (index, try await exactTopK(queries[index], pool: pool)) }
            }
        }
        return results
    }
    let exactSeconds = seconds(clock.now - exactStarted)
    log("  \(String(format: "%.1f", exactSeconds)) s (\(String(format: "%.0f", exactSeconds * 1000 / Double(queries.count))) ms per query, two at a time)")

    var passes: [Pass] = []
    for efSearch in [options.efSearch] + options.efSweep.filter({ $0 != options.efSearch }) {
        log("ChunkRetriever.retrieve, ef_search \(efSearch): \(warmUp.count) warm-up queries, then \(queries.count) timed")
        passes.append(try await measure(efSearch: efSearch, queries: queries, exact: exact, warmUp: warmUp, pool: pool))
    }

    // Report.
    let tierCounts = Dictionary(grouping: queries, by: \.tier).mapValues(\.count)
    let number = { (value: Int) -> String in  // 100000 → 100,000
        var digits = String(value), groups: [Substring] = []
        while digits.count > 3 { groups.insert(Substring(digits.suffix(3)), at: 0); digits.removeLast(3) }
        return ([Substring(digits)] + groups).joined(separator: ",")
    }
    print("""

        retrieval: ChunkRetriever.retrieve(topK: \(topK), minScore: -1) — the rag-chain's query — on PostgreSQL \(serverVersion), pgvector \(pgvector)
        \(number(options.chunks)) chunks: 384-d unit vectors in \(options.clusters) clusters (noise \(options.noise)/dim, seed \(options.seed)), \
        \(tenants.count) tenants × \(visibilities.count) visibilities, one model
        load: \(String(format: "%.1f", loadSeconds)) s (\(number(Int(Double(options.chunks) / loadSeconds))) rows/s, INSERT … unnest, \
        \(options.batch) rows per statement, HNSW index dropped); index build: \(String(format: "%.1f", indexSeconds)) s \
        (\(indexParameters), maintenance_work_mem \(options.maintenanceWorkMem), \(workers) parallel workers)
        table \(String(format: "%.0f", heapMiB)) MiB, HNSW index \(String(format: "%.0f", indexMiB)) MiB, shared_buffers \(sharedBuffers)
        \(number(queries.count)) queries (noise \(options.queryNoise)/dim around random chunks; tiers: \
        \(tierNames.map { "\($0) \(tierCounts[$0] ?? 0)" }.joined(separator: ", "))), one at a time after \(warmUp.count) warm-up queries; \
        exact top \(topK): sequential scan with the same filter
        """)
    print()
    func row(_ columns: [String]) {
        let widths = [15, 10, 24, 8, 8, 8, 8, 14, 13]
        print(zip(columns, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " "))
    }
    row(["ef_search", "recall@10", "free/standard/enterprise", "short", "p50 ms", "p99 ms", "max ms", "recall ≥ 0.95", "p99 ≤ 20 ms"])
    for pass in passes {
        row([pass.efSearch == options.efSearch ? "\(pass.efSearch) (default)" : "\(pass.efSearch)",
             String(format: "%.4f", pass.recall),
             tierNames.map { String(format: "%.3f", pass.recallByTier[$0] ?? .nan) }.joined(separator: "/"),
             "\(pass.shortResults)",
             String(format: "%.2f", pass.percentile(0.50)), String(format: "%.2f", pass.percentile(0.99)),
             String(format: "%.2f", pass.latencies.last ?? .nan),
             pass.recall >= recallGoal ? "met" : "NOT met", pass.percentile(0.99) <= p99GoalMs ? "met" : "NOT met"])
    }
    print("(short: queries answered with fewer than \(topK) chunks)")
    print("checked: the exact scans' plans are sequential scans; the retriever's plans (3 queries per tier and tenant) scan")
    print("chunks_embedding_hnsw, and its scan counter (pg_stat_user_indexes) grew by "
        + passes.map { "\($0.indexScans) for \($0.calls) calls" }.joined(separator: ", ") + " (warm-up included)")
}

var status: Int32 = 0
do {
    try await run()
} catch {
    log("failed: \(error)")
    status = 1
}
await pool.close()
if options.keepDatabase {
    log("database \(databaseName) kept (BENCH_KEEP_DB=1)")
} else {
    do {
        try await admin.query("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
    } catch {
        log("could not drop database \(databaseName): \(error)")
        status = 1
    }
}
await admin.close()
exit(status)
