import Foundation
import Synchronization
import Persistence
import Testing

/// Where the integration tests find Postgres: `RAG_DATABASE_URL` (set by `make test`, or by hand after
/// `scripts/local-postgres.sh start .run/pg-dev`). Without it the suites are skipped locally, but they run
/// — and fail — when `CI` is set, so CI never passes by silently skipping.
enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment

    static var url: String? {
        guard let value = environment["RAG_DATABASE_URL"], !value.isEmpty else { return nil }
        return value
    }

    /// For `.enabled(if:)`: run when a database is configured, or in CI (where a missing one is a failure).
    static var shouldRun: Bool { url != nil || environment["CI"] != nil }

    static let skipMessage: Comment =
        "RAG_DATABASE_URL is not set; start Postgres with scripts/local-postgres.sh start .run/pg-dev"

    struct Missing: Error, CustomStringConvertible {
        var description: String { "RAG_DATABASE_URL is not set (CI is set, so this is a failure, not a skip)" }
    }

    static func requireURL() throws -> String {
        guard let url else { throw Missing() }
        return url
    }

    /// A fresh lower-case identifier for a table, channel or application name, so tests never collide.
    static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    }

    /// A pool whose sessions carry their own `application_name`, so a test can find (and kill) exactly them.
    static func makePool(maxConnections: Int = 4, applicationName: String = uniqueName("pooltest")) throws -> PostgresPool {
        PostgresPool(configuration: .init(
            connectionString: try requireURL(),
            maxConnections: maxConnections,
            applicationName: applicationName
        ))
    }

    /// Runs `body` with a fresh standalone connection and closes it afterwards, also when `body` throws.
    static func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(to: try requireURL())
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Runs `body` with a fresh pool and closes it afterwards, also when `body` throws.
    static func withPool<T>(
        maxConnections: Int = 4,
        applicationName: String = uniqueName("pooltest"),
        _ body: (PostgresPool) async throws -> T
    ) async throws -> T {
        let pool = try makePool(maxConnections: maxConnections, applicationName: applicationName)
        do {
            let value = try await body(pool)
            await pool.close()
            return value
        } catch {
            await pool.close()
            throw error
        }
    }

    /// Drops tables after a test; failures are ignored (the database may be gone in fault tests).
    static func drop(_ tables: String..., using pool: PostgresPool) async {
        for table in tables {
            _ = try? await pool.query("DROP TABLE IF EXISTS \(table)")
        }
    }
}

/// A value shared between test tasks. `Sendable`: every access goes through the mutex.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}
