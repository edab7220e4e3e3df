import ArgumentParser

/// `ragctl`: the operator and developer command line.
@main
struct RagCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ragctl",
        abstract: "Operate and develop the Kafka RAG platform.",
        subcommands: [
            BrokerCommand.self,
            MigrateCommand.self,
            EmbedCommand.self,
            TokenCommand.self,
            IngestCommand.self,
            QueryCommand.self,
            ReplayCommand.self,
            DLQCommand.self,
            LagCommand.self,
            HealthCommand.self,
        ]
    )
}
