/// One value of one row, in Postgres's text format, with the column it came from.
///
/// The text was copied out of libpq's memory when the result arrived, so a cell is a plain value
/// (`Sendable`) that outlives the `PGresult`. `nil` text means SQL NULL.
public struct PostgresCell: Sendable, Hashable {
    /// The value in Postgres's text output format, or `nil` for SQL NULL.
    public let text: String?
    /// The column the value belongs to.
    public let column: PostgresColumn
    /// The column's position in the row, from 0.
    public let columnIndex: Int

    /// Creates a cell (mostly useful for testing decoders).
    public init(text: String?, column: PostgresColumn, columnIndex: Int) {
        self.text = text
        self.column = column
        self.columnIndex = columnIndex
    }

    /// `true` when the value is SQL NULL.
    public var isNull: Bool { text == nil }

    /// Decodes the value as `T`; use an `Optional` type to accept NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        try T.decode(from: self)
    }

    /// The text, or a decoding error naming the column and the wanted type when the value is NULL.
    func requireText(as typeName: String) throws -> String {
        guard let text else {
            throw PostgresError.decoding("column \"\(column.name)\" is NULL; decode it as \(typeName)? to accept NULL")
        }
        return text
    }

    /// A decoding error naming the column, the wanted type and (a prefix of) the text.
    func decodingError(_ typeName: String, _ reason: String? = nil) -> PostgresError {
        let shown = (text ?? "NULL").prefix(80)
        var message = "cannot decode column \"\(column.name)\" (type OID \(column.dataTypeOID)) value '\(shown)' as \(typeName)"
        if let reason { message += ": \(reason)" }
        return PostgresError.decoding(message)
    }
}
