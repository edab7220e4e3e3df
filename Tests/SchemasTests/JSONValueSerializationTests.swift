import Schemas
import Testing

@Suite("JSONValue serialisation and equality", .timeLimit(.minutes(1)))
struct JSONValueSerializationTests {
    @Test("compact output in member order")
    func compact() {
        let value: JSONValue = ["b": [1, 2.5, "x"], "a": ["nested": nil, "flag": true], "empty": [:], "list": []]
        #expect(value.serializedString() == #"{"b":[1,2.5,"x"],"a":{"nested":null,"flag":true},"empty":{},"list":[]}"#)
        #expect(value.description == value.serializedString())
    }

    @Test("sorted keys give a canonical form")
    func sortedKeys() throws {
        let one = try JSONValue.parse(#"{"b": 1, "a": {"d": 2, "c": 3}, "é": 0, "Z": 4}"#)
        let other = try JSONValue.parse(#"{"Z": 4, "é": 0, "a": {"c": 3, "d": 2}, "b": 1}"#)
        #expect(one.serializedString(sortingKeys: true) == #"{"Z":4,"a":{"c":3,"d":2},"b":1,"é":0}"#)
        #expect(one.serialized(sortingKeys: true) == other.serialized(sortingKeys: true))
        #expect(one.serialized() != other.serialized())
    }

    @Test("strings escape only what JSON requires")
    func stringEscapes() {
        let value = JSONValue.string("quote \" backslash \\ slash / newline \n tab \t cr \r bs \u{8} ff \u{C} unit \u{1F} nul \u{0} é 😀")
        #expect(
            value.serializedString()
                == #""quote \" backslash \\ slash / newline \n tab \t cr \r bs \b ff \f unit \u001f nul \u0000 é 😀""#
        )
    }

    @Test("numbers print exactly and read back the same")
    func numbers() throws {
        #expect(JSONValue.integer(Int.min).serializedString() == "-9223372036854775808")
        #expect(JSONValue.integer(Int.max).serializedString() == "9223372036854775807")
        #expect(JSONValue.double(0.1).serializedString() == "0.1")
        #expect(JSONValue.double(100).serializedString() == "100.0")
        #expect(JSONValue.double(-2.5e-300).serializedString() == "-2.5e-300")
        #expect(JSONValue.double(.nan).serializedString() == "null")
        #expect(JSONValue.double(.infinity).serializedString() == "null")
        for number in [0.1, 1e-7, 1.7976931348623157e308, Double.leastNonzeroMagnitude, -0.0, 123456.789, 1e21] {
            let text = JSONValue.double(number).serializedString()
            guard case .double(let back) = try JSONValue.parse(text) else {
                Issue.record("\(text) did not parse as a double")
                continue
            }
            #expect(back == number && back.sign == number.sign, "\(number) → \(text) → \(back)")
        }
    }

    @Test("parse and serialise round-trip")
    func roundTrip() throws {
        let text = #"{"doc_id":"a/b","seq":3,"score":0.25,"tags":["x","ü","\n"],"meta":{"ok":true,"none":null},"big":-9223372036854775808}"#
        let value = try JSONValue.parse(text)
        #expect(value.serializedString() == text)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test("JSON equality: numbers by value, objects without order, strings by code points")
    func equality() throws {
        #expect(JSONValue.integer(1) == .double(1.0))
        #expect(JSONValue.integer(1).hashValue == JSONValue.double(1.0).hashValue)
        #expect(JSONValue.integer(0) == .double(-0.0))
        #expect(JSONValue.integer(9_007_199_254_740_993) != .double(9_007_199_254_740_992))
        #expect(JSONValue.integer(1) != .string("1"))
        #expect(JSONValue.bool(true) != .integer(1))
        #expect(JSONValue.null != .bool(false))

        let one: JSONValue = ["a": 1, "b": [1, 2]]
        let other: JSONValue = ["b": [1.0, 2], "a": 1.0]
        #expect(one == other)
        #expect(one.hashValue == other.hashValue)
        #expect(Set([one, other]).count == 1)
        #expect(JSONValue.array([1, 2]) != [2, 1])
        #expect(one != ["a": 1])

        // Swift's String == folds canonically equivalent strings; JSON does not.
        #expect("é" == "e\u{301}")
        #expect(JSONValue.string("é") != .string("e\u{301}"))
    }

    @Test("accessors")
    func accessors() {
        let value: JSONValue = ["s": "x", "i": 3, "d": 2.0, "f": 2.5, "b": true, "n": nil, "a": [10, 20]]
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["d"]?.intValue == 2)
        #expect(value["f"]?.intValue == nil)
        #expect(value["f"]?.doubleValue == 2.5)
        #expect(value["b"]?.boolValue == true)
        #expect(value["n"]?.isNull == true)
        #expect(value["a"]?[1] == 20)
        #expect(value["a"]?[2] == nil)
        #expect(value["missing"] == nil)
        #expect(value["s"]?["x"] == nil)
        #expect(value["i"]?.typeName == "integer")
        #expect(value["f"]?.typeName == "number")
        #expect(value.typeName == "object")
    }

    @Test("object members can be replaced in place, appended and removed")
    func objectMutation() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        object["d"] = 4
        object["a"] = nil
        #expect(object.keys == ["b", "c", "d"])
        #expect(object["b"] == "two")
        #expect(object["c"] == 3)
        #expect(object.contains(key: "d"))
        #expect(!object.contains(key: "a"))
        #expect(JSONValue.object(object).serializedString() == #"{"b":"two","c":3,"d":4}"#)
    }
}
