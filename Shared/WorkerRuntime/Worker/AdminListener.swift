/// Which variables set the address of a worker's admin endpoints, and the worker's default port.
///
/// Workers use ``admin(defaultPort:)`` (`RAG_ADMIN_HOST`, `RAG_ADMIN_PORT`); the gateway serves the admin
/// endpoints on its HTTP port and uses ``http(defaultPort:)`` (`RAG_HTTP_HOST`, `RAG_HTTP_PORT`).
public struct AdminListener: Sendable {
    /// The variable holding the bind address.
    public var host: ConfigurationVariable<String>
    /// The variable holding the port.
    public var port: ConfigurationVariable<Int>

    /// A listener configured by the given variables.
    public init(host: ConfigurationVariable<String>, port: ConfigurationVariable<Int>) {
        self.host = host
        self.port = port
    }

    /// `RAG_ADMIN_HOST` (default `0.0.0.0`) and `RAG_ADMIN_PORT` (default `defaultPort`).
    public static func admin(defaultPort: Int) -> Self {
        Self(host: .adminHost, port: .adminPort(default: defaultPort))
    }

    /// `RAG_HTTP_HOST` (default `0.0.0.0`) and `RAG_HTTP_PORT` (default `defaultPort`).
    public static func http(defaultPort: Int) -> Self {
        Self(host: .httpHost, port: .httpPort(default: defaultPort))
    }
}
