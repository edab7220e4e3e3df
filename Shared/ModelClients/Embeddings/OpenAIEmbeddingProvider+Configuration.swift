extension OpenAIEmbeddingProvider {
    /// Where the API is and how to call it. A plain value, `Sendable`.
    public struct Configuration: Sendable, Hashable {
        /// How vectors travel in the response.
        public enum EncodingFormat: String, Sendable, Hashable {
            /// JSON arrays of numbers (every OpenAI-compatible server supports it).
            case float
            /// Base64 of little-endian 32-bit floats: a quarter of the bytes, but not every server has it.
            case base64
        }

        /// The API root, e.g. `https://api.openai.com`, `http://127.0.0.1:8000` or `http://127.0.0.1:11434/v1`.
        ///
        /// The rule: requests go to `{baseURL}/v1/embeddings`, unless `baseURL` already ends in `/v1`
        /// (trailing slashes ignored), then to `{baseURL}/embeddings`. So both spellings of a server
        /// root work. Empty with ``unixSocketPath`` set means `http://localhost`.
        public var baseURL: String
        /// The model name sent in every request and reported as ``OpenAIEmbeddingProvider/model``.
        public var model: String
        /// The length every returned vector must have; see ``sendsDimensions`` and
        /// ``OpenAIEmbeddingProvider/discoverDimensions(configuration:client:)``.
        public var dimensions: Int
        /// Whether to send `"dimensions"` in the request, asking the model to shorten its vectors
        /// (OpenAI `text-embedding-3-*` and Matryoshka models). Off by default: several servers refuse
        /// the parameter for models that cannot shorten.
        public var sendsDimensions: Bool
        /// Sent as `Authorization: Bearer <apiKey>` when not `nil` or empty.
        public var apiKey: String?
        /// The whole-call timeout of one request (connect, send, wait, receive); time spent waiting
        /// for an HTTP client slot does not count.
        public var timeout: Duration
        /// Connection establishment limit, within ``timeout``.
        public var connectTimeout: Duration
        /// When set, requests go over this Unix domain socket (a sidecar) instead of TCP.
        public var unixSocketPath: String?
        /// The most texts one call sends (OpenAI accepts 2048; local servers often much fewer).
        public var maxBatchSize: Int
        /// Requests the provider's own HTTP client runs at once (more wait in it, FIFO).
        public var maxConcurrentRequests: Int
        /// How vectors are asked to be encoded in the response.
        public var encodingFormat: EncodingFormat
        /// Extra request headers (e.g. `OpenAI-Organization`, an API gateway's key).
        public var extraHeaders: HTTPHeaders

        /// Creates a configuration; `baseURL`, `model` and `dimensions` have no sensible default.
        public init(
            baseURL: String,
            model: String,
            dimensions: Int,
            sendsDimensions: Bool = false,
            apiKey: String? = nil,
            timeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(10),
            unixSocketPath: String? = nil,
            maxBatchSize: Int = 256,
            maxConcurrentRequests: Int = 16,
            encodingFormat: EncodingFormat = .float,
            extraHeaders: HTTPHeaders = [:]
        ) {
            self.baseURL = baseURL
            self.model = model
            self.dimensions = dimensions
            self.sendsDimensions = sendsDimensions
            self.apiKey = apiKey
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.unixSocketPath = unixSocketPath
            self.maxBatchSize = maxBatchSize
            self.maxConcurrentRequests = maxConcurrentRequests
            self.encodingFormat = encodingFormat
            self.extraHeaders = extraHeaders
        }

        /// The URL embeddings are posted to, by the rule of ``baseURL``.
        public var embeddingsURL: String {
            var root = baseURL
            if root.isEmpty, unixSocketPath != nil { root = "http://localhost" }
            while root.hasSuffix("/") { root.removeLast() }
            return root.hasSuffix("/v1") ? root + "/embeddings" : root + "/v1/embeddings"
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
            } else if !embeddingsURL.hasPrefix("http://") && !embeddingsURL.hasPrefix("https://") {
                problems.append("the base URL must start with http:// or https://, got \(baseURL)")
            }
            if model.isEmpty { problems.append("the model name is empty") }
            if dimensions < 1 { problems.append("dimensions must be at least 1, got \(dimensions)") }
            if maxBatchSize < 1 { problems.append("maxBatchSize must be at least 1, got \(maxBatchSize)") }
            if maxConcurrentRequests < 1 { problems.append("maxConcurrentRequests must be at least 1, got \(maxConcurrentRequests)") }
            if timeout <= .zero { problems.append("the timeout must be positive") }
            if let path = unixSocketPath, path.isEmpty { problems.append("the Unix socket path is empty") }
            return problems
        }
    }
}
