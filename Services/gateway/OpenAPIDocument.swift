import HTTPTypes
import Schemas

/// The OpenAPI 3.1 description of the gateway's HTTP API, served at `GET /openapi.json`.
///
/// Request body schemas are the same JSON Schema files the gateway validates with (OpenAPI 3.1 schemas
/// are JSON Schema 2020-12); cross-file `$ref`s are rewritten to `#/components/schemas/…`.
enum OpenAPIDocument {
    static func make(schemas: SchemaRegistry, developmentTokens: Bool) -> JSONValue {
        let components: [(String, SchemaName)] = [
            ("ChunkRequest", .chunkRequest), ("ChunkBatchRequest", .chunkBatchRequest), ("QueryRequest", .queryRequest),
            ("ResultEvent", .resultEvent), ("DeltaEvent", .deltaEvent),
        ]
        var componentNames: [String: String] = [:]
        for (component, name) in components {
            componentNames[name.fileName] = component
            componentNames[name.id] = component
        }
        var schemaObjects: [(String, JSONValue)] = components.map { component, name in
            (component, rewritingReferences(schemas.schemaDocument(name), componentNames, component: component))
        }
        schemaObjects.append(("Problem", problemSchema))

        func ref(_ component: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(component)")] }
        func json(_ component: String) -> JSONValue { ["application/json": ["schema": ref(component)]] }
        let problemContent: JSONValue = ["application/problem+json": ["schema": ref("Problem")]]
        func problem(_ description: String) -> JSONValue { ["description": .string(description), "content": problemContent] }
        let retryAfter: JSONValue = ["Retry-After": ["description": "Seconds to wait before retrying.", "schema": ["type": "integer"]]]
        func problemWithRetry(_ description: String) -> JSONValue {
            ["description": .string(description), "content": problemContent, "headers": retryAfter]
        }
        let authErrors: [(String, JSONValue)] = [
            ("401", problem("Missing, malformed, expired or otherwise invalid token.")),
            ("403", problem("Authenticated, but not allowed (unknown tier, missing scope, visibility above the tier).")),
            ("429", problemWithRetry("Per-user rate limit exceeded.")),
        ]
        let bodyErrors: [(String, JSONValue)] = [
            ("400", problem("Invalid JSON or schema violations; `violations` lists each with its JSON pointer.")),
            ("408", problem("The body did not arrive in time (RAG_GATEWAY_BODY_TIMEOUT).")),
            ("413", problem("The body is larger than the limit.")),
            ("415", problem("The body is not application/json.")),
            ("503", problemWithRetry("Kafka did not acknowledge the record; nothing was queued.")),
        ]
        let eventStream: JSONValue = [
            "description": "Server-Sent Events: `delta` and `result` events (JSON data), each with an `id:`; `error` events; heartbeat comments.",
            "content": ["text/event-stream": ["schema": ["type": "string"]]],
        ]
        let lastEventID: JSONValue = [
            "name": "Last-Event-ID", "in": "header", "required": false,
            "description": "Resume after this event id.", "schema": ["type": "string"],
        ]
        let secured: JSONValue = [["bearerAuth": []], ["accessToken": []]]
        let streamErrors: [(String, JSONValue)] = [
            ("429", problemWithRetry("Per-user rate limit exceeded, or the caller has RAG_GATEWAY_SSE_MAX_PER_USER streams open.")),
            ("503", problemWithRetry("This instance has RAG_GATEWAY_SSE_MAX_TOTAL streams open.")),
        ]
        let streamAuthErrors = authErrors.filter { $0.0 != "429" } + streamErrors
        let healthBody: JSONValue = [
            "type": "object", "required": ["status"], "properties": ["status": ["type": "string"]],
        ]
        let readinessBody: JSONValue = [
            "type": "object", "required": ["status", "checks"],
            "properties": [
                "status": ["type": "string", "enum": ["ready", "not ready"]],
                "failing": ["type": "array", "items": ["type": "string"]],
                "checks": ["type": "array", "items": [
                    "type": "object", "required": ["name", "status"],
                    "properties": ["name": ["type": "string"], "status": ["type": "string"], "reason": ["type": "string"]],
                ]],
            ],
        ]
        func jsonBody(_ description: String, _ schema: JSONValue) -> JSONValue {
            ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        }

        func operation(_ summary: String, id: String, responses: [(String, JSONValue)], body: JSONValue? = nil,
                       parameters: [JSONValue] = [], security: JSONValue? = nil) -> JSONValue {
            var members: [(String, JSONValue)] = [("summary", .string(summary)), ("operationId", .string(id))]
            if !parameters.isEmpty { members.append(("parameters", .array(parameters))) }
            if let body { members.append(("requestBody", body)) }
            if let security { members.append(("security", security)) }
            members.append(("responses", .object(JSONObject(uniqueKeysWithValues: responses))))
            return .object(JSONObject(uniqueKeysWithValues: members))
        }
        func plain(_ description: String, _ mediaType: String) -> JSONValue {
            ["description": .string(description), "content": [mediaType: ["schema": ["type": "string"]]]]
        }

        var paths: [(String, JSONValue)] = [
            ("/chunks", ["post": operation(
                "Ingest one chunk or a batch of chunks of one document", id: "ingestChunks",
                responses: [("202", ["description": "Accepted: every record acknowledged by Kafka.", "content": [
                    "application/json": ["schema": [
                        "type": "object", "required": ["doc_id", "accepted", "chunk_ids"],
                        "properties": ["doc_id": ["type": "string"], "accepted": ["type": "integer"],
                                       "chunk_ids": ["type": "array", "items": ["type": "string"]]],
                    ]],
                ]])] + bodyErrors + authErrors,
                body: ["required": true, "content": ["application/json": ["schema": ["oneOf": [ref("ChunkRequest"), ref("ChunkBatchRequest")]]]]],
                security: [["bearerAuth": []]])]),
            ("/queries", ["post": operation(
                "Ask a question", id: "createQuery",
                responses: [("202", ["description": "Accepted: the query is on rag.queries.", "content": [
                    "application/json": ["schema": [
                        "type": "object", "required": ["query_id", "results_url"],
                        "properties": ["query_id": ["type": "string", "format": "uuid"], "results_url": ["type": "string"]],
                    ]],
                ]]), ("409", problem("The Idempotency-Key was used with a different body, or is in use."))] + bodyErrors + authErrors,
                body: ["required": true, "content": json("QueryRequest")],
                parameters: [[
                    "name": "Idempotency-Key", "in": "header", "required": false,
                    "description": "Retries with the same key and body get the same query_id and queue nothing new.",
                    "schema": ["type": "string", "minLength": 1, "maxLength": .integer(GatewayAPI.maxIdempotencyKeyLength)],
                ]],
                security: [["bearerAuth": []]])]),
            ("/results/{query_id}", ["get": operation(
                "Stream one query's answer", id: "streamQueryResult",
                responses: [("200", eventStream)] + streamAuthErrors,
                parameters: [["name": "query_id", "in": "path", "required": true, "schema": ["type": "string"]], lastEventID],
                security: secured)]),
            ("/results", ["get": operation(
                "Stream all of the caller's results", id: "streamResults",
                responses: [("200", eventStream)] + streamAuthErrors, parameters: [lastEventID], security: secured)]),
            ("/", ["get": operation("Browser UI", id: "browserUI", responses: [("200", plain("The UI.", "text/html"))], security: [])]),
            ("/openapi.json", ["get": operation("This document", id: "openAPI",
                                               responses: [("200", plain("OpenAPI 3.1", "application/json"))], security: [])]),
            ("/healthz", ["get": operation("Liveness", id: "healthz", responses: [
                ("200", jsonBody("Alive: {\"status\":\"ok\"}.", healthBody)), ("503", jsonBody("Shutting down.", healthBody)),
            ], security: [])]),
            ("/readyz", ["get": operation("Readiness", id: "readyz", responses: [
                ("200", jsonBody("Ready; every check.", readinessBody)), ("503", jsonBody("Not ready; the failing checks.", readinessBody)),
            ], security: [])]),
            ("/metrics", ["get": operation("Prometheus metrics", id: "metrics",
                                          responses: [("200", plain("Text exposition format.", "text/plain"))], security: [])]),
        ]

        if developmentTokens {
            paths.append(("/dev/token", ["post": operation(
                "Mint a development token (enabled by RAG_GATEWAY_DEV_SIGNING_KEY_FILE; never in production)", id: "developmentToken",
                responses: [
                    ("200", ["description": "The signed token.", "content": ["application/json": ["schema": [
                        "type": "object", "required": ["token"], "properties": ["token": ["type": "string"]],
                    ]]]]),
                    ("400", problem("Invalid request.")),
                ],
                body: ["required": true, "content": ["application/json": ["schema": [
                    "type": "object", "required": ["sub", "tier"], "additionalProperties": false,
                    "properties": ["sub": ["type": "string", "minLength": 1], "tier": ["type": "string"], "tenant": ["type": "string"],
                                   "scope": ["type": "string"]],
                ]]]],
                security: [])]))
        }

        return [
            "openapi": "3.1.0",
            "info": [
                "title": "kafka-rag gateway", "version": "1.0.0",
                "description": "Ingest chunks, ask questions and stream answers. Identity comes from the bearer JWT only.",
            ],
            "paths": .object(JSONObject(uniqueKeysWithValues: paths)),
            "components": [
                "schemas": .object(JSONObject(uniqueKeysWithValues: schemaObjects)),
                "securitySchemes": [
                    "bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"],
                    "accessToken": [
                        "type": "apiKey", "in": "query", "name": "access_token",
                        "description": "The JWT as a query parameter, for EventSource (GET /results only).",
                    ],
                ],
            ],
            "security": [["bearerAuth": []]],
        ]
    }

    /// The served paths and their methods, as the document lists them (for 405 with `Allow`).
    static func routes(of document: JSONValue) -> [RouteTemplate] {
        guard case .object(let paths)? = document["paths"] else { return [] }
        return paths.map { path, operations in
            guard case .object(let methods) = operations else { return RouteTemplate(path: path, methods: []) }
            return RouteTemplate(path: path, methods: methods.keys.compactMap { HTTPRequest.Method($0.uppercased()) })
        }
    }

    static let problemSchema: JSONValue = [
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": [
            "type": ["type": "string"], "title": ["type": "string"], "status": ["type": "integer"],
            "code": ["type": "string"], "detail": ["type": "string"], "instance": ["type": "string"],
            "violation_count": ["type": "integer", "description": "How many violations there were; at most the first 50 are listed."],
            "violations": ["type": "array", "items": [
                "type": "object", "required": ["pointer", "keyword", "message"],
                "properties": ["pointer": ["type": "string"], "keyword": ["type": "string"], "message": ["type": "string"]],
            ]],
        ],
    ]

    /// Rewrites `$ref`s to bundled schema files into component references; drops `$id`/`$schema`.
    /// Rewrites `$ref`s for the schema's new place in the document: references to other schema files
    /// become `#/components/schemas/<Name>`; local ones (`#/$defs/…`) are re-rooted under the component.
    private static func rewritingReferences(_ value: JSONValue, _ names: [String: String], component: String) -> JSONValue {
        switch value {
        case .object(let object):
            var members: [(String, JSONValue)] = []
            for (key, member) in object where key != "$id" && key != "$schema" {
                if key == "$ref", let target = member.stringValue, let other = names[target] {
                    members.append((key, .string("#/components/schemas/\(other)")))
                } else if key == "$ref", let target = member.stringValue, target.hasPrefix("#/") {
                    members.append((key, .string("#/components/schemas/\(component)/" + target.dropFirst(2))))
                } else {
                    members.append((key, rewritingReferences(member, names, component: component)))
                }
            }
            return .object(JSONObject(uniqueKeysWithValues: members))
        case .array(let elements):
            return .array(elements.map { rewritingReferences($0, names, component: component) })
        default:
            return value
        }
    }
}
