/* Reductions over a row of logits (51,865 floats per token): max, first
 * argmax and sums of exponentials. They ran as scalar loops over libm's expf
 * twice per token, 13% of a 1-thread tiny.en int8 profile; these are written
 * for the compiler to vectorise, with one clone per instruction set. */
#ifndef CW_UTIL_VMATH_H
#define CW_UTIL_VMATH_H

#include <stddef.h>

/* max x[i] (-INFINITY when n is 0). */
float cw_vmax(const float *x, size_t n);
/* The first i with x[i] == max x (0 when n is 0): argmax as PyTorch's. */
size_t cw_vargmax(const float *x, size_t n);
/* sum over i of exp((x[i] - a) - b), each term computed in float32 (relative
 * error ~2e-7, 0 below e^-87) and summed in double; x may hold -INFINITY. */
double cw_vsum_exp(const float *x, size_t n, float a, float b);
/* The portable paths (what runs without AVX-512), for the tests. */
float cw_vmax_c(const float *x, size_t n);
double cw_vsum_exp_c(const float *x, size_t n, float a, float b);

#endif
