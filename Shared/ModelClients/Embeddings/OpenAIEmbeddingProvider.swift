import Foundation
public import Logging

/// Embeddings from any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp server, TEI, …),
/// over TCP or over a Unix domain socket (the sidecar pattern), via ``CurlHTTPClient``.
///
/// One call is one `POST {baseURL}/v1/embeddings` (see ``Configuration/baseURL`` for the URL rule)
/// with `{"model", "input": [texts], "dimensions"?, "encoding_format"?}` and, when an API key is set,
/// `Authorization: Bearer …`. The answer's `data[].embedding` vectors are put in input order by their
/// `index`.
///
/// - Validation: the answer must hold exactly one finite, non-zero vector of ``dimensions`` numbers
///   per input, with distinct indexes; anything else is `.malformedResponse` (retryable: a cut-off body
///   is usually a passing fault).
/// - Normalisation: vectors are always L2-normalised here (computed in `Double`), whether or not the
///   server already did it: the vector store uses cosine distance and the interface promises unit
///   vectors, and several servers (TEI with `normalize=false`, some llama.cpp builds) return raw ones.
///   Already-unit vectors change by at most float rounding.
/// - Errors: see ``ModelCallError/init(response:context:now:)`` and ``ModelCallError/init(transport:)``:
///   429 → `.rateLimited` (with `Retry-After`), 5xx → `.unavailable`, other 4xx → `.rejected` with
///   the server's message, timeout → `.timeout`, connection failures → `.connection`, task
///   cancellation → `.cancelled`. No retries here: wrap the provider in ``ResilientEmbeddingProvider``.
/// - A call with more than ``maxBatchSize`` texts is a caller bug and fails with `.rejected` without
///   a request; an empty call returns `[]` without a request.
///
/// `Sendable`: immutable; the HTTP client is thread-safe.
public final class OpenAIEmbeddingProvider: EmbeddingProvider {
    /// The settings the provider was created with.
    public let configuration: Configuration
    /// The HTTP client requests go through (owned unless one was passed in).
    public let client: CurlHTTPClient
    private let ownsClient: Bool
    private let logger: Logger

    /// ``Configuration/model``.
    public var model: String { configuration.model }
    /// ``Configuration/dimensions``.
    public var dimensions: Int { configuration.dimensions }
    /// ``Configuration/maxBatchSize``.
    public var maxBatchSize: Int { configuration.maxBatchSize }
    /// `openai`.
    public var providerName: String { "openai" }

    /// Creates the provider.
    /// - Parameters:
    ///   - configuration: Where and how to call the API.
    ///   - client: An HTTP client to share; its own settings then apply (Unix socket, concurrency),
    ///     except the timeout, which is set per request. `nil` (the default) creates one from
    ///     ``Configuration/httpClientConfiguration``, shut down with the provider.
    ///   - logger: For request failures, at debug level.
    /// - Throws: ``InvalidConfiguration`` listing every problem with `configuration`.
    public init(configuration: Configuration, client: CurlHTTPClient? = nil, logger: Logger = Logger(label: "rag.model-clients.embeddings")) throws(InvalidConfiguration) {
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

    /// One unit-length vector per text, in order. One HTTP request, no retries.
    public func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        guard texts.count <= maxBatchSize else {
            throw ModelCallError(kind: .rejected, message: "\(texts.count) texts in one call, more than maxBatchSize \(maxBatchSize)")
        }
        return try await call(texts, expectedDimensions: dimensions)
    }

    /// Asks the server for the embedding of one short text and returns its length — for configuring
    /// ``Configuration/dimensions`` at start-up when it is not known in advance. One request, no retries.
    /// (``Configuration/dimensions`` is only sent when ``Configuration/sendsDimensions`` is set.)
    public static func discoverDimensions(configuration: Configuration, client: CurlHTTPClient? = nil) async throws(ModelCallError) -> Int {
        var probing = configuration
        if probing.dimensions < 1 { probing.dimensions = 1 }
        let provider: OpenAIEmbeddingProvider
        do {
            provider = try OpenAIEmbeddingProvider(configuration: probing, client: client)
        } catch {
            throw ModelCallError(kind: .rejected, message: error.description)
        }
        defer { provider.shutdown() }
        return try await provider.call(["dimension probe"], expectedDimensions: nil)[0].count
    }

    // MARK: One request

    private func call(_ texts: [String], expectedDimensions: Int?) async throws(ModelCallError) -> [[Float]] {
        let request = try makeRequest(texts)
        let response: HTTPResponse
        do {
            response = try await client.execute(request)
        } catch let error as HTTPClientError {
            logger.debug("embeddings request failed", metadata: ["error": "\(error)", "url": "\(request.url)"])
            throw ModelCallError(transport: error)
        } catch {
            throw ModelCallError(kind: .cancelled, message: "the embeddings call was cancelled")
        }
        guard (200..<300).contains(response.status) else {
            let error = ModelCallError(response: response)
            logger.debug("embeddings request refused", metadata: ["status": "\(response.status)", "error": "\(error.message)"])
            throw error
        }
        return try Self.vectors(from: response, count: texts.count, dimensions: expectedDimensions)
    }

    private func makeRequest(_ texts: [String]) throws(ModelCallError) -> HTTPRequest {
        let body = OpenAIEmbeddingsWire.Request(
            model: configuration.model,
            input: texts,
            dimensions: configuration.sendsDimensions ? configuration.dimensions : nil,
            encodingFormat: configuration.encodingFormat == .float ? nil : configuration.encodingFormat.rawValue
        )
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONEncoder().encode(body))
        } catch {
            throw ModelCallError(kind: .rejected, message: "the texts cannot be encoded as JSON: \(error)")
        }
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Accept": "application/json"]
        if let key = configuration.apiKey, !key.isEmpty {
            headers["Authorization"] = "Bearer \(key)"
        }
        for field in configuration.extraHeaders {
            headers[field.name] = field.value
        }
        return HTTPRequest(method: .post, url: configuration.embeddingsURL, headers: headers, body: bytes, timeout: configuration.timeout)
    }

    // MARK: The answer

    /// Decodes, orders, validates and normalises the vectors of a 2xx answer.
    static func vectors(from response: HTTPResponse, count: Int, dimensions: Int?) throws(ModelCallError) -> [[Float]] {
        func malformed(_ reason: String) -> ModelCallError {
            ModelCallError(kind: .malformedResponse, message: reason, status: response.status)
        }
        let decoded: OpenAIEmbeddingsWire.Response
        do {
            decoded = try JSONDecoder().decode(OpenAIEmbeddingsWire.Response.self, from: Data(response.body))
        } catch {
            throw malformed("the answer is not an embeddings list: \(error)")
        }
        guard decoded.data.count == count else {
            throw malformed("\(decoded.data.count) embeddings for \(count) inputs")
        }
        var ordered = [[Float]?](repeating: nil, count: count)
        for (position, item) in decoded.data.enumerated() {
            let index = item.index ?? position
            guard ordered.indices.contains(index), ordered[index] == nil else {
                throw malformed("embedding index \(index) is out of range or repeated")
            }
            guard let values = item.embedding.values else {
                throw malformed("embedding \(index) is not valid base64 floats")
            }
            if let dimensions, values.count != dimensions {
                throw malformed("embedding \(index) has \(values.count) dimensions, expected \(dimensions)")
            }
            guard let unit = normalised(values) else {
                throw malformed("embedding \(index) is empty, zero or not finite")
            }
            ordered[index] = unit
        }
        return ordered.map { $0! }
    }

    /// `values / ‖values‖`, or `nil` when the vector is empty, zero or has non-finite numbers.
    static func normalised(_ values: [Float]) -> [Float]? {
        guard !values.isEmpty else { return nil }
        var squares = 0.0
        for value in values {
            guard value.isFinite else { return nil }
            squares += Double(value) * Double(value)
        }
        let norm = squares.squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        return values.map { Float(Double($0) / norm) }
    }

    /// The configuration cannot be used; `problems` lists why.
    public struct InvalidConfiguration: Error, Sendable, CustomStringConvertible {
        /// One sentence per problem.
        public var problems: [String]
        public var description: String { "invalid OpenAI embedding provider configuration: " + problems.joined(separator: "; ") }
    }
}
