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
