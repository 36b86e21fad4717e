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

static float scale_for(float qmax, float amax)
{
    if (!(amax > 0.0f) || !isfinite(amax)) return 0.0f;
    float scale = qmax / amax;
    return isfinite(scale) ? scale : 0.0f; /* max below ~1e-37 (int8): a zero row */
}

float cw_quant_scale(float amax)
{
    return scale_for(127.0f, amax);
}

float cw_quantize_row_i8(int8_t *q, const float *x, size_t n)
{
    float scale = cw_quant_scale(cw_absmax(x, n));
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) q[i] = 0;
        return 1.0f;
    }
    for (size_t i = 0; i < n; i++) q[i] = cw_quant_round_i8(x[i], scale);
    return scale;
}

float cw_quantize_row_a16(int8_t *hi, int8_t *lo, const float *x, size_t n)
{
    float scale = scale_for((float)CW_A16_QMAX, cw_absmax(x, n));
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) hi[i] = lo[i] = 0;
        return 1.0f;
    }
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] * scale + 12582912.0f) - 12582912.0f; /* as above: |v| < 2^22 */
        if (v != v) v = 0.0f;
        int32_t q = (int32_t)(v > (float)CW_A16_QMAX ? (float)CW_A16_QMAX : v < -(float)CW_A16_QMAX ? -(float)CW_A16_QMAX : v);
        /* hi = floor((q + 127) / 255), by a non-negative dividend */
        int32_t h = (q + 127 + 255 * 127) / 255 - 127;
        hi[i] = (int8_t)h;
        lo[i] = (int8_t)(q - 255 * h);
    }
    return scale;
}
