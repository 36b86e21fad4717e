/* Per-row int8 quantization (util/quant.h). */
#include "util/quant.h"

#include <math.h>

float cw_absmax(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m; /* NaN never wins: the same as maxps(a, m) */
    }
    return m;
}

float cw_quant_scale(float amax)
{
    if (!(amax > 0.0f) || !isfinite(amax)) return 0.0f;
    float scale = 127.0f / amax;
    return isfinite(scale) ? scale : 0.0f; /* max below ~1e-37: a zero row */
}

float cw_quantize_row_i8(int8_t *q, const float *x, size_t n)
{
    float scale = cw_quant_scale(cw_absmax(x, n));
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) q[i] = 0;
        return 1.0f;
    }
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * scale); /* ties to even in the default rounding mode */
        if (v != v) v = 0.0f;               /* NaN: 0 here (SIMD kernels need not agree) */
        /* |x * scale| <= 127 up to one rounding of the product; clamp anyway */
        q[i] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    return scale;
}
