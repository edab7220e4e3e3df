import CCurl
import Foundation
import Synchronization

/// One request: its libcurl easy handle, the response it accumulates, and where the outcome goes.
///
/// Why `@unchecked Sendable` is true here — confinement by hand-over:
/// - the submitting task creates and configures it, then passes it to ``CurlMultiLoop`` under the
///   loop's lock (which orders those writes before anything the loop thread does);
/// - from then on only the loop thread touches the easy handle and the response fields: libcurl
///   calls the header/write callbacks on that thread, inside `curl_multi_perform`;
/// - a transfer that never reached the loop thread (cancelled while queued, rejected at shutdown)
///   is finished by the thread that took it out of the queue, again under the lock's ordering;
/// - `cancelRequested` is atomic because it is set from a cancellation handler, and the one-shot
///   `finished` flag guards the "resumed exactly once" rule.
///
/// Ownership: the easy handle, header list and error buffer belong to this object and are freed in
/// `deinit`, which can only run once the loop has removed the handle from the multi handle (the loop
/// keeps attached transfers alive).
final class CurlTransfer: @unchecked Sendable {
    /// Where the outcome is delivered.
    enum Delivery {
        /// ``CurlHTTPClient/execute(_:)``: one continuation for the whole response.
        case collect(CheckedContinuation<HTTPResponse, any Error>)
        /// ``CurlHTTPClient/stream(_:)`` before the head arrived: the head continuation and the body
        /// stream it will carry (a reference dropped as soon as the head is delivered).
        case streamHead(CheckedContinuation<HTTPStreamingResponse, any Error>, AsyncThrowingStream<[UInt8], any Error>, CurlStreamBuffer)
        /// ``CurlHTTPClient/stream(_:)`` after the head: only the body buffer remains.
        case streamBody(CurlStreamBuffer)
    }

    /// The libcurl easy handle (`CURL *`).
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let followsRedirects: Bool
    private let cancelRequested = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    private var delivery: Delivery?
    private var parsedStatus = 0
    private var headers = HTTPHeaders()
    private var headComplete = false
    private var body: [UInt8] = []

    /// Builds and configures the easy handle. Throws `.invalidRequest` for header injection
    /// attempts and `.other` if libcurl cannot allocate a handle.
    init(request: HTTPRequest, configuration: HTTPClientConfiguration) throws {
        CurlGlobal.ensureInitialized()
        try Self.validate(request.headers)
        guard let handle = curl_easy_init() else {
            throw HTTPClientError(kind: .other, message: "curl_easy_init failed (out of memory)")
        }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        self.followsRedirects = configuration.maxRedirects > 0
        // From here on `deinit` frees what was created if configuration fails.
        try configure(request: request, configuration: configuration)
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Sets where the outcome goes; called once, before the transfer is submitted.
    func setDelivery(_ delivery: Delivery) {
        self.delivery = delivery
    }

    var isCancelRequested: Bool { cancelRequested.load(ordering: .acquiring) }

    func markCancelRequested() { cancelRequested.store(true, ordering: .releasing) }

    // MARK: Outcome (exactly one of these, once)

    /// Delivers the result of a transfer the multi handle completed (loop thread, after removal).
    func complete(_ code: CURLcode) {
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            fail(HTTPClientError(curlCode: code, detail: detail))
            return
        }
        guard markFinished() else { return }
        var status = 0
        _ = rag_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        switch takeDelivery() {
        case .collect(let continuation):
            continuation.resume(returning: HTTPResponse(status: status, headers: headers, body: body))
        case .streamHead(let continuation, let stream, let buffer):
            // The head never ended with a blank line we recognised (e.g. a bare HTTP/1.0 reply):
            // the complete transfer still yields a response.
            continuation.resume(returning: HTTPStreamingResponse(status: status, headers: headers, body: stream))
            buffer.finish(nil)
        case .streamBody(let buffer):
            buffer.finish(nil)
        case nil:
            break
        }
    }

    /// Delivers a failure: a libcurl error, `CancellationError`, or shutdown.
    func fail(_ error: any Error) {
        guard markFinished() else { return }
        switch takeDelivery() {
        case .collect(let continuation):
            continuation.resume(throwing: error)
        case .streamHead(let continuation, _, let buffer):
            buffer.finish(error)
            continuation.resume(throwing: error)
        case .streamBody(let buffer):
            buffer.finish(error)
        case nil:
            break
        }
    }

    private func markFinished() -> Bool {
        let (exchanged, _) = finished.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        assert(exchanged, "a transfer was finished twice")
        return exchanged
    }

    private func takeDelivery() -> Delivery? {
        defer { delivery = nil }
        return delivery
    }

    // MARK: libcurl callbacks (loop thread)

    /// One header line, CRLF included. A status line starts a new header block (1xx responses,
    /// followed redirects); the blank line ends it.
    fileprivate func receiveHeaderLine(_ line: UnsafeRawBufferPointer) -> Int {
        // Parsed as bytes: this runs for every header of every response, and Foundation's trimming
        // (`trimmingCharacters(in:)`, through NSString) cost more than the rest of a request's client work.
        var end = line.endIndex
        while end > line.startIndex, line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let content = line[..<end]
        if content.starts(with: "HTTP/".utf8) {
            let text = String(decoding: content, as: UTF8.self)
            parsedStatus = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
            headers = HTTPHeaders()
            headComplete = false
            return line.count
        }
        guard !headComplete else { return line.count }  // trailers: not part of the head
        if content.isEmpty {
            endOfHeaderBlock()
        } else if content.first == UInt8(ascii: " ") || content.first == UInt8(ascii: "\t") {
            // obs-fold continuation line: belongs to the previous field's value
            if let last = headers.reversed().first {
                headers[last.name] = last.value + " " + String(decoding: Self.trimmingBlanks(content), as: UTF8.self)
            }
        } else if let colon = content.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: Self.trimmingBlanks(content[..<colon]), as: UTF8.self)
            let value = String(decoding: Self.trimmingBlanks(content[(colon + 1)...]), as: UTF8.self)
            headers.add(name: name, value: value)
        }
        return line.count
    }

    /// `bytes` without leading and trailing spaces and tabs (HTTP's optional whitespace around a field value).
    private static func trimmingBlanks(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    private func endOfHeaderBlock() {
        if parsedStatus < 200 { return }  // 1xx interim response: another block follows
        if followsRedirects, (300..<400).contains(parsedStatus), headers["Location"] != nil { return }
        headComplete = true
        guard case .streamHead(let continuation, let stream, let buffer) = delivery else { return }
        delivery = .streamBody(buffer)
        var status = 0
        _ = rag_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        continuation.resume(returning: HTTPStreamingResponse(status: status == 0 ? parsedStatus : status, headers: headers, body: stream))
    }

    /// Body bytes (decoded). Returns the count taken, or CURL_WRITEFUNC_PAUSE when a stream's
    /// buffer is full.
    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch delivery {
        case .collect:
            body.append(contentsOf: bytes)
            return bytes.count
        case .streamHead(_, _, let buffer), .streamBody(let buffer):
            return buffer.offer(bytes) ? bytes.count : rag_curl_writefunc_pause()
        case nil:
            return bytes.count
        }
    }

    // MARK: Configuration

    private func configure(request: HTTPRequest, configuration: HTTPClientConfiguration) throws {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        try set(CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout ?? configuration.defaultTimeout))
        try set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        try set(CURLOPT_ACCEPT_ENCODING, "")  // every encoding libcurl can decode
        try set(CURLOPT_USERAGENT, configuration.userAgent)
        if request.url.lowercased().hasPrefix("https:") {
            // Prefer multiplexing on an HTTP/2 connection being set up over opening another one.
            try set(CURLOPT_PIPEWAIT, 1)
        }
        if let path = configuration.unixSocketPath {
            try set(CURLOPT_UNIX_SOCKET_PATH, path)
        }
        if let path = configuration.caBundlePath {
            try set(CURLOPT_CAINFO, path)
        }
        if configuration.maxRedirects > 0 {
            try set(CURLOPT_FOLLOWLOCATION, 1)
            try set(CURLOPT_MAXREDIRS, configuration.maxRedirects)
        }

        try check(rag_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        try set(CURLOPT_HEADERDATA, pointer: userdata)
        try check(rag_curl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        try set(CURLOPT_WRITEDATA, pointer: userdata)

        try configureMethodAndBody(request)

        var list: UnsafeMutablePointer<curl_slist>?
        for field in request.headers {
            // "Name:" would make libcurl drop the header; "Name;" sends it with an empty value.
            list = try Self.append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)", to: list)
        }
        // libcurl would send `Expect: 100-continue` for larger bodies and wait for the server.
        list = try Self.append("Expect:", to: list)
        if request.body != nil, request.headers["Content-Type"] == nil {
            // libcurl would claim application/x-www-form-urlencoded; send no type rather than a wrong one.
            list = try Self.append("Content-Type:", to: list)
        }
        headerList = list
        try check(rag_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
    }

    private func configureMethodAndBody(_ request: HTTPRequest) throws {
        let method = request.method
        switch method {
        case .get where request.body == nil:
            try set(CURLOPT_HTTPGET, 1)
        case .head:
            try set(CURLOPT_NOBODY, 1)
        case .post:
            try set(CURLOPT_POST, 1)
        default:
            try set(CURLOPT_CUSTOMREQUEST, method.rawValue)
        }
        // POST always carries fields (even empty) so libcurl never falls back to reading stdin.
        guard request.body != nil || method == .post else { return }
        let body = request.body ?? []
        try check(rag_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        guard !body.isEmpty else {
            try set(CURLOPT_COPYPOSTFIELDS, "")
            return
        }
        try body.withUnsafeBytes { bytes in
            // Size first, then COPYPOSTFIELDS copies exactly that many bytes (binary-safe).
            try check(rag_curl_easy_setopt_bytes(handle, CURLOPT_COPYPOSTFIELDS, bytes.baseAddress))
        }
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(rag_curl_easy_setopt_long(handle, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(rag_curl_easy_setopt_string(handle, option, value))
    }

    private func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer) throws {
        try check(rag_curl_easy_setopt_pointer(handle, option, pointer))
    }

    private func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else { throw HTTPClientError(curlCode: code, detail: nil) }
    }

    private static func append(_ line: String, to list: UnsafeMutablePointer<curl_slist>?) throws -> UnsafeMutablePointer<curl_slist> {
        guard let extended = curl_slist_append(list, line) else {
            curl_slist_free_all(list)
            throw HTTPClientError(kind: .other, message: "curl_slist_append failed (out of memory)")
        }
        return extended
    }

    /// Rejects header names/values that would inject extra lines or break the header syntax.
    private static func validate(_ headers: HTTPHeaders) throws {
        for field in headers {
            let badName = field.name.isEmpty || field.name.utf8.contains { $0 <= 32 || $0 == UInt8(ascii: ":") || $0 >= 127 }
            let badValue = field.value.utf8.contains { $0 == 0 || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }
            if badName || badValue {
                throw HTTPClientError(kind: .invalidRequest, message: "invalid header field \(String(reflecting: field.name))")
            }
        }
    }

    /// libcurl treats 0 as "no timeout"; anything positive rounds up to at least 1 ms.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1000)
        if total.overflow { return Int.max }
        let millis = total.partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(1, min(millis, Int64(Int.max))))
    }
}

/// CURLOPT_HEADERFUNCTION: `userdata` is the unretained ``CurlTransfer`` (kept alive by the loop
/// while its handle is attached).
private let curlHeaderCallback: rag_curl_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
}

/// CURLOPT_WRITEFUNCTION: same context as ``curlHeaderCallback``.
private let curlWriteCallback: rag_curl_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}
