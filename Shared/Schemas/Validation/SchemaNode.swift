/// One compiled (sub)schema: its keywords parsed and checked once at load time, `$ref`s resolved to node
/// indexes in the registry's node table. Validation reads nodes only.
struct SchemaNode: Sendable {
    /// How members that `properties` does not name are treated.
    enum AdditionalProperties: Sendable {
        case allowed
        case forbidden
        case schema(Int)
    }

    /// Where the node is, `<file name>#<JSON pointer>`, for error messages.
    var location: String
    /// The boolean schema `false`: no value is valid.
    var rejectsEverything = false
    /// `$ref`, resolved to the target node's index.
    var reference: Int?

    var types: JSONTypeSet?
    var enumValues: [JSONValue]?
    var constValue: JSONValue?

    /// `properties`: member name → node index, and the same in schema order (for defaults).
    var properties: [CodePointKey: Int] = [:]
    var propertyOrder: [(name: String, node: Int)] = []
    var required: [String] = []
    var additionalProperties: AdditionalProperties = .allowed
    var propertyNames: Int?
    var minProperties: Int?
    var maxProperties: Int?

    var items: Int?
    var minItems: Int?
    var maxItems: Int?

    var minLength: Int?
    var maxLength: Int?
    var pattern: SchemaPattern?
    var format: SchemaFormat?

    var minimum: JSONValue?
    var maximum: JSONValue?
    var exclusiveMinimum: JSONValue?
    var exclusiveMaximum: JSONValue?

    /// `default`: not used in validation; see `SchemaRegistry.applyingDefaults(to:for:)`.
    var defaultValue: JSONValue?

    init(location: String) {
        self.location = location
    }
}
