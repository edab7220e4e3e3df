import Auth
import Foundation
import Hummingbird
import Logging
import Messaging
import Schemas
import ServiceLifecycle
import Tracing
import WorkerRuntime

/// Builds the gateway from its configuration: the routes on `router` (next to the admin endpoints) and the
/// services that feed them. `main.swift` and the integration tests both start the gateway through here.
enum Gateway {
    @MainActor
    static func build(
        configuration: GatewayConfiguration,
        router: Router<GatewayRequestContext>,
        health: HealthMonitor,
        logger: Logger
    ) async throws -> ServingWorkerServices {
        let verifier = try await TokenVerifier(configuration: configuration.tokens, logger: logger)
        let topics = RAGTopics(prefix: configuration.topicPrefix)
        let bootstrap = configuration.kafkaBootstrapServers.joined(separator: ",")
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap, clientID: "gateway")
        producerConfiguration.deliveryTimeout = configuration.produceTimeout
        producerConfiguration.additionalProperties = configuration.kafkaSecurity.librdkafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let schemas = try SchemaRegistry.bundled()
        let policy = configuration.tokens.policy
        let hub = ResultsHub(lookback: configuration.resultsLookback, limits: configuration.resultsLimits,
                             tierRank: { policy.rank(ofTierNamed: $0) })

        var settings = GatewayAPI.Settings(topics: topics)
        settings.maxBodyBytes = configuration.maxBodyBytes
        settings.heartbeatInterval = configuration.heartbeatInterval
        settings.embeddingModel = configuration.embeddingModel
        settings.rateLimits = configuration.rateLimits
        settings.bodyReadTimeout = configuration.bodyReadTimeout
        let api = GatewayAPI(
            settings: settings, producer: producer, schemas: schemas, policy: policy, hub: hub,
            idempotency: IdempotencyStore(retention: configuration.idempotencyRetention),
            rateLimiter: TokenBucketRateLimiter(), logger: logger)

        var developmentTokens: TokenIssuer?
        if let keyFile = configuration.developmentSigningKeyFile {
            let kid = configuration.tokens.keys.lazy.compactMap(\.keyID).first
            developmentTokens = try await TokenIssuer(privateKeyFile: keyFile, kid: kid, issuer: configuration.tokens.issuer,
                                                      audience: configuration.tokens.audience)
            logger.warning("development tokens enabled: POST /dev/token signs any identity (never in production)")
        }

        let openAPIDocument = OpenAPIDocument.make(schemas: schemas, developmentTokens: developmentTokens != nil)
        router.add(middleware: ProblemMiddleware(routes: OpenAPIDocument.routes(of: openAPIDocument)))
        let openAPI = openAPIDocument.serialized()
        router.get("/") { _, _ in
            Response(status: .ok, headers: BrowserUI.headers, body: .init(byteBuffer: ByteBuffer(string: BrowserUI.html)))
        }
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
        if let developmentTokens {
            router.post("dev/token") { request, _ in
                try await DevelopmentTokenRoute.mint(request, issuer: developmentTokens, tokens: configuration.tokens)
            }
        }
        // With a tracer (RAG_OTLP_ENDPOINT): one span per API request (continuing the caller's traceparent);
        // its context goes into the records sent. Without one the middleware would only build the attributes
        // of spans nobody records (a few % of a request's CPU); the caller's traceparent is continued either way.
        let apiRoutes = router.group()
        if !(InstrumentationSystem.tracer is NoOpTracer) {
            apiRoutes.add(middleware: TracingMiddleware(redactingQueryParameters: ["access_token"]))
        }
        api.addRoutes(to: apiRoutes.add(middleware: AuthenticationMiddleware(verifier: verifier)))

        let feedReady = health.registerFlag(named: "results-feed")
        let feed = ResultsFeed(
            reader: KafkaTailReader(bootstrapServers: bootstrap, topics: [topics.results, topics.answerDeltas],
                                    clientID: "gateway-results", fetchWaitMax: configuration.fetchWait,
                                    additionalProperties: configuration.kafkaSecurity.librdkafkaProperties, logger: logger),
            topics: topics, hub: hub, lookback: configuration.resultsLookback,
            lookbackRecords: Int64(configuration.resultsLookbackRecords), ready: feedReady, logger: logger)
        let warmUp = ProducerWarmUp(producer: producer, topics: [topics.chunks, topics.queries],
                                    ready: health.registerFlag(named: "producer"), logger: logger)
        health.register(ReadinessCheck(name: "kafka-producer") { producer.fatalError })
        // The producer outlives the HTTP server: the server stops accepting requests, then the producer flushes
        // what it still holds. A fatal producer error ends the producer's service, and with it the gateway.
        return ServingWorkerServices(clients: [producer], services: [warmUp, feed])
    }
}

extension Gateway {
    /// Refuses settings that are only safe on a developer's machine: `POST /dev/token` signs any identity,
    /// so it is served only on a loopback address. Called before anything is built.
    static func refuseUnsafeSettings(_ configuration: GatewayConfiguration, host: String) throws {
        if configuration.developmentSigningKeyFile != nil && !isLoopback(host) {
            throw UnsafeSettings(message: "RAG_GATEWAY_DEV_SIGNING_KEY_FILE enables POST /dev/token, which signs any identity: "
                + "it is only allowed with a loopback RAG_HTTP_HOST (127.0.0.1, ::1, localhost), not \(host)")
        }
    }

    /// `127.0.0.0/8`, `::1` or `localhost`.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    struct UnsafeSettings: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// Fetches the metadata of the topics the gateway produces to before it reports ready, so the first
/// POST is not held up by a metadata request (~0.5 s); retries while the broker cannot answer.
struct ProducerWarmUp: Service {
    let producer: KafkaProducer
    let topics: [String]
    let ready: ReadinessFlag
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await producer.prepare(topics: topics, timeout: .seconds(5))
                ready.markReady()
                break
            } catch {
                ready.markNotReady(reason: "no metadata for \(topics.joined(separator: ", ")): \(error)")
                logger.warning("producer warm-up failed; retrying in 2 s", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        // A service that returns would stop the worker: stay until shutdown.
        try? await gracefulShutdown()
    }
}

extension KeySource {
    var keyID: String? {
        switch self {
        case .sharedSecret(_, let kid), .publicKeyFile(_, let kid): kid
        case .jwksFile, .jwksURL: nil
        }
    }
}

/// Reads rag.results and rag.answer-deltas into the `ResultsHub` (no consumer group, nothing committed):
/// the last `lookbackRecords` records of each partition no older than `lookback`, then everything new.
struct ResultsFeed: Service {
    let reader: KafkaTailReader
    let topics: RAGTopics
    let hub: ResultsHub
    let lookback: Duration
    let lookbackRecords: Int64
    let ready: ReadinessFlag
    let logger: Logger

    func run() async throws {
        let hub = hub
        let resultsTopic = topics.results
        let lookbackMilliseconds = lookback.components.seconds * 1000
        let ready = ready
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await reader.run(lastRecordsPerPartition: lookbackRecords, onAssigned: { ready.markReady() }) { record in
                        let oldest = Int64(Date().timeIntervalSince1970 * 1000) - lookbackMilliseconds
                        if let timestamp = record.timestampMilliseconds, timestamp > 0, timestamp < oldest { return }
                        hub.ingest(record, kind: record.topic == resultsTopic ? .result : .delta)
                    }
                } catch is CancellationError {
                    return
                } catch {
                    ready.markNotReady(reason: "cannot read \(resultsTopic): \(error)")
                    logger.warning("results feed failed; retrying in 2 s", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(2))
                }
            }
        }
    }
}

/// POST /dev/token: a development token for the browser UI's identity picker.
enum DevelopmentTokenRoute {
    static func mint(_ request: Request, issuer: TokenIssuer, tokens: TokenVerifier.Configuration) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 4096)
        guard case .object(let body)? = try? JSONValue.parse(Array(buffer.readableBytesView)),
              let subject = body["sub"]?.stringValue, !subject.isEmpty,
              let tier = body["tier"]?.stringValue, tokens.policy.tier(named: tier) != nil
        else {
            throw Problem(status: .badRequest, code: "invalid_request", detail: "expected {\"sub\": …, \"tier\": one of the configured tiers, \"tenant\"?, \"scope\"?}")
        }
        let tenant = body["tenant"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let scopes = (body["scope"]?.stringValue ?? "").split(separator: " ").map(String.init)
        let token = try await issuer.issue(subject: subject, tier: tier, tenant: tenant, scopes: scopes,
                                           tierClaim: tokens.tierClaim, tenantClaim: tokens.tenantClaim)
        let json = JSONValue.object(["token": .string(token)]).serialized()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

/// Turns Hummingbird's own errors (unknown route, wrong method, body too large) into problem+json.
///
/// The router answers a path it serves, asked with a method it does not, with 404; `routes` (path
/// templates such as `/results/{query_id}` and their methods, from the OpenAPI document) turns that into
/// 405 with `Allow` (RFC 9110 §15.5.6).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [RouteTemplate]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound, .methodNotAllowed:
                if let route = routes.first(where: { $0.matches(request.uri.path) }), !route.methods.contains(request.method) {
                    throw Problem(status: .methodNotAllowed, code: "method_not_allowed",
                                  detail: "\(request.method) is not allowed on \(request.uri.path)",
                                  extraHeaders: [.allow: route.methods.map(\.rawValue).joined(separator: ", ")])
                }
                throw Problem.notFound(request.uri.path)
            case .contentTooLarge: throw Problem(status: .contentTooLarge, code: "body_too_large", detail: "the body is too large")
            default: throw Problem(status: error.status, code: "http_\(error.status.code)", detail: error.body ?? error.status.reasonPhrase)
            }
        }
    }
}

/// A served path (`/results/{query_id}`: a `{…}` segment matches any one segment) and its methods.
struct RouteTemplate: Sendable, Equatable {
    let segments: [Substring]
    let methods: [HTTPRequest.Method]

    init(path: String, methods: [HTTPRequest.Method]) {
        segments = path.split(separator: "/")
        self.methods = methods
    }

    func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard parts.count == segments.count else { return false }
        return zip(segments, parts).allSatisfy { template, part in
            (template.hasPrefix("{") && template.hasSuffix("}")) || template == part
        }
    }
}
