import Auth
import Foundation
import Hummingbird

/// Per-request state: the verified caller (set by `AuthenticationMiddleware`) and the request's ids.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The caller, from the verified JWT only; nil on public routes.
    var identity: Identity?
    /// `request-id`: the client's `X-Request-Id` when it sent a sane one, else a new UUID.
    var requestID: String = RandomIDs.uuid()

    init(source: Source) {
        coreContext = .init(source: source)
    }

    /// The identity, for routes behind the authentication middleware.
    func requireIdentity() throws -> Identity {
        guard let identity else {
            throw Problem(status: .unauthorized, code: "missing_token", detail: "a bearer token is required")
        }
        return identity
    }
}

/// Verifies the bearer token of every request it guards and puts the identity into the context.
///
/// The token comes from `Authorization: Bearer …`, or, for `GET` only (browsers' EventSource cannot set
/// headers), from the `access_token` query parameter. Rejections are 401/403 problems with the
/// verifier's stable code.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let verifier: TokenVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let token: String?
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            token = parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : ""
        } else if request.method == .get {
            token = request.uri.queryParameters.get("access_token")
        } else {
            token = nil
        }
        guard let token, !token.isEmpty else {
            throw Problem(status: .unauthorized, code: "missing_token", detail: "a bearer token is required",
                          extraHeaders: [.wwwAuthenticate: "Bearer"])
        }
        do {
            context.identity = try await verifier.verify(bearer: token)
        } catch {
            throw Problem(error)
        }
        return try await next(request, context)
    }
}

extension Problem {
    init(_ error: AuthError) {
        let status: HTTPResponse.Status = error.status == 403 ? .forbidden : .unauthorized
        self.init(status: status, code: error.code, detail: error.message,
                  extraHeaders: status == .unauthorized ? [.wwwAuthenticate: "Bearer error=\"invalid_token\""] : [:])
    }
}
