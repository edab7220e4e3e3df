import Foundation
import Schemas
import Testing

extension JSONValue {
    /// A copy of this object with member `key` set to `value`, or removed when `value` is `nil`.
    func setting(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }

    /// A copy of this object without member `key`.
    func removing(_ key: String) -> JSONValue {
        setting(key, nil)
    }
}

/// The bundled registry, loaded once for all tests (loading failures fail the tests that use it).
func bundledSchemas() throws -> SchemaRegistry {
    try SchemaRegistry.bundled()
}

/// `(pointer, keyword)` pairs of violations, sorted, for comparisons that ignore message wording.
func pointersAndKeywords(_ violations: [SchemaViolation]) -> [String] {
    violations.map { "\($0.pointer) \($0.keyword)" }.sorted()
}

/// A temporary directory removed when the returned closure runs.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("schemas-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes every bundled schema document into `directory`, serialised from the loaded registry.
func writeBundledSchemas(to directory: URL) throws {
    let registry = try bundledSchemas()
    for name in SchemaName.allCases {
        let bytes = registry.schemaDocument(name).serialized()
        try Data(bytes).write(to: directory.appendingPathComponent(name.fileName))
    }
}
