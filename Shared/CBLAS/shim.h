#ifndef RAG_CBLAS_SHIM_H
#define RAG_CBLAS_SHIM_H
#include <cblas.h>

/// Asks the CPU to bring the cache line holding `address` into all cache levels (a hint; never faults).
static inline void rag_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
#endif
