/* Symmetric per-row int8 quantization, CTranslate2's convention (w = q / scale):
 * the one definition shared by weights quantized at load and the activations
 * that lowp mode quantizes per product, so the reference and every SIMD
 * kernel agree bit for bit on what q and scale are. */
#ifndef CW_UTIL_QUANT_H
#define CW_UTIL_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* q [n] = round-to-nearest-even(x * scale), scale = 127 / max|x| (computed in
 * float32), so q is in [-127, 127] and x ~ q / scale within 0.5 / scale. A row
 * of zeros (max|x| == 0, an infinite max, or one so small that 127 / max
 * overflows) gets q = 0 and scale = 1, so products with it are exactly 0.
 * Returns scale. */
float cw_quantize_row_i8(int8_t *q, const float *x, size_t n);

/* One element as cw_quantize_row_i8 rounds it: x * scale to nearest even,
 * clamped to [-127, 127], NaN to 0. For code that quantizes with a scale it
 * did not get from a row (the int8 attention's per-column V). */
static inline int8_t cw_quant_round_i8(float x, float scale)
{
    /* |x * scale| <= 127 up to one rounding of the product, so adding and
     * subtracting 1.5 * 2^23 rounds it to an integer, ties to even in the
     * default rounding mode, exactly as nearbyintf (which baseline x86-64
     * can only call, not inline) and cvtps2dq do; the product is a statement
     * of its own so that no compiler contracts it into an FMA (clang does
     * within one expression where FMA is enabled, as in the SIMD files) */
    float xs = x * scale;
    float v = (xs + 12582912.0f) - 12582912.0f;
    if (v != v) v = 0.0f; /* NaN: 0 here (SIMD kernels need not agree) */
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
}

/* The max|x| that cw_quantize_row_i8 uses (0 when it is not positive). Written
 * as a compare-and-select so SIMD code can reproduce it exactly. */
float cw_absmax(const float *x, size_t n);

/* The scale cw_quantize_row_i8 uses for a row whose max|x| is amax, or 0 for a
 * row it zeroes (then the returned scale is 1). */
float cw_quant_scale(float amax);

/* 16-bit activations of lowp mode's few-row int8 products (backend/cpu/
 * lowp.h): q [n] = round-to-nearest-even(x * scale), scale = 32385 / max|x|
 * (zero rows as above), q = 255 hi + lo with hi [n], lo [n] in [-127, 127],
 * so that int8 kernels multiply both planes as they are. 32385 = 255 * 127:
 * the largest range whose halves stay in [-127, 127], as the AVX2 kernels'
 * sign trick needs. Returns scale. */
#define CW_A16_QMAX 32385
float cw_quantize_row_a16(int8_t *hi, int8_t *lo, const float *x, size_t n);

#endif
