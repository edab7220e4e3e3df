import Hummingbird

/// An error answer in the OpenAI shape.
struct Refusal: Error {
    var status: Int
    var param: String?
    var message: String
    var code: String?

    static func invalid(param: String?, _ message: String) -> Refusal {
        Refusal(status: 400, param: param, message: message, code: nil)
    }

    /// The OpenAI error `type` for the status.
    var type: String {
        switch self.status {
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 429: return "requests"
        case 500...: return "server_error"
        default: return "invalid_request_error"
        }
    }

    func response(retryAfter: Int?) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let code = self.code ?? (self.status == 429 ? "rate_limit_exceeded" : self.status == 503 ? "service_unavailable" : nil)
        let body = OpenAIErrorBody(error: .init(message: self.message, type: self.type, param: self.param, code: code))
        let bytes = (try? JSONCoding.encode(body)) ?? Array("{\"error\":{\"message\":\"error\"}}".utf8)
        return Response(status: .init(code: self.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
