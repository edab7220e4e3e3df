import Foundation
import Schemas
import Testing

@Suite("SchemaRegistry", .timeLimit(.minutes(1)))
struct SchemaRegistryTests {
    @Test("the bundled schemas load, one document per schema name")
    func bundled() throws {
        let registry = try SchemaRegistry.bundled()
        #expect(try SchemaRegistry.bundled() === registry, "bundled() compiles once and shares the registry")
        for name in SchemaName.allCases {
            let document = registry.schemaDocument(name)
            #expect(document["$id"]?.stringValue == name.id)
            #expect(document["$id"]?.stringValue?.hasSuffix("/\(name.rawValue).json") == true)
            #expect(document["$schema"] == "https://json-schema.org/draft/2020-12/schema")
            #expect(document["title"]?.stringValue?.isEmpty == false)
            #expect(document["description"]?.stringValue?.isEmpty == false)
            #expect(registry.version(of: name) == "1")
        }
    }

    @Test("names, file names, versions")
    func names() {
        #expect(SchemaName.allCases.count == 10)
        #expect(SchemaName.chunkEvent.fileName == "chunk-event.v1.json")
        #expect(SchemaName.chunkEvent.id == "https://schemas.kafka-rag.example/chunk-event.v1.json")
        #expect(SchemaName.chunkBatchRequest.messageType == "chunk-batch-request")
        #expect(SchemaName.reviewItem.version == "1")
        #expect(SchemaName(rawValue: "query-request.v1") == .queryRequest)
    }

    /// Every subschema of `document` with its location, depth first.
    private func subschemas(of document: JSONValue, at pointer: JSONPointer = .root) -> [(JSONPointer, JSONObject)] {
        guard case .object(let schema) = document else { return [] }
        var found = [(pointer, schema)]
        for keyword in ["properties", "$defs"] {
            for (name, child) in schema[keyword]?.objectValue ?? [:] {
                found += subschemas(of: child, at: pointer.appending(keyword).appending(name))
            }
        }
        for keyword in ["items", "additionalProperties", "propertyNames"] {
            if let child = schema[keyword] {
                found += subschemas(of: child, at: pointer.appending(keyword))
            }
        }
        return found
    }

    @Test("every object schema closes its properties; every property is described")
    func closedObjects() throws {
        let registry = try SchemaRegistry.bundled()
        for name in SchemaName.allCases {
            for (pointer, schema) in subschemas(of: registry.schemaDocument(name)) {
                let location = "\(name.fileName)#\(pointer)"
                if schema["properties"] != nil {
                    #expect(schema["additionalProperties"] == false, "\(location) must set additionalProperties: false")
                }
                if schema["type"] == "object" && schema["properties"] == nil {
                    // A map (metadata): its values must still be constrained, and its size bounded.
                    #expect(schema["additionalProperties"]?.objectValue != nil, "\(location) must constrain its values")
                    #expect(schema["maxProperties"] != nil, "\(location) must bound its size")
                }
                for (property, child) in schema["properties"]?.objectValue ?? [:] {
                    let describedHere = child["description"]?.stringValue?.isEmpty == false
                    #expect(describedHere, "\(location)/properties/\(property) needs a description")
                }
            }
        }
    }

    @Test("every string and array is bounded")
    func bounded() throws {
        let registry = try SchemaRegistry.bundled()
        for name in SchemaName.allCases {
            for (pointer, schema) in subschemas(of: registry.schemaDocument(name)) {
                let location = "\(name.fileName)#\(pointer)"
                let types = schema["type"].map { $0.arrayValue ?? [$0] } ?? []
                if types.contains("string") {
                    let fixedPattern = schema["pattern"]?.stringValue?.contains("{") == true
                    #expect(schema["maxLength"] != nil || schema["format"] != nil || fixedPattern, "\(location) is an unbounded string")
                }
                if types.contains("array") {
                    #expect(schema["maxItems"] != nil, "\(location) is an unbounded array")
                }
            }
        }
    }

    @Test("identity never appears in message values or request bodies (SPEC §3)")
    func noIdentity() throws {
        let registry = try SchemaRegistry.bundled()
        let identity: Set<String> = ["user", "user_id", "user-id", "userId", "user_tier", "user-tier", "tier", "tenant", "sub", "scope"]
        for name in SchemaName.allCases {
            for (pointer, schema) in subschemas(of: registry.schemaDocument(name)) {
                for property in schema["properties"]?.objectValue?.keys ?? [] {
                    #expect(!identity.contains(property), "\(name.fileName)#\(pointer) declares identity field \(property)")
                }
            }
        }
    }

    /// `value` without `description` and `default` members anywhere.
    private func withoutAnnotations(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var stripped = JSONObject()
            for (key, member) in object where key != "description" && key != "default" {
                stripped[key] = withoutAnnotations(member)
            }
            return .object(stripped)
        case .array(let elements):
            return .array(elements.map(withoutAnnotations))
        default:
            return value
        }
    }

    @Test("fields shared by a request and its event have the same constraints")
    func sharedFieldsAgree() throws {
        let registry = try SchemaRegistry.bundled()
        func property(_ name: SchemaName, _ field: String) -> JSONValue? {
            registry.schemaDocument(name)["properties"]?[field].map(withoutAnnotations)
        }
        for field in ["doc_id", "seq", "text", "visibility", "metadata"] {
            #expect(property(.chunkRequest, field) != nil)
            #expect(property(.chunkRequest, field) == property(.chunkEvent, field), "\(field) differs")
        }
        for field in ["question", "top_k", "stream"] {
            #expect(property(.queryRequest, field) != nil)
            #expect(property(.queryRequest, field) == property(.queryEvent, field), "\(field) differs")
        }
    }

    @Test("defaults are exposed and filled on request")
    func defaults() throws {
        let registry = try SchemaRegistry.bundled()
        let filled = registry.applyingDefaults(to: ["question": "Why?"], for: .queryRequest)
        #expect(filled == ["question": "Why?", "top_k": 5, "stream": false])
        #expect(filled.objectValue?.keys == ["question", "top_k", "stream"])
        let explicit: JSONValue = ["stream": true, "question": "Why?"]
        #expect(registry.applyingDefaults(to: explicit, for: .queryRequest) == ["stream": true, "question": "Why?", "top_k": 5])
        // Filled requests become valid query events once the gateway adds the query_id.
        let event = filled.setting("query_id", .string(SchemaExamples.queryID))
        #expect(registry.validate(event, against: .queryEvent).isEmpty)
        // Nothing to fill: unchanged, including through $ref and items.
        let batch = SchemaExamples.batch([SchemaExamples.chunk])
        #expect(registry.applyingDefaults(to: batch, for: .chunkBatchRequest) == batch)
        #expect(registry.applyingDefaults(to: "not an object", for: .queryRequest) == "not an object")
        // Validation itself never fills defaults.
        #expect(registry.validate(["question": "Why?"], against: .queryEvent).count == 3)
    }

    @Test("schema documents serialise to JSON that loads again")
    func documentsRoundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeBundledSchemas(to: directory)
        let reloaded = try SchemaRegistry(directory: directory)
        for name in SchemaName.allCases {
            #expect(reloaded.schemaDocument(name) == (try SchemaRegistry.bundled().schemaDocument(name)))
        }
        #expect(reloaded.validate(SchemaExamples.chunk, against: .chunkRequest).isEmpty)
    }

    /// Loads the bundled schemas from a temporary directory after `change` has altered it.
    private func load(after change: (URL) throws -> Void) throws -> Result<SchemaRegistry, SchemaRegistryError> {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeBundledSchemas(to: directory)
        try change(directory)
        return Result { () throws(SchemaRegistryError) in try SchemaRegistry(directory: directory) }
    }

    /// The error loading reports after `change`, or `nil` when the schemas load.
    private func loadError(after change: (URL) throws -> Void) throws -> SchemaRegistryError? {
        if case .failure(let error) = try load(after: change) { error } else { nil }
    }

    private func rewrite(_ name: SchemaName, in directory: URL, _ edit: (JSONValue) -> JSONValue) throws {
        let document = try SchemaRegistry.bundled().schemaDocument(name)
        try Data(edit(document).serialized()).write(to: directory.appendingPathComponent(name.fileName))
    }

    @Test("a missing schema file is an error naming the file")
    func missingFile() throws {
        let error = try #require(try loadError { directory in
            try FileManager.default.removeItem(at: directory.appendingPathComponent("delta-event.v1.json"))
        })
        #expect(error.fileName == "delta-event.v1.json")
        #expect(error.description.contains("delta-event.v1.json"))
    }

    @Test("a schema file that is not JSON is an error naming the file and the position")
    func invalidJSON() throws {
        let error = try #require(try loadError { directory in
            try Data("{\n  \"$id\": \"x\",\n}".utf8).write(to: directory.appendingPathComponent("query-event.v1.json"))
        })
        #expect(error.fileName == "query-event.v1.json")
        #expect(error.message.contains("line 3, column 1"))
    }

    @Test("schema errors name the file and the location", arguments: [
        ("an unsupported keyword", #"at #/properties/text/oneOf: unsupported keyword "oneOf""#),
        ("an unsupported format", "at #/properties/text/format: unsupported format"),
        ("an unresolvable $ref", ##""$ref" "#/$defs/nowhere" points to no subschema"##),
        ("a $ref to an unknown document", "names no loaded schema"),
        ("an invalid pattern", "is not a valid regular expression"),
        ("a wrong $id", #""$id" must be "https://schemas.kafka-rag.example/chunk-request.v1.json""#),
        ("a required field that is not declared", #""page" is required but not declared"#),
        ("a negative maxLength", "must be a non-negative integer"),
    ])
    func invalidSchemas(_ defect: String, _ expectedMessage: String) throws {
        let error = try #require(try loadError { directory in
            try rewrite(.chunkRequest, in: directory) { document in
                var text = document["properties"]!["text"]!
                var root = document
                switch defect {
                case "an unsupported keyword": text = text.setting("oneOf", [["type": "string"]])
                case "an unsupported format": text = text.setting("format", "email")
                case "an unresolvable $ref": text = ["$ref": "#/$defs/nowhere"]
                case "a $ref to an unknown document": text = ["$ref": "missing.v1.json"]
                case "an invalid pattern": text = text.setting("pattern", "([a-z")
                case "a wrong $id": root = root.setting("$id", "https://schemas.kafka-rag.example/other.v1.json")
                case "a required field that is not declared": root = root.setting("required", ["doc_id", "page"])
                case "a negative maxLength": text = text.setting("maxLength", -1)
                default: Issue.record("unknown defect \(defect)")
                }
                let properties = root["properties"]!.setting("text", text)
                return root.setting("properties", properties)
            }
        }, "\(defect) must be rejected")
        #expect(error.fileName == "chunk-request.v1.json")
        #expect(error.message.contains(expectedMessage), "\(error)")
    }

    @Test("extra schema files in the directory can be referenced by $id")
    func extraDocuments() throws {
        let registry = try load { directory in
            let common: JSONValue = [
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://schemas.kafka-rag.example/common.v1.json",
                "$defs": ["short_text": ["type": "string", "maxLength": 5]],
            ]
            try Data(common.serialized()).write(to: directory.appendingPathComponent("common.v1.json"))
            try rewrite(.deltaEvent, in: directory) { document in
                document.setting("properties", document["properties"]!.setting("text", ["$ref": "common.v1.json#/$defs/short_text"]))
            }
        }.get()
        let delta = SchemaExamples.deltaEvent
        #expect(registry.validate(delta.setting("text", "short"), against: .deltaEvent).isEmpty)
        #expect(pointersAndKeywords(registry.validate(delta.setting("text", "longer"), against: .deltaEvent)) == ["/text maxLength"])
    }
}
