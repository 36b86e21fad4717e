/* 2^f for |f| <= 1/2: the coefficients (highest degree first) of its Taylor
 * polynomial to degree 6, relative error < 2e-7. One list for the lowp
 * softmaxes at 16 lanes (avx512_math.h) and at 8 (avx2_attn_i8.c), so both
 * widths round the same probabilities. */
#ifndef CW_EXP2_POLY_H
#define CW_EXP2_POLY_H

#define CW_EXP2_POLY_N 7
#define CW_EXP2_POLY                                                                                      \
    { 1.5403530393e-4f, 1.3333558146e-3f, 9.6181291076e-3f, 5.5504108665e-2f, 2.4022650696e-1f,           \
      6.9314718056e-1f, 1.0f }

#endif
