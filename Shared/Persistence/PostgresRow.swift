/// One row of a query result: the columns and the values in text format, copied out of libpq.
///
/// Decode values with `decode(_:at:)` or `decode(_:column:)`; any `PostgresDecodable` type works, and an
/// `Optional` type turns SQL NULL into `nil` instead of an error. A plain value, hence `Sendable`.
public struct PostgresRow: Sendable, Hashable {
    /// The result's columns, in order (shared with the other rows of the same result).
    public let columns: [PostgresColumn]
    /// The values in text format, one per column; `nil` is SQL NULL.
    public let values: [String?]

    /// Creates a row; `values` must have one entry per column.
    public init(columns: [PostgresColumn], values: [String?]) {
        precondition(columns.count == values.count, "a row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The number of columns.
    public var count: Int { values.count }

    /// The cell at a column position (from 0). Traps when out of range, like an array.
    public subscript(index: Int) -> PostgresCell {
        PostgresCell(text: values[index], column: columns[index], columnIndex: index)
    }

    /// The cell of the first column with this name, or `nil` when there is no such column.
    public subscript(column name: String) -> PostgresCell? {
        guard let index = columns.firstIndex(where: { $0.name == name }) else { return nil }
        return self[index]
    }

    /// Decodes the value at a column position; throws `PostgresError` (code `.decoding`) when the position
    /// is out of range, the value is NULL and `T` is not optional, or the text is not a valid `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard values.indices.contains(index) else {
            throw PostgresError.decoding("column index \(index) out of range: the row has \(values.count) columns")
        }
        return try self[index].decode(T.self)
    }

    /// Decodes the value of the named column; throws `PostgresError` (code `.decoding`) when there is no
    /// such column, the value is NULL and `T` is not optional, or the text is not a valid `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let cell = self[column: name] else {
            let known = columns.map(\.name).joined(separator: ", ")
            throw PostgresError.decoding("no column \"\(name)\" in the row (columns: \(known))")
        }
        return try cell.decode(T.self)
    }
}
