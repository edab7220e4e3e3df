public import Foundation
public import Logging

/// Applies versioned SQL files (`NNNN_name.sql`) to the database, in version order, each exactly once.
///
/// **Files.** By default the files bundled with this module (`Shared/Persistence/Migrations`, found through
/// `Bundle.module`); `directory` overrides that (tests, operators). Other files in the folder are ignored;
/// two files with the same version are an error. A file may hold several statements.
///
/// **Guarantees.** Each file runs in its own transaction together with its row in the migrations table
/// (`schema_migrations` unless told otherwise: version, name, md5 checksum, applied_at), so a file is applied
/// completely or not at all. Every transaction first takes `pg_advisory_xact_lock` on a key derived from
/// the table name, so several workers starting at once apply each file once: the others wait, then see it
/// recorded. A recorded file whose checksum changed is refused (edit history by adding a new file instead).
///
/// **Threading.** A value holding a pool; safe to use from any task, hence `Sendable`.
public struct Migrator: Sendable {
    /// One migration file.
    public struct Migration: Sendable, Hashable {
        /// The number in front of the file name (`0001_initial.sql` → 1).
        public let version: Int
        /// The rest of the file name without extension (`initial`).
        public let name: String
        /// The file's SQL text.
        public let sql: String
        /// Where it was read from.
        public let url: URL
    }

    private let pool: PostgresPool
    private let directory: URL?
    private let table: String
    private let logger: Logger

    /// Creates a migrator.
    /// - Parameters:
    ///   - pool: where to apply the migrations.
    ///   - directory: a folder of `NNNN_name.sql` files to use instead of the bundled ones.
    ///   - table: the bookkeeping table, a lower-case SQL identifier (letters, digits, `_`).
    public init(
        pool: PostgresPool,
        directory: URL? = nil,
        table: String = "schema_migrations",
        logger: Logger = Logger(label: "persistence.migrator")
    ) {
        self.pool = pool
        self.directory = directory
        self.table = table
        self.logger = logger
    }

    /// The folder of migrations bundled with the module (copied next to the executables by SwiftPM as
    /// `kafka-rag_Persistence.resources`; container images must ship that folder too).
    public static func bundledDirectory() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw PostgresError(code: .migration, message: "the Migrations folder is missing from the Persistence resource bundle")
        }
        return url
    }

    /// Reads and orders the `NNNN_name.sql` files of a folder.
    /// - Throws: `PostgresError` (`.migration`) for an unreadable folder or file, or a duplicated version.
    public static func loadMigrations(from directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PostgresError(code: .migration, message: "cannot list migrations in \(directory.path): \(error)")
        }
        var migrations: [Migration] = []
        for fileName in names where fileName.hasSuffix(".sql") {
            let stem = fileName.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                  let version = Int(stem[..<underscore]), version > 0,
                  stem[..<underscore].allSatisfy(\.isASCII)
            else {
                throw PostgresError(code: .migration, message: "migration file \(fileName) is not named NNNN_name.sql")
            }
            let url = directory.appendingPathComponent(fileName)
            let sql: String
            do {
                sql = try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw PostgresError(code: .migration, message: "cannot read migration \(url.path): \(error)")
            }
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql, url: url))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw PostgresError(code: .migration, message: "two migrations have version \(next.version): \(previous.url.lastPathComponent), \(next.url.lastPathComponent)")
        }
        return migrations
    }

    /// The migrations this migrator would apply, in order.
    public func migrations() throws -> [Migration] {
        try Self.loadMigrations(from: directory ?? Self.bundledDirectory())
    }

    /// Applies every migration not yet recorded, in version order, and returns those it applied (empty
    /// when the database was up to date). Stops at the first failing file: that file leaves no trace, the
    /// ones before it stay applied.
    /// - Throws: `PostgresError` — `.migration` for bad files or a changed checksum, `.server` for SQL that
    ///   fails, or a connection failure.
    @discardableResult
    public func migrate() async throws -> [Migration] {
        let table = try validatedTable()
        var applied: [Migration] = []
        for migration in try migrations() {
            let didApply = try await pool.withTransaction { connection in
                try await apply(migration, table: table, on: connection)
            }
            if didApply {
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration)
            }
        }
        return applied
    }

    /// ``migrate()`` for a worker starting up: while the database cannot be reached it logs a warning and
    /// tries again, waiting twice as long each time up to `maxDelay`, until it succeeds or the task is
    /// cancelled. Errors that retrying cannot fix (a bad migration, failing SQL) are thrown at once.
    @discardableResult
    public func migrateWhenReachable(firstDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(10)) async throws -> [Migration] {
        var delay = firstDelay
        while true {
            do {
                return try await migrate()
            } catch let error as PostgresError where error.isConnectionFailure {
                logger.warning("database unreachable; migrations wait for it", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, maxDelay)
            }
        }
    }

    /// The versions recorded in the migrations table, ascending (empty when the table does not exist).
    public func appliedVersions() async throws -> [Int] {
        let table = try validatedTable()
        let exists = try await pool.query("SELECT to_regclass($1) IS NOT NULL", table).singleValue(Bool.self)
        guard exists else { return [] }
        return try await pool.query("SELECT version FROM \(table) ORDER BY version").map { try $0.decode(Int.self, at: 0) }
    }

    /// Inside the caller's transaction: lock, make sure the table exists, skip or apply, record.
    private func apply(_ migration: Migration, table: String, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", "kafka-rag migrations: " + table)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS \(table) (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """)
        let recorded = try await connection.query(
            "SELECT checksum, md5($2) FROM \(table) WHERE version = $1", migration.version, migration.sql
        )
        if let row = recorded.first {
            let (stored, current) = (try row.decode(String.self, at: 0), try row.decode(String.self, at: 1))
            guard stored == current else {
                throw PostgresError(
                    code: .migration,
                    message: "migration \(migration.url.lastPathComponent) was changed after it was applied (checksum \(stored), now \(current)); add a new migration instead"
                )
            }
            return false
        }
        try await connection.executeScript(migration.sql)
        try await connection.query(
            "INSERT INTO \(table) (version, name, checksum) VALUES ($1, $2, md5($3))",
            migration.version, migration.name, migration.sql
        )
        return true
    }

    private func validatedTable() throws -> String {
        let valid = !table.isEmpty && table.count <= 63
            && table.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !("0"..."9").contains(table.unicodeScalars.first!)
        guard valid else {
            throw PostgresError(code: .migration, message: "migrations table name \"\(table)\" must be a lower-case identifier")
        }
        return table
    }
}
