extension FakeModelServer {
    /// A snapshot of what the server has been asked and how it answered since it started or since the last reset.
    /// Served as JSON by `GET /stats` (keys in parentheses), reset by `POST /stats/reset`.
    public struct Stats: Sendable, Equatable, Codable {
        /// (`requests`) Requests received per endpoint (`embeddings`, `chat_completions`, `models`), counted on
        /// arrival, whatever the outcome.
        public var requests: [String: Int]
        /// (`outcomes`) Model requests per ``Outcome`` raw value (`ok`, `429`, `500`, `503`, `malformed`, `hang`,
        /// `rejected`, `invalid`).
        public var outcomes: [String: Int]
        /// (`outcomes_by_endpoint`) The same, per endpoint.
        public var outcomesByEndpoint: [String: [String: Int]]
        /// (`streamed_completions`) Chat requests with `stream: true`.
        public var streamedCompletions: Int
        /// (`embedding_inputs`) Texts received in embeddings requests (a batch of 3 counts 3), whatever the outcome.
        public var embeddingInputs: Int
        /// (`embedded_texts`) Texts answered with a vector (outcomes `ok` and `hang`).
        public var embeddedTexts: Int
        /// (`text_calls`) Exact embeddings input text → how many times it was sent, whatever the outcome.
        public var textCalls: [String: Int]
        /// (`chat_calls`) Exact last user message of a chat request → how many times it was sent.
        public var chatCalls: [String: Int]
        /// (`prompt_tokens`) Whitespace-separated words in the inputs and messages that were answered.
        public var promptTokens: Int
        /// (`completion_tokens`) Words in the chat answers given.
        public var completionTokens: Int
        /// (`peak_concurrent_requests`) The most model requests (embeddings and chat completions) handled at
        /// once: a request counts from its arrival until its answer is written, latency, hangs and a streamed
        /// body included. Shows whether clients really overlap their calls.
        public var peakConcurrentRequests: Int

        enum CodingKeys: String, CodingKey {
            case requests, outcomes
            case outcomesByEndpoint = "outcomes_by_endpoint"
            case streamedCompletions = "streamed_completions"
            case embeddingInputs = "embedding_inputs"
            case embeddedTexts = "embedded_texts"
            case textCalls = "text_calls"
            case chatCalls = "chat_calls"
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case peakConcurrentRequests = "peak_concurrent_requests"
        }

        /// Empty counters.
        public init() {
            self.requests = [:]
            self.outcomes = [:]
            self.outcomesByEndpoint = [:]
            self.streamedCompletions = 0
            self.embeddingInputs = 0
            self.embeddedTexts = 0
            self.textCalls = [:]
            self.chatCalls = [:]
            self.promptTokens = 0
            self.completionTokens = 0
            self.peakConcurrentRequests = 0
        }

        /// Requests received on `endpoint`.
        public func requests(_ endpoint: Endpoint) -> Int {
            self.requests[endpoint.rawValue, default: 0]
        }

        /// Model requests answered with `outcome`, on one endpoint or on all.
        public func count(_ outcome: Outcome, on endpoint: Endpoint? = nil) -> Int {
            if let endpoint {
                return self.outcomesByEndpoint[endpoint.rawValue]?[outcome.rawValue] ?? 0
            }
            return self.outcomes[outcome.rawValue, default: 0]
        }

        /// How many times `text` was sent as an embeddings input.
        public func calls(forText text: String) -> Int {
            self.textCalls[text, default: 0]
        }

        /// How many chat requests had a last user message containing `substring`.
        public func chatCalls(containing substring: String) -> Int {
            self.chatCalls.reduce(0) { $0 + ($1.key.contains(substring) ? $1.value : 0) }
        }

        mutating func recordRequest(_ endpoint: Endpoint) {
            self.requests[endpoint.rawValue, default: 0] += 1
        }

        mutating func recordOutcome(_ outcome: Outcome, on endpoint: Endpoint) {
            self.outcomes[outcome.rawValue, default: 0] += 1
            self.outcomesByEndpoint[endpoint.rawValue, default: [:]][outcome.rawValue, default: 0] += 1
        }
    }
}
