import Foundation
import Hummingbird
import Schemas

/// An RFC 9457 problem: every error the gateway answers is one, as `application/problem+json`, with a
/// stable `code` (also the last segment of `type`) that clients may branch on.
struct Problem: HTTPResponseError {
    static let typeBase = "https://kafka-rag.dev/problems/"

    let status: HTTPResponse.Status
    let code: String
    let detail: String
    var violations: [SchemaViolation] = []
    var retryAfterSeconds: Int?
    var extraHeaders: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var members: [(String, JSONValue)] = [
            ("type", .string(Self.typeBase + code)),
            ("title", .string(status.reasonPhrase)),
            ("status", .integer(status.code)),
            ("code", .string(code)),
            ("detail", .string(detail)),
            ("instance", .string(request.uri.path)),
        ]
        if !violations.isEmpty {
            members.append(("violations", .array(violations.map { violation in
                .object(JSONObject(uniqueKeysWithValues: [
                    ("pointer", .string(violation.pointer)),
                    ("keyword", .string(violation.keyword)),
                    ("message", .string(violation.message)),
                ]))
            })))
        }
        var headers = extraHeaders
        headers[.contentType] = "application/problem+json"
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        let body = JSONValue.object(JSONObject(uniqueKeysWithValues: members)).serialized()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension Problem {
    static func invalidJSON(_ error: JSONSyntaxError) -> Problem {
        Problem(status: .badRequest, code: "invalid_json", detail: "the body is not valid JSON: \(error)")
    }

    static func schemaViolation(_ violations: [SchemaViolation]) -> Problem {
        Problem(status: .badRequest, code: "schema_violation",
                detail: "the body does not match the schema: \(violations.count) violation(s)", violations: violations)
    }

    static func unsupportedMediaType(_ contentType: String?) -> Problem {
        Problem(status: .unsupportedMediaType, code: "unsupported_media_type",
                detail: "the body must be application/json, not \(contentType ?? "unspecified")")
    }

    static func tooLarge(limit: Int) -> Problem {
        Problem(status: .contentTooLarge, code: "body_too_large", detail: "the body exceeds \(limit) bytes")
    }

    static func brokerUnavailable(retryAfter: Int, _ detail: String) -> Problem {
        Problem(status: .serviceUnavailable, code: "broker_unavailable",
                detail: "the request was not accepted, nothing was queued; retry later (\(detail))", retryAfterSeconds: retryAfter)
    }

    static func notFound(_ path: String) -> Problem {
        Problem(status: .notFound, code: "not_found", detail: "no route for \(path)")
    }
}
