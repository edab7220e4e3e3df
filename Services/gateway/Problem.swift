import Foundation
import Hummingbird
import Schemas

/// An RFC 9457 problem: every error the gateway answers is one, as `application/problem+json`, with a
/// stable `code` (also the last segment of `type`) that clients may branch on.
///
/// The body stays small whatever the request was (SPEC §11): at most `maxListedViolations` violations are
/// listed, with `violation_count` giving the total; every string taken from the request (pointers, the
/// path) is cut to a bounded length; and violations stop being listed once the body would pass
/// `violationBudgetBytes`. A problem body is therefore under 64 KiB for any request.
struct Problem: HTTPResponseError {
    static let typeBase = "https://kafka-rag.dev/problems/"
    /// Violations listed in a body; the rest are only counted.
    static let maxListedViolations = 50
    /// Bytes the listed violations may take in the serialized body.
    static let violationBudgetBytes = 32 << 10
    /// Characters kept of a violation's pointer or message, and of `detail` and `instance`.
    static let maxPointerCharacters = 256
    static let maxMessageCharacters = 256
    static let maxDetailCharacters = 1024

    let status: HTTPResponse.Status
    let code: String
    let detail: String
    var violations: [SchemaViolation] = []
    /// How many violations there were in all (at least `violations.count`).
    var violationCount = 0
    var retryAfterSeconds: Int?
    var extraHeaders: HTTPFields = [:]

    init(status: HTTPResponse.Status, code: String, detail: String, violations: [SchemaViolation] = [],
         violationCount: Int? = nil, retryAfterSeconds: Int? = nil, extraHeaders: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.violations = violations
        self.violationCount = max(violationCount ?? violations.count, violations.count)
        self.retryAfterSeconds = retryAfterSeconds
        self.extraHeaders = extraHeaders
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = extraHeaders
        headers[.contentType] = "application/problem+json"
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body(instance: request.uri.path))))
    }

    /// The serialized problem document for a request to `instance`.
    func body(instance: String) -> [UInt8] {
        var members: [(String, JSONValue)] = [
            ("type", .string(Self.typeBase + code)),
            ("title", .string(status.reasonPhrase)),
            ("status", .integer(status.code)),
            ("code", .string(code)),
            ("detail", .string(Self.clipped(detail, to: Self.maxDetailCharacters))),
            ("instance", .string(Self.clipped(instance, to: Self.maxDetailCharacters))),
        ]
        if violationCount > 0 {
            var listed: [JSONValue] = []
            var bytes = 0
            for violation in violations.prefix(Self.maxListedViolations) {
                let item = JSONValue.object(JSONObject(uniqueKeysWithValues: [
                    ("pointer", .string(Self.clipped(violation.pointer, to: Self.maxPointerCharacters))),
                    ("keyword", .string(Self.clipped(violation.keyword, to: Self.maxPointerCharacters))),
                    ("message", .string(Self.clipped(violation.message, to: Self.maxMessageCharacters))),
                ]))
                bytes += item.serialized().count + 1
                if bytes > Self.violationBudgetBytes { break }
                listed.append(item)
            }
            members.append(("violations", .array(listed)))
            members.append(("violation_count", .integer(violationCount)))
        }
        return JSONValue.object(JSONObject(uniqueKeysWithValues: members)).serialized()
    }

    /// `text` cut to `limit` characters, marked with `…` when cut.
    static func clipped(_ text: String, to limit: Int) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.prefix(limit))
        return String(scalars) + "…"
    }
}

extension Problem {
    static func invalidJSON(_ error: JSONSyntaxError) -> Problem {
        Problem(status: .badRequest, code: "invalid_json", detail: "the body is not valid JSON: \(error)")
    }

    static func schemaViolation(_ violations: [SchemaViolation]) -> Problem {
        schemaViolation(SchemaViolationSummary(violations: violations, totalCount: violations.count))
    }

    /// 400 listing the first violations (see `maxListedViolations`) and counting them all.
    static func schemaViolation(_ summary: SchemaViolationSummary) -> Problem {
        let listed = min(summary.violations.count, maxListedViolations)
        let detail = listed < summary.totalCount
            ? "the body does not match the schema: \(summary.totalCount) violation(s), the first \(listed) listed"
            : "the body does not match the schema: \(summary.totalCount) violation(s)"
        return Problem(status: .badRequest, code: "schema_violation", detail: detail,
                       violations: Array(summary.violations.prefix(maxListedViolations)), violationCount: summary.totalCount)
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
