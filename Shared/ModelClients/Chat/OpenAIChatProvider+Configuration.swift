extension OpenAIChatProvider {
    /// Where the API is and how to call it. A plain value, `Sendable`.
    public struct Configuration: Sendable, Hashable {
        /// The API root, e.g. `https://api.openai.com`, `http://127.0.0.1:8000` or `http://127.0.0.1:11434/v1`.
        ///
        /// The rule: requests go to `{baseURL}/v1/chat/completions`, unless `baseURL` already ends in
        /// `/v1` (trailing slashes ignored), then to `{baseURL}/chat/completions`. Empty with
        /// ``unixSocketPath`` set means `http://localhost`.
        public var baseURL: String
        /// The model name sent in every request and reported as ``OpenAIChatProvider/model``.
        public var model: String
        /// Sent as `Authorization: Bearer <apiKey>` when not `nil` or empty.
        public var apiKey: String?
        /// The whole-call timeout of one request — connect, send, wait for the first token and receive
        /// the whole stream — once it holds an HTTP client slot. Give it room for the longest answer.
        public var timeout: Duration
        /// Connection establishment limit, within ``timeout``.
        public var connectTimeout: Duration
        /// When set, requests go over this Unix domain socket (a sidecar) instead of TCP.
        public var unixSocketPath: String?
        /// Requests the provider's own HTTP client runs at once (more wait in it, FIFO, without their
        /// timeout running). A streamed answer holds its slot until the stream ends, so this must cover
        /// every call the worker keeps in flight: default 256.
        public var maxConcurrentRequests: Int
        /// Whether to ask for the token counts at the end of the stream
        /// (`"stream_options": {"include_usage": true}`). On by default; turn it off for a server that
        /// refuses the option (the counts are then estimated).
        public var requestsUsage: Bool
        /// Extra request headers (e.g. `OpenAI-Organization`, an API gateway's key).
        public var extraHeaders: HTTPHeaders
        /// The most bytes one streamed event may hold; a longer one is `.malformedResponse`. Default 1 MiB.
        public var maxEventBytes: Int

        /// Creates a configuration; `baseURL` and `model` have no sensible default.
        public init(
            baseURL: String,
            model: String,
            apiKey: String? = nil,
            timeout: Duration = .seconds(120),
            connectTimeout: Duration = .seconds(10),
            unixSocketPath: String? = nil,
            maxConcurrentRequests: Int = 256,
            requestsUsage: Bool = true,
            extraHeaders: HTTPHeaders = [:],
            maxEventBytes: Int = 1 << 20
        ) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.unixSocketPath = unixSocketPath
            self.maxConcurrentRequests = maxConcurrentRequests
            self.requestsUsage = requestsUsage
            self.extraHeaders = extraHeaders
            self.maxEventBytes = maxEventBytes
        }

        /// The URL completions are posted to, by the rule of ``baseURL``.
        public var completionsURL: String {
            var root = baseURL
            if root.isEmpty, unixSocketPath != nil { root = "http://localhost" }
            while root.hasSuffix("/") { root.removeLast() }
            return root.hasSuffix("/v1") ? root + "/chat/completions" : root + "/v1/chat/completions"
        }

        /// The HTTP client settings these values imply.
        public var httpClientConfiguration: HTTPClientConfiguration {
            HTTPClientConfiguration(
                maxConcurrentRequests: maxConcurrentRequests,
                defaultTimeout: timeout,
                connectTimeout: connectTimeout,
                unixSocketPath: unixSocketPath
            )
        }

        /// Every problem with the values, one sentence each; empty when they are usable.
        public var problems: [String] {
            var problems: [String] = []
            if baseURL.isEmpty && unixSocketPath == nil {
                problems.append("the base URL is empty (and no Unix socket is given)")
            } else if !completionsURL.hasPrefix("http://") && !completionsURL.hasPrefix("https://") {
                problems.append("the base URL must start with http:// or https://, got \(baseURL)")
            }
            if model.isEmpty { problems.append("the model name is empty") }
            if maxConcurrentRequests < 1 { problems.append("maxConcurrentRequests must be at least 1, got \(maxConcurrentRequests)") }
            if timeout <= .zero { problems.append("the timeout must be positive") }
            if maxEventBytes < 1024 { problems.append("maxEventBytes must be at least 1024, got \(maxEventBytes)") }
            if let path = unixSocketPath, path.isEmpty { problems.append("the Unix socket path is empty") }
            return problems
        }
    }
}
