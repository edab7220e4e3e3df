extension FakeModelServer {
    /// The model endpoints the server counts and injects faults into.
    public enum Endpoint: String, Sendable, Hashable, Codable, CaseIterable {
        /// `POST /v1/embeddings`
        case embeddings
        /// `POST /v1/chat/completions`, streaming or not.
        case chatCompletions = "chat_completions"
        /// `GET /v1/models` (never faulted).
        case models
    }

    /// How a model request was answered, as counted in ``Stats``.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        /// Answered normally (200).
        case ok
        /// Answered 429 with `Retry-After` (random fault).
        case rateLimited = "429"
        /// Answered 500 (random fault).
        case internalServerError = "500"
        /// Answered 503 (random fault).
        case serviceUnavailable = "503"
        /// Answered 200 with a body that is not valid JSON or lacks `data`/`choices`.
        case malformed
        /// Held for `hang_seconds` before answering normally.
        case hang
        /// Refused with the status configured in `fail_on_text`.
        case rejected
        /// Refused because the request itself was invalid (bad JSON, missing fields, unknown model): 400/404.
        case invalid
    }

    /// What a malformed answer looks like.
    public enum MalformedMode: String, Sendable, Hashable, Codable, CaseIterable {
        /// A 200 whose body is cut short, so it is not valid JSON.
        case invalidJSON = "invalid_json"
        /// A 200 with valid JSON that lacks `data` (embeddings) or `choices` (chat).
        case missingField = "missing_field"
        /// Either of the two, chosen by the seeded fault draw (about half each).
        case mixed
    }
}
