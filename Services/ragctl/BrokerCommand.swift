import ArgumentParser

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "broker", abstract: "(being written)")
    func run() async throws { throw ValidationError("ragctl broker is being written") }
}
