internal import CCurl

/// A request that produced no HTTP response: the transport failed, timed out, or was cancelled by
/// the client shutting down. (HTTP statuses such as 429 or 503 are responses, never this error; and
/// cancelling the calling task throws `CancellationError`, never this error.)
///
/// A struct with an open ``Kind`` rather than a large public enum, so new categories need no API
/// break. `curlCode` and `message` keep libcurl's details for logs. Immutable, hence `Sendable`.
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of failure, which decides whether retrying can help.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case timeout, connectionFailed, connectionLost, tls, tooManyRedirects, invalidRequest, cancelled, other
        }
        private let base: Base

        /// The transfer exceeded its timeout (or the connect timeout): `CURLE_OPERATION_TIMEDOUT`.
        public static let timeout = Kind(base: .timeout)
        /// No connection could be made: refused, unreachable, DNS failure, missing Unix socket.
        public static let connectionFailed = Kind(base: .connectionFailed)
        /// The connection broke after it was established: reset, closed early, empty reply, HTTP/2
        /// stream error. The server may or may not have processed the request.
        public static let connectionLost = Kind(base: .connectionLost)
        /// TLS handshake or certificate verification failed.
        public static let tls = Kind(base: .tls)
        /// More redirects than ``HTTPClientConfiguration/maxRedirects``.
        public static let tooManyRedirects = Kind(base: .tooManyRedirects)
        /// The request itself is unusable: malformed URL, unsupported scheme, CR/LF in a header.
        public static let invalidRequest = Kind(base: .invalidRequest)
        /// The client was shut down before the request completed.
        public static let cancelled = Kind(base: .cancelled)
        /// Anything else libcurl reported (protocol violations, out of memory, write errors, …).
        public static let other = Kind(base: .other)

        /// The kind's name, e.g. `timeout`.
        public var description: String { base.rawValue }
    }

    /// The category of failure.
    public let kind: Kind
    /// libcurl's `CURLcode` when the error came from libcurl, else `nil`.
    public let curlCode: Int?
    /// What went wrong, for people (libcurl's detailed error buffer when it has one).
    public let message: String

    /// Creates an error; the client creates these, callers may for their own transport layers.
    public init(kind: Kind, curlCode: Int? = nil, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    /// Whether the same request can succeed if tried again later: timeouts and connection failures.
    /// Note that a `.connectionLost` or `.timeout` POST may already have been processed by the server.
    public var isRetryable: Bool {
        kind == .timeout || kind == .connectionFailed || kind == .connectionLost
    }

    /// Kind, curl code and message on one line, for logs.
    public var description: String {
        let code = curlCode.map { " (curl \($0))" } ?? ""
        return "HTTP client error \(kind)\(code): \(message)"
    }

    /// The error for a failed libcurl transfer; `detail` is the CURLOPT_ERRORBUFFER text, if any.
    init(curlCode code: CURLcode, detail: String?) {
        let text = detail.flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: curl_easy_strerror(code))
        self.init(kind: Self.kind(of: code), curlCode: Int(code.rawValue), message: text)
    }

    static func cancelledByShutdown() -> HTTPClientError {
        HTTPClientError(kind: .cancelled, message: "the HTTP client was shut down")
    }

    private static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectionFailed
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
            CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .connectionLost
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED:
            return .tls
        case CURLE_TOO_MANY_REDIRECTS:
            return .tooManyRedirects
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION,
            CURLE_NOT_BUILT_IN:
            return .invalidRequest
        default:
            return .other
        }
    }
}
