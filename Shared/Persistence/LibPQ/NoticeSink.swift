import CLibPQ
import Foundation
import Logging

/// Receives libpq's notices (e.g. "relation already exists, skipping") and logs them at debug level
/// instead of letting libpq print them to stderr.
///
/// Immutable after init (a `Logger` is a value), hence `Sendable`. Retained by the connection for as long
/// as libpq can call it.
final class NoticeSink: Sendable {
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Installs this sink as the connection's notice processor. The sink must outlive the `PGconn`.
    func install(on handle: OpaquePointer) {
        PQsetNoticeProcessor(handle, { context, message in
            guard let context, let message else { return }
            Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue().receive(String(cString: message))
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func receive(_ message: String) {
        logger.debug("postgres notice", metadata: ["notice": "\(message.trimmingCharacters(in: .whitespacesAndNewlines))"])
    }
}
