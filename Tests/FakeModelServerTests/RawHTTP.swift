import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a raw request goes.
enum HTTPTarget: Sendable {
    case tcp(port: Int)
    case unix(path: String)
}

/// A response read off the socket, with the decoded body also kept as the pieces it arrived in.
struct HTTPResult: Sendable {
    /// Decoded body bytes as they arrived: `at` is the time since the request was sent.
    struct Piece: Sendable {
        var at: Duration
        var bytes: [UInt8]
    }

    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    var pieces: [Piece]

    var body: [UInt8] { self.pieces.flatMap(\.bytes) }
    var text: String { String(decoding: self.body, as: UTF8.self) }

    /// The body as a JSON object, or `nil` when it is not one.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any]
    }

    /// Server-sent events: the `data:` payload of each event with the time its last byte arrived.
    var events: [(at: Duration, data: String)] {
        var result: [(at: Duration, data: String)] = []
        var pending = ""
        for piece in self.pieces {
            pending += String(decoding: piece.bytes, as: UTF8.self)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                let data = block.split(separator: "\n")
                    .filter { $0.hasPrefix("data:") }
                    .map { $0.dropFirst(5).drop { $0 == " " } }
                    .joined(separator: "\n")
                result.append((piece.at, data))
            }
        }
        return result
    }
}

enum RawHTTPError: Error, Equatable {
    case timedOut
    case socket(String)
    case malformedResponse(String)
}

/// A deliberately small HTTP/1.1 client over POSIX sockets, for TCP and Unix domain sockets alike: one request
/// per connection (`Connection: close`), `Content-Length`, chunked and read-to-close bodies, an overall deadline.
/// The blocking socket calls run on a dedicated thread, never on the Swift concurrency pool.
enum RawHTTP {
    static func exchange(
        _ method: String,
        _ path: String,
        json: String? = nil,
        to target: HTTPTarget,
        timeout: Duration = .seconds(15)
    ) async throws -> HTTPResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try self.blockingSend(method, path, json: json, to: target, timeout: timeout) })
            }
            thread.start()
        }
    }

    private static func blockingSend(_ method: String, _ path: String, json: String?, to target: HTTPTarget, timeout: Duration) throws -> HTTPResult {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        let descriptor = try self.openConnection(to: target)
        defer { close(descriptor) }

        let body = Array((json ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if json != nil { head += "Content-Type: application/json\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw RawHTTPError.socket("send failed: errno \(errno)") }
            sent += count
        }

        var raw: [UInt8] = []
        var parser = ResponseParser()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !parser.isComplete {
            let remaining = deadline - clock.now
            guard remaining > .zero else { throw RawHTTPError.timedOut }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), remaining / .milliseconds(1)).rounded(.up))
            let ready = poll(&poller, 1, milliseconds)
            if ready == 0 { throw RawHTTPError.timedOut }
            if ready < 0 {
                if errno == EINTR { continue }
                throw RawHTTPError.socket("poll failed: errno \(errno)")
            }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw RawHTTPError.socket("recv failed: errno \(errno)")
            }
            if count == 0 {
                try parser.finishAtClose()
                break
            }
            raw += buffer[0..<count]
            try parser.feed(Array(buffer[0..<count]), at: clock.now - start)
        }
        guard let result = parser.result else { throw RawHTTPError.malformedResponse(String(decoding: raw, as: UTF8.self)) }
        return result
    }

    private static func openConnection(to target: HTTPTarget) throws -> Int32 {
        switch target {
        case .tcp(let port):
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw RawHTTPError.socket("socket failed: errno \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                close(descriptor)
                throw RawHTTPError.socket("connect to port \(port) failed: errno \(errno)")
            }
            return descriptor
        case .unix(let path):
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw RawHTTPError.socket("socket failed: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(descriptor)
                throw RawHTTPError.socket("socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { pathBytes in
                for (index, byte) in bytes.enumerated() { pathBytes[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else {
                close(descriptor)
                throw RawHTTPError.socket("connect to \(path) failed: errno \(errno)")
            }
            return descriptor
        }
    }
}

/// Incremental HTTP/1.1 response parser.
private struct ResponseParser {
    private enum BodyMode {
        case length(Int)
        case chunked
        case untilClose
    }

    private var pending: [UInt8] = []
    private var status = 0
    private var headers: [String: String] = [:]
    private var mode: BodyMode?
    private var pieces: [HTTPResult.Piece] = []
    private var received = 0
    private(set) var isComplete = false

    var result: HTTPResult? {
        self.isComplete ? HTTPResult(status: self.status, headers: self.headers, pieces: self.pieces) : nil
    }

    mutating func feed(_ bytes: [UInt8], at time: Duration) throws {
        self.pending += bytes
        if self.mode == nil {
            guard let end = self.find([13, 10, 13, 10]) else { return }
            let head = String(decoding: self.pending[..<end], as: UTF8.self)
            self.pending.removeFirst(end + 4)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                throw RawHTTPError.malformedResponse(head)
            }
            self.status = status
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                self.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            if self.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                self.mode = .chunked
            } else if let length = self.headers["content-length"].flatMap({ Int($0) }) {
                self.mode = .length(length)
            } else {
                self.mode = .untilClose
            }
        }
        var decoded: [UInt8] = []
        switch self.mode! {
        case .length(let length):
            let take = min(length - self.received, self.pending.count)
            decoded = Array(self.pending.prefix(take))
            self.pending.removeFirst(take)
            self.received += take
            if self.received == length { self.isComplete = true }
        case .untilClose:
            decoded = self.pending
            self.pending = []
        case .chunked:
            while let lineEnd = self.find([13, 10]) {
                let sizeText = String(decoding: self.pending[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw RawHTTPError.malformedResponse("bad chunk size \(sizeText)")
                }
                if size == 0 {
                    self.isComplete = true  // trailers, if any, are ignored
                    break
                }
                guard self.pending.count >= lineEnd + 2 + size + 2 else { break }
                decoded += self.pending[(lineEnd + 2)..<(lineEnd + 2 + size)]
                self.pending.removeFirst(lineEnd + 2 + size + 2)
            }
        }
        if !decoded.isEmpty {
            self.pieces.append(.init(at: time, bytes: decoded))
        }
    }

    mutating func finishAtClose() throws {
        switch self.mode {
        case .untilClose?: self.isComplete = true
        default: throw RawHTTPError.malformedResponse("connection closed before the response was complete")
        }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard self.pending.count >= needle.count else { return nil }
        for start in 0...(self.pending.count - needle.count) where self.pending[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
