import Auth

/// Who a per-caller limit or memory belongs to: the tenant (nil for a token without one) and the user.
///
/// A struct, not a joined string, so no two callers can ever share a key (`"a/b" + "c"` and `"a" + "b/c"`
/// would), and a caller without a tenant is never the caller of a tenant named `default`.
struct CallerID: Hashable, Sendable, CustomStringConvertible {
    let tenant: String?
    let userID: String

    init(tenant: String?, userID: String) {
        self.tenant = tenant
        self.userID = userID
    }

    init(_ identity: Identity) {
        self.init(tenant: identity.tenant, userID: identity.userID)
    }

    var description: String { "\(tenant.map { "tenant \($0)" } ?? "no tenant"), user \(userID)" }
}
