/* Mixed-radix decimation-in-time FFT (see fft.h). The complex transform
 * recurses over the factors of m: split the input into p interleaved
 * sub-sequences, transform each, then combine with a generic radix-p
 * butterfly (p <= 5, so the O(p^2) butterfly is cheap). The real transform
 * packs even/odd samples into one complex sequence of half the length and
 * untangles the halves afterwards, halving the work. Double precision keeps
 * the spectrum well below the float32 error of the reference. */
#include "audio/fft.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

static int factorize(size_t m, int *factors)
{
    int k = 0;
    static const int radices[] = { 4, 2, 3, 5 };
    for (size_t r = 0; r < sizeof radices / sizeof radices[0]; r++) {
        while (m % (size_t)radices[r] == 0 && m > 1) {
            if (k == CW_FFT_MAX_FACTORS) return -1;
            factors[k++] = radices[r];
            m /= (size_t)radices[r];
        }
    }
    return m == 1 ? k : -1;
}

static cw_cpx *twiddles(size_t count, size_t period)
{
    cw_cpx *t = cw_malloc(count * sizeof *t);
    if (!t) return NULL;
    for (size_t k = 0; k < count; k++) {
        double a = -2.0 * M_PI * (double)k / (double)period;
        t[k] = (cw_cpx){ cos(a), sin(a) };
    }
    return t;
}

cw_status cw_rfft_plan_init(cw_rfft_plan *plan, size_t n)
{
    *plan = (cw_rfft_plan){ 0 };
    if (n < 2 || n % 2) return cw_error(CW_ERR_INVALID_ARG, "fft: size %zu is not even", n);
    plan->n = n;
    plan->m = n / 2;
    plan->n_factors = plan->m == 1 ? 0 : factorize(plan->m, plan->factors);
    if (plan->n_factors < 0)
        return cw_error(CW_ERR_INVALID_ARG, "fft: size %zu has a factor other than 2, 3, 5", n);
    plan->tw_m = twiddles(plan->m, plan->m);
    plan->tw_n = twiddles(plan->m + 1, n);
    if (!plan->tw_m || !plan->tw_n) {
        cw_rfft_plan_free(plan);
        return CW_ERR_NOMEM;
    }
    return CW_OK;
}

void cw_rfft_plan_free(cw_rfft_plan *plan)
{
    free(plan->tw_m);
    free(plan->tw_n);
    plan->tw_m = plan->tw_n = NULL;
}

size_t cw_rfft_scratch_len(const cw_rfft_plan *plan) { return 2 * plan->m; }

static inline cw_cpx cmul(cw_cpx a, cw_cpx b)
{
    return (cw_cpx){ a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re };
}

/* Combines p transforms of length len (out[j*len .. j*len+len), for the
 * sub-sequence starting at j) into one transform of length p*len.
 * tw: exp(-2 pi i k / M) for the full size M; tstride = M / (p*len). */
static void butterfly(cw_cpx *out, size_t len, int p, const cw_cpx *tw, size_t tstride, size_t M)
{
    size_t n = len * (size_t)p;
    cw_cpx t[5];
    for (size_t k = 0; k < len; k++) {
        for (int j = 0; j < p; j++) t[j] = out[(size_t)j * len + k];
        for (int q = 0; q < p; q++) {
            size_t idx = k + (size_t)q * len; /* output bin in [0, n) */
            cw_cpx acc = t[0];
            for (int j = 1; j < p; j++) {
                size_t e = ((size_t)j * idx) % n * tstride % M;
                cw_cpx v = cmul(t[j], tw[e]);
                acc.re += v.re;
                acc.im += v.im;
            }
            out[idx] = acc;
        }
    }
}

/* out [n] = DFT of in[0], in[stride], ... (n = product of factors). */
static void fft_rec(const cw_rfft_plan *pl, const cw_cpx *in, size_t stride, cw_cpx *out, size_t n,
                    const int *factors)
{
    if (n == 1) {
        out[0] = in[0];
        return;
    }
    int p = factors[0];
    size_t len = n / (size_t)p;
    for (int j = 0; j < p; j++)
        fft_rec(pl, in + (size_t)j * stride, stride * (size_t)p, out + (size_t)j * len, len, factors + 1);
    butterfly(out, len, p, pl->tw_m, pl->m / n, pl->m);
}

void cw_cfft(const cw_rfft_plan *plan, const cw_cpx *in, cw_cpx *out)
{
    fft_rec(plan, in, 1, out, plan->m, plan->factors);
}

void cw_rfft(const cw_rfft_plan *plan, const double *in, cw_cpx *out, cw_cpx *scratch)
{
    size_t m = plan->m;
    cw_cpx *z = scratch, *Z = scratch + m; /* [m] each */
    for (size_t j = 0; j < m; j++) z[j] = (cw_cpx){ in[2 * j], in[2 * j + 1] };
    cw_cfft(plan, z, Z);
    /* Even part E[k] = (Z[k] + conj Z[m-k]) / 2, odd part O[k] = (Z[k] - conj Z[m-k]) / 2i,
     * X[k] = E[k] + exp(-2 pi i k / n) O[k], for k = 0..m (Z[m] = Z[0]). */
    for (size_t k = 0; k <= m; k++) {
        cw_cpx a = Z[k % m], b = Z[(m - k) % m];
        cw_cpx e = { 0.5 * (a.re + b.re), 0.5 * (a.im - b.im) };
        cw_cpx o = { 0.5 * (a.im + b.im), -0.5 * (a.re - b.re) };
        cw_cpx w = cmul(plan->tw_n[k], o);
        out[k] = (cw_cpx){ e.re + w.re, e.im + w.im };
    }
}
