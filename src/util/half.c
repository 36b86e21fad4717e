/* fp16 / bf16 <-> fp32 scalar converters (bit manipulation, no FPU state
 * besides the default round-to-nearest mode). */
#include "util/half.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CW_HALF_F16C 1
#endif

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float cw_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) /* zero or subnormal: mant * 2^-24 is exact in float */
        return bits_f32(sign | f32_bits((float)mant * 0x1p-24f));
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t cw_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u;        /* NaN stays a (quiet) NaN */
    if (ax >= 0x477ff000u) return sign | 0x7c00u;       /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {
        /* Below 2^-14 the result is subnormal: adding 0.5f puts the fp16 ulp
         * (2^-24) at float's ulp, so the FPU does the nearest-even rounding. */
        uint32_t r = f32_bits(bits_f32(ax) + 0.5f);
        return (uint16_t)(sign | (r - 0x3f000000u));
    }
    uint32_t odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + odd; /* rebias exponent (-112 << 23) and round half to even */
    return (uint16_t)(sign | (ax >> 13));
}

float cw_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t cw_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

#ifdef CW_HALF_F16C
__attribute__((target("avx,f16c"))) static size_t f16_to_f32_f16c(float *y, const uint16_t *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i))));
    return i;
}
#endif

void cw_f16_to_f32_n(float *y, const uint16_t *x, size_t n)
{
    size_t i = 0;
#ifdef CW_HALF_F16C
    /* "f16c" is not a feature name clang's builtin knows; every CPU with
     * AVX2 (Haswell, Zen and later) has F16C */
    if (__builtin_cpu_supports("avx2")) i = f16_to_f32_f16c(y, x, n);
#endif
    for (; i < n; i++) y[i] = cw_f16_to_f32(x[i]);
}

void cw_bf16_to_f32_n(float *y, const uint16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = cw_bf16_to_f32(x[i]);
}

void cw_f32_to_bf16_n(uint16_t *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = cw_f32_to_bf16(x[i]);
}
