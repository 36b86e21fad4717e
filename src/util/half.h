/* Half-precision conversions: IEEE fp16 and bfloat16 to and from float32,
 * float32 -> half with round-to-nearest-even (as numpy / torch .half()). */
#ifndef CW_UTIL_HALF_H
#define CW_UTIL_HALF_H

#include <stdint.h>

float cw_f16_to_f32(uint16_t h);
uint16_t cw_f32_to_f16(float f);
float cw_bf16_to_f32(uint16_t h);
uint16_t cw_f32_to_bf16(float f);

#endif
