extension PostgresConnection {
    /// Runs `body` inside `BEGIN` … `COMMIT` on this connection and returns its value.
    ///
    /// When `body` throws, or the task is cancelled before the commit, the transaction is rolled back and
    /// the error (or `CancellationError`) is rethrown; nothing `body` wrote remains. A failed `COMMIT` (e.g. a
    /// serialization failure) throws as well, and the transaction is then over either way.
    ///
    /// The caller must have exclusive use of the connection for the duration (as inside
    /// `PostgresPool.withConnection`); `PostgresPool.withTransaction` does both in one call. Transactions do
    /// not nest: inside `body`, use `SAVEPOINT` statements for partial rollback.
    ///
    /// Runs `body` in the caller's isolation (`nonisolated(nonsending)`), so `body` need not be `Sendable`.
    nonisolated(nonsending) public func withTransaction<T>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await executeUncancellable("BEGIN")
        let value: T
        do {
            value = try await body(self)
            try Task.checkCancellation()
        } catch {
            await rollbackQuietly()
            throw error
        }
        do {
            try await executeUncancellable("COMMIT")
        } catch {
            await rollbackQuietly()
            throw error
        }
        return value
    }

    /// ROLLBACK, ignoring its own failure: when the session is gone, the server has rolled back already,
    /// and the connection is then marked unusable by the failed call.
    func rollbackQuietly() async {
        do {
            try await executeUncancellable("ROLLBACK")
        } catch {
            logger.debug("postgres rollback failed", metadata: ["error": "\(error)"])
        }
    }
}
