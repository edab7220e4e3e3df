/// The JSON Schema types a `type` keyword allows.
struct JSONTypeSet: OptionSet, Sendable {
    let rawValue: UInt8

    static let null = JSONTypeSet(rawValue: 1 << 0)
    static let boolean = JSONTypeSet(rawValue: 1 << 1)
    static let integer = JSONTypeSet(rawValue: 1 << 2)
    static let number = JSONTypeSet(rawValue: 1 << 3)
    static let string = JSONTypeSet(rawValue: 1 << 4)
    static let array = JSONTypeSet(rawValue: 1 << 5)
    static let object = JSONTypeSet(rawValue: 1 << 6)

    /// The schema type names in a fixed order, with the phrase used in messages.
    static let names: [(name: String, type: JSONTypeSet, phrase: String)] = [
        ("string", .string, "a string"),
        ("integer", .integer, "an integer"),
        ("number", .number, "a number"),
        ("boolean", .boolean, "a boolean"),
        ("object", .object, "an object"),
        ("array", .array, "an array"),
        ("null", .null, "null"),
    ]

    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// The type named `name` in a schema, or `nil` for an unknown name.
    init?(name: String) {
        guard let entry = Self.names.first(where: { $0.name == name }) else { return nil }
        self = entry.type
    }

    /// Whether `value` is of one of the types. `number` includes integers; `integer` includes doubles
    /// without a fractional part (`1.0`), as JSON Schema defines it.
    func matches(_ value: JSONValue) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .integer: contains(.integer) || contains(.number)
        case .double(let number):
            contains(.number) || (contains(.integer) && number.isFinite && number.rounded(.towardZero) == number)
        case .string: contains(.string)
        case .array: contains(.array)
        case .object: contains(.object)
        }
    }

    /// `"an integer"`, `"a string or null"`, `"a string, a number, a boolean or null"`.
    var phrase: String {
        let phrases = Self.names.filter { contains($0.type) }.map(\.phrase)
        guard phrases.count > 1 else { return phrases.first ?? "nothing" }
        return phrases.dropLast().joined(separator: ", ") + " or " + phrases.last!
    }
}
