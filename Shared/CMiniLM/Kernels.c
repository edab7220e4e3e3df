#include "CMiniLM.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int rag_cpu_has_avx512(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    // XMM, YMM, opmask, upper ZMM and high ZMM state all enabled by the OS.
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & bit_AVX512F) != 0;
}

#define AVX512 __attribute__((target("avx512f")))

/// `alpha` × the lane sums of the first `count` of four accumulators, stored at `line[0..<count]`.
static AVX512 inline void store_sums_avx512(__m512 s0, __m512 s1, __m512 s2, __m512 s3, int count, float alpha, float *line) {
    line[0] = alpha * _mm512_reduce_add_ps(s0);
    if (count > 1) line[1] = alpha * _mm512_reduce_add_ps(s1);
    if (count > 2) line[2] = alpha * _mm512_reduce_add_ps(s2);
    if (count > 3) line[3] = alpha * _mm512_reduce_add_ps(s3);
}

// Step k's share of the next tile's weights (4 × depth floats, contiguous): the 64 floats from next + 4k, so
// the loop over k prefetches the whole tile.
static inline void prefetch_tile_step(const float *next, int k) {
    const float *line = next + 4 * k;
    _mm_prefetch((const char *)line, _MM_HINT_T0);
    _mm_prefetch((const char *)(line + 16), _MM_HINT_T0);
    _mm_prefetch((const char *)(line + 32), _MM_HINT_T0);
    _mm_prefetch((const char *)(line + 48), _MM_HINT_T0);
}

// Tiles of 4 weight rows × 4 rows of `a`: sixteen dot products accumulated in 16 lanes each (21 of the 32
// ZMM registers), so a tile's weights are read from memory once and from L1 for the other rows. The next
// tile's weights (contiguous when ldb == depth) are prefetched while the first rows run. Rows left over
// (1–3) run one at a time. A tile's missing columns repeat its last one and are not stored.
AVX512 void rag_multiply_transposed_avx512(
    int rows, int columns, int depth, float alpha, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    for (int column = 0; column < columns; column += 4) {
        const float *b0 = b + (long)column * ldb;
        const float *b1 = b + (long)(column + 1 < columns ? column + 1 : columns - 1) * ldb;
        const float *b2 = b + (long)(column + 2 < columns ? column + 2 : columns - 1) * ldb;
        const float *b3 = b + (long)(column + 3 < columns ? column + 3 : columns - 1) * ldb;
        const float *next = b + (long)(column + 4) * ldb;
        const int prefetch = ldb == depth && column + 8 <= columns;
        const int tile = columns - column < 4 ? columns - column : 4;
        int row = 0;
        for (; row + 3 < rows; row += 4) {
            const float *a0 = a + (long)row * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            __m512 s00 = _mm512_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
            __m512 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            __m512 s20 = s00, s21 = s00, s22 = s00, s23 = s00;
            __m512 s30 = s00, s31 = s00, s32 = s00, s33 = s00;
            for (int k = 0; k < depth; k += 16) {
                if (row == 0 && prefetch) prefetch_tile_step(next, k);
                const __m512 w0 = _mm512_loadu_ps(b0 + k), w1 = _mm512_loadu_ps(b1 + k);
                const __m512 w2 = _mm512_loadu_ps(b2 + k), w3 = _mm512_loadu_ps(b3 + k);
                __m512 x = _mm512_loadu_ps(a0 + k);
                s00 = _mm512_fmadd_ps(x, w0, s00); s01 = _mm512_fmadd_ps(x, w1, s01);
                s02 = _mm512_fmadd_ps(x, w2, s02); s03 = _mm512_fmadd_ps(x, w3, s03);
                x = _mm512_loadu_ps(a1 + k);
                s10 = _mm512_fmadd_ps(x, w0, s10); s11 = _mm512_fmadd_ps(x, w1, s11);
                s12 = _mm512_fmadd_ps(x, w2, s12); s13 = _mm512_fmadd_ps(x, w3, s13);
                x = _mm512_loadu_ps(a2 + k);
                s20 = _mm512_fmadd_ps(x, w0, s20); s21 = _mm512_fmadd_ps(x, w1, s21);
                s22 = _mm512_fmadd_ps(x, w2, s22); s23 = _mm512_fmadd_ps(x, w3, s23);
                x = _mm512_loadu_ps(a3 + k);
                s30 = _mm512_fmadd_ps(x, w0, s30); s31 = _mm512_fmadd_ps(x, w1, s31);
                s32 = _mm512_fmadd_ps(x, w2, s32); s33 = _mm512_fmadd_ps(x, w3, s33);
            }
            float *line = c + (long)row * ldc + column;
            store_sums_avx512(s00, s01, s02, s03, tile, alpha, line);
            store_sums_avx512(s10, s11, s12, s13, tile, alpha, line + ldc);
            store_sums_avx512(s20, s21, s22, s23, tile, alpha, line + 2 * ldc);
            store_sums_avx512(s30, s31, s32, s33, tile, alpha, line + 3 * ldc);
        }
        for (; row < rows; row++) {
            const float *a0 = a + (long)row * lda;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (int k = 0; k < depth; k += 16) {
                if (row == 0 && prefetch) prefetch_tile_step(next, k);
                const __m512 x = _mm512_loadu_ps(a0 + k);
                s0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + k), s0);
                s1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + k), s1);
                s2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b2 + k), s2);
                s3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b3 + k), s3);
            }
            store_sums_avx512(s0, s1, s2, s3, tile, alpha, c + (long)row * ldc + column);
        }
    }
}

#else

int rag_cpu_has_avx512(void) { return 0; }

void rag_multiply_transposed_avx512(
    int rows, int columns, int depth, float alpha, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    (void)rows; (void)columns; (void)depth; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc;
    __builtin_trap();  // never called: rag_cpu_has_avx512() is 0 here
}

#endif
