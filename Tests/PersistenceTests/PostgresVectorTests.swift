import Foundation
import Persistence
import TestSupport
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(3)))
struct PostgresVectorTests {
    static func cosineDistance(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, normA = 0.0, normB = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            normA += Double(x) * Double(x)
            normB += Double(y) * Double(y)
        }
        return 1 - dot / (normA.squareRoot() * normB.squareRoot())
    }

    @Test func vectorRoundTripIsExact() async throws {
        try await TestDatabase.withConnection { connection in
            let table = TestDatabase.uniqueName("vec_roundtrip")
            try await connection.query("CREATE TABLE \(table) (id int PRIMARY KEY, embedding vector(6))")
            let vector: [Float] = [0.1, -3.25, 1e-5, 123_456.78, -0.0, Float.leastNormalMagnitude]
            try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", 1, vector)
            try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", 2, nil)
            let rows = try await connection.query("SELECT embedding FROM \(table) ORDER BY id")
            #expect(try rows[0].decode([Float].self, at: 0) == vector)
            #expect(try rows[1].decode([Float]?.self, at: 0) == nil)
            // Also as a cast parameter, and a distance computed by the server.
            let distance = try await connection.query(
                "SELECT embedding <=> $1::vector FROM \(table) WHERE id = 1", vector
            ).singleValue(Double.self)
            #expect(abs(distance) < 1e-6)
            // Wrong dimension and non-finite values are rejected with clear errors.
            let wrongDimension = await #expect(throws: PostgresError.self) {
                try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", 3, [Float](repeating: 1, count: 5))
            }
            #expect(wrongDimension?.sqlState == "22000")
            #expect(wrongDimension?.isConnectionFailure == false)
            let notFinite = await #expect(throws: PostgresError.self) {
                try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", 3, [Float](arrayLiteral: 1, .nan, 1, 1, 1, 1))
            }
            #expect(notFinite?.code == .encoding)
            try await connection.query("DROP TABLE \(table)")
        }
    }

    @Test func cosineTopKUsesTheHNSWIndexAndMatchesBruteForce() async throws {
        let dimensions = 16
        let count = 400
        let k = 10
        var random = SeededRandom(seed: 20_240_501)
        func randomVector() -> [Float] {
            (0..<dimensions).map { _ in Float.random(in: -1...1, using: &random) }
        }
        let vectors = (0..<count).map { _ in randomVector() }
        let query = randomVector()

        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let table = TestDatabase.uniqueName("vec_hnsw")
            let index = table + "_hnsw"
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY, embedding vector(\(dimensions)) NOT NULL)")
            try await pool.withTransaction { tx in
                for (id, vector) in vectors.enumerated() {
                    try await tx.query("INSERT INTO \(table) (id, embedding) VALUES ($1, $2)", id, vector)
                }
            }
            try await pool.query("CREATE INDEX \(index) ON \(table) USING hnsw (embedding vector_cosine_ops)")
            try await pool.query("ANALYZE \(table)")

            let sql = "SELECT id, embedding <=> $1::vector AS distance FROM \(table) ORDER BY embedding <=> $1::vector LIMIT \(k)"
            let (plan, results) = try await pool.withTransaction { tx in
                // Settings local to this transaction: the planner must not choose a sequential scan, and
                // the graph search looks at every candidate so the approximate index is exact here.
                try await tx.query("SET LOCAL enable_seqscan = off")
                try await tx.query("SET LOCAL hnsw.ef_search = \(count)")
                let plan = try await tx.query("EXPLAIN " + sql, query).map { try $0.decode(String.self, at: 0) }
                let results = try await tx.query(sql, query)
                return (plan.joined(separator: "\n"), results)
            }
            #expect(plan.contains("Index Scan using \(index)"), "plan:\n\(plan)")

            let bruteForce = vectors.enumerated()
                .map { (id: $0.offset, distance: Self.cosineDistance($0.element, query)) }
                .sorted { $0.distance < $1.distance }
                .prefix(k)
            let ids = try results.map { try $0.decode(Int.self, column: "id") }
            let distances = try results.map { try $0.decode(Double.self, column: "distance") }
            #expect(ids == bruteForce.map(\.id))
            for (server, swift) in zip(distances, bruteForce.map(\.distance)) {
                #expect(abs(server - swift) < 1e-5)
            }
            await TestDatabase.drop(table, using: pool)
        }
    }
}
