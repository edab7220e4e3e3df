import Foundation
public import Logging

/// Chat completions from any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp server, …),
/// streamed, over TCP or over a Unix domain socket (the sidecar pattern), via ``CurlHTTPClient``.
///
/// One call is one `POST {baseURL}/v1/chat/completions` (see ``Configuration/baseURL`` for the URL rule)
/// with `{"model", "messages", "stream": true, "stream_options": {"include_usage": true}, "max_tokens"?,
/// "temperature"?}` and, when an API key is set, `Authorization: Bearer …`. The answer is read as
/// Server-Sent Events while it arrives (``ServerSentEventParser``, ``OpenAIChatStream``):
///
/// - Deltas: each non-empty `choices[0].delta.content` is passed to `onDelta` as soon as its event is
///   complete, in order, and awaited before the stream is read further (a slow consumer slows the
///   transfer down; the HTTP client pauses it beyond its buffer). Events split across network reads,
///   several events in one read, CRLF line ends and `:` keep-alive comments are all handled.
/// - The result: the joined text, the model the provider named (else ``model``), the last
///   `finish_reason`, and the usage chunk's token counts — estimated with
///   ``ClientRateLimiter/estimatedTokens(for:)-(String)`` when the provider sent none.
/// - Errors: the HTTP status before the stream is classified by ``ModelCallError/init(response:context:now:)``
///   (429 → `.rateLimited` with `Retry-After`, 5xx → `.unavailable`, other 4xx → `.rejected` with the
///   server's message), transport failures by ``ModelCallError/init(transport:)`` (`.timeout`,
///   `.connection`) — also when they cut the stream midway. A stream that ends without `data: [DONE]`,
///   or carries an event that is not a chunk, is `.malformedResponse`; an `error` inside the stream is
///   `.unavailable`. No retries here: wrap the provider in ``ResilientChatProvider``.
/// - Timeout: ``Configuration/timeout`` bounds the whole call, stream included.
/// - Cancellation: cancelling the calling task removes the transfer at once and throws `.cancelled`;
///   `onDelta` is not called after `complete` returns or throws.
///
/// `Sendable`: immutable; the HTTP client is thread-safe. Share one provider for all calls.
public final class OpenAIChatProvider: ChatProvider {
    /// The settings the provider was created with.
    public let configuration: Configuration
    /// The HTTP client requests go through (owned unless one was passed in).
    public let client: CurlHTTPClient
    private let ownsClient: Bool
    private let logger: Logger

    /// ``Configuration/model``.
    public var model: String { configuration.model }
    /// `openai`.
    public var providerName: String { "openai" }

    /// The most bytes of an error answer's body kept for its message.
    static let errorBodyLimit = 64 << 10

    /// Creates the provider.
    /// - Parameters:
    ///   - configuration: Where and how to call the API.
    ///   - client: An HTTP client to share; its own settings then apply (Unix socket, concurrency),
    ///     except the timeout, which is set per request. `nil` (the default) creates one from
    ///     ``Configuration/httpClientConfiguration``, shut down with the provider.
    ///   - logger: For request failures, at debug level.
    /// - Throws: ``InvalidConfiguration`` listing every problem with `configuration`.
    public init(configuration: Configuration, client: CurlHTTPClient? = nil, logger: Logger = Logger(label: "rag.model-clients.chat")) throws(InvalidConfiguration) {
        let problems = configuration.problems
        guard problems.isEmpty else { throw InvalidConfiguration(problems: problems) }
        self.configuration = configuration
        self.client = client ?? CurlHTTPClient(configuration: configuration.httpClientConfiguration, logger: logger)
        self.ownsClient = client == nil
        self.logger = logger
    }

    deinit {
        if ownsClient { client.shutdown() }
    }

    /// Cancels the requests in flight (they throw `.cancelled`) and closes the connections, when the
    /// provider owns its client; does nothing to a shared client.
    public func shutdown() {
        if ownsClient { client.shutdown() }
    }

    /// One streamed completion: one HTTP request, no retries. See the type's documentation.
    public func complete(
        _ request: ChatRequest, onDelta: @escaping @Sendable (String) async -> Void
    ) async throws(ModelCallError) -> ChatCompletion {
        guard !request.messages.isEmpty else {
            throw ModelCallError(kind: .rejected, message: "a chat request needs at least one message")
        }
        let httpRequest = try makeRequest(request)
        let response: HTTPStreamingResponse
        do {
            response = try await client.stream(httpRequest)
        } catch let error as HTTPClientError {
            logger.debug("chat request failed", metadata: ["error": "\(error)", "url": "\(httpRequest.url)"])
            throw ModelCallError(transport: error)
        } catch {
            throw ModelCallError(kind: .cancelled, message: "the chat call was cancelled")
        }
        guard (200..<300).contains(response.status) else {
            let body = await Self.collect(response.body, limit: Self.errorBodyLimit)
            let error = ModelCallError(response: HTTPResponse(status: response.status, headers: response.headers, body: body))
            logger.debug("chat request refused", metadata: ["status": "\(response.status)", "error": "\(error.message)"])
            throw error
        }
        let estimatedPromptTokens = ClientRateLimiter.estimatedTokens(for: request.messages.map(\.content))
        var stream = OpenAIChatStream(requestedModel: configuration.model, estimatedPromptTokens: estimatedPromptTokens)
        var parser = ServerSentEventParser(maxEventBytes: configuration.maxEventBytes)
        do {
            for try await bytes in response.body {
                for event in try parser.feed(bytes) {
                    if let delta = try stream.consume(event) { await onDelta(delta) }
                    if stream.isDone { return stream.completion }
                }
            }
            if let event = try parser.finish(), let delta = try stream.consume(event) { await onDelta(delta) }
        } catch let error as ModelCallError {
            logger.debug("chat stream broken", metadata: ["error": "\(error)"])
            throw error
        } catch let error as ServerSentEventParser.EventTooLarge {
            throw ModelCallError(kind: .malformedResponse, message: "a streamed event is longer than \(error.limit) bytes", status: response.status)
        } catch let error as HTTPClientError {
            logger.debug("chat stream failed", metadata: ["error": "\(error)", "received": "\(stream.text.utf8.count) bytes"])
            throw ModelCallError(transport: error)
        } catch {
            throw ModelCallError(kind: .cancelled, message: "the chat call was cancelled while streaming")
        }
        guard stream.isDone else {
            let type = response.headers["Content-Type"] ?? "none"
            throw ModelCallError(
                kind: .malformedResponse,
                message: "the stream ended without data: [DONE] (content type \(type), \(stream.text.utf8.count) bytes of text)",
                status: response.status)
        }
        return stream.completion
    }

    // MARK: The request

    private func makeRequest(_ request: ChatRequest) throws(ModelCallError) -> HTTPRequest {
        let body = OpenAIChatWire.Request(
            model: configuration.model,
            messages: request.messages.map { .init(role: $0.role.rawValue, content: $0.content) },
            streamOptions: configuration.requestsUsage ? .init(includeUsage: true) : nil,
            maxTokens: request.maxTokens,
            temperature: request.temperature
        )
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONEncoder().encode(body))
        } catch {
            throw ModelCallError(kind: .rejected, message: "the messages cannot be encoded as JSON: \(error)")
        }
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Accept": "text/event-stream"]
        if let key = configuration.apiKey, !key.isEmpty {
            headers["Authorization"] = "Bearer \(key)"
        }
        for field in configuration.extraHeaders {
            headers[field.name] = field.value
        }
        return HTTPRequest(method: .post, url: configuration.completionsURL, headers: headers, body: bytes, timeout: configuration.timeout)
    }

    /// Up to `limit` bytes of `body`; a body that fails midway gives what arrived.
    private static func collect(_ body: AsyncThrowingStream<[UInt8], any Error>, limit: Int) async -> [UInt8] {
        var collected: [UInt8] = []
        do {
            for try await bytes in body {
                collected.append(contentsOf: bytes.prefix(limit - collected.count))
                if collected.count >= limit { break }
            }
        } catch {
            // What arrived is enough for a message.
        }
        return collected
    }

    /// The configuration cannot be used; `problems` lists why.
    public struct InvalidConfiguration: Error, Sendable, CustomStringConvertible {
        /// One sentence per problem.
        public var problems: [String]
        public var description: String { "invalid OpenAI chat provider configuration: " + problems.joined(separator: "; ") }
    }
}
