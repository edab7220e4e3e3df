extension PostgresConnection {
    /// Sends a notification with `SELECT pg_notify(channel, payload)`.
    ///
    /// Inside a transaction it is delivered when the transaction commits, and not at all on rollback;
    /// identical notifications of one transaction are delivered once. The payload must be shorter than
    /// 8000 bytes. Listeners receive it through `PostgresListener`.
    public func notify(channel: String, payload: String = "") async throws {
        try await query("SELECT pg_notify($1, $2)", channel, payload)
    }
}
