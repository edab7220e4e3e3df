/// Settings for one ``CurlHTTPClient``, fixed for its lifetime. A plain value, `Sendable`.
public struct HTTPClientConfiguration: Sendable, Hashable {
    /// The most transfers the client runs at once (at least 1). Further requests wait in the client
    /// in FIFO order; waiting does not count against their timeout, and a request cancelled while
    /// waiting leaves the queue at once. Bound this by what the provider tolerates, not by CPU.
    public var maxConcurrentRequests: Int
    /// The whole-transfer timeout for requests that do not set ``HTTPRequest/timeout``.
    public var defaultTimeout: Duration
    /// The limit for establishing a connection (TCP + TLS), within the request's timeout.
    public var connectTimeout: Duration
    /// When set, every request goes over this Unix domain socket (the sidecar pattern); URLs keep
    /// their `http://host/path` form and the host is only sent in the `Host` header.
    public var unixSocketPath: String?
    /// How many redirects to follow. 0 (the default) returns 3xx responses to the caller: model APIs
    /// do not redirect, and silently re-sending a POST elsewhere is rarely wanted.
    public var maxRedirects: Int
    /// Roughly how many received but unread bytes a streamed body may buffer before the transfer is
    /// paused (one network read may overshoot it). Only for ``CurlHTTPClient/stream(_:)``.
    public var streamBufferLimit: Int
    /// A CA bundle (PEM file) replacing the system's trusted roots, e.g. for a private CA.
    /// `nil` uses the system store libcurl was built with.
    public var caBundlePath: String?
    /// The `User-Agent` header, unless a request sets its own.
    public var userAgent: String

    /// Creates a configuration; every setting has a default suited to a remote model API.
    public init(
        maxConcurrentRequests: Int = 64,
        defaultTimeout: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10),
        unixSocketPath: String? = nil,
        maxRedirects: Int = 0,
        streamBufferLimit: Int = 1 << 20,
        caBundlePath: String? = nil,
        userAgent: String = "kafka-rag-model-clients"
    ) {
        self.maxConcurrentRequests = maxConcurrentRequests
        self.defaultTimeout = defaultTimeout
        self.connectTimeout = connectTimeout
        self.unixSocketPath = unixSocketPath
        self.maxRedirects = maxRedirects
        self.streamBufferLimit = streamBufferLimit
        self.caBundlePath = caBundlePath
        self.userAgent = userAgent
    }
}
