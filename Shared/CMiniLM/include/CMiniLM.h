#ifndef RAG_CMINILM_H
#define RAG_CMINILM_H
#include <cblas.h>
#include <stddef.h>

// The MiniLM encoder's C side: OpenBLAS's CBLAS interface (OpenBLAS picks its kernels for the CPU when it is
// loaded), AVX-512 kernels of our own for CPUs that have it, and two hints. The platform's baseline is x86-64-v3
// (AVX2, FMA): no AVX-512 code of ours runs unless `rag_cpu_has_avx512()` said yes.

/// 1 if the CPU has AVX-512F and the operating system saves its registers (XCR0: opmask, ZMM state), else 0.
int rag_cpu_has_avx512(void);

// MARK: Kernels

/// Row-major `c = alpha · a · bᵀ` for few rows: `a` is `rows × depth` (row stride `lda`), `b` is `columns × depth`
/// (row stride `ldb`), `depth` a multiple of 16. The AVX-512 twin of `MathKernels.multiplyTransposed`.
/// Call only when `rag_cpu_has_avx512()` returned 1.
void rag_multiply_transposed_avx512(
    int rows, int columns, int depth, float alpha, const float *a, int lda, const float *b, int ldb, float *c, int ldc);

// MARK: Hints

/// Asks the CPU to bring the cache line holding `address` into all cache levels (a hint; never faults).
static inline void rag_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// Tells the CPU this thread is spinning on a flag (x86 `pause`): saves power and frees the core's shared
/// resources for the thread that will set it.
static inline void rag_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
