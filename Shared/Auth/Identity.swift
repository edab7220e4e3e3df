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

    /// The value of the trusted `tenant` header and of every tenant column and key: the tenant claim, or the
    /// empty string for a token without one. A tenant claim is never empty (the verifier refuses that), so a
    /// caller without a tenant shares nothing with any tenant, including one literally named `default`.
    public var tenantHeaderValue: String { tenant ?? "" }

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
