/// One column of a query result: its name and the OID of its Postgres data type.
///
/// A plain value, hence `Sendable`; shared by every `PostgresRow` of one result.
public struct PostgresColumn: Sendable, Hashable {
    /// The column's name as the server reported it (the alias when the query gives one).
    public let name: String
    /// The OID of the column's data type (`pg_type.oid`), e.g. 25 for `text`, 3802 for `jsonb`.
    /// Types created by extensions, such as pgvector's `vector`, have database-specific OIDs.
    public let dataTypeOID: UInt32

    /// Creates a column description.
    public init(name: String, dataTypeOID: UInt32) {
        self.name = name
        self.dataTypeOID = dataTypeOID
    }

    /// OIDs of built-in types this library decodes specially.
    enum OID {
        static let bool: UInt32 = 16
        static let bytea: UInt32 = 17
        static let int8: UInt32 = 20
        static let int2: UInt32 = 21
        static let int4: UInt32 = 23
        static let text: UInt32 = 25
        static let json: UInt32 = 114
        static let float4: UInt32 = 700
        static let float8: UInt32 = 701
        static let date: UInt32 = 1082
        static let timestamp: UInt32 = 1114
        static let timestamptz: UInt32 = 1184
        static let uuid: UInt32 = 2950
        static let jsonb: UInt32 = 3802
    }
}
