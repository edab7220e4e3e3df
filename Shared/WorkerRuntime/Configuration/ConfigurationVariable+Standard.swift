public import Logging

// The variables every worker shares, declared once. Workers read the ones they need in their configuration's
// `init(reading:)`; the runtime itself reads the logging, admin-listener and shutdown variables.

extension ConfigurationVariable where Value == Logger.Level {
    /// `RAG_LOG_LEVEL`: the minimum level written to the JSON log.
    public static var logLevel: Self {
        .oneOf(
            "RAG_LOG_LEVEL",
            options: [
                "trace": .trace, "debug": .debug, "info": .info, "notice": .notice,
                "warning": .warning, "error": .error, "critical": .critical,
            ],
            default: "info",
            summary: "Minimum level of the JSON log lines written to standard output."
        )
    }
}

extension ConfigurationVariable where Value == Duration {
    /// `RAG_SHUTDOWN_TIMEOUT`: how long a graceful shutdown may take before the process exits anyway.
    public static var shutdownTimeout: Self {
        .duration(
            "RAG_SHUTDOWN_TIMEOUT",
            default: .seconds(30),
            range: .seconds(1)...(.seconds(3600)),
            summary:
                "After SIGTERM/SIGINT, how long in-flight work may take to finish; services are cancelled shortly before it expires and the process exits (status 1) when it does."
        )
    }

    /// `RAG_DATABASE_CALL_TIMEOUT`: the bound of every Postgres statement.
    public static var databaseCallTimeout: Self {
        .duration(
            "RAG_DATABASE_CALL_TIMEOUT",
            default: .seconds(30),
            range: .seconds(1)...(.seconds(600)),
            summary:
                "Bound of every Postgres statement: the server's statement_timeout, and how long the worker waits for a host that stopped answering before it abandons the session and retries (no offset moves meanwhile)."
        )
    }

    /// `RAG_KAFKA_SESSION_TIMEOUT`: the consumer group session timeout of a worker's consumer.
    public static var kafkaSessionTimeout: Self {
        .duration(
            "RAG_KAFKA_SESSION_TIMEOUT",
            default: .seconds(45),
            range: .seconds(3)...(.seconds(300)),
            summary: "Kafka consumer session timeout: how soon a crashed worker's partitions move to another."
        )
    }

    /// `RAG_KAFKA_FETCH_WAIT`: librdkafka's `fetch.wait.max.ms` for every consumer of the worker.
    public static var kafkaFetchWait: Self {
        .duration(
            "RAG_KAFKA_FETCH_WAIT",
            default: .milliseconds(500),
            range: .milliseconds(1)...(.seconds(10)),
            summary:
                "Longest a consumer's fetch waits at the broker for new records (fetch.wait.max.ms). A real broker answers as soon as a record arrives; the local broker (ragctl broker) always waits this long, so the local stack sets 10ms."
        )
    }
}

extension ConfigurationVariable where Value == [String] {
    /// `RAG_KAFKA_BOOTSTRAP_SERVERS`: the brokers a worker first contacts.
    public static var kafkaBootstrapServers: Self {
        .hostPortList(
            "RAG_KAFKA_BOOTSTRAP_SERVERS",
            default: nil,
            summary: "Kafka brokers to bootstrap from."
        )
    }
}

extension ConfigurationVariable where Value == KafkaSecurity.SecurityProtocol {
    /// `RAG_KAFKA_SECURITY_PROTOCOL`: librdkafka's `security.protocol` for every Kafka client of the worker.
    public static var kafkaSecurityProtocol: Self {
        .oneOf(
            "RAG_KAFKA_SECURITY_PROTOCOL",
            options: ["plaintext": .plaintext, "sasl_plaintext": .saslPlaintext, "sasl_ssl": .saslSSL],
            default: "plaintext",
            summary: "How the Kafka clients reach the brokers (security.protocol): plaintext, or SASL authentication without or with TLS."
        )
    }
}

extension ConfigurationVariable where Value == KafkaSecurity.SASLMechanism {
    /// `RAG_KAFKA_SASL_MECHANISM`: librdkafka's `sasl.mechanism`.
    public static var kafkaSASLMechanism: Self {
        .oneOf(
            "RAG_KAFKA_SASL_MECHANISM",
            options: ["SCRAM-SHA-512": .scramSHA512, "SCRAM-SHA-256": .scramSHA256, "PLAIN": .plain],
            default: "SCRAM-SHA-512",
            summary: "SASL mechanism (sasl.mechanism) when RAG_KAFKA_SECURITY_PROTOCOL is sasl_plaintext or sasl_ssl."
        )
    }
}

extension ConfigurationVariable where Value == String {
    /// `RAG_TOPIC_PREFIX`: prepended to every topic name (`rag.` gives `rag.chunks`, `rag.queries`, …).
    public static var topicPrefix: Self {
        .string(
            "RAG_TOPIC_PREFIX",
            default: "rag.",
            summary: "Prefix of every topic name, e.g. `rag.` gives `rag.chunks`.",
            expectation: "letters, digits, '.', '_' or '-' (at most 200 characters)"
        )
        .validated { prefix throws(ConfigurationValueRejection) in
            let legal = prefix.count <= 200 && prefix.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
            if !legal { throw ConfigurationValueRejection("contains characters Kafka does not allow in topic names") }
        }
    }

    /// `RAG_DATABASE_URL`: the Postgres connection URI (credentials are redacted in logs).
    public static var databaseURL: Self {
        .url(
            "RAG_DATABASE_URL",
            schemes: ["postgres", "postgresql"],
            default: nil,
            summary: "Postgres connection URI (libpq syntax, e.g. postgresql://user:pass@host:5432/rag)."
        )
    }

    /// `RAG_KAFKA_SASL_USERNAME`: the worker's Kafka principal (SASL).
    public static var kafkaSASLUsername: Self {
        .string(
            "RAG_KAFKA_SASL_USERNAME", default: "",
            summary: "SASL username, the worker's Kafka principal; required with sasl_plaintext or sasl_ssl."
        )
    }

    /// `RAG_KAFKA_SASL_PASSWORD`: the principal's password (redacted in logs).
    public static var kafkaSASLPassword: Self {
        .string(
            "RAG_KAFKA_SASL_PASSWORD", default: "",
            summary: "SASL password of RAG_KAFKA_SASL_USERNAME; required with sasl_plaintext or sasl_ssl.",
            redaction: .secret
        )
    }

    /// `RAG_ADMIN_HOST`: the address the admin endpoints (health, readiness, metrics) bind to.
    public static var adminHost: Self {
        .string("RAG_ADMIN_HOST", default: "0.0.0.0", summary: "Address the admin endpoints (/healthz, /readyz, /metrics) bind to.", expectation: "a host name or IP address")
    }

    /// `RAG_HTTP_HOST`: the address the gateway's HTTP server binds to.
    public static var httpHost: Self {
        .string("RAG_HTTP_HOST", default: "0.0.0.0", summary: "Address the HTTP server binds to.", expectation: "a host name or IP address")
    }
}

extension ConfigurationVariable where Value == Int {
    /// `RAG_ADMIN_PORT`: the port of the admin endpoints, with a per-worker default.
    public static func adminPort(default defaultPort: Int) -> Self {
        .port("RAG_ADMIN_PORT", default: defaultPort, summary: "Port of the admin endpoints (/healthz, /readyz, /metrics).")
    }

    /// `RAG_HTTP_PORT`: the port of the gateway's HTTP server (which also serves the admin endpoints).
    public static func httpPort(default defaultPort: Int) -> Self {
        .port("RAG_HTTP_PORT", default: defaultPort, summary: "Port of the HTTP API, which also serves /healthz, /readyz and /metrics.")
    }
}

extension ConfigurationVariable {
    /// The same variable with an extra rule applied to values read from the environment (the default is trusted).
    public func validated(_ rule: @escaping @Sendable (Value) throws(ConfigurationValueRejection) -> Void) -> Self {
        let parse = self.parse
        return Self(
            name: self.name,
            summary: self.summary,
            expectation: self.expectation,
            defaultValue: self.defaultValue,
            defaultDescription: self.defaultDescription,
            placeholder: self.placeholder,
            redaction: self.redaction,
            parse: { raw throws(ConfigurationValueRejection) in
                let value = try parse(raw)
                try rule(value)
                return value
            }
        )
    }
}
