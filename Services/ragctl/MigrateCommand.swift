import ArgumentParser
import Foundation
import Logging
import Persistence

/// `ragctl migrate`: applies the versioned schema migrations (SPEC §6) to the database, idempotently.
/// Workers that use Postgres apply them at start too; this is for operators and CI.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the database schema migrations (idempotent; safe while workers run)."
    )

    @Option(help: "Postgres connection URI (default: $RAG_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "A folder of NNNN_name.sql files to apply instead of the bundled ones.")
    var directory: String?

    func run() async throws {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["RAG_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set RAG_DATABASE_URL")
        }
        let pool = PostgresPool(connectionString: url, maxConnections: 1)
        let migrator = Migrator(pool: pool, directory: directory.map { URL(fileURLWithPath: $0) })
        do {
            let applied = try await migrator.migrate()
            let versions = try await migrator.appliedVersions()
            print(applied.isEmpty
                ? "schema is up to date (versions \(versions.map(String.init).joined(separator: ", ")))"
                : "applied \(applied.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))")
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}
