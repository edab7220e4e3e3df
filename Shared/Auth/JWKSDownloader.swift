import ModelClients

/// Fetches JWKS documents over HTTP(S) with the shared libcurl client.
public enum JWKSDownloader {
    private static let client = CurlHTTPClient()

    public static let fetch: JWKSFetcher = { url in
        let response = try await client.execute(HTTPRequest(method: .get, url: url, timeout: .seconds(10)))
        guard response.status == 200 else {
            throw KeyLoadingError(source: "JWKS \(url)", reason: "HTTP \(response.status)")
        }
        return response.body
    }
}
