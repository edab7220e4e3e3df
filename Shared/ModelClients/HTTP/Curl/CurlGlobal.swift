import CCurl

/// Process-wide libcurl initialisation, done once before the first handle is created.
///
/// `curl_global_init` must precede any other libcurl call; Swift runs a `static let` initialiser
/// exactly once, thread-safely, so every entry point touches ``ensureInitialized()`` first.
/// `curl_global_cleanup` is never called: libcurl lives until the process exits.
enum CurlGlobal {
    private static let initResult: CURLcode = rag_curl_global_init_default()

    static func ensureInitialized() {
        precondition(initResult == CURLE_OK, "curl_global_init failed: \(String(cString: curl_easy_strerror(initResult)))")
    }
}
