#ifndef RAG_CCURL_SHIM_H
#define RAG_CCURL_SHIM_H
#include <curl/curl.h>
#endif
