import Foundation
@testable import Persistence
import Testing

/// Unit tests: value encoding and decoding, and migration file discovery. Need no database.
@Suite struct PostgresValueCodingTests {
    static func cell(_ text: String?, oid: UInt32 = 25) -> PostgresCell {
        PostgresCell(text: text, column: PostgresColumn(name: "c", dataTypeOID: oid), columnIndex: 0)
    }

    @Test(arguments: [
        ("2024-02-29 23:59:59.5+05:30", 1_709_231_399.5),
        ("2024-02-29 18:29:59.5+00", 1_709_231_399.5),
        ("2024-02-29T18:29:59.5Z", 1_709_231_399.5),
        ("1970-01-01 00:00:00", 0),
        ("1969-12-31 23:59:59-00:00:01", 0),
        ("2000-01-01", 946_684_800),
        ("2038-01-19 03:14:08.000001+00", 2_147_483_648.000001),
        ("1900-03-01 00:00:00+00", -2_203_891_200),
    ])
    func timestampsParse(text: String, seconds: Double) throws {
        let date = try #require(PostgresTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test(arguments: ["", "infinity", "2024-13-01", "2024-01-01 25:00", "2024-01-01 10:00:00 BC", "2024-01-01 10:00:00+", "abc"])
    func malformedTimestampsAreRejected(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test func timestampFormatRoundTrips() throws {
        for seconds in [0.0, -1.5, 1_700_000_000.123456, 4_102_444_800.999999, -2_208_988_800] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = try #require(date.postgresText())
            let parsed = try #require(PostgresTimestamp.parse(text))
            #expect(abs(parsed.timeIntervalSince1970 - seconds) < 1e-6, "\(text)")
        }
        #expect(Date(timeIntervalSince1970: 0).postgresText() == "1970-01-01 00:00:00.000000+00:00")
    }

    @Test func vectorsEncodeAndDecode() throws {
        let vector: [Float] = [1, -2.5, 3e-05, 0.1]
        #expect(try vector.postgresText() == "[1.0,-2.5,3e-05,0.1]")
        #expect(try [Float].decode(from: Self.cell("[1,-2.5,3e-05,0.1]")) == vector)
        #expect(try [Float].decode(from: Self.cell("{1, -2.5, 3e-05, 0.1}")) == vector)
        #expect(try [Float].decode(from: Self.cell("[]")) == [])
        #expect(throws: PostgresError.self) { try [Float].decode(from: Self.cell("[1,,2]")) }
        #expect(throws: PostgresError.self) { try [Float].decode(from: Self.cell("1,2")) }
        #expect(throws: PostgresError.self) { try [Float.infinity].postgresText() }
    }

    @Test func byteaHexRoundTrips() throws {
        let data = Data((0...255).map { UInt8($0) })
        let text = try #require(data.postgresText())
        #expect(text.hasPrefix("\\x000102"))
        #expect(try Data.decode(from: Self.cell(text, oid: 17)) == data)
        #expect(try Data.decode(from: Self.cell(#"{"a":1}"#, oid: 3802)) == Data(#"{"a":1}"#.utf8))
        #expect(throws: PostgresError.self) { try Data.decode(from: Self.cell("\\x0", oid: 17)) }
    }

    @Test func scalarsDecodeAndNullNeedsOptional() throws {
        #expect(try Bool.decode(from: Self.cell("t")) == true)
        #expect(try Bool.decode(from: Self.cell("f")) == false)
        #expect(try Int.decode(from: Self.cell("-42")) == -42)
        #expect(try Double.decode(from: Self.cell("NaN")).isNaN)
        #expect(try Double.decode(from: Self.cell("-Infinity")) == -.infinity)
        #expect(try String?.decode(from: Self.cell(nil)) == nil)
        let error = #expect(throws: PostgresError.self) { try Int.decode(from: Self.cell(nil)) }
        #expect(error?.code == .decoding)
        #expect(throws: PostgresError.self) { try Int.decode(from: Self.cell("4.5")) }
        #expect(throws: PostgresError.self) { try UUID.decode(from: Self.cell("not-a-uuid")) }
        #expect(Double.infinity.postgresText() == "Infinity")
        #expect((0.1 as Double).postgresText() == "0.1")
        let none: Int? = nil
        #expect(try none.postgresText() == nil)
    }

    @Test func rowsDecodeByNameAndPosition() throws {
        let columns = [PostgresColumn(name: "id", dataTypeOID: 23), PostgresColumn(name: "name", dataTypeOID: 25)]
        let row = PostgresRow(columns: columns, values: ["7", nil])
        #expect(try row.decode(Int.self, column: "id") == 7)
        #expect(try row.decode(String?.self, at: 1) == nil)
        #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "missing") }
        #expect(throws: PostgresError.self) { try row.decode(Int.self, at: 5) }
    }

    @Test func connectionErrorsAreClassified() {
        #expect(PostgresError(code: .server, sqlState: "08006", message: "x").isConnectionFailure)
        #expect(PostgresError(code: .server, sqlState: "57P01", message: "x").isConnectionFailure)
        #expect(!PostgresError(code: .server, sqlState: "42601", message: "x").isConnectionFailure)
        #expect(PostgresError(code: .connectionFailed, message: "x").isConnectionFailure)
    }

    @Test func bundledMigrationsAreFoundInOrder() throws {
        let migrations = try Migrator.loadMigrations(from: Migrator.bundledDirectory())
        #expect(migrations.first?.version == 1)
        #expect(migrations.first?.name == "initial")
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
    }

    @Test func badFileNamesAndDuplicateVersionsAreRejected() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestDatabase.uniqueName("migbad"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "SELECT 1;".write(to: directory.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: directory.appendingPathComponent("0001_b.sql"), atomically: true, encoding: .utf8)
        #expect(throws: PostgresError.self) { try Migrator.loadMigrations(from: directory) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("0001_b.sql"))
        try "SELECT 1;".write(to: directory.appendingPathComponent("initial.sql"), atomically: true, encoding: .utf8)
        #expect(throws: PostgresError.self) { try Migrator.loadMigrations(from: directory) }
    }
}
