/// Moves a C handle (a `PGconn *` or `PGcancel *`) into a `@Sendable` closure.
///
/// `@unchecked Sendable` because the wrapper itself guarantees nothing: it is used only where ownership of
/// the handle passes wholesale to the closure (e.g. the final `PQfinish` on the connection's own queue),
/// so no two threads ever use the handle at the same time.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
