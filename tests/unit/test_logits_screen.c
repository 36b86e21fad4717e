/* The logits op (cw_backend_ops.logits) of the CPU back end: its int4 screen
 * kernels against the reference bit for bit (row counts off the 16- and
 * 8-row blocks, k off the 128-element groups), the top-k choice against a
 * sort, and the op itself: the columns it promises exact equal linear's bits,
 * whatever the thread count, and it falls back to linear where it must. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_features.h"
#include "test.h"
#include "util/half.h"
#include "util/quant.h"

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

#define LEN(a) (sizeof(a) / sizeof *(a))

/* w [n, k] int8 rows quantized from heavy-tailed values, wscale [n]; row 2 is zero */
static void make_w(int8_t *w, float *wscale, size_t n, size_t k, uint64_t *s)
{
    float *row = malloc(k * sizeof *row);
    for (size_t r = 0; r < n; r++) {
        for (size_t e = 0; e < k; e++) {
            float u = frand(s);
            row[e] = r == 2 ? 0.0f : u * u * u * (1.0f + (float)(r % 5));
        }
        wscale[r] = cw_quantize_row_i8(w + r * k, row, k);
        if (r == 2) wscale[r] = 1.0f;
    }
    free(row);
}

typedef struct {
    const char *name;
    cw_screen_i4_fn fn;
} variant;

static size_t variants(variant *v)
{
    size_t n = 0;
    v[n++] = (variant){ "ref", cw_ref_screen_i4 };
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (f.avx2 && f.fma && f.f16c) v[n++] = (variant){ "avx2", cw_avx2_screen_i4 };
    else printf("  skipped: avx2 screen kernel (no AVX2+FMA+F16C)\n");
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512_vnni)
        v[n++] = (variant){ "avx512-vnni", cw_avx512_screen_i4 };
    else printf("  skipped: avx512-vnni screen kernel (no AVX512-VNNI)\n");
#else
    printf("  skipped: every SIMD screen kernel (not x86)\n");
#endif
    return n;
}

/* Element e of screen row j, decoded by hand (lowp.h's layout). */
static int nib(const cw_i4_screen *s, size_t j, size_t e)
{
    uint8_t b = s->q[j * s->ld + e / 32 * 16 + e % 16];
    return (int)(e % 32 < 16 ? b & 15u : b >> 4) - 8;
}

/* Each nibble is round(q8 / (step * wscale)) with its group's fp16 step
 * max |q8| / 7 / wscale; the reference sums q . a per group times the step. */
static void test_screen_layout(void)
{
    enum { N = 3, K = 200 };
    uint64_t s = 3;
    int8_t w[N * K];
    float ws[N];
    make_w(w, ws, N, K, &s);
    cw_cpu_screen sc = { 0 };
    CHECK(cw_cpu_screen_build(&sc, w, ws, N, K) == CW_OK);
    CHECK_EQ_INT((int)sc.s.ld, 128);
    for (size_t r = 0; r < N; r++)
        for (size_t g = 0; g < 8; g++) {
            int amax = 0;
            for (size_t e = 32 * g; e < 32 * g + 32 && e < K; e++) amax = abs(w[r * K + e]) > amax ? abs(w[r * K + e]) : amax;
            float step = cw_f16_to_f32(sc.s.d[r * 8 + g]);
            CHECK_MSG(step == cw_f16_to_f32(cw_f32_to_f16((float)amax / 7.0f / ws[r])), "row %zu group %zu", r, g);
            for (size_t e = 32 * g; e < 32 * g + 32; e++) {
                long q = e < K && amax ? lrintf((float)w[r * K + e] / (step * ws[r])) : 0;
                q = q < -7 ? -7 : q > 7 ? 7 : q;
                CHECK_MSG(nib(&sc.s, r, e) == q, "row %zu elem %zu: %d vs %ld", r, e, nib(&sc.s, r, e), q);
            }
        }
    int8_t a[256] = { 0 };
    float y[N];
    a[5] = 3, a[130] = -2; /* groups 0 and 4 */
    float two = 2.0f;
    cw_ref_screen_i4(&sc.s, a, 256, &two, 1, y, N, 0, N);
    for (size_t r = 0; r < N; r++) {
        double want = (3.0 * nib(&sc.s, r, 5) * cw_f16_to_f32(sc.s.d[r * 8]) -
                       2.0 * nib(&sc.s, r, 130) * cw_f16_to_f32(sc.s.d[r * 8 + 4])) / 2.0;
        CHECK_NEAR(y[r], want, 1e-6 * fabs(want) + 1e-30);
    }
    CHECK(sc.s.d[2 * 8] == 0); /* the zero row */
    cw_cpu_screen_free(&sc);
}

/* sum over groups of |step| x sum of |q a|, / ascale: the scale of the rounding */
static double screen_mag(const cw_i4_screen *s, size_t j, const int8_t *a, float ascale)
{
    double m = 0.0;
    for (size_t e = 0; e < s->k; e++) m += fabs((double)nib(s, j, e) * a[e] * cw_f16_to_f32(s->d[j * (s->ld / 16) + e / 32]));
    return m / ascale;
}

static void test_screen_kernels(void)
{
    variant v[4];
    size_t nv = variants(v);
    static const size_t NS[] = { 1, 7, 8, 15, 16, 17, 33, 70 };
    static const size_t KS[] = { 1, 63, 64, 100, 128, 129, 200, 384, 1280 };
    static const size_t MS[] = { 1, 3, 8 };
    uint64_t s = 11;
    for (size_t ni = 0; ni < LEN(NS); ni++)
        for (size_t ki = 0; ki < LEN(KS); ki++)
            for (size_t mi = 0; mi < LEN(MS); mi++) {
                size_t n = NS[ni], k = KS[ki], m = MS[mi], lda = (k + 127) / 128 * 128;
                int8_t *w = malloc(n * k), *a = calloc(m * lda, 1);
                float *ws = malloc(n * sizeof *ws), *y0 = malloc(m * n * sizeof *y0), *y1 = malloc(m * n * sizeof *y1);
                float *y2 = malloc(n * sizeof *y2), *x = malloc(k * sizeof *x), as[8];
                make_w(w, ws, n, k, &s);
                for (size_t i = 0; i < m; i++) {
                    for (size_t e = 0; e < k; e++) x[e] = frand(&s) * (e % 9 == i ? 20.0f : 1.0f);
                    as[i] = cw_quantize_row_i8(a + i * lda, x, k);
                }
                cw_cpu_screen sc = { 0 };
                CHECK(cw_cpu_screen_build(&sc, w, ws, n, k) == CW_OK);
                cw_ref_screen_i4(&sc.s, a, lda, as, m, y0, n, 0, n);
                for (size_t vi = 0; vi < nv; vi++) {
                    for (size_t j = 0; j < m * n; j++) y1[j] = NAN;
                    size_t mid = n / 3 / 16 * 16; /* two slices on a 16-row boundary */
                    v[vi].fn(&sc.s, a, lda, as, m, y1, n, 0, mid);
                    v[vi].fn(&sc.s, a, lda, as, m, y1, n, mid, n);
                    for (size_t i = 0; i < m; i++) {
                        /* each row alone: the same bits */
                        v[vi].fn(&sc.s, a + i * lda, lda, as + i, 1, y2, n, 0, n);
                        for (size_t j = 0; j < n; j++) {
                            CHECK_MSG(fabs(y1[i * n + j] - y0[i * n + j]) <= 1e-6 * screen_mag(&sc.s, j, a + i * lda, as[i]) + 1e-30,
                                      "%s m %zu n %zu k %zu [%zu,%zu]: %g vs %g", v[vi].name, m, n, k, i, j, y1[i * n + j],
                                      y0[i * n + j]);
                            CHECK_MSG(y2[j] == y1[i * n + j], "%s m %zu n %zu k %zu [%zu,%zu]: alone %g vs %g", v[vi].name, m,
                                      n, k, i, j, y2[j], y1[i * n + j]);
                        }
                    }
                }
                cw_cpu_screen_free(&sc);
                free(w), free(a), free(ws), free(y0), free(y1), free(y2), free(x);
            }
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void test_top(void)
{
    uint64_t s = 7;
    static const size_t NS[] = { 1, 5, 255, 256, 257, 1000, 5000 };
    static const size_t KEEP[] = { 1, 3, 64, 300 };
    for (size_t ni = 0; ni < LEN(NS); ni++)
        for (size_t ki = 0; ki < LEN(KEEP); ki++) {
            size_t n = NS[ni], keep = KEEP[ki];
            float *y = malloc(n * sizeof *y), *sorted = malloc(n * sizeof *y), *val = malloc(keep * sizeof *val);
            uint32_t *idx = malloc(keep * sizeof *idx);
            for (size_t j = 0; j < n; j++) y[j] = frand(&s) * (float)(1 + j % 13); /* rising blocks, falling ones */
            memcpy(sorted, y, n * sizeof *y);
            qsort(sorted, n, sizeof *sorted, cmp_desc);
            size_t h = cw_cpu_top(y, n, keep, idx, val);
            CHECK_EQ_INT((int)h, (int)(keep < n ? keep : n));
            float lo = INFINITY;
            for (size_t i = 0; i < h; i++) {
                CHECK(idx[i] < n && y[idx[i]] == val[i]);
                for (size_t t = 0; t < i; t++) CHECK(idx[t] != idx[i]);
                lo = val[i] < lo ? val[i] : lo;
            }
            CHECK_MSG(lo == sorted[h - 1], "n %zu keep %zu: smallest kept %g, %zu-th largest %g", n, keep, lo, h,
                      sorted[h - 1]);
            free(y), free(sorted), free(val), free(idx);
        }
}

static cw_buf *up(cw_backend *be, const void *x, size_t bytes)
{
    cw_buf *b = NULL;
    CHECK(be->ops->buf_alloc(be, bytes, &b) == CW_OK);
    CHECK(be->ops->upload(be, b, 0, x, bytes) == CW_OK);
    return b;
}

/* out [m, n]: the logits op (logits != 0) or linear_rows of class 1 */
static void run(cw_backend *be, int logits, const float *x, size_t m, const cw_weight *w, size_t n_screen,
                size_t keep, float *out)
{
    size_t n = w->rows, k = w->cols;
    cw_buf *bx = up(be, x, m * k * sizeof(float)), *by = NULL;
    CHECK(be->ops->buf_alloc(be, m * n * sizeof(float), &by) == CW_OK);
    cw_status st = logits ? be->ops->logits(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), w, m, n_screen, keep)
                          : be->ops->linear_rows(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), w, cw_ref_none(), m, 1);
    CHECK(st == CW_OK);
    CHECK(be->ops->download(be, out, by, 0, m * n * sizeof(float)) == CW_OK);
    be->ops->buf_free(be, bx), be->ops->buf_free(be, by);
}

enum { OP_N = 3000, OP_K = 384, OP_NS = 2900, OP_KEEP = 64 };

/* The logits op on be against linear_rows of class 1 (into ex) for one row x
 * and two: every column from OP_NS on is exact; below OP_NS at least OP_KEEP
 * are, the rest are the screen's values ap (within rounding of what the
 * screen s gives for aq, as); y (thread count t + 1) equals y0 when t > 0. */
static void check_op(cw_backend *be, const cw_weight *wt, const float *x, const cw_i4_screen *s, const int8_t *aq,
                     float as, const float *ap, float *ex, float *y, const float *y0, int t, const char *what)
{
    enum { N = OP_N, K = OP_K, NS = OP_NS, KEEP = OP_KEEP };
    run(be, 0, x, 1, wt, NS, KEEP, ex);
    run(be, 1, x, 1, wt, NS, KEEP, y);
    size_t n_exact = 0, approx = 0;
    for (size_t j = 0; j < N; j++) {
        if (j >= NS) CHECK_MSG(y[j] == ex[j], "%s threads %d col %zu: %g vs %g", what, t + 1, j, y[j], ex[j]);
        else if (y[j] == ex[j]) n_exact++;
        else {
            CHECK_MSG(fabs(y[j] - ap[j]) <= 1e-6 * screen_mag(s, j, aq, as) + 1e-30, "%s threads %d col %zu: %g vs screen %g",
                      what, t + 1, j, y[j], ap[j]);
            approx++;
        }
        if (t) CHECK(y[j] == y0[j]);
    }
    CHECK(n_exact >= KEEP);
    CHECK(approx > N / 2); /* the screen did change the columns it may */
    /* here the exact product's best column is among the exact ones (not a promise of the op) */
    size_t bx = 0;
    for (size_t j = 1; j < NS; j++) bx = ex[j] > ex[bx] ? j : bx;
    CHECK(y[bx] == ex[bx]);
    /* two rows: each row what it gets alone */
    float *y2 = malloc(2 * N * sizeof *y2), *e2 = malloc(N * sizeof *e2);
    run(be, 1, x, 2, wt, NS, KEEP, y2);
    run(be, 1, x + K, 1, wt, NS, KEEP, e2);
    CHECK(memcmp(y2, y, N * sizeof *y2) == 0);
    CHECK(memcmp(y2 + N, e2, N * sizeof *e2) == 0);
    free(y2), free(e2);
}

static void test_op(void)
{
    enum { N = OP_N, K = OP_K, NS = OP_NS, KEEP = OP_KEEP };
    uint64_t s = 13;
    int8_t *w = malloc((size_t)N * K);
    float *ws = malloc(N * sizeof *ws), x[2 * K];
    make_w(w, ws, N, K, &s);
    for (size_t e = 0; e < 2 * K; e++) x[e] = frand(&s);
    float *ex = malloc(2 * N * sizeof *ex), *y[3], *y2 = malloc(2 * N * sizeof *y2);
    cw_backend_params p = cw_backend_default_params();
    p.lowp = 1;
    for (int t = 0; t < 3; t++) {
        p.n_threads = t + 1;
        cw_backend *be = NULL;
        CHECK(cw_backend_create(&p, &be) == CW_OK);
        if (!be) return;
        if (t == 0) printf("  screen kernel here: %s\n", be->logits_screen_desc ? be->logits_screen_desc : "none");
        cw_buf *bw = up(be, w, (size_t)N * K), *bs = up(be, ws, N * sizeof *ws);
        cw_weight wt = { .dtype = CW_DTYPE_I8, .rows = N, .cols = K, .data = bw, .scale = bs };
        y[t] = malloc(N * sizeof *y[t]);
        cw_cpu_screen sc = { 0 };
        CHECK(cw_cpu_screen_build(&sc, w, ws, NS, K) == CW_OK);
        int8_t aq[K + 128];
        memset(aq, 0, sizeof aq);
        float as = cw_quantize_row_i8(aq, x, K), *ap = malloc(NS * sizeof *ap);
        cw_ref_screen_i4(&sc.s, aq, K + 128, &as, 1, ap, NS, 0, NS);
        check_op(be, &wt, x, &sc.s, aq, as, ap, ex, y[t], y[0], t, "int8");
        free(ap);
        cw_cpu_screen_free(&sc);
        be->ops->buf_free(be, bw), be->ops->buf_free(be, bs);
        cw_backend_free(be);
    }
    /* float32 weights: exactly linear */
    p.n_threads = 2;
    cw_backend *be = NULL;
    CHECK(cw_backend_create(&p, &be) == CW_OK);
    float *wf = malloc((size_t)N * K * sizeof *wf);
    for (size_t i = 0; i < (size_t)N * K; i++) wf[i] = (float)w[i] / ws[i / K];
    cw_buf *bw = up(be, wf, (size_t)N * K * sizeof *wf);
    cw_weight wt = { .dtype = CW_DTYPE_F32, .rows = N, .cols = K, .data = bw };
    run(be, 1, x, 1, &wt, NS, KEEP, y2);
    run(be, 0, x, 1, &wt, NS, KEEP, ex);
    CHECK(memcmp(y2, ex, N * sizeof *ex) == 0);
    be->ops->buf_free(be, bw);
    cw_backend_free(be);
    for (int t = 0; t < 3; t++) free(y[t]);
    free(w), free(ws), free(ex), free(y2), free(wf);
}

/* BF16 weights (the bf16 mode): the screen made from the rows quantized to
 * int8; every column from NS on, and at least KEEP below it, are exactly
 * linear_rows of class 1 (the bf16 product), the rest the screen's values;
 * the same for any thread count; two rows each what it gets alone. */
static void test_op_bf16(void)
{
    enum { N = OP_N, K = OP_K, NS = OP_NS };
    uint64_t s = 17;
    uint16_t *w = malloc((size_t)N * K * sizeof *w);
    float *wf = malloc((size_t)N * K * sizeof *wf), x[2 * K];
    for (size_t i = 0; i < (size_t)N * K; i++) w[i] = cw_f32_to_bf16(frand(&s) * 0.1f);
    for (size_t c = 0; c < K; c++) w[5 * K + c] = 0; /* a zero row */
    for (size_t i = 0; i < (size_t)N * K; i++) wf[i] = cw_bf16_to_f32(w[i]);
    for (size_t e = 0; e < 2 * K; e++) x[e] = frand(&s);
    /* the screen's own values, from the same int8 rows */
    cw_cpu_screen sc = { 0 };
    CHECK(cw_cpu_screen_build_bf16(&sc, w, NS, K) == CW_OK);
    int8_t *wq = malloc((size_t)N * K), aq[K + 128];
    float *ws = malloc(N * sizeof *ws), *ap = malloc(NS * sizeof *ap);
    for (size_t r = 0; r < N; r++) ws[r] = cw_quantize_row_i8(wq + r * K, wf + r * K, K);
    cw_cpu_screen ref = { 0 };
    CHECK(cw_cpu_screen_build(&ref, wq, ws, NS, K) == CW_OK);
    CHECK(memcmp(sc.q, ref.q, (size_t)NS * sc.s.ld) == 0);
    CHECK(memcmp(sc.d, ref.d, (size_t)NS * (sc.s.ld / 16) * sizeof *sc.d) == 0);
    memset(aq, 0, sizeof aq);
    float as = cw_quantize_row_i8(aq, x, K);
    cw_ref_screen_i4(&sc.s, aq, K + 128, &as, 1, ap, NS, 0, NS);
    float *ex = malloc(N * sizeof *ex), *y[3] = { NULL, NULL, NULL };
    cw_backend_params p = cw_backend_default_params();
    p.lowp = 1;
    /* every kernel set: the kept columns (one product over the gathered rows)
     * are each set's own class-1 bits */
    static const cw_isa isas[] = { CW_ISA_REF, CW_ISA_AVX2, CW_ISA_AUTO };
    for (size_t a = 0; a < sizeof isas / sizeof *isas; a++) {
        p.isa = isas[a];
        for (int t = 0; t < 3; t++) {
            p.n_threads = t + 1;
            cw_backend *be = NULL;
            if (cw_backend_create(&p, &be) != CW_OK) { /* a CPU without AVX2 */
                CHECK(isas[a] == CW_ISA_AVX2);
                break;
            }
            cw_buf *bw = up(be, w, (size_t)N * K * sizeof *w);
            cw_weight wt = { .dtype = CW_DTYPE_BF16, .rows = N, .cols = K, .data = bw };
            y[t] = malloc(N * sizeof *y[t]);
            check_op(be, &wt, x, &sc.s, aq, as, ap, ex, y[t], y[0], t, "bf16");
            be->ops->buf_free(be, bw);
            cw_backend_free(be);
        }
        for (int t = 0; t < 3; t++) free(y[t]), y[t] = NULL;
    }
    cw_cpu_screen_free(&sc), cw_cpu_screen_free(&ref);
    free(w), free(wf), free(wq), free(ws), free(ap), free(ex);
}

int main(void)
{
    RUN(test_screen_layout);
    RUN(test_screen_kernels);
    RUN(test_top);
    RUN(test_op);
    RUN(test_op_bf16);
    return test_summary();
}
