/* Mixed-radix decimation-in-time FFT (see fft.h). The complex transform
 * recurses over the factors of m: split the input into p interleaved
 * sub-sequences, transform each, then combine with a radix-p butterfly
 * (hand-written for 2, 4 and 5; generic for 3). The real transform
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

static inline cw_cpx cadd(cw_cpx a, cw_cpx b) { return (cw_cpx){ a.re + b.re, a.im + b.im }; }
static inline cw_cpx csub(cw_cpx a, cw_cpx b) { return (cw_cpx){ a.re - b.re, a.im - b.im }; }
static inline cw_cpx cmul_mi(cw_cpx a) { return (cw_cpx){ a.im, -a.re }; } /* -i * a */

/* Each butterfly combines p transforms of length len (out[j*len .. j*len+len),
 * for the sub-sequence starting at j) into one transform of length n = p*len:
 *   X[k + q*len] = sum_j W_p^(jq) W_n^(jk) out[j*len + k].
 * tw: exp(-2 pi i e / M) for the full size M; ts = M / n, and j*k < n, so the
 * twiddle index needs no modulo. One loop per radix keeps the p values in
 * registers (a shared generic inner DFT was 5x slower). */
static void butterfly2(cw_cpx *out, size_t len, const cw_cpx *tw, size_t ts)
{
    for (size_t k = 0; k < len; k++) {
        cw_cpx a = out[k], b = cmul(out[len + k], tw[k * ts]);
        out[k] = cadd(a, b);
        out[len + k] = csub(a, b);
    }
}

static void butterfly4(cw_cpx *out, size_t len, const cw_cpx *tw, size_t ts)
{
    for (size_t k = 0; k < len; k++) {
        cw_cpx t0 = out[k];
        cw_cpx t1 = cmul(out[len + k], tw[k * ts]);
        cw_cpx t2 = cmul(out[2 * len + k], tw[2 * k * ts]);
        cw_cpx t3 = cmul(out[3 * len + k], tw[3 * k * ts]);
        cw_cpx s02 = cadd(t0, t2), d02 = csub(t0, t2);
        cw_cpx s13 = cadd(t1, t3), d13 = cmul_mi(csub(t1, t3));
        out[k] = cadd(s02, s13);
        out[2 * len + k] = csub(s02, s13);
        out[len + k] = cadd(d02, d13);
        out[3 * len + k] = csub(d02, d13);
    }
}

static void butterfly5(cw_cpx *out, size_t len, const cw_cpx *tw, size_t ts)
{
    const double c1 = 0.30901699437494742, c2 = -0.80901699437494742; /* cos 2pi/5, cos 4pi/5 */
    const double s1 = 0.95105651629515357, s2 = 0.58778525229247313;  /* sin 2pi/5, sin 4pi/5 */
    for (size_t k = 0; k < len; k++) {
        cw_cpx t0 = out[k];
        cw_cpx t1 = cmul(out[len + k], tw[k * ts]);
        cw_cpx t2 = cmul(out[2 * len + k], tw[2 * k * ts]);
        cw_cpx t3 = cmul(out[3 * len + k], tw[3 * k * ts]);
        cw_cpx t4 = cmul(out[4 * len + k], tw[4 * k * ts]);
        cw_cpx a1 = cadd(t1, t4), b1 = csub(t1, t4);
        cw_cpx a2 = cadd(t2, t3), b2 = csub(t2, t3);
        cw_cpx r1 = { t0.re + c1 * a1.re + c2 * a2.re, t0.im + c1 * a1.im + c2 * a2.im };
        cw_cpx r2 = { t0.re + c2 * a1.re + c1 * a2.re, t0.im + c2 * a1.im + c1 * a2.im };
        cw_cpx i1 = cmul_mi((cw_cpx){ s1 * b1.re + s2 * b2.re, s1 * b1.im + s2 * b2.im });
        cw_cpx i2 = cmul_mi((cw_cpx){ s2 * b1.re - s1 * b2.re, s2 * b1.im - s1 * b2.im });
        out[k] = cadd(t0, cadd(a1, a2));
        out[len + k] = cadd(r1, i1);
        out[4 * len + k] = csub(r1, i1);
        out[2 * len + k] = cadd(r2, i2);
        out[3 * len + k] = csub(r2, i2);
    }
}

/* Any other radix (3): the O(p^2) sum. */
static void butterfly_generic(cw_cpx *out, size_t len, int p, const cw_cpx *tw, size_t ts, size_t M)
{
    cw_cpx t[CW_FFT_MAX_FACTORS];
    for (size_t k = 0; k < len; k++) {
        t[0] = out[k];
        for (int j = 1; j < p; j++) t[j] = cmul(out[(size_t)j * len + k], tw[(size_t)j * k * ts]);
        for (int q = 0; q < p; q++) {
            cw_cpx acc = t[0];
            for (int j = 1; j < p; j++) acc = cadd(acc, cmul(t[j], tw[(size_t)(j * q % p) * (M / (size_t)p)]));
            out[k + (size_t)q * len] = acc;
        }
    }
}

static void butterfly(cw_cpx *out, size_t len, int p, const cw_cpx *tw, size_t ts, size_t M)
{
    switch (p) {
    case 2: butterfly2(out, len, tw, ts); break;
    case 4: butterfly4(out, len, tw, ts); break;
    case 5: butterfly5(out, len, tw, ts); break;
    default: butterfly_generic(out, len, p, tw, ts, M); break;
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
    if (len == 1) { /* last radix: gather directly instead of p calls of one sample */
        for (int j = 0; j < p; j++) out[j] = in[(size_t)j * stride];
    } else {
        for (int j = 0; j < p; j++)
            fft_rec(pl, in + (size_t)j * stride, stride * (size_t)p, out + (size_t)j * len, len, factors + 1);
    }
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
