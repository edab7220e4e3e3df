import ArgumentParser

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "(being written)")
    func run() async throws { throw ValidationError("ragctl migrate is being written") }
}
