import Schemas
import Testing

@Suite("JSONPointer", .timeLimit(.minutes(1)))
struct JSONPointerTests {
    @Test("tokens are escaped: ~ as ~0, / as ~1")
    func escaping() {
        #expect(JSONPointer.escape("a/b") == "a~1b")
        #expect(JSONPointer.escape("m~n") == "m~0n")
        #expect(JSONPointer.escape("~/") == "~0~1")
        #expect(JSONPointer.escape("plain") == "plain")
        #expect(JSONPointer(tokens: ["chunks", "3", "text"]).description == "/chunks/3/text")
        #expect(JSONPointer(tokens: ["a/b", "m~n", ""]).description == "/a~1b/m~0n/")
        #expect(JSONPointer.root.description == "")
        #expect(JSONPointer.root.appending("x/y").appending(index: 2).description == "/x~1y/2")
    }

    @Test("parsing undoes the escaping, ~1 before ~0")
    func parsing() throws {
        #expect(try JSONPointer(parsing: "/a~1b/m~0n/0").tokens == ["a/b", "m~n", "0"])
        #expect(try JSONPointer(parsing: "/~01").tokens == ["~1"])
        #expect(try JSONPointer(parsing: "").tokens == [])
        #expect(try JSONPointer(parsing: "/").tokens == [""])
        #expect(try JSONPointer(parsing: "//x").tokens == ["", "x"])
        #expect(throws: JSONPointerError.self) { try JSONPointer(parsing: "a") }
        #expect(throws: JSONPointerError.self) { try JSONPointer(parsing: "/~2") }
        #expect(throws: JSONPointerError.self) { try JSONPointer(parsing: "/a~") }
        let tricky = JSONPointer(tokens: ["~0", "/~1/", "ü"])
        #expect(try JSONPointer(parsing: tricky.description) == tricky)
    }

    @Test("pointers address values (RFC 6901 §5 examples)")
    func lookup() throws {
        let document = try JSONValue.parse(
            #"{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}"#
        )
        func at(_ pointer: String) throws -> JSONValue? {
            document[pointer: try JSONPointer(parsing: pointer)]
        }
        #expect(try at("") == document)
        #expect(try at("/foo") == ["bar", "baz"])
        #expect(try at("/foo/0") == "bar")
        #expect(try at("/") == 0)
        #expect(try at("/a~1b") == 1)
        #expect(try at("/c%d") == 2)
        #expect(try at("/e^f") == 3)
        #expect(try at("/g|h") == 4)
        #expect(try at("/i\\j") == 5)
        #expect(try at("/k\"l") == 6)
        #expect(try at("/ ") == 7)
        #expect(try at("/m~0n") == 8)
        #expect(try at("/foo/2") == nil)
        #expect(try at("/foo/01") == nil)
        #expect(try at("/foo/-1") == nil)
        #expect(try at("/missing") == nil)
    }

    @Test("violation pointers match the pointers that find the offending value")
    func violationPointers() throws {
        let value = SchemaExamples.minimalChunk.setting("metadata", ["a/b~c": ["deep": 1]])
        let violations = try bundledSchemas().validate(value, against: .chunkRequest)
        let violation = try #require(violations.first)
        #expect(violations.count == 1)
        #expect(violation.pointer == "/metadata/a~1b~0c")
        #expect(value[pointer: try JSONPointer(parsing: violation.pointer)] == ["deep": 1])
    }
}
