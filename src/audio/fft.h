/* A small mixed-radix FFT in double precision, enough for Whisper's real
 * 400-point STFT: a complex FFT of any size whose factors are 2, 3, 4 and 5,
 * and a real FFT of even size built on the complex one of half the size.
 * A plan holds the twiddle tables; it is read-only once made, so threads
 * share one plan and bring their own scratch. */
#ifndef CW_AUDIO_FFT_H
#define CW_AUDIO_FFT_H

#include <stddef.h>
#include "cwhisper.h"

typedef struct {
    double re, im;
} cw_cpx;

#define CW_FFT_MAX_FACTORS 32

typedef struct {
    size_t n;                        /* real input length (even) */
    size_t m;                        /* complex length n / 2 */
    int factors[CW_FFT_MAX_FACTORS]; /* radices of m, first applied outermost */
    int n_factors;
    cw_cpx *tw_m;                    /* [m] exp(-2 pi i k / m) */
    cw_cpx *tw_n;                    /* [n/2 + 1] exp(-2 pi i k / n) */
} cw_rfft_plan;

/* n even, n/2 a product of 2, 3, 4, 5 (400 = 2 * 200 = 2 * 4*2*5*5). */
cw_status cw_rfft_plan_init(cw_rfft_plan *plan, size_t n);
void cw_rfft_plan_free(cw_rfft_plan *plan);

/* Scratch a transform needs, in cw_cpx: [2 * m]. */
size_t cw_rfft_scratch_len(const cw_rfft_plan *plan);

/* out[k] = sum_j in[j] exp(-2 pi i j k / n), k = 0..n/2.
 * in [n], out [n/2 + 1], scratch [cw_rfft_scratch_len]. */
void cw_rfft(const cw_rfft_plan *plan, const double *in, cw_cpx *out, cw_cpx *scratch);

/* Complex FFT of size plan->m: out [m] = DFT(in [m]); in and out distinct. */
void cw_cfft(const cw_rfft_plan *plan, const cw_cpx *in, cw_cpx *out);

#endif
