import Auth
import WorkerRuntime

/// The gateway's own settings. Every variable it reads is declared here, so `gateway --help-env` lists them all.
struct GatewayConfiguration: WorkerConfiguration {
    var kafkaBootstrapServers: [String]
    /// `RAG_KAFKA_SECURITY_PROTOCOL`, `RAG_KAFKA_SASL_*`: applied to every Kafka client beside the bootstrap servers.
    var kafkaSecurity: KafkaSecurity
    /// How long the results reader's fetches wait at the broker for new records.
    var fetchWait: Duration
    var topicPrefix: String
    /// How tokens are verified (keys, iss, aud, leeway, claim names, tier mapping).
    var tokens: TokenVerifier.Configuration
    /// Signs `POST /dev/token` answers for the browser UI; nil disables the endpoint (production).
    var developmentSigningKeyFile: String?
    var rateLimits: [String: TokenBucketRateLimiter.Limit]
    var maxBodyBytes: Int
    var produceTimeout: Duration
    var resultsLookback: Duration
    var resultsLookbackRecords: Int
    var idempotencyRetention: Duration
    var heartbeatInterval: Duration
    var embeddingModel: String
    /// Bounds of the SSE results hub: window bytes, subscriber buffer, streams per caller and in total.
    var resultsLimits: ResultsHub.Limits
    /// How long a connection may send nothing while idle or in the middle of a request (slowloris).
    var idleTimeout: Duration
    /// How long reading one request body may take in all.
    var bodyReadTimeout: Duration

    /// Hummingbird closes connections idle (or stalled mid-request) for this long; open SSE responses are
    /// not idle in this sense and stay open.
    var httpIdleTimeout: Duration? { idleTimeout }

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        kafkaSecurity = KafkaSecurity(reading: &reader)
        fetchWait = reader.read(.kafkaFetchWait)
        topicPrefix = reader.read(.topicPrefix)

        func optional(_ name: String, _ summary: String, redaction: ConfigurationRedaction = .none) -> String? {
            let value = reader.read(.string(name, default: "", summary: summary, redaction: redaction))
            return value.isEmpty ? nil : value
        }
        var keys: [KeySource] = []
        let kid = optional("RAG_JWT_KEY_ID", "kid of the key given by RAG_JWT_HS256_SECRET or RAG_JWT_PUBLIC_KEY_FILE (tokens then must name it).")
        if let secret = optional("RAG_JWT_HS256_SECRET", "HS256 shared secret (development), at least 32 bytes.", redaction: .secret) {
            keys.append(.sharedSecret(secret, kid: kid))
        }
        if let path = optional("RAG_JWT_PUBLIC_KEY_FILE", "PEM public key file: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA).") {
            keys.append(.publicKeyFile(path: path, kid: kid))
        }
        if let path = optional("RAG_JWT_JWKS_FILE", "JWKS file; re-read on refresh and for unknown kids (key rotation).") {
            keys.append(.jwksFile(path: path))
        }
        if let url = optional("RAG_JWT_JWKS_URL", "JWKS URL; re-fetched on refresh and for unknown kids (key rotation).") {
            keys.append(.jwksURL(url))
        }
        if keys.isEmpty {
            reader.report(.init(
                variable: "RAG_JWT_PUBLIC_KEY_FILE", issue: "no token verification key is configured",
                expectation: "one or more of RAG_JWT_HS256_SECRET, RAG_JWT_PUBLIC_KEY_FILE, RAG_JWT_JWKS_FILE, RAG_JWT_JWKS_URL"))
        }
        tokens = TokenVerifier.Configuration(keys: keys)
        tokens.issuer = optional("RAG_JWT_ISSUER", "Required iss of tokens; unset accepts any issuer.")
        tokens.audience = optional("RAG_JWT_AUDIENCE", "Required aud of tokens; required with a public key or JWKS unless RAG_JWT_AUDIENCE_CHECK=off.")
        let audienceCheck = reader.read(.oneOf(
            "RAG_JWT_AUDIENCE_CHECK", options: ["on": true, "off": false], default: "on",
            summary: "off accepts tokens for any audience with a public key or JWKS (only if the issuer mints tokens for this gateway alone)."))
        if audienceCheck, tokens.audience == nil, keys.contains(where: \.isAsymmetric) {
            // A token an issuer minted for another service would otherwise be accepted here.
            reader.report(.init(
                variable: "RAG_JWT_AUDIENCE", issue: "is not set, but tokens are verified with a public key or JWKS",
                expectation: "the audience this gateway's tokens carry, or RAG_JWT_AUDIENCE_CHECK=off to accept any audience"))
        }
        if !audienceCheck, tokens.audience != nil {
            reader.report(.init(variable: "RAG_JWT_AUDIENCE_CHECK", issue: "is off while RAG_JWT_AUDIENCE is set",
                                expectation: "on, or RAG_JWT_AUDIENCE unset"))
        }
        tokens.leeway = reader.read(.duration("RAG_JWT_LEEWAY", default: .seconds(30), range: .zero ... .seconds(300),
                                              summary: "Clock skew allowed on exp and nbf."))
        tokens.tierClaim = reader.read(.string("RAG_JWT_TIER_CLAIM", default: "tier", summary: "Claim holding the tier (a string or a one-element array)."))
        tokens.tenantClaim = reader.read(.string("RAG_JWT_TENANT_CLAIM", default: "tenant", summary: "Claim holding the tenant."))
        tokens.jwksRefreshInterval = reader.read(.duration("RAG_JWT_JWKS_REFRESH", default: .seconds(300), range: .seconds(10) ... .seconds(86400),
                                                           summary: "How often JWKS sources are re-read."))
        tokens.cacheCapacity = reader.read(.integer("RAG_JWT_CACHE_SIZE", default: 10_000, range: 0 ... 10_000_000,
                                                    summary: "Verified tokens remembered until their exp (emptied when JWKS keys reload); 0 verifies every request's token in full."))
        tokens.policy = reader.read(.tierVisibilities)
        developmentSigningKeyFile = optional("RAG_GATEWAY_DEV_SIGNING_KEY_FILE",
                                             "Private key that signs POST /dev/token for the browser UI (development only, loopback RAG_HTTP_HOST only); unset disables it.")
        rateLimits = reader.read(ConfigurationVariable(
            name: "RAG_GATEWAY_RATE_LIMITS", summary: "Per-user token bucket per tier: requests per second / burst.",
            expectation: "tier=rate/burst entries separated by ;",
            defaultValue: TokenBucketRateLimiter.defaultLimits, defaultDescription: "free=1/5;standard=5/20;enterprise=20/50",
            placeholder: [:],
            parse: { raw throws(ConfigurationValueRejection) in
                guard let limits = TokenBucketRateLimiter.parseLimits(raw) else { throw ConfigurationValueRejection("is not tier=rate/burst;…") }
                return limits
            }))
        maxBodyBytes = reader.read(.integer("RAG_GATEWAY_MAX_BODY_BYTES", default: 1 << 20, range: 1024 ... 64 << 20,
                                            summary: "Largest request body accepted (larger: 413)."))
        produceTimeout = reader.read(.duration("RAG_GATEWAY_PRODUCE_TIMEOUT", default: .seconds(5), range: .milliseconds(500) ... .seconds(120),
                                               summary: "How long a request waits for the broker's acknowledgement before answering 503."))
        resultsLookback = reader.read(.duration("RAG_GATEWAY_RESULTS_LOOKBACK", default: .seconds(900), range: .seconds(1) ... .seconds(86400),
                                                summary: "How old a result may be and still reach a subscriber who connects late."))
        resultsLookbackRecords = reader.read(.integer("RAG_GATEWAY_RESULTS_LOOKBACK_RECORDS", default: 10_000, range: 0 ... 10_000_000,
                                                      summary: "How many records per partition of rag.results and rag.answer-deltas are re-read at start."))
        idempotencyRetention = reader.read(.duration("RAG_GATEWAY_IDEMPOTENCY_RETENTION", default: .seconds(86400), range: .seconds(60) ... .seconds(7 * 86400),
                                                     summary: "How long an Idempotency-Key is remembered."))
        heartbeatInterval = reader.read(.duration("RAG_GATEWAY_SSE_HEARTBEAT", default: .seconds(15), range: .milliseconds(100) ... .seconds(300),
                                                  summary: "Interval of SSE heartbeat comments."))
        embeddingModel = reader.read(.string("RAG_EMBEDDING_MODEL", default: "all-MiniLM-L6-v2",
                                             summary: "Embedding model name; part of the chunk ids POST /chunks answers."))
        var limits = ResultsHub.Limits()
        limits.windowBytes = reader.read(.integer("RAG_GATEWAY_RESULTS_WINDOW_BYTES", default: limits.windowBytes, range: 64 << 10 ... 16 << 30,
                                                  summary: "Bytes of results and deltas kept for late subscribers; when full, the tenant holding the most loses its oldest."))
        limits.subscriberBuffer = reader.read(.integer("RAG_GATEWAY_SSE_SUBSCRIBER_BUFFER", default: limits.subscriberBuffer, range: 1 ... 1_000_000,
                                                       summary: "Events an SSE subscriber may fall behind before its stream is closed with an error event."))
        limits.subscribersPerCaller = reader.read(.integer("RAG_GATEWAY_SSE_MAX_PER_USER", default: limits.subscribersPerCaller, range: 1 ... 100_000,
                                                           summary: "Open SSE streams per user (tenant and sub); more: 429 with Retry-After."))
        limits.subscribersTotal = reader.read(.integer("RAG_GATEWAY_SSE_MAX_TOTAL", default: limits.subscribersTotal, range: 1 ... 1_000_000,
                                                       summary: "Open SSE streams on this instance; more: 503 with Retry-After."))
        resultsLimits = limits
        idleTimeout = reader.read(.duration("RAG_GATEWAY_IDLE_TIMEOUT", default: .seconds(30), range: .milliseconds(100) ... .seconds(3600),
                                            summary: "A connection that sends nothing for this long while idle or mid-request (headers or body) is closed."))
        bodyReadTimeout = reader.read(.duration("RAG_GATEWAY_BODY_TIMEOUT", default: .seconds(30), range: .milliseconds(100) ... .seconds(3600),
                                                summary: "Longest time to receive a whole request body (a trickled body gets 408)."))
    }
}
