import Foundation
import Schemas
import Testing

/// Python's `jsonschema` (the reference implementation most teams use), for cross-checking.
enum PythonJSONSchema {
    static let runningInCI = ProcessInfo.processInfo.environment["CI"] != nil

    /// Whether `python3` can import `jsonschema` and `referencing`.
    static let isInstalled: Bool = (try? run(["-c", "import jsonschema, referencing"]).status) == 0

    /// The cross-check runs when Python is there, and always in CI (where its absence fails the test).
    static var shouldRun: Bool { isInstalled || runningInCI }

    /// Runs `python3 arguments…`; returns the exit status, standard output and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: Data, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        // Standard error goes to a file, so a chatty child can never block on a full pipe we are not reading.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("python-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        defer { try? errorHandle.close() }
        process.standardError = errorHandle
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = String(decoding: FileManager.default.contents(atPath: errorFile.path) ?? Data(), as: UTF8.self)
        return (process.terminationStatus, data, errors)
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
    @Test(
        "every schema is a valid 2020-12 schema and Python's jsonschema agrees with every example",
        .enabled(if: PythonJSONSchema.shouldRun, "python3 with jsonschema is not installed (pip install jsonschema)")
    )
    func crossCheck() throws {
        try #require(
            PythonJSONSchema.isInstalled,
            "python3 with jsonschema and referencing is required in CI for the schema cross-check"
        )
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

        let (status, output, errors) = try PythonJSONSchema.run(["-c", PythonJSONSchema.script, schemaDirectory.path, examplesFile.path])
        try #require(status == 0, "the Python cross-check script failed (exit \(status)): \(errors)")
        let report = try JSONValue.parse([UInt8](output))

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
