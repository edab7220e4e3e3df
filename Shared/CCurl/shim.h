#ifndef RAG_CCURL_SHIM_H
#define RAG_CCURL_SHIM_H

#include <curl/curl.h>

// Swift cannot call C variadic functions. `curl_easy_setopt`, `curl_easy_getinfo` and
// `curl_multi_setopt` are variadic, so each argument type gets a typed wrapper here.
// The wrappers only forward; they do not change curl's behaviour or ownership rules.

/// A libcurl data callback (CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION):
/// `size * nmemb` bytes at `data`; returns the number of bytes taken, or CURL_WRITEFUNC_PAUSE.
typedef size_t (*rag_curl_data_callback)(char *data, size_t size, size_t nmemb, void *userdata);

static inline CURLcode rag_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rag_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// For string options; libcurl copies the string (except CURLOPT_POSTFIELDS, which this project never uses).
static inline CURLcode rag_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// For CURLOPT_COPYPOSTFIELDS with binary data: set CURLOPT_POSTFIELDSIZE(_LARGE) first; libcurl copies.
static inline CURLcode rag_curl_easy_setopt_bytes(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// For opaque pointers (CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_PRIVATE, CURLOPT_ERRORBUFFER).
static inline CURLcode rag_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// For list options (CURLOPT_HTTPHEADER); the list must outlive the transfer.
static inline CURLcode rag_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rag_curl_easy_setopt_callback(CURL *handle, CURLoption option, rag_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rag_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rag_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// The returned string is owned by the easy handle.
static inline CURLcode rag_curl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rag_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode rag_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

/// Resumes a transfer paused by returning CURL_WRITEFUNC_PAUSE (CURLPAUSE_CONT is a compound macro).
static inline CURLcode rag_curl_easy_unpause(CURL *handle) {
    return curl_easy_pause(handle, CURLPAUSE_CONT);
}

/// curl_global_init with CURL_GLOBAL_DEFAULT (a compound macro).
static inline CURLcode rag_curl_global_init_default(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

/// The value a data callback returns to pause the transfer.
static inline size_t rag_curl_writefunc_pause(void) {
    return CURL_WRITEFUNC_PAUSE;
}

#endif
