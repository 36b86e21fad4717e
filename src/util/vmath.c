#include "util/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 16 independent lanes in the portable loops; the AVX-512 paths are written
 * out (GCC's vectoriser left the exponentials scalar, and clang 14 drops
 * target_clones symbols called from the same file). */
enum { L = 16 };

float cw_vmax_c(const float *x, size_t n)
{
    float m[L];
    for (int l = 0; l < L; l++) m[l] = -INFINITY;
    size_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float mx = m[0];
    for (int l = 1; l < L; l++) mx = m[l] > mx ? m[l] : mx;
    return mx;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define CW_VMATH_X86 1
#include <immintrin.h>
#define CW_TARGET_V512 __attribute__((target("avx512f,fma")))

/* _mm512_max_ps is (a > b ? a : b) lane-wise: the portable loop's result. */
CW_TARGET_V512 static float max_avx512(const float *x, size_t n)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        m = _mm512_mask_max_ps(m, k, _mm512_maskz_loadu_ps(k, x + i), m);
    }
    return _mm512_reduce_max_ps(m);
}
#endif

float cw_vmax(const float *x, size_t n)
{
#ifdef CW_VMATH_X86
    if (__builtin_cpu_supports("avx512f")) return max_avx512(x, n);
#endif
    return cw_vmax_c(x, n);
}

size_t cw_vargmax(const float *x, size_t n)
{
    float mx = cw_vmax(x, n);
    for (size_t i = 0; i < n; i++)
        if (x[i] == mx) return i;
    return 0; /* n == 0, or NaNs only */
}

/* e^x for x <= 88.3, Cephes expf's range reduction and polynomial (as the
 * SIMD kernels' exp8/exp16); 0 below -87.3, where the float would go denormal. */
static inline float exp_poly(float x)
{
    float lo = x < -87.3f ? 0.0f : 1.0f;
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.0f);
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale * lo;
}

/* The generic path (and the x86 one without AVX-512): the polynomial per term. */
double cw_vsum_exp_c(const float *x, size_t n, float a, float b)
{
    double s[L];
    for (int l = 0; l < L; l++) s[l] = 0.0;
    size_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) s[l] += (double)exp_poly((x[i + l] - a) - b);
    for (; i < n; i++) s[0] += (double)exp_poly((x[i] - a) - b);
    double sum = 0.0;
    for (int l = 0; l < L; l++) sum += s[l];
    return sum;
}

#ifdef CW_VMATH_X86
#define CW_AVX512_MATH_TARGET CW_TARGET_V512
#include "backend/cpu/avx512_math.h"

/* GCC's vectoriser left the loop above scalar (branches of the clamps):
 * written out, with the kernels' cw_exp16, terms widened to double in pairs
 * of 8-lane sums. */
CW_TARGET_V512 static double sum_exp_avx512(const float *x, size_t n, float a, float b)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b), lo = _mm512_set1_ps(-87.3f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 t = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), va), vb);
        m &= _mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ); /* 0 below e^-87.3, -inf included */
        __m512 e = _mm512_maskz_mov_ps(m, cw_exp16(t));
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}
#endif

double cw_vsum_exp(const float *x, size_t n, float a, float b)
{
#ifdef CW_VMATH_X86
    if (__builtin_cpu_supports("avx512f")) return sum_exp_avx512(x, n, a, b);
#endif
    return cw_vsum_exp_c(x, n, a, b);
}
