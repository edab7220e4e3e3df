import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Messaging

/// `ragctl broker`: a local Kafka-protocol cluster (librdkafka's mock cluster) with the platform's topics
/// and an HTTP control port for fault injection. For development and tests; production uses Apache Kafka.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run a local Kafka-protocol broker cluster with the platform's topics and a fault-injection control port.",
        discussion: """
        Writes <state-dir>/bootstrap (the bootstrap.servers list) and <state-dir>/control.url, and prints both.
        Control API (JSON):
          POST /topics                    {"name": "t", "partitions": 3, "replication_factor": 1}
          POST /request-errors            {"api_key": 0, "errors": [6, 7]}   next requests of that API fail
          DELETE /request-errors/{api_key}
          POST /brokers/{id}/down | /brokers/{id}/up
          POST /brokers/{id}/rtt          {"milliseconds": 300}
          POST /partitions/leader         {"topic": "t", "partition": 0, "broker": 2}
        """
    )

    @Option(help: "Number of brokers.") var brokers: Int32 = 3
    @Option(help: "Partitions of each platform topic.") var partitions: Int32 = 6
    @Option(help: "Topic name prefix.") var topicPrefix = "rag."
    @Option(help: "Where the bootstrap and control URL files are written.") var stateDir = ".run/broker"
    @Option(help: "Control port on 127.0.0.1 (0 picks a free one).") var controlPort = 0

    func run() async throws {
        var logger = Logger(label: "ragctl.broker")
        logger.logLevel = .info
        let cluster = try KafkaMockCluster(brokers: brokers, logger: logger)
        let replication = Int16(min(brokers, 3))
        for spec in RAGTopics(prefix: topicPrefix).specs(partitions: partitions, replicationFactor: replication) {
            try cluster.createTopic(spec)
        }

        let router = Router()
        BrokerControl(cluster: cluster).addRoutes(to: router)
        let stateDirectory = URL(fileURLWithPath: stateDir)
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let bootstrap = cluster.bootstrapServers
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: controlPort)),
            onServerRunning: { channel in
                let controlURL = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)"
                try? bootstrap.write(to: stateDirectory.appendingPathComponent("bootstrap"), atomically: true, encoding: .utf8)
                try? controlURL.write(to: stateDirectory.appendingPathComponent("control.url"), atomically: true, encoding: .utf8)
                print("kafka bootstrap servers: \(bootstrap)")
                print("broker control:          \(controlURL)")
                fflush(nil)
            },
            logger: logger
        )
        try await app.runService()
        withExtendedLifetime(cluster) {}
    }
}

/// The HTTP control API of the local broker: fault injection for tests and demos.
struct BrokerControl: Sendable {
    let cluster: KafkaMockCluster

    struct TopicRequest: Decodable {
        var name: String
        var partitions: Int32
        var replication_factor: Int16?
    }

    struct RequestErrors: Decodable {
        var api_key: Int16
        var errors: [Int32]
    }

    struct RoundTripTime: Decodable {
        var milliseconds: Int32
    }

    struct LeaderChange: Decodable {
        var topic: String
        var partition: Int32
        var broker: Int32
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("health") { _, _ in "ok" }
        router.post("topics") { request, context -> HTTPResponse.Status in
            let topic = try await request.decode(as: TopicRequest.self, context: context)
            try cluster.createTopic(KafkaTopicSpec(name: topic.name, partitions: topic.partitions,
                                                   replicationFactor: topic.replication_factor ?? 1))
            return .created
        }
        router.post("request-errors") { request, context -> HTTPResponse.Status in
            let faults = try await request.decode(as: RequestErrors.self, context: context)
            cluster.pushRequestErrors(apiKey: faults.api_key, errors: faults.errors)
            return .noContent
        }
        router.delete("request-errors/{api_key}") { _, context -> HTTPResponse.Status in
            cluster.clearRequestErrors(apiKey: try context.parameters.require("api_key", as: Int16.self))
            return .noContent
        }
        router.post("brokers/{id}/down") { _, context -> HTTPResponse.Status in
            try cluster.setBroker(try context.parameters.require("id", as: Int32.self), up: false)
            return .noContent
        }
        router.post("brokers/{id}/up") { _, context -> HTTPResponse.Status in
            try cluster.setBroker(try context.parameters.require("id", as: Int32.self), up: true)
            return .noContent
        }
        router.post("brokers/{id}/rtt") { request, context -> HTTPResponse.Status in
            let rtt = try await request.decode(as: RoundTripTime.self, context: context)
            try cluster.setRoundTripTime(broker: try context.parameters.require("id", as: Int32.self), milliseconds: rtt.milliseconds)
            return .noContent
        }
        router.post("partitions/leader") { request, context -> HTTPResponse.Status in
            let change = try await request.decode(as: LeaderChange.self, context: context)
            try cluster.setPartitionLeader(topic: change.topic, partition: change.partition, broker: change.broker)
            return .noContent
        }
    }
}
