extension FakeModelServer {
    /// How the server listens and what it serves. Fixed for the life of a server; what may change at run time
    /// lives in ``controls``.
    public struct Configuration: Sendable {
        /// Address to bind for TCP; `127.0.0.1` by default.
        public var host: String
        /// TCP port; 0 picks a free port (read it from ``FakeModelServer/Endpoints/port``); `nil` serves no TCP.
        public var port: Int?
        /// Path of a Unix domain socket to serve on as well (the sidecar pattern); an existing socket file there is
        /// replaced, and the file is removed when the server stops.
        public var unixSocketPath: String?
        /// Embedding model names listed by `GET /v1/models`.
        public var embeddingModels: [String]
        /// Chat model names listed by `GET /v1/models`.
        public var chatModels: [String]
        /// When set, a request naming a model not in the lists above is answered 404 `model_not_found`;
        /// otherwise any model name is accepted (and seeds the embedding).
        public var rejectUnknownModels: Bool
        /// Dimensions of an embedding when the request has no `dimensions`.
        public var defaultDimensions: Int
        /// The largest `dimensions` a request may ask for.
        public var maximumDimensions: Int
        /// The largest request body accepted, in bytes (larger: 413).
        public var maximumRequestBytes: Int
        /// Whether per-text call counts (``Stats/textCalls``, ``Stats/chatCalls``) are kept. Turn off for long
        /// benchmarks with many distinct texts.
        public var recordsTexts: Bool
        /// The fault and answer controls the server starts with (and returns to on `"reset": true`).
        public var controls: Controls

        /// Creates a configuration; the defaults serve TCP on a free port of 127.0.0.1 with no faults.
        public init(
            host: String = "127.0.0.1",
            port: Int? = 0,
            unixSocketPath: String? = nil,
            embeddingModels: [String] = ["fake-embedding"],
            chatModels: [String] = ["fake-chat"],
            rejectUnknownModels: Bool = false,
            defaultDimensions: Int = FakeEmbedding.defaultDimensions,
            maximumDimensions: Int = 8192,
            maximumRequestBytes: Int = 32 << 20,
            recordsTexts: Bool = true,
            controls: Controls = Controls()
        ) {
            self.host = host
            self.port = port
            self.unixSocketPath = unixSocketPath
            self.embeddingModels = embeddingModels
            self.chatModels = chatModels
            self.rejectUnknownModels = rejectUnknownModels
            self.defaultDimensions = defaultDimensions
            self.maximumDimensions = maximumDimensions
            self.maximumRequestBytes = maximumRequestBytes
            self.recordsTexts = recordsTexts
            self.controls = controls
        }

        /// Every problem with the values, one sentence each; empty when they are usable.
        public var problems: [String] {
            var problems: [String] = []
            if self.port == nil && self.unixSocketPath == nil {
                problems.append("nothing to listen on: give a TCP port, a Unix socket path, or both")
            }
            if let port = self.port, !(0...65535).contains(port) {
                problems.append("port must be 0–65535, got \(port)")
            }
            if let path = self.unixSocketPath, path.isEmpty {
                problems.append("the Unix socket path must not be empty")
            }
            if !(1...self.maximumDimensions).contains(self.defaultDimensions) {
                problems.append("default dimensions must be 1–\(self.maximumDimensions), got \(self.defaultDimensions)")
            }
            if self.maximumRequestBytes <= 0 {
                problems.append("the maximum request size must be positive")
            }
            return problems + self.controls.problems
        }
    }

    /// Where a running server can be reached.
    public struct Endpoints: Sendable, Equatable {
        /// The TCP host it bound, if it serves TCP.
        public var host: String?
        /// The bound TCP port (the real one when 0 was asked for), if it serves TCP.
        public var port: Int?
        /// The Unix domain socket path, if it serves one.
        public var unixSocketPath: String?

        /// Creates endpoints (the server reports its own from ``FakeModelServer/listening()``).
        public init(host: String? = nil, port: Int? = nil, unixSocketPath: String? = nil) {
            self.host = host
            self.port = port
            self.unixSocketPath = unixSocketPath
        }

        /// `http://HOST:PORT` for TCP (a wildcard host is given as 127.0.0.1); `nil` without TCP.
        public var baseURL: String? {
            guard let host, let port else { return nil }
            let reachable = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
            return reachable.contains(":") ? "http://[\(reachable)]:\(port)" : "http://\(reachable):\(port)"
        }
    }
}
