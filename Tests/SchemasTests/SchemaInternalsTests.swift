@testable import Schemas
import Testing

@Suite("Schema patterns, formats and compiler", .timeLimit(.minutes(1)))
struct SchemaInternalsTests {
    @Test("the bundled patterns take the fast path", arguments: [
        "^[A-Za-z0-9._:/-]+$", "^[0-9a-f]{64}$", "^[^\\u0000]*$", "^[a-z0-9_.:-]+$",
    ])
    func fastPath(_ source: String) {
        #expect(SchemaPattern.parseScalarRun(source) != nil)
    }

    @Test("fast-path patterns match like ECMA-262")
    func fastPathMatching() throws {
        let docID = try SchemaPattern("^[A-Za-z0-9._:/-]+$")
        #expect(docID.matches("handbook/2024:v2.pdf"))
        #expect(docID.matches("a-b"))
        #expect(!docID.matches(""))
        #expect(!docID.matches("a b"))
        #expect(!docID.matches("doc\n"))
        #expect(!docID.matches("é"))

        let hex = try SchemaPattern("^[0-9a-f]{64}$")
        #expect(hex.matches(String(repeating: "a0", count: 32)))
        #expect(!hex.matches(String(repeating: "a0", count: 32) + "0"))
        #expect(!hex.matches(String(repeating: "A0", count: 32)))

        let noNUL = try SchemaPattern("^[^\\u0000]*$")
        #expect(noNUL.matches(""))
        #expect(noNUL.matches("😀 text \n"))
        #expect(!noNUL.matches("a\u{0}"))

        let bounded = try SchemaPattern("^[\\d\\-x]{2,3}$")
        #expect(bounded.matches("1-"))
        #expect(bounded.matches("x9x"))
        #expect(!bounded.matches("1"))
        #expect(!bounded.matches("1234"))
        #expect(!bounded.matches("٣٣"))  // Arabic-Indic digits are not \d in ECMA-262
    }

    @Test("other patterns use the regex engine with ECMA-262 anchors and classes")
    func regexFallback() throws {
        #expect(SchemaPattern.parseScalarRun("^a(b|c)$") == nil)
        let alternation = try SchemaPattern("^a(b|c)$")
        #expect(alternation.matches("ab"))
        #expect(alternation.matches("ac"))
        #expect(!alternation.matches("ab\n"), "ECMA $ matches only at the very end")
        #expect(!alternation.matches("abc"))

        let unanchored = try SchemaPattern("b+")
        #expect(unanchored.matches("abbbc"), "patterns match anywhere")
        #expect(!unanchored.matches("ac"))

        let digits = try SchemaPattern("^\\d+(\\.\\d+)?$")
        #expect(digits.matches("3.14"))
        #expect(!digits.matches("٣"))
        let words = try SchemaPattern("^\\w+\\W\\w+$")
        #expect(words.matches("a_1 b"))
        #expect(!words.matches("ü b"))
        let dollarInClass = try SchemaPattern("^[$]\\$\\d$")
        #expect(dollarInClass.matches("$$5"))

        #expect(CompiledRegex.icuPattern(fromECMA: "^a[\\d$]\\w$") == "^a[0-9$][A-Za-z0-9_]\\z")
        #expect(throws: SchemaPattern.PatternError.self) { try SchemaPattern("(") }
    }

    @Test("uuid format")
    func uuid() {
        #expect(SchemaFormat.uuid.isValid("0f8fad5b-d9cb-469f-a165-70867728950e"))
        #expect(SchemaFormat.uuid.isValid("0F8FAD5B-D9CB-469F-A165-70867728950E"))
        #expect(SchemaFormat.uuid.isValid("00000000-0000-0000-0000-000000000000"))
        #expect(!SchemaFormat.uuid.isValid("0f8fad5bd9cb469fa16570867728950e"))
        #expect(!SchemaFormat.uuid.isValid("{0f8fad5b-d9cb-469f-a165-70867728950e}"))
        #expect(!SchemaFormat.uuid.isValid("urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"))
        #expect(!SchemaFormat.uuid.isValid("0f8fad5b-d9cb-469f-a165-70867728950"))
        #expect(!SchemaFormat.uuid.isValid("0f8fad5b-d9cb-469f-a165-70867728950g"))
        #expect(!SchemaFormat.uuid.isValid("0f8fad5b-d9cb-469fa-165-70867728950e"))
        #expect(!SchemaFormat.uuid.isValid(""))
    }

    @Test("date-time format", arguments: [
        ("2025-01-31T12:00:00Z", true),
        ("2025-01-31t12:00:00z", true),
        ("2025-01-31T12:00:00.123456+05:30", true),
        ("2025-01-31T12:00:00-00:00", true),
        ("2024-02-29T00:00:00Z", true),
        ("2000-02-29T00:00:00Z", true),
        ("1998-12-31T23:59:60Z", true),
        ("1998-12-31T15:59:60.5-08:00", true),
        ("1998-12-31T23:58:60Z", false),
        ("2023-02-29T00:00:00Z", false),
        ("1900-02-29T00:00:00Z", false),
        ("2025-04-31T00:00:00Z", false),
        ("2025-13-01T00:00:00Z", false),
        ("2025-00-01T00:00:00Z", false),
        ("2025-01-01T24:00:00Z", false),
        ("2025-01-01T12:60:00Z", false),
        ("2025-01-01T12:00:00", false),
        ("2025-01-01 12:00:00Z", false),
        ("2025-01-01T12:00Z", false),
        ("2025-01-01T12:00:00.Z", false),
        ("2025-01-01T12:00:00+0100", false),
        ("2025-01-01T12:00:00+24:00", false),
        ("2025-01-01", false),
        ("2025-01-01T12:00:00Z ", false),
        ("２０２５-01-01T12:00:00Z", false),
    ])
    func dateTime(_ text: String, _ valid: Bool) {
        #expect(SchemaFormat.dateTime.isValid(text) == valid)
    }

    /// Compiles one ad-hoc schema and validates `value` against it.
    private func violations(_ schema: JSONValue, _ value: JSONValue) throws -> [String] {
        var compiler = SchemaCompiler()
        let document = schema.setting("$schema", .string(SchemaCompiler.draft202012))
            .setting("$id", "https://schemas.kafka-rag.example/test.json")
        let root = try compiler.addDocument(document, fileName: "test.json")
        try compiler.resolveReferences()
        var validation = SchemaValidation(nodes: compiler.nodes)
        validation.validate(value, against: root)
        return validation.violations.map { "\($0.pointer) \($0.keyword): \($0.message)" }
    }

    @Test("keywords the bundled schemas do not use yet")
    func otherKeywords() throws {
        #expect(try violations(["const": "v1"], "v2") == [" const: must be v1"])
        #expect(try violations(["const": ["a": 1]], ["a": 1.0]) == [])
        #expect(try violations(["exclusiveMinimum": 0], 0) == [" exclusiveMinimum: must be greater than 0"])
        #expect(try violations(["exclusiveMaximum": 1.5], 1.25) == [])
        #expect(try violations(["minProperties": 1], [:]) == [" minProperties: must have at least 1 property"])
        #expect(try violations(["properties": ["x": false]], ["x": 1]) == ["/x false: is not allowed"])
        #expect(try violations(["additionalProperties": ["type": "integer"]], ["a": 1, "b": "2"]) == ["/b type: must be an integer"])
        #expect(try violations(["type": ["string", "null"]], 3) == [" type: must be a string or null"])
        #expect(try violations(["type": "number"], 3) == [])
        #expect(try violations(["type": "integer"], 3.0) == [])
        #expect(try violations(["enum": [1, "a", nil]], 1.0) == [])
        #expect(try violations(["enum": [1, "a", nil]], 2) == [" enum: must be one of 1, a, null"])
    }

    @Test("bounds compare exactly beyond 2^53")
    func exactBounds() throws {
        #expect(try violations(["maximum": 9_007_199_254_740_992], 9_007_199_254_740_993) == [" maximum: must be at most 9007199254740992"])
        #expect(try violations(["maximum": 9_007_199_254_740_992.0], 9_007_199_254_740_993).count == 1)
        #expect(try violations(["minimum": 0.5], 0).count == 1)
        #expect(try violations(["minimum": 0.5], 1) == [])
        #expect(try violations(["maximum": 1e300], .integer(Int.max)) == [])
        #expect(try violations(["minimum": -1e300], .integer(Int.min)) == [])
    }

    @Test("$ref to $defs and to other documents; cycles are rejected")
    func references() throws {
        let schema: JSONValue = [
            "$defs": ["id": ["type": "string", "maxLength": 3], "list": ["type": "array", "items": ["$ref": "#/$defs/id"]]],
            "properties": ["ids": ["$ref": "#/$defs/list"], "me": ["$ref": "#"]],
        ]
        #expect(try violations(schema, ["ids": ["abc", "abcd", 1]]) == ["/ids/1 maxLength: must be at most 3 characters", "/ids/2 type: must be a string"])
        #expect(try violations(schema, ["me": ["me": ["ids": [7]]]]) == ["/me/me/ids/0 type: must be a string"])

        let percentEncoded: JSONValue = ["$defs": ["a%b": ["type": "null"]], "$ref": "#/$defs/a%25b"]
        #expect(try violations(percentEncoded, 1) == [" type: must be null"])

        #expect(throws: SchemaRegistryError.self) {
            try violations(["$defs": ["a": ["$ref": "#/$defs/b"], "b": ["$ref": "#/$defs/a"]]], 1)
        }
        #expect(throws: SchemaRegistryError.self) { try violations(["$ref": "#anchor"], 1) }
        #expect(throws: SchemaRegistryError.self) { try violations(["$ref": "../up.json"], 1) }
        #expect(throws: SchemaRegistryError.self) { try violations(["items": [["type": "string"]]], 1) }
        #expect(throws: SchemaRegistryError.self) { try violations(["properties": ["x": ["$id": "nested"]]], 1) }
    }
}
