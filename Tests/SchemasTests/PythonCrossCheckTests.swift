import Foundation
import Schemas
import TestSupport
import Testing

/// Python's `jsonschema` (the reference implementation most teams use), for cross-checking.
enum PythonJSONSchema {
    /// Runs `python3 arguments…` (without blocking the cooperative thread pool).
    static func run(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run("python3", arguments)
    }

    /// Checks every schema file with `Draft202012Validator.check_schema`, then validates every example
    /// (with format checking) and prints `{"schema_errors": {...}, "results": [{"label", "valid", "first_error"}]}`.
    static let script = #"""
        import json, os, sys
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource

        schema_dir, examples_path = sys.argv[1], sys.argv[2]
        documents, schema_errors = {}, {}
        for name in sorted(os.listdir(schema_dir)):
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                document = json.load(f)
            try:
                Draft202012Validator.check_schema(document)
            except Exception as error:
                schema_errors[name] = str(error)[:500]
            documents[document["$id"]] = document
        registry = Registry().with_resources(
            (uri, Resource.from_contents(document)) for uri, document in documents.items())
        checker = Draft202012Validator.FORMAT_CHECKER
        missing_formats = [f for f in ("uuid", "date-time") if f not in checker.checkers]

        with open(examples_path, encoding="utf-8") as f:
            examples = json.load(f)
        results = []
        for example in examples:
            validator = Draft202012Validator(documents[example["schema"]], registry=registry, format_checker=checker)
            errors = sorted(validator.iter_errors(example["instance"]), key=lambda e: list(e.absolute_path))
            results.append({
                "label": example["label"],
                "valid": not errors,
                "first_error": (errors[0].message[:200] + " at " + errors[0].json_path) if errors else None,
            })
        print(json.dumps({"schema_errors": schema_errors, "missing_formats": missing_formats, "results": results}))
        """#
}

@Suite("Python jsonschema cross-check", .timeLimit(.minutes(2)))
struct PythonCrossCheckTests {
    @Test("every schema is a valid 2020-12 schema and Python's jsonschema agrees with every example")
    func crossCheck() async throws {
        let installed = try await PythonJSONSchema.run(["-c", "import jsonschema, referencing"])
        try #require(installed.status == 0, "python3 with jsonschema and referencing is needed (`make deps` installs them): \(installed.errors)")
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let schemaDirectory = directory.appendingPathComponent("schemas")
        try FileManager.default.createDirectory(at: schemaDirectory, withIntermediateDirectories: true)
        try writeBundledSchemas(to: schemaDirectory)

        let examples = SchemaExamples.all.filter(\.crossCheck)
        let payload = JSONValue.array(examples.map { example in
            ["schema": .string(example.schema.id), "label": .string(example.testDescription), "instance": example.value]
        })
        let examplesFile = directory.appendingPathComponent("examples.json")
        try Data(payload.serialized()).write(to: examplesFile)

        let check = try await PythonJSONSchema.run(["-c", PythonJSONSchema.script, schemaDirectory.path, examplesFile.path])
        try #require(check.status == 0, "the Python cross-check script failed (exit \(check.status)): \(check.errors)")
        let report = try JSONValue.parse([UInt8](check.output))

        let schemaErrors = try #require(report["schema_errors"]?.objectValue)
        for (file, error) in schemaErrors {
            Issue.record("\(file) is not a valid draft 2020-12 schema: \(error)")
        }
        #expect(report["missing_formats"] == [], "Python cannot check these formats; install rfc3339-validator")

        let results = try #require(report["results"]?.arrayValue)
        try #require(results.count == examples.count)
        for (example, result) in zip(examples, results) {
            #expect(result["label"]?.stringValue == example.testDescription)
            let pythonValid = result["valid"]?.boolValue
            #expect(
                pythonValid == example.isValid,
                "\(example.testDescription): Swift says \(example.isValid ? "valid" : "invalid"), Python says \(result["first_error"] ?? "valid")"
            )
        }
    }
}
