import WorkerRuntime

/// The review-sampler's own settings. Every variable it reads is declared here, so `review-sampler --help-env` lists them all.
struct ReviewSamplerConfiguration: WorkerConfiguration {
    /// `RAG_KAFKA_BOOTSTRAP_SERVERS`: the brokers to bootstrap from.
    var kafkaBootstrapServers: [String]
    /// `RAG_KAFKA_SECURITY_PROTOCOL`, `RAG_KAFKA_SASL_*`: applied to every Kafka client beside the bootstrap servers.
    var kafkaSecurity: KafkaSecurity
    /// `RAG_TOPIC_PREFIX`: prefix of every topic name.
    var topicPrefix: String
    var fetchWait: Duration
    var sessionTimeout: Duration
    var groupID: String
    var maxInFlight: Int
    /// Which results are sampled: the rates per tier and model, the default rate and the low-score threshold.
    var policy: SamplingPolicy
    var recentCapacity: Int

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        kafkaSecurity = KafkaSecurity(reading: &reader)
        fetchWait = reader.read(.kafkaFetchWait)
        topicPrefix = reader.read(.topicPrefix)
        sessionTimeout = reader.read(.kafkaSessionTimeout)
        groupID = reader.read(.string("RAG_REVIEW_GROUP", default: "review-sampler", summary: "Consumer group of the review-samplers."))
        maxInFlight = reader.read(.integer("RAG_REVIEW_MAX_IN_FLIGHT", default: 256, range: 1 ... 100_000,
                                           summary: "Results handled at once (all partitions); more pauses the partitions."))
        let defaultRate = reader.read(.double("RAG_REVIEW_DEFAULT_RATE", default: 0.02, range: 0 ... 1,
                                              summary: "Fraction of answered results sampled when RAG_REVIEW_SAMPLE_RATES names neither their tier nor their model."))
        let rates = reader.read(ConfigurationVariable(
            name: "RAG_REVIEW_SAMPLE_RATES",
            summary: "Sampling rates of answered results by tier (user-tier header) and model: tier=rate, tier/model=rate or */model=rate; "
                + "tier/model wins over tier, tier over */model, and that over RAG_REVIEW_DEFAULT_RATE.",
            expectation: "key=rate entries (rate in 0...1) separated by ;, e.g. free=0.01;enterprise=0.05;enterprise/gpt-4o=0.2",
            defaultValue: [:], defaultDescription: "", placeholder: [:],
            parse: { raw throws(ConfigurationValueRejection) in try SamplingPolicy.parseRates(raw) }))
        let lowScore = reader.read(.double("RAG_REVIEW_LOW_SCORE", default: 0.5, range: -1 ... 1,
                                           summary: "An answered result whose best citation scored below this (or that cites nothing) is always sampled (low_score)."))
        policy = SamplingPolicy(rates: rates, defaultRate: defaultRate, lowScore: lowScore)
        recentCapacity = reader.read(.integer("RAG_REVIEW_RECENT_CAPACITY", default: 100_000, range: 1 ... 10_000_000,
                                              summary: "Sampled query_ids remembered, so a result published again adds no second review item."))
    }
}
