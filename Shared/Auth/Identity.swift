/// The verified caller: everything the gateway forwards as trusted headers comes from here, and this comes
/// from the token only.
public struct Identity: Sendable, Hashable {
    /// `sub` → `user-id`.
    public let userID: String
    /// The tier claim → `user-tier`.
    public let tier: Tier
    /// The tenant claim → `tenant`; nil when the token has none.
    public let tenant: String?
    /// From `scope` (space-separated) or `scp` (string or array).
    public let scopes: Set<String>

    public init(userID: String, tier: Tier, tenant: String?, scopes: Set<String>) {
        self.userID = userID
        self.tier = tier
        self.tenant = tenant
        self.scopes = scopes
    }

    /// Throws 403 `insufficient_scope` unless the token grants `scope`.
    public func require(scope: String) throws(AuthError) {
        guard scopes.contains(scope) else {
            throw .forbidden("insufficient_scope", "this operation needs scope \(scope)")
        }
    }
}
