import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `ragctl health URL`: exits 0 when `GET URL` answers 2xx within the timeout, 1 otherwise — the container
/// health check of every worker (`/readyz` on its admin port), since the runtime image has no curl.
///
/// Plain HTTP/1.0 over one TCP connection, no redirects, no TLS: admin endpoints are served in the clear on
/// the pod's or container's own address.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 if GET URL answers 2xx (a container health check, e.g. http://127.0.0.1:9101/readyz)."
    )

    @Argument(help: "An http:// URL, such as http://127.0.0.1:9101/readyz.")
    var url: String

    @Option(help: "Seconds to wait for the connection and the answer.")
    var timeout: Int = 3

    func run() throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host, !host.isEmpty else {
            throw ValidationError("expected an http:// URL with a host, got \(url)")
        }
        let port = components.port ?? 80
        let path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        do {
            let status = try Self.get(host: host, port: port, path: path, timeoutSeconds: max(1, timeout))
            guard (200..<300).contains(status) else {
                FileHandle.standardError.write(Data("\(url): HTTP \(status)\n".utf8))
                throw ExitCode.failure
            }
        } catch let error as HealthCheckError {
            FileHandle.standardError.write(Data("\(url): \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }

    struct HealthCheckError: Error {
        let message: String
    }

    /// The status code of `GET path` on `host:port`.
    static func get(host: String, port: Int, path: String, timeoutSeconds: Int) throws(HealthCheckError) -> Int {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw HealthCheckError(message: "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }

        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                lastError = "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))"
                continue
            }
            let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
            guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
                throw HealthCheckError(message: "cannot send the request: \(String(cString: strerror(errno)))")
            }
            // The status line is all we need: "HTTP/1.1 200 OK".
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 512)
            while !received.contains(UInt8(ascii: "\n")) && received.count < 4096 {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                received += buffer[..<count]
            }
            let statusLine = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
                throw HealthCheckError(message: "no HTTP answer (\(received.isEmpty ? "nothing received" : statusLine))")
            }
            return status
        }
        throw HealthCheckError(message: lastError)
    }
}
