import Foundation
import TestSupport
import Testing

@Suite("Gateway: OpenAPI document", .timeLimit(.minutes(3)))
struct GatewayOpenAPITests {
    @Test("/openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator) describing exactly the routes served")
    func validDocument() async throws {
        let gateway = try await GatewayHarness()
        let response = try await gateway.get("/openapi.json")
        #expect(response.status == 200 && response.headers["content-type"] == "application/json")
        let document = response.json
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        #expect(documented == [
            "POST /chunks", "POST /queries", "GET /results/{query_id}", "GET /results", "GET /", "GET /openapi.json",
            "GET /healthz", "GET /readyz", "GET /metrics",
        ])
        // Each documented route is served (not 404/405) by this gateway.
        let token = try await gateway.token()
        for route in documented {
            let parts = route.split(separator: " ")
            let path = parts[1].replacingOccurrences(of: "{query_id}", with: "some-query")
            if parts[0] == "GET" && path.hasPrefix("/results") {
                let stream = try await gateway.http.stream(.init(url: gateway.url(path), headers: ["Authorization": "Bearer \(token)"], timeout: .seconds(5)))
                #expect(stream.status == 200, "\(route)")
            } else if parts[0] == "GET" {
                #expect(try await gateway.get(path).status == 200, "\(route)")
            } else {
                #expect(![404, 405].contains(try await gateway.post(path, "{}", token: token).status), "\(route)")
            }
        }

        // The official validator, from PyPI (installed by `make deps`).
        let file = gateway.directory + "/openapi.json"
        try Data(response.text.utf8).write(to: URL(fileURLWithPath: file))
        let validator = try await ProcessRunner.run(
            "python3", ["-c", "import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')", file])
        #expect(validator.status == 0 && validator.text.contains("valid"), "openapi-spec-validator: \(validator.text)\(validator.errors)")
    }

    /// schemathesis (PyPI, installed by `make deps` into `.data/venv`): every documented operation, with
    /// generated valid and invalid requests, against every check it has (status codes, content types and
    /// schemas of responses, headers, 405 for undeclared methods, auth). Bounded: a fixed seed, few
    /// examples, a short timeout for the SSE streams (which never end by themselves: schemathesis only
    /// sees their status and headers), no example database.
    @Test("schemathesis --checks all finds no disagreement between /openapi.json and the gateway")
    func schemathesis() async throws {
        // Streams schemathesis abandons are noticed at the next heartbeat; until then they count per user.
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_SSE_HEARTBEAT": "200ms", "RAG_GATEWAY_SSE_MAX_PER_USER": "10000"])
        let venv = GatewayHarness.repositoryRoot + "/.data/venv/bin/schemathesis"
        let executable = FileManager.default.isExecutableFile(atPath: venv) ? venv : "schemathesis"
        let token = try await gateway.token("alice", tier: "enterprise", tenant: "acme", scopes: ["chunks:write"])
        let run = try await ProcessRunner.run(executable, [
            "run", gateway.url("/openapi.json"), "--checks", "all",
            "--header", "Authorization: Bearer \(token)",
            "--phases", "coverage,fuzzing", "--max-examples", "5", "--seed", "1",
            "--request-timeout", "1", "--workers", "2",
            "--generation-database", "none", "--no-color", "--report-dir", gateway.directory + "/schemathesis",
        ], currentDirectory: gateway.directory)
        #expect(!run.errors.contains("No such file") && !run.errors.contains("not found"),
                "schemathesis is missing: run make deps (\(run.errors))")
        #expect(run.status == 0 && run.text.contains("SUMMARY") && !run.text.contains("FAILURES") && !run.text.contains("ERRORS"),
                "schemathesis:\n\(run.text)\n\(run.errors)")
    }
}
