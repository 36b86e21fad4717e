/* Half-precision conversions: IEEE fp16 and bfloat16 to and from float32,
 * float32 -> half with round-to-nearest-even (as numpy / torch .half()). */
#ifndef CW_UTIL_HALF_H
#define CW_UTIL_HALF_H

#include <stddef.h>
#include <stdint.h>

float cw_f16_to_f32(uint16_t h);
uint16_t cw_f32_to_f16(float f);
float cw_bf16_to_f32(uint16_t h);
uint16_t cw_f32_to_bf16(float f);

/* The same conversions of n values at once (y and x do not overlap): the
 * scalar functions' results (fp16 signalling NaNs may come back quiet),
 * F16C's vcvtph2ps where the CPU has it. Converting a model's weights at load
 * one call per element took most of an int8 context's set-up. */
void cw_f16_to_f32_n(float *y, const uint16_t *x, size_t n);
void cw_bf16_to_f32_n(float *y, const uint16_t *x, size_t n);
void cw_f32_to_bf16_n(uint16_t *y, const float *x, size_t n);

#endif
