#include "util/vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 16 independent lanes: loops over them vectorise without reassociating
 * floating-point sums (no -ffast-math needed). */
enum { L = 16 };

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CW_NO_CLONES)
#define CW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CW_CLONES
#endif

CW_CLONES float cw_vmax(const float *x, size_t n)
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

CW_CLONES double cw_vsum_exp(const float *x, size_t n, float a, float b)
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
