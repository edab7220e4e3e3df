import Foundation
import Testing
import Synchronization
import WorkerRuntime

/// Collects the lines a `JSONLogHandler` writes, for inspection.
final class LogLineCollector: Sendable {
    private let lines = Mutex<[String]>([])

    var output: LogOutput {
        LogOutput { line in self.lines.withLock { $0.append(line) } }
    }

    var all: [String] {
        self.lines.withLock { $0 }
    }

    /// Every line parsed as a JSON object.
    func objects() throws -> [[String: Any]] {
        try self.all.map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(line)")
        }
    }
}
