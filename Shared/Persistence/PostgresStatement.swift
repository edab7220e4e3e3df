/// One statement with its parameters already in text form: an element of a pipeline
/// (`PostgresConnection.pipeline(_:)`), which sends several statements in one round trip.
public struct PostgresStatement: Sendable {
    /// The SQL, with parameters `$1`, `$2`, …
    public let sql: String
    /// The parameters' text forms in order; `nil` is SQL NULL.
    public let parameters: [String?]

    /// A statement with parameters `$1`, `$2`, … given in order, as for `PostgresConnection.query(_:_:)`.
    /// - Throws: `PostgresError` (`.encoding`) for a parameter without a text form.
    public init(_ sql: String, _ parameters: (any PostgresEncodable)?...) throws {
        try self.init(sql, parameters: parameters)
    }

    /// A statement with an array of parameters (for statements built at run time).
    /// - Throws: `PostgresError` (`.encoding`) for a parameter without a text form.
    public init(_ sql: String, parameters: [(any PostgresEncodable)?]) throws {
        self.sql = sql
        self.parameters = try parameters.map { parameter throws -> String? in try parameter?.postgresText() ?? nil }
    }
}
