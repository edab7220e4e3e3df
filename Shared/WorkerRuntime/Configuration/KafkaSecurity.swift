/// How a worker's Kafka clients authenticate to the brokers: `RAG_KAFKA_SECURITY_PROTOCOL` and the
/// `RAG_KAFKA_SASL_*` variables, read once by the worker's configuration and applied — as
/// ``librdkafkaProperties`` — to every consumer, producer and admin client the worker makes, beside the
/// bootstrap servers.
///
/// The default, `plaintext`, adds no property: librdkafka's own defaults apply, as before these variables
/// existed. `sasl_plaintext` and `sasl_ssl` need a username and a password (SCRAM-SHA-512 unless
/// `RAG_KAFKA_SASL_MECHANISM` says otherwise); `sasl_ssl` verifies the brokers' certificates against the
/// system's CA store.
public struct KafkaSecurity: Sendable, Equatable {
    /// librdkafka's `security.protocol` values the platform supports.
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext
        case saslPlaintext = "sasl_plaintext"
        case saslSSL = "sasl_ssl"
    }

    /// librdkafka's `sasl.mechanism` values the platform supports.
    public enum SASLMechanism: String, Sendable, CaseIterable {
        case scramSHA512 = "SCRAM-SHA-512"
        case scramSHA256 = "SCRAM-SHA-256"
        case plain = "PLAIN"
    }

    public var securityProtocol: SecurityProtocol
    public var mechanism: SASLMechanism
    public var username: String
    public var password: String

    /// No authentication, no TLS (the local broker, the quick-start compose file).
    public static let plaintext = KafkaSecurity(securityProtocol: .plaintext, mechanism: .scramSHA512, username: "", password: "")

    public init(securityProtocol: SecurityProtocol, mechanism: SASLMechanism, username: String, password: String) {
        self.securityProtocol = securityProtocol
        self.mechanism = mechanism
        self.username = username
        self.password = password
    }

    /// Reads the four variables (always all four, so `--help-env` lists them); with SASL, a missing username
    /// or password is reported to `reader`.
    public init(reading reader: inout ConfigurationReader) {
        self.securityProtocol = reader.read(.kafkaSecurityProtocol)
        self.mechanism = reader.read(.kafkaSASLMechanism)
        self.username = reader.read(.kafkaSASLUsername)
        self.password = reader.read(.kafkaSASLPassword)
        if self.securityProtocol != .plaintext {
            for (name, value) in [("RAG_KAFKA_SASL_USERNAME", self.username), ("RAG_KAFKA_SASL_PASSWORD", self.password)] where value.isEmpty {
                reader.report(.init(variable: name, issue: "is required when RAG_KAFKA_SECURITY_PROTOCOL=\(self.securityProtocol.rawValue)",
                                    expectation: "a non-empty string"))
            }
        }
    }

    /// The librdkafka properties to add to a client's configuration: none for `plaintext`, else
    /// `security.protocol`, `sasl.mechanism`, `sasl.username` and `sasl.password`.
    public var librdkafkaProperties: [String: String] {
        guard self.securityProtocol != .plaintext else { return [:] }
        return [
            "security.protocol": self.securityProtocol.rawValue,
            "sasl.mechanism": self.mechanism.rawValue,
            "sasl.username": self.username,
            "sasl.password": self.password,
        ]
    }
}
