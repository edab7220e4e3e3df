public import Foundation

extension ModelCallError {
    /// Classifies an HTTP answer that is not a success (SPEC §7, §11):
    ///
    /// | status | kind |
    /// |---|---|
    /// | 429 | `.rateLimited`, with `Retry-After` |
    /// | 408 | `.timeout` (the server gave up waiting for the request) |
    /// | 5xx | `.unavailable`, with `Retry-After` when sent (503) |
    /// | other 4xx, 1xx, 3xx | `.rejected`, permanent |
    ///
    /// The message is the provider's own error text (`{"error": {"message": …}}`, `{"error": "…"}`,
    /// `{"message": …}` or the start of the body), prefixed with `context` when given.
    public init(response: HTTPResponse, context: String? = nil, now: Date = Date()) {
        let kind: Kind
        switch response.status {
        case 429: kind = .rateLimited
        case 408: kind = .timeout
        case 500...599: kind = .unavailable
        default: kind = .rejected
        }
        let detail = Self.providerMessage(in: response.body) ?? "HTTP \(response.status)"
        let message = context.map { "\($0): \(detail)" } ?? detail
        let retryAfter = kind == .rateLimited || kind == .unavailable ? response.retryAfter(now: now) : nil
        self.init(kind: kind, message: message, status: response.status, retryAfter: retryAfter)
    }

    /// Classifies a request that got no HTTP answer: `.timeout` for timeouts; `.connection` for
    /// refused, lost or failed connections (TLS and other transport failures included, as they may
    /// be passing); `.rejected` for a request the client cannot send (malformed URL, bad header);
    /// `.cancelled` when the client was shut down.
    public init(transport error: HTTPClientError) {
        let kind: Kind
        switch error.kind {
        case .timeout: kind = .timeout
        case .invalidRequest, .tooManyRedirects: kind = .rejected
        case .cancelled: kind = .cancelled
        default: kind = .connection
        }
        self.init(kind: kind, message: error.description)
    }

    /// The provider's error text from an error body, shortened to 500 characters.
    static func providerMessage(in body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String {
                return shortened(message)
            }
            if let message = object["error"] as? String { return shortened(message) }
            if let message = object["message"] as? String { return shortened(message) }
            if let detail = object["detail"] as? String { return shortened(detail) }
        }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : shortened(text)
    }

    private static func shortened(_ text: String) -> String {
        text.count <= 500 ? text : String(text.prefix(500)) + "…"
    }
}
