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
}
