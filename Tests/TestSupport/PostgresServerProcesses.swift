public import Foundation

/// The processes of one local Postgres server (`scripts/local-postgres.sh start STATE_DIR`): the postmaster
/// and its children, for fault tests that make the host hang without resetting any connection.
///
/// `freeze()` sends SIGSTOP to all of them: the kernel still accepts connections and acknowledges data,
/// but nothing answers — what a database host looks like when it hangs or a network drops packets
/// silently. `thaw()` sends SIGCONT. Never use it on a server other tests share.
public struct PostgresServerProcesses: Sendable {
    /// The postmaster's process id (the first line of `postmaster.pid` in the data directory).
    public let postmasterPID: pid_t

    /// Reads the postmaster of the server whose state directory is `stateDirectory` (it holds `datadir`).
    public init(stateDirectory: String) throws {
        let dataDirectory = try String(contentsOfFile: stateDirectory + "/datadir", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let pidFile = try String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)
        guard let first = pidFile.split(separator: "\n").first, let pid = pid_t(first.trimmingCharacters(in: .whitespaces)) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: dataDirectory + "/postmaster.pid"])
        }
        postmasterPID = pid
    }

    /// SIGSTOP to the postmaster and every backend and auxiliary process it started.
    public func freeze() { signalAll(SIGSTOP) }

    /// SIGCONT to the same processes.
    public func thaw() { signalAll(SIGCONT) }

    private func signalAll(_ signal: Int32) {
        // The postmaster first, so it starts no new child meanwhile (thawing: last, for the same reason).
        if signal == SIGSTOP { kill(postmasterPID, signal) }
        for child in Self.children(of: postmasterPID) { kill(child, signal) }
        if signal != SIGSTOP { kill(postmasterPID, signal) }
    }

    /// Process ids whose parent is `parent`, from /proc/<pid>/stat.
    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let closing = stat.range(of: ")", options: .backwards) else { return nil }
            // After "pid (comm) ": state, then the parent's pid.
            let fields = stat[closing.upperBound...].split(separator: " ")
            guard fields.count > 1, pid_t(fields[1]) == parent else { return nil }
            return pid
        }
    }
}
