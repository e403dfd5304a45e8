#pragma once
#include <curl/curl.h>

/// `curl_easy_setopt` is variadic; these wrappers fix the argument type for Swift.
static inline CURLcode particle_curl_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode particle_curl_setopt_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode particle_curl_setopt_pointer(CURL *curl, CURLoption option, void *value) {
    return curl_easy_setopt(curl, option, value);
}

/// A read or write callback: `size_t callback(char *buffer, size_t size, size_t count, void *context)`.
typedef size_t (*particle_curl_data_callback)(char *, size_t, size_t, void *);

static inline CURLcode particle_curl_setopt_callback(
    CURL *curl, CURLoption option, particle_curl_data_callback callback) {
    return curl_easy_setopt(curl, option, callback);
}

static inline CURLcode particle_curl_setopt_slist(CURL *curl, CURLoption option, struct curl_slist *list) {
    return curl_easy_setopt(curl, option, list);
}

/// `curl_easy_getinfo` is variadic too; this reads the last response code (HTTP status or SMTP reply).
static inline CURLcode particle_curl_response_code(CURL *curl, long *code) {
    return curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
}

/// `CURL_GLOBAL_DEFAULT` is a macro expression that Swift does not import.
static inline CURLcode particle_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}
