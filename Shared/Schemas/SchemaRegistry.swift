public import Foundation

/// The JSON Schemas of every request body and Kafka message value, compiled once, and the validator
/// that checks values against them.
///
/// Load it once per process with `bundled()` (the schema files ship in this module's resource bundle)
/// and share it: it is immutable, so any number of tasks may validate concurrently.
///
/// ```swift
/// let schemas = try SchemaRegistry.bundled()
/// let body = try JSONValue.parse(bytes)
/// let violations = schemas.validate(body, against: .chunkRequest)
/// // [SchemaViolation(pointer: "/text", keyword: "maxLength", message: "must be at most 20000 characters")]
/// ```
public final class SchemaRegistry: Sendable {
    /// Every compiled subschema of every document; roots and `$ref`s index into it.
    private let nodes: [SchemaNode]
    private let roots: [SchemaName: Int]
    private let documents: [SchemaName: JSONValue]

    /// Loads and compiles the schema files in `directory`: one `<name>.json` for every `SchemaName` (each
    /// must declare draft 2020-12 and the `$id` `SchemaName.id`), plus any other `*.json` schema there,
    /// which `$ref`s may then name by its `$id`.
    ///
    /// Throws, naming the file, when a file is missing, is not valid JSON, has the wrong `$id`, or uses a
    /// keyword, format or `$ref` this validator does not support.
    public init(directory: URL) throws(SchemaRegistryError) {
        var compiler = SchemaCompiler()
        var roots: [SchemaName: Int] = [:]
        var documents: [SchemaName: JSONValue] = [:]
        for name in SchemaName.allCases {
            let document = try Self.loadDocument(named: name.fileName, in: directory)
            guard document["$id"]?.stringValue == name.id else {
                throw SchemaRegistryError(fileName: name.fileName, message: "\"$id\" must be \"\(name.id)\"")
            }
            roots[name] = try compiler.addDocument(document, fileName: name.fileName)
            documents[name] = document
        }
        let known = Set(SchemaName.allCases.map(\.fileName))
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".json") && !known.contains($0) }
            .sorted()
        for fileName in others {
            _ = try compiler.addDocument(try Self.loadDocument(named: fileName, in: directory), fileName: fileName)
        }
        try compiler.resolveReferences()
        self.nodes = compiler.nodes
        self.roots = roots
        self.documents = documents
    }

    /// The registry of the schema files bundled with this module, loaded and compiled on first use and
    /// shared afterwards. Throws (every time) if a bundled file is missing or invalid, naming it.
    public static func bundled() throws(SchemaRegistryError) -> SchemaRegistry {
        try bundledRegistry.get()
    }

    private static let bundledRegistry: Result<SchemaRegistry, SchemaRegistryError> = {
        guard let directory = Bundle.module.url(forResource: "JSON", withExtension: nil) else {
            return .failure(SchemaRegistryError(fileName: "JSON", message: "the schema directory is missing from the Schemas resource bundle"))
        }
        return Result { () throws(SchemaRegistryError) in try SchemaRegistry(directory: directory) }
    }()

    private static func loadDocument(named fileName: String, in directory: URL) throws(SchemaRegistryError) -> JSONValue {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SchemaRegistryError(fileName: fileName, message: "cannot be read from \(directory.path)")
        }
        do {
            return try JSONValue.parse([UInt8](data))
        } catch {
            throw SchemaRegistryError(fileName: fileName, message: "is not valid JSON: \(error)")
        }
    }

    // MARK: - Validation

    /// Every way in which `value` breaks the schema `name`, in document order per object (missing required
    /// members first); empty when the value is valid.
    public func validate(_ value: JSONValue, against name: SchemaName) -> [SchemaViolation] {
        var validation = SchemaValidation(nodes: nodes)
        validation.validate(value, against: root(of: name))
        return validation.violations
    }

    /// The first `limit` ways in which `value` breaks the schema `name`, and how many there are in all;
    /// for answering untrusted input, whose violations could otherwise outnumber its bytes.
    public func validate(_ value: JSONValue, against name: SchemaName, limit: Int) -> SchemaViolationSummary {
        var validation = SchemaValidation(nodes: nodes, limit: limit)
        validation.validate(value, against: root(of: name))
        return SchemaViolationSummary(violations: validation.violations, totalCount: validation.count)
    }

    /// Whether `value` satisfies the schema `name`.
    public func isValid(_ value: JSONValue, against name: SchemaName) -> Bool {
        validate(value, against: name).isEmpty
    }

    // MARK: - Documents

    /// The schema document as loaded, e.g. for embedding in the gateway's OpenAPI document.
    public func schemaDocument(_ name: SchemaName) -> JSONValue {
        documents[name]!  // init loads every SchemaName
    }

    /// The schema's version, the value of the `schema-version` header: `"1"` for `chunk-event.v1`.
    public func version(of name: SchemaName) -> String {
        name.version
    }

    private func root(of name: SchemaName) -> Int {
        roots[name]!  // init compiles every SchemaName
    }
}

extension SchemaRegistry {
    /// `value` with every absent member that has a `default` in the schema filled in, at any depth that
    /// the schema describes (`properties`, `items`, `additionalProperties`, through `$ref`s). Present
    /// members are never changed; members are appended in schema order. Validation never applies
    /// defaults by itself: a request is validated as sent, then its defaults are filled.
    ///
    /// `applyingDefaults(to: ["question": "Why?"], for: .queryRequest)` is
    /// `{"question": "Why?", "top_k": 5, "stream": false}`.
    public func applyingDefaults(to value: JSONValue, for name: SchemaName) -> JSONValue {
        fillDefaults(value, node: root(of: name))
    }

    private func fillDefaults(_ value: JSONValue, node index: Int) -> JSONValue {
        let node = nodes[index]
        var value = value
        if let reference = node.reference {
            value = fillDefaults(value, node: reference)
        }
        switch value {
        case .object(var object):
            for (name, property) in node.propertyOrder {
                if let member = object[name] {
                    object[name] = fillDefaults(member, node: property)
                } else if let defaultValue = defaultValue(of: property) {
                    object[name] = defaultValue
                }
            }
            if case .schema(let schema) = node.additionalProperties {
                for (name, member) in object where node.properties[CodePointKey(name)] == nil {
                    object[name] = fillDefaults(member, node: schema)
                }
            }
            value = .object(object)
        case .array(let elements):
            if let items = node.items {
                value = .array(elements.map { fillDefaults($0, node: items) })
            }
        default:
            break
        }
        return value
    }

    /// The `default` of a node, or of the node its `$ref` leads to.
    private func defaultValue(of index: Int) -> JSONValue? {
        var current: Int? = index
        while let node = current.map({ nodes[$0] }) {
            if let value = node.defaultValue { return value }
            current = node.reference
        }
        return nil
    }
}
