/// The complete result of one statement, copied out of libpq's `PGresult` (which is freed at once).
///
/// A random-access collection of `PostgresRow`s, plus the command tag (`INSERT 0 3`, `SELECT 2`) and the
/// number of rows the command affected. A plain value, hence `Sendable`; it holds the whole result in
/// memory, so page large reads with `LIMIT`/keyset pagination.
public struct PostgresQueryResult: Sendable, RandomAccessCollection {
    /// The result's columns (empty for commands without a result set).
    public let columns: [PostgresColumn]
    /// The rows, in the order the server sent them.
    public let rows: [PostgresRow]
    /// The command tag, e.g. `INSERT 0 1`, `UPDATE 3`, `SELECT 10`, `CREATE TABLE`.
    public let commandTag: String
    /// Rows inserted, updated, deleted, selected, moved, fetched or copied; `nil` for other commands.
    public let affectedRows: Int?

    /// Creates a result.
    public init(columns: [PostgresColumn], rows: [PostgresRow], commandTag: String, affectedRows: Int?) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    /// The first row's index (0).
    public var startIndex: Int { rows.startIndex }
    /// One past the last row's index (the row count).
    public var endIndex: Int { rows.endIndex }
    /// The row at a position.
    public subscript(position: Int) -> PostgresRow { rows[position] }

    /// The only row; throws `PostgresError` (code `.decoding`) when there are zero or several rows.
    public func singleRow() throws -> PostgresRow {
        guard rows.count == 1 else {
            throw PostgresError.decoding("expected exactly one row, got \(rows.count) (\(commandTag))")
        }
        return rows[0]
    }

    /// Decodes the first column of the only row, e.g. `try result.singleValue(Int.self)` for `SELECT count(*)`.
    public func singleValue<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        try singleRow().decode(T.self, at: 0)
    }
}
