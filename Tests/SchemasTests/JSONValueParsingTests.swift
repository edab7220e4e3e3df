import Schemas
import Testing

@Suite("JSONValue parsing", .timeLimit(.minutes(1)))
struct JSONValueParsingTests {
    private func parseError(_ bytes: [UInt8], maxDepth: Int = JSONValue.defaultMaxDepth) -> JSONSyntaxError? {
        do {
            _ = try JSONValue.parse(bytes, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(_ text: String, maxDepth: Int = JSONValue.defaultMaxDepth) -> JSONSyntaxError? {
        parseError(Array(text.utf8), maxDepth: maxDepth)
    }

    @Test("documents of every kind")
    func values() throws {
        let value = try JSONValue.parse(
            #" {"s": "text", "i": -42, "d": 2.5, "e": 1E+2, "t": true, "f": false, "n": null, "a": [1, [], {}], "o": {"k": "v"}} "#
        )
        #expect(value["s"] == "text")
        #expect(value["i"] == .integer(-42))
        #expect(value["d"] == .double(2.5))
        guard case .double(100)? = value["e"] else {
            Issue.record("1E+2 should be a double, got \(String(describing: value["e"]))")
            return
        }
        #expect(value["t"] == true)
        #expect(value["f"] == false)
        #expect(value["n"] == .null)
        #expect(value["a"] == [1, [], [:]])
        #expect(value["o"]?["k"] == "v")
        #expect(try JSONValue.parse("\t\r\n 7 \n") == 7)
        #expect(try JSONValue.parse(#""only a string""#) == "only a string")
    }

    @Test("object members keep their order")
    func memberOrder() throws {
        let value = try JSONValue.parse(#"{"z": 1, "a": 2, "m": 3}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value.serializedString() == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test("integers stay exact; only out-of-range ones become doubles")
    func bigIntegers() throws {
        guard case .integer(Int.max) = try JSONValue.parse("9223372036854775807"),
            case .integer(Int.min) = try JSONValue.parse("-9223372036854775808"),
            case .integer(9_007_199_254_740_993) = try JSONValue.parse("9007199254740993")
        else {
            Issue.record("64-bit integers must parse exactly")
            return
        }
        #expect(try JSONValue.parse("9007199254740993") != JSONValue.parse("9007199254740992"))
        guard case .double(let big) = try JSONValue.parse("9223372036854775808"),
            case .double(let small) = try JSONValue.parse("-9223372036854775809")
        else {
            Issue.record("integers beyond Int64 become doubles")
            return
        }
        #expect(big == 9_223_372_036_854_775_808.0)
        #expect(small == -9_223_372_036_854_775_808.0)
        #expect(try JSONValue.parse("123456789012345678901234567890").typeName == "integer")
        #expect(try JSONValue.parse("-0") == .integer(0))
        #expect(try JSONValue.parse("1.0").typeName == "integer")
        #expect(try JSONValue.parse("1.5").typeName == "number")
        #expect(try JSONValue.parse("1e-2") == .double(0.01))
        #expect(try JSONValue.parse("1e-400") == .double(0))  // underflows to zero, like every JSON parser
    }

    @Test("numbers JSON does not allow", arguments: [
        ("01", "leading zeros"), ("-01", "leading zeros"), ("00", "leading zeros"), ("-", "digit"), (".5", "expected a JSON value"),
        ("1.", "after the decimal point"), ("1e", "exponent"), ("1e+", "exponent"), ("+1", "expected a JSON value"),
        ("NaN", "NaN and Infinity"), ("Infinity", "NaN and Infinity"), ("-Infinity", "NaN and Infinity"),
        ("1e400", "out of range"), ("-1e400", "out of range"), ("0x10", "after the JSON value"), ("1_000", "after the JSON value"),
    ])
    func badNumbers(_ text: String, _ expectedMessage: String) throws {
        let error = try #require(parseError(text), "\(text) must be rejected")
        #expect(error.message.contains(expectedMessage), "\(text): \(error)")
    }

    @Test("syntax errors give byte offset, line and column")
    func positions() throws {
        let trailingComma = try #require(parseError(#"{"a": 1,}"#))
        #expect(trailingComma.offset == 8)
        #expect(trailingComma.line == 1 && trailingComma.column == 9)
        #expect(trailingComma.message.contains("trailing comma"))

        let multiLine = try #require(parseError("{\n  \"a\": tru\n}"))
        #expect(multiLine.offset == 9)
        #expect(multiLine.line == 2 && multiLine.column == 8)
        #expect(multiLine.message == "invalid literal, expected 'true'")
        #expect(multiLine.description == "invalid JSON at line 2, column 8 (byte 9): invalid literal, expected 'true'")

        // Columns count characters, not bytes: "é" is two bytes but one column.
        let afterAccent = try #require(parseError(#"["é", x]"#))
        #expect(afterAccent.offset == 7)
        #expect(afterAccent.column == 7)
        #expect(afterAccent.message == "unexpected character 'x', expected a JSON value")

        let missingColon = try #require(parseError(#"{"a" 1}"#))
        #expect(missingColon.offset == 5)
        #expect(missingColon.message == "expected ':' after the object key, found character '1'")

        let missingComma = try #require(parseError("[1 2]"))
        #expect(missingComma.offset == 3)
        #expect(missingComma.message == "expected ',' or ']' after an array element, found character '2'")

        let badKey = try #require(parseError("{a: 1}"))
        #expect(badKey.offset == 1)
        #expect(badKey.message.contains("expected a string key"))

        let unterminated = try #require(parseError(#"{"a": "abc"#))
        #expect(unterminated.offset == 10)
        #expect(unterminated.message.contains("unterminated string"))

        let singleQuotes = try #require(parseError("['a']"))
        #expect(singleQuotes.message.contains("double quotes"))
    }

    @Test("nothing but whitespace may follow the value")
    func trailingGarbage() throws {
        let garbage = try #require(parseError("{} x"))
        #expect(garbage.offset == 3)
        #expect(garbage.message == "unexpected character 'x' after the JSON value")
        #expect(parseError("1 2")?.offset == 2)
        #expect(parseError("[] []") != nil)
        #expect(parseError("null\u{0}") != nil)
        #expect(parseError("")?.message == "unexpected end of input, expected a JSON value")
        #expect(parseError("   ")?.offset == 3)
        #expect(parseError("[1, 2")?.message.contains("end of input") == true)
    }

    @Test("literals are exact")
    func literals() {
        #expect(parseError("tru") != nil)
        #expect(parseError("True") != nil)
        #expect(parseError("nulls")?.message == "invalid literal, expected 'null'")
        #expect(parseError("falsey") != nil)
        #expect(parseError("[true,false,null]") == nil)
    }

    @Test("duplicate object keys are rejected, at the repeated key")
    func duplicateKeys() throws {
        let duplicate = try #require(parseError(#"{"a": 1, "b": 2, "a": 3}"#))
        #expect(duplicate.offset == 17)
        #expect(duplicate.message == #"duplicate object key "a""#)
        #expect(parseError(#"{"a": {"x": 1}, "b": {"x": 1}}"#) == nil)
        // Escapes are decoded before comparing: "\u0061" is "a".
        #expect(parseError(#"{"a": 1, "\u0061": 2}"#) != nil)
        // Keys compare by code points: precomposed é and e + combining acute are different keys.
        let distinct = try JSONValue.parse(#"{"é": 1, "e\u0301": 2}"#)
        #expect(distinct.objectValue?.count == 2)
        #expect(distinct["é"] == 1)
        #expect(distinct["e\u{301}"] == 2)
    }

    @Test("nesting is limited")
    func depthLimit() throws {
        func nested(_ depth: Int) -> String {
            String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        }
        #expect(parseError(nested(JSONValue.defaultMaxDepth)) == nil)
        let tooDeep = try #require(parseError(nested(JSONValue.defaultMaxDepth + 1)))
        #expect(tooDeep.offset == JSONValue.defaultMaxDepth)
        #expect(tooDeep.message.contains("nested more than 64 levels"))
        #expect(parseError(#"{"a":{"b":1}}"#, maxDepth: 2) == nil)
        #expect(parseError(#"{"a":{"b":[1]}}"#, maxDepth: 2) != nil)
        // Deep hostile input fails cleanly instead of overflowing the stack.
        #expect(parseError(String(repeating: "[", count: 1_000_000)) != nil)
    }

    @Test("escapes, including surrogate pairs")
    func escapes() throws {
        #expect(try JSONValue.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSONValue.parse(#""caf\u00e9 \u00C9""#) == "café É")
        #expect(try JSONValue.parse(#""\u20AC""#) == "€")
        #expect(try JSONValue.parse(#""\uD83D\uDE00""#) == "😀")
        #expect(try JSONValue.parse(#""a\ud834\udd1eb""#) == "a𝄞b")
        #expect(try JSONValue.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONValue.parse(#""😀 raw""#) == "😀 raw")

        #expect(parseError(#""\uD83D""#)?.message.contains("lone high surrogate") == true)
        #expect(parseError(#""\uD83Dx""#)?.message.contains("lone high surrogate") == true)
        #expect(parseError(#""\uD83D\u0041""#)?.message.contains("not a low surrogate") == true)
        #expect(parseError(#""\uDE00""#)?.message.contains("lone low surrogate") == true)
        #expect(parseError(#""x\uDE00\uD83D""#)?.offset == 2)
        #expect(parseError(#""\u12""#)?.message.contains("four hex digits") == true)
        #expect(parseError(#""\uGHIJ""#) != nil)
        #expect(parseError(#""\x41""#)?.message == #"invalid escape sequence \x"#)
        #expect(parseError(#""\'""#) != nil)
    }

    @Test("strings may not hold raw control characters")
    func controlCharacters() throws {
        let newline = try #require(parseError("\"a\nb\""))
        #expect(newline.offset == 2)
        #expect(newline.message == "control character U+000A must be escaped in a string")
        #expect(parseError([0x22, 0x00, 0x22])?.message.contains("U+0000") == true)
        #expect(parseError([0x22, 0x7F, 0x22]) == nil)  // DEL is not a JSON control character
    }

    @Test("invalid UTF-8 is rejected", arguments: [
        [0x22, 0xFF, 0x22],  // never valid
        [0x22, 0x80, 0x22],  // lone continuation byte
        [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
        [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong three-byte form
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
        [0x22, 0xE2, 0x82, 0x22],  // truncated "€"
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xF0, 0x9F, 0x98],  // truncated at the end of input
        [0xC3, 0xA9],  // non-ASCII outside a string
    ] as [[UInt8]])
    func invalidUTF8(_ bytes: [UInt8]) throws {
        let error = try #require(parseError(bytes))
        #expect(error.offset <= 1)
    }

    @Test("valid UTF-8 of every length is accepted")
    func validUTF8() throws {
        let text = "$ ¢ € 𐍈 😀"
        #expect(try JSONValue.parse(Array("\"\(text)\"".utf8)) == .string(text))
        #expect(try JSONValue.parse([0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) == .string("\u{10FFFF}"))
    }

    @Test("a byte order mark is rejected")
    func byteOrderMark() throws {
        let error = try #require(parseError([0xEF, 0xBB, 0xBF] + Array("{}".utf8)))
        #expect(error.offset == 0)
        #expect(error.message.contains("byte order mark"))
    }
}
