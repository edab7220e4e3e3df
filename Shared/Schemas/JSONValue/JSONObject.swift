/// The members of a JSON object, in order, with lookup by key.
///
/// Keys are unique and compared by Unicode code points (`"é"` precomposed and `"e\u{301}"` are different
/// keys, as in JSON), not by `String`'s canonical equivalence. Iteration yields members in insertion
/// order; equality ignores order, as JSON does.
public struct JSONObject: Sendable {
    /// One member: its key and value.
    public typealias Member = (key: String, value: JSONValue)

    private var members: [Member]
    private var positions: [CodePointKey: Int]

    /// An empty object.
    public init() {
        members = []
        positions = [:]
    }

    /// An object with `members` in order. Duplicate keys are a programming error.
    public init(uniqueKeysWithValues members: some Sequence<(String, JSONValue)>) {
        self.init()
        for (key, value) in members {
            let inserted = insertNew(key: key, value: value)
            precondition(inserted, "duplicate key \"\(key)\" in JSONObject(uniqueKeysWithValues:)")
        }
    }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The value of `key`; setting `nil` removes the member, setting an existing key replaces its value in
    /// place (keeping its position), setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get {
            positions[CodePointKey(key)].map { members[$0].value }
        }
        set {
            let lookup = CodePointKey(key)
            switch (positions[lookup], newValue) {
            case (let position?, let value?):
                members[position].value = value
            case (let position?, nil):
                members.remove(at: position)
                positions[lookup] = nil
                for index in position..<members.count {
                    positions[CodePointKey(members[index].key)] = index
                }
            case (nil, let value?):
                positions[lookup] = members.count
                members.append((key, value))
            case (nil, nil):
                break
            }
        }
    }

    /// Whether the object has a member `key`.
    public func contains(key: String) -> Bool {
        positions[CodePointKey(key)] != nil
    }

    /// Appends a member unless the key is already present; returns whether it was appended.
    @discardableResult
    mutating func insertNew(key: String, value: JSONValue) -> Bool {
        let lookup = CodePointKey(key)
        guard positions[lookup] == nil else { return false }
        positions[lookup] = members.count
        members.append((key, value))
        return true
    }
}

extension JSONObject: RandomAccessCollection {
    public var startIndex: Int { members.startIndex }
    public var endIndex: Int { members.endIndex }
    public subscript(position: Int) -> Member { members[position] }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object with the members in the order written; duplicate keys are a programming error.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(uniqueKeysWithValues: elements)
    }
}

extension JSONObject: Equatable {
    /// JSON equality: the same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }
}

extension JSONObject: Hashable {
    /// Order-independent, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for (key, value) in members {
            var memberHasher = Hasher()
            CodePointKey(key).hash(into: &memberHasher)
            memberHasher.combine(value)
            combined = combined &+ memberHasher.finalize()
        }
        hasher.combine(members.count)
        hasher.combine(combined)
    }
}
