import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// What the test server observed, shared between its handlers and the test.
final class ServerProbe: Sendable {
    private let current = Atomic<Int>(0)
    private let highWater = Atomic<Int>(0)
    private let handled = Atomic<Int>(0)
    /// Set by `/stream` after it wrote its last chunk.
    let streamFinished = Atomic<Bool>(false)

    /// Requests inside `/sleep` right now.
    var inFlight: Int { current.load(ordering: .relaxed) }
    /// The most requests that were inside `/sleep` at once.
    var maxInFlight: Int { highWater.load(ordering: .relaxed) }
    /// `/sleep` requests that completed.
    var completed: Int { handled.load(ordering: .relaxed) }

    func enter() {
        let now = current.add(1, ordering: .relaxed).newValue
        var seen = highWater.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = highWater.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func exit() {
        current.subtract(1, ordering: .relaxed)
        handled.add(1, ordering: .relaxed)
    }
}

/// A real Hummingbird 2 HTTP/1.1 server for the client tests, on 127.0.0.1 with an ephemeral port
/// or on a Unix domain socket. Runs for the duration of `withTestServer`'s body.
///
/// Endpoints:
/// - `GET /hello` → `hello`
/// - `GET /sleep?ms=N` → sleeps N ms (counted in the probe's concurrency), then `slept`
/// - `POST /echo` → the request body; `x-echo-custom`, `x-echo-content-type`, `x-echo-expect`,
///   `x-echo-method`, `x-echo-length` report what arrived
/// - `GET /stream?chunks=N&delayMs=D` → `chunk i\n` N times, D ms apart, chunked encoding
/// - `GET /bulk?bytes=N` → N bytes (`i % 251`) written in 64 KiB pieces as fast as possible
/// - `GET /status?code=C&retryAfter=R` → status C with `Retry-After: R`
struct TestHTTPServer {
    /// `http://127.0.0.1:<port>` or, for a Unix socket, `http://localhost`.
    let baseURL: String
    let probe: ServerProbe

    static func withServer<T>(
        unixSocketPath: String? = nil,
        _ body: (TestHTTPServer) async throws -> T
    ) async throws -> T {
        let probe = ServerProbe()
        let router = Router()
        addRoutes(to: router, probe: probe)

        var logger = Logger(label: "ModelClientsTests.server")
        logger.logLevel = .error
        let address: BindAddress = unixSocketPath.map { .unixDomainSocket(path: $0) } ?? .hostname("127.0.0.1", port: 0)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: address),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            },
            logger: logger
        )

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let baseURL = unixSocketPath == nil ? "http://127.0.0.1:\(port)" : "http://localhost"
            do {
                let result = try await body(TestHTTPServer(baseURL: baseURL, probe: probe))
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    private static func addRoutes(to router: Router<BasicRequestContext>, probe: ServerProbe) {
        router.get("hello") { _, _ in "hello" }

        router.get("sleep") { request, _ -> String in
            let milliseconds = request.uri.queryParameters.get("ms", as: Int.self) ?? 100
            probe.enter()
            defer { probe.exit() }
            try await Task.sleep(for: .milliseconds(milliseconds))
            return "slept"
        }

        router.post("echo") { request, _ -> Response in
            let received = try await request.body.collect(upTo: 16 << 20)
            var headers = HTTPFields()
            headers[HTTPField.Name("x-echo-custom")!] = request.headers[HTTPField.Name("x-custom")!] ?? "none"
            headers[HTTPField.Name("x-echo-content-type")!] = request.headers[.contentType] ?? "none"
            headers[HTTPField.Name("x-echo-expect")!] = request.headers[.expect] ?? "none"
            headers[HTTPField.Name("x-echo-method")!] = request.method.rawValue
            headers[HTTPField.Name("x-echo-length")!] = String(received.readableBytes)
            headers[.contentType] = "application/octet-stream"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: received))
        }

        router.get("stream") { request, _ -> Response in
            let chunks = request.uri.queryParameters.get("chunks", as: Int.self) ?? 5
            let delay = request.uri.queryParameters.get("delayMs", as: Int.self) ?? 100
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    for index in 0..<chunks {
                        if index > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                        try await writer.write(ByteBuffer(string: "chunk \(index)\n"))
                    }
                    probe.streamFinished.store(true, ordering: .releasing)
                    try await writer.finish(nil)
                }
            )
        }

        router.get("bulk") { request, _ -> Response in
            let total = request.uri.queryParameters.get("bytes", as: Int.self) ?? 1 << 20
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    var offset = 0
                    while offset < total {
                        let count = min(64 << 10, total - offset)
                        var piece = ByteBuffer()
                        piece.reserveCapacity(count)
                        for index in offset..<(offset + count) { piece.writeInteger(UInt8(index % 251)) }
                        try await writer.write(piece)
                        offset += count
                    }
                    try await writer.finish(nil)
                }
            )
        }

        router.get("status") { request, _ -> Response in
            let code = request.uri.queryParameters.get("code", as: Int.self) ?? 500
            var headers = HTTPFields()
            if let retryAfter = request.uri.queryParameters.get("retryAfter") {
                headers[.retryAfter] = String(retryAfter)
            }
            return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "status \(code)")))
        }
    }
}

/// A TCP port on 127.0.0.1 that is bound but not listening: connecting to it is refused.
/// The socket stays open (so no one else takes the port) until `close()`.
struct RefusingPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            _ = Glibc.close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
