/// One way in which a JSON value breaks its schema.
///
/// `pointer` locates the offending value in the instance (RFC 6901, `""` for the whole document); for a
/// missing required member it is the member's own pointer (`/doc_id`), for an unknown member the unknown
/// member's. `keyword` is the JSON Schema keyword that failed; `message` says what is wrong in words meant
/// for API clients, written to follow the pointer: `/text` "must be at most 20000 characters".
public struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// RFC 6901 JSON pointer of the offending value, e.g. `/chunks/3/text`.
    public let pointer: String
    /// The failed keyword: `required`, `type`, `maxLength`, `additionalProperties`, `enum`, ….
    public let keyword: String
    /// What is wrong, e.g. `is required`, `must be an integer`, `is not allowed (unknown field)`.
    public let message: String

    /// A violation at `pointer`; see the properties for what each part holds.
    public init(pointer: String, keyword: String, message: String) {
        self.pointer = pointer
        self.keyword = keyword
        self.message = message
    }

    /// `"/text must be at most 20000 characters"`; the root is shown as `(root)`.
    public var description: String {
        "\(pointer.isEmpty ? "(root)" : pointer) \(message)"
    }
}
