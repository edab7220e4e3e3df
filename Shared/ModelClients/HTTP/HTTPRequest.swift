/// One HTTP request for ``CurlHTTPClient``: method, absolute URL, headers, body bytes and timeout.
///
/// A value type, `Sendable`; the client copies what it needs (libcurl copies the body with
/// `CURLOPT_COPYPOSTFIELDS`), so the caller may reuse or mutate its value right after submitting.
public struct HTTPRequest: Sendable, Hashable {
    /// An HTTP method. Open for extension: any token is accepted, the common ones have constants.
    public struct Method: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The method token as sent, e.g. `POST`.
        public var rawValue: String
        /// Creates a method from its token; no validation beyond what libcurl does.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// `GET`
        public static let get = Method(rawValue: "GET")
        /// `POST`
        public static let post = Method(rawValue: "POST")
        /// `PUT`
        public static let put = Method(rawValue: "PUT")
        /// `PATCH`
        public static let patch = Method(rawValue: "PATCH")
        /// `DELETE`
        public static let delete = Method(rawValue: "DELETE")
        /// `HEAD` (the response has no body)
        public static let head = Method(rawValue: "HEAD")

        /// The method token.
        public var description: String { rawValue }
    }

    /// The request method.
    public var method: Method
    /// An absolute `http://` or `https://` URL. With a client configured for a Unix socket the host
    /// part only fills the `Host` header (e.g. `http://localhost/v1/embeddings`).
    public var url: String
    /// Request headers. Names and values must not contain CR or LF (rejected as `.invalidRequest`).
    /// The client adds `Content-Length` for bodies and suppresses `Expect: 100-continue` itself.
    public var headers: HTTPHeaders
    /// The request body, sent as is; `nil` sends none.
    public var body: [UInt8]?
    /// The whole-transfer timeout (connect, send, wait, receive) once the request holds a concurrency
    /// slot; `nil` uses ``HTTPClientConfiguration/defaultTimeout``. Time spent waiting for a slot does
    /// not count. For streamed responses it covers the body too, including time the consumer spends
    /// not reading.
    public var timeout: Duration?

    /// Creates a request; only the URL is required (a `GET` without body, default timeout).
    public init(
        method: Method = .get,
        url: String,
        headers: HTTPHeaders = [:],
        body: [UInt8]? = nil,
        timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}
