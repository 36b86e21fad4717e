/* Element-wise math at 16 lanes for the AVX-512 kernels: the same operation
 * sequences as avx2_vec.c's 8-lane versions, so a value gets the same bits
 * whichever table runs it (fp32 outputs do not depend on the CPU). The
 * includer defines CW_AVX512_MATH_TARGET as its own target attribute (with
 * AVX-512 F and FMA), so that these inline into its functions. */
#ifndef CW_AVX512_MATH_H
#define CW_AVX512_MATH_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#include "backend/cpu/exp2_poly.h"

#define CW_AVX512_MATH_INLINE static inline __attribute__((always_inline)) CW_AVX512_MATH_TARGET

/* The mask of the first min(n, 16) lanes: a row's tail of n elements. */
CW_AVX512_MATH_INLINE __mmask16 cw_mask16(size_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* bf16 bits (round to nearest even, by integer arithmetic: subnormals kept,
 * NaNs not quieted) of 16 floats, in the low halves of 32-bit lanes. */
CW_AVX512_MATH_INLINE __m512i cw_bf16_rne16(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
}

/* e^x, Cephes expf (avx2_vec.c's exp8). */
CW_AVX512_MATH_INLINE __m512 cw_exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* max x [n] (n > 0; -inf for none). Four chains: one vmaxps after another
 * waited on each other's latency (a quarter of the bf16 softmax's time, S
 * being in L2). */
CW_AVX512_MATH_INLINE float cw_max_row(const float *x, size_t n)
{
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t c = 0;
    for (; c + 64 <= n; c += 64) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + c));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + c + 16));
        m2 = _mm512_max_ps(m2, _mm512_loadu_ps(x + c + 32));
        m3 = _mm512_max_ps(m3, _mm512_loadu_ps(x + c + 48));
    }
    for (; c < n; c += 16) m0 = _mm512_mask_max_ps(m0, cw_mask16(n - c), m0, _mm512_maskz_loadu_ps(cw_mask16(n - c), x + c));
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

/* 2^t for t <= 0 (scores minus their maximum): t = n + f, |f| <= 1/2, 2^f
 * by its Taylor polynomial to degree 6 (relative error < 2e-7, far below the
 * bf16 rounding of P), scaled by 2^n with vscalefps (0 below 2^-149). Half
 * the operations of cw_exp16, whose range reduction the exp2 form avoids. */
CW_AVX512_MATH_INLINE __m512 cw_exp2_neg16(__m512 t)
{
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    static const float c[CW_EXP2_POLY_N] = CW_EXP2_POLY;
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < CW_EXP2_POLY_N; i++) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[i]));
    return _mm512_scalef_ps(p, n);
}

/* x Phi(x) as avx2_vec.c's gelu8: Phi from erfc(z) = t exp(-z^2 + P(t)),
 * t = 1/(1+z/2), z = |x|/sqrt2. */
CW_AVX512_MATH_INLINE __m512 cw_gelu16(__m512 x)
{
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(0.17087277f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.82215223f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.48851587f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.13520398f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.27886807f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.18628806f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.09678418f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.37409196f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.00002368f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26551223f));
    __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(t, _mm512_set1_ps(0.5f)), cw_exp16(_mm512_fnmadd_ps(z, z, p)));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(1.0f), half_erfc), half_erfc);
    return _mm512_mul_ps(x, phi);
}

/* v[r] holds 16 partial sums of row r; returns the 16 totals in row order.
 * A transpose-add tree of four levels of 128-bit and 32-bit shuffles (it
 * leaves row 4 e + c in lane 4 c + e), then one permute. */
CW_AVX512_MATH_INLINE __m512 cw_sum16x16(const __m512 v[16])
{
    __m512 w[8], u[4], t[2];
    for (int p = 0; p < 8; p++)
        w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int q = 0; q < 4; q++)
        u[q] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int r = 0; r < 2; r++)
        t[r] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * r], u[2 * r + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(u[2 * r], u[2 * r + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 tot = _mm512_add_ps(_mm512_shuffle_ps(t[0], t[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_ps(t[0], t[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, tot);
}

#endif
