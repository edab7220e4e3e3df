/// A notification received by `PostgresListener`: the channel, the payload (empty when none was given)
/// and the server process that sent it. A plain value, hence `Sendable`.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel name as given to `NOTIFY`/`pg_notify`.
    public let channel: String
    /// The payload text; empty when none was sent.
    public let payload: String
    /// `pg_backend_pid()` of the session that sent it.
    public let senderPID: Int32

    /// Creates a notification.
    public init(channel: String, payload: String, senderPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderPID = senderPID
    }
}
