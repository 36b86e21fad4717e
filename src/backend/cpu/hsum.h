/* The horizontal sum of 8 floats that the AVX2 and AVX-512 kernels share:
 * (lower + upper 128 bits), then pairs, then the last two. Its order is
 * part of their results (softmax, layernorm, the GEMV's sums, the few-row
 * attention), so it lives once, here. Included only by x86 kernel files;
 * the target is a subset of every includer's, so it inlines into each. */
#ifndef CW_BACKEND_CPU_HSUM_H
#define CW_BACKEND_CPU_HSUM_H

#include <immintrin.h>

static inline __attribute__((always_inline, target("avx2,fma"))) float cw_hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
