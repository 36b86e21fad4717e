/* Every CPU op of every fast kernel set this CPU runs (AVX2, AVX-512)
 * against the reference kernels, on small random shapes chosen to hit the
 * edges: M = 1, N = 1, K off the 8/16 grid, more than one k block, tiles
 * split across threads. Each fast result must also be bit-identical for 1,
 * 2 and 3 threads. Ops with no SIMD variant are checked against loops
 * written here. The log names the kernel sets skipped for lack of
 * instructions, so a run on another CPU says what it tested. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "backend/backend.h"
#include "util/half.h"
#include "util/quant.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_features.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------- */

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rand_vec(size_t n, float lo, float hi, uint64_t *s)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * 0.5f * (frand(s) + 1.0f);
    return v;
}

typedef struct {
    cw_backend *ref, *fast[3]; /* fast with 1, 2, 3 threads */
} backends;

/* The fast kernel set under test (main runs every test once per set). */
static cw_isa fast_isa = CW_ISA_AUTO;

static backends make_backends(void)
{
    backends b = { 0 };
    cw_backend_params p = cw_backend_default_params();
    p.n_threads = 1;
    p.isa = CW_ISA_REF;
    CHECK(cw_backend_create(&p, &b.ref) == CW_OK);
    p.isa = fast_isa;
    for (int t = 0; t < 3; t++) {
        p.n_threads = t + 1;
        CHECK(cw_backend_create(&p, &b.fast[t]) == CW_OK);
    }
    return b;
}

static void free_backends(backends *b);

/* AUTO must pick the best kernels the CPU has, or the comparisons below
 * would compare the reference with itself; an ISA the CPU lacks must be
 * refused, naming it. */
static void test_dispatch(void)
{
    backends b = make_backends();
    CHECK_EQ_STR(b.ref->desc, "cpu/ref");
    cw_cpu_features f;
    cw_cpu_detect(&f);
    int avx2 = f.avx2 && f.fma && f.f16c, avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    cw_backend_params p = cw_backend_default_params();
    p.n_threads = 1;
    cw_backend *be = NULL;
    CHECK(cw_backend_create(&p, &be) == CW_OK);
    CHECK_EQ_STR(be->desc, avx512 ? "cpu/avx512" : avx2 ? "cpu/avx2" : "cpu/ref");
    cw_backend_free(be);
    be = NULL;
    static const struct { cw_isa isa; const char *desc, *needle; } isas[] = {
        { CW_ISA_AVX2, "cpu/avx2", "AVX2" }, { CW_ISA_AVX512, "cpu/avx512", "AVX-512" } };
    for (size_t i = 0; i < 2; i++) {
        p.isa = isas[i].isa;
        if (i == 0 ? avx2 : avx512) {
            CHECK(cw_backend_create(&p, &be) == CW_OK);
            if (be) CHECK_EQ_STR(be->desc, isas[i].desc);
            cw_backend_free(be);
            be = NULL;
        } else {
            CHECK_FAILS(cw_backend_create(&p, &be), CW_ERR_UNSUPPORTED, isas[i].needle);
            CHECK(be == NULL);
        }
    }
    /* CUDA: refused with a reason where it cannot run (test_cuda_plan says more) */
    p = cw_backend_default_params();
    p.kind = CW_BACKEND_CUDA;
    if (cw_backend_probe(CW_BACKEND_CUDA, 0) != CW_OK) {
        CHECK_FAILS(cw_backend_create(&p, &be), CW_ERR_UNSUPPORTED, "CUDA");
        CHECK(be == NULL);
    }
    free_backends(&b);
}

static void free_backends(backends *b)
{
    cw_backend_free(b->ref);
    for (int t = 0; t < 3; t++) cw_backend_free(b->fast[t]);
}

static cw_buf *up(cw_backend *be, const void *x, size_t bytes)
{
    cw_buf *b = NULL;
    CHECK(be->ops->buf_alloc(be, bytes, &b) == CW_OK);
    CHECK(be->ops->upload(be, b, 0, x, bytes) == CW_OK);
    return b;
}

static float *down(cw_backend *be, cw_buf *b, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    CHECK(be->ops->download(be, y, b, 0, n * sizeof *y) == CW_OK);
    return y;
}

/* |a - b| <= abs_tol + rel_tol |b| everywhere; reports the first miss. */
static int close_all(const float *a, const float *b, size_t n, double abs_tol, double rel_tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= abs_tol + rel_tol * fabs((double)b[i]))) {
            cw_test_fail(__FILE__, __LINE__, "%s: [%zu] %.9g vs reference %.9g", what, i, a[i], b[i]);
            return 0;
        }
    }
    return 1;
}

/* ---- linear ----------------------------------------------------------------- */

typedef struct {
    size_t m, n, k;
} shape;

/* W [n, k] of dtype dt made from random floats; *wf gets the exact float values. */
static void *make_weight(cw_dtype dt, size_t n, size_t k, float *wf, float *scale, uint64_t *s)
{
    size_t nk = n * k;
    void *w = malloc((nk ? nk : 1) * cw_dtype_size(dt));
    for (size_t r = 0; r < n; r++) scale[r] = 50.0f + 150.0f * 0.5f * (frand(s) + 1.0f);
    for (size_t i = 0; i < nk; i++) {
        float v = frand(s);
        switch (dt) {
        case CW_DTYPE_F32: ((float *)w)[i] = v; break;
        case CW_DTYPE_F16: ((uint16_t *)w)[i] = cw_f32_to_f16(v); break;
        case CW_DTYPE_BF16: ((uint16_t *)w)[i] = cw_f32_to_bf16(v); break;
        case CW_DTYPE_I8: ((int8_t *)w)[i] = (int8_t)lrintf(v * 127.0f); break;
        default: break; /* the back ends take only the four weight types above */
        }
    }
    for (size_t r = 0; r < n; r++) cw_ref_to_f32(wf + r * k, (char *)w + r * k * cw_dtype_size(dt), dt, scale[r], k);
    return w;
}

/* y = x W^T + b through one back end. */
static float *run_linear(cw_backend *be, const float *x, const void *w, const float *scale, const float *bias,
                         cw_dtype dt, shape sh)
{
    size_t wbytes = sh.n * sh.k * cw_dtype_size(dt), woff = 64; /* the weight sits at a byte offset */
    cw_buf *bx = up(be, x, sh.m * sh.k * 4), *bw = NULL;
    CHECK(be->ops->buf_alloc(be, woff + wbytes, &bw) == CW_OK);
    CHECK(be->ops->upload(be, bw, woff, w, wbytes) == CW_OK);
    cw_buf *bs = up(be, scale, sh.n * 4), *bb = bias ? up(be, bias, sh.n * 4) : NULL, *by = NULL;
    CHECK(be->ops->buf_alloc(be, sh.m * sh.n * 4, &by) == CW_OK);
    cw_weight wt = { .dtype = dt, .rows = sh.n, .cols = sh.k, .data = bw, .scale = dt == CW_DTYPE_I8 ? bs : NULL,
                     .offset = woff };
    CHECK(be->ops->linear(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, cw_ref_at(bb, 0), sh.m) == CW_OK);
    float *y = down(be, by, sh.m * sh.n);
    be->ops->buf_free(be, bx); be->ops->buf_free(be, bw); be->ops->buf_free(be, bs);
    be->ops->buf_free(be, bb); be->ops->buf_free(be, by);
    return y;
}

static void check_linear(backends *b, cw_dtype dt, shape sh, int with_bias, uint64_t *s)
{
    float *x = rand_vec(sh.m * sh.k, -1, 1, s), *bias = with_bias ? rand_vec(sh.n, -1, 1, s) : NULL;
    float *wf = malloc((sh.n * sh.k + 1) * 4), *scale = malloc((sh.n + 1) * 4);
    void *w = make_weight(dt, sh.n, sh.k, wf, scale, s);
    float *r = run_linear(b->ref, x, w, scale, bias, dt, sh);
    /* the reference itself against a loop over the exact weight values */
    int ok = 1;
    for (size_t i = 0; i < sh.m && ok; i++)
        for (size_t j = 0; j < sh.n && ok; j++) {
            double acc = bias ? bias[j] : 0, mag = 1e-30;
            for (size_t p = 0; p < sh.k; p++) {
                acc += (double)x[i * sh.k + p] * wf[j * sh.k + p];
                mag += fabs((double)x[i * sh.k + p] * wf[j * sh.k + p]);
            }
            ok = fabs(acc - r[i * sh.n + j]) <= 1e-6 * mag + 1e-7;
            CHECK_MSG(ok, "ref linear %s [%zu,%zu,%zu] at (%zu,%zu)", cw_dtype_name(dt), sh.m, sh.n, sh.k, i, j);
        }
    float *y1 = NULL;
    for (int t = 0; t < 3; t++) {
        float *y = run_linear(b->fast[t], x, w, scale, bias, dt, sh);
        /* fp32 accumulation error grows with K: 1e-5 relative to sum |x w| */
        for (size_t i = 0; i < sh.m * sh.n && ok; i++) {
            size_t row = i / sh.n, col = i % sh.n;
            double mag = bias ? fabs(bias[col]) : 0;
            for (size_t p = 0; p < sh.k; p++) mag += fabs((double)x[row * sh.k + p] * wf[col * sh.k + p]);
            ok = fabs((double)y[i] - r[i]) <= 1e-5 * mag + 1e-7;
            CHECK_MSG(ok, "linear %s [m %zu, n %zu, k %zu] bias %d threads %d: [%zu] %.9g vs %.9g",
                      cw_dtype_name(dt), sh.m, sh.n, sh.k, with_bias, t + 1, i, y[i], r[i]);
        }
        if (t == 0) y1 = y;
        else {
            CHECK_MSG(memcmp(y, y1, sh.m * sh.n * 4) == 0, "linear %s [%zu,%zu,%zu]: %d threads differ from 1",
                      cw_dtype_name(dt), sh.m, sh.n, sh.k, t + 1);
            free(y);
        }
    }
    free(y1); free(r); free(x); free(bias); free(wf); free(scale); free(w);
}

static void test_linear_all_dtypes(void)
{
    backends b = make_backends();
    uint64_t s = 1;
    static const shape shapes[] = {
        { 1, 1, 1 }, { 1, 17, 33 }, { 5, 51, 64 }, { 8, 40, 19 }, /* the small-m path */
        { 9, 1, 7 }, { 7, 5, 3 }, { 13, 37, 70 }, { 20, 33, 300 }, { 14, 40, 777 }, /* edges; 3 k blocks */
        { 150, 48, 136 }, { 97, 130, 40 }, { 70, 200, 40 },        /* threaded, M and N split */
        { 30, 2100, 24 },                      /* N past one packed block of B (NC) */
    };
    static const cw_dtype dts[] = { CW_DTYPE_F32, CW_DTYPE_F16, CW_DTYPE_BF16, CW_DTYPE_I8 };
    for (size_t d = 0; d < 4; d++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            check_linear(&b, dts[d], shapes[i], (int)(i & 1), &s);
    free_backends(&b);
}

/* The kernels' float32 [k, n] B (P.V in attention: V read in place where a
 * panel is whole, packed where not), called through the kernel table. */
static void test_gemm_b_kn(void)
{
    cw_cpu_kernels fk, rk;
    CHECK(cw_cpu_select_kernels(fast_isa, &fk) == CW_OK);
    CHECK(cw_cpu_select_kernels(CW_ISA_REF, &rk) == CW_OK);
    uint64_t s = 11;
    static const size_t cfg[][4] = { { 20, 40, 70, 48 }, { 30, 64, 500, 70 }, { 9, 33, 17, 33 } }; /* m, n, k, ldb */
    for (size_t ci = 0; ci < 3; ci++) {
        size_t m = cfg[ci][0], n = cfg[ci][1], k = cfg[ci][2], ldb = cfg[ci][3];
        float *a = rand_vec(m * k, -1, 1, &s), *b = rand_vec(k * ldb, -1, 1, &s);
        float *c = calloc(m * n, 4), *r = calloc(m * n, 4);
        cw_gemm g = { .m = m, .n = n, .k = k, .a = a, .lda = k, .b = b, .ldb = ldb, .bt = CW_DTYPE_F32,
                      .b_kn = 1, .c = r, .ldc = n };
        rk.gemm(&g, 0, m, 0, n, NULL);
        float *scr = malloc((fk.gemm_scratch_floats(&g) + 16) * sizeof *scr);
        g.c = c;
        fk.gemm(&g, 0, m, 0, n, scr);
        close_all(c, r, m * n, 1e-5, 1e-5, "gemm b_kn");
        free(scr); free(a); free(b); free(c); free(r);
    }
}

static void test_linear_bad_args(void)
{
    backends b = make_backends();
    cw_backend *be = b.fast[0];
    cw_buf *x = NULL, *w = NULL, *y = NULL;
    CHECK(be->ops->buf_alloc(be, 4 * 10, &x) == CW_OK);
    CHECK(be->ops->buf_alloc(be, 4 * 20, &w) == CW_OK);
    CHECK(be->ops->buf_alloc(be, 4 * 5, &y) == CW_OK);
    cw_weight wt = { .dtype = CW_DTYPE_F32, .rows = 3, .cols = 5, .data = w };
    /* y needs 2*3 floats, has 5 */
    CHECK_FAILS(be->ops->linear(be, cw_ref_at(y, 0), cw_ref_at(x, 0), &wt, cw_ref_none(), 2), CW_ERR_INVALID_ARG, "linear y");
    wt.rows = 5; /* 5*5 floats do not fit in w */
    CHECK_FAILS(be->ops->linear(be, cw_ref_at(y, 0), cw_ref_at(x, 0), &wt, cw_ref_none(), 1), CW_ERR_INVALID_ARG, "weight");
    wt.rows = 3;
    wt.offset = 4 * 6; /* 15 floats from float 6 on do not fit in 20 */
    CHECK_FAILS(be->ops->linear(be, cw_ref_at(y, 0), cw_ref_at(x, 0), &wt, cw_ref_none(), 1), CW_ERR_INVALID_ARG, "weight");
    wt = (cw_weight){ .dtype = CW_DTYPE_I8, .rows = 3, .cols = 5, .data = w };
    CHECK_FAILS(be->ops->linear(be, cw_ref_at(y, 0), cw_ref_at(x, 0), &wt, cw_ref_none(), 1), CW_ERR_INVALID_ARG, "scales");
    CHECK_FAILS(be->ops->upload(be, y, 8, x, 16), CW_ERR_INVALID_ARG, "outside");
    be->ops->buf_free(be, x); be->ops->buf_free(be, w); be->ops->buf_free(be, y);
    free_backends(&b);
}

/* linear_rows: rows of several items stacked in one call, each item's row
 * count as m_class, give every row the bits a call for that item alone
 * gives, on every kernel set, in exact and lowp mode, with 1 and 2 threads
 * (the kernels choose their summation order by the row count: 12 one-row
 * items would take the GEMM path where one row alone takes the GEMV one). */
static float *run_linear_rows(cw_backend *be, const float *x, const void *w, const float *scale, cw_dtype dt,
                              size_t m, size_t n, size_t k, size_t m_class)
{
    size_t wbytes = n * k * cw_dtype_size(dt);
    cw_buf *bx = up(be, x, m * k * 4), *bw = up(be, w, wbytes), *bs = up(be, scale, n * 4), *by = NULL;
    CHECK(be->ops->buf_alloc(be, m * n * 4, &by) == CW_OK);
    cw_weight wt = { .dtype = dt, .rows = n, .cols = k, .data = bw, .scale = dt == CW_DTYPE_I8 ? bs : NULL };
    CHECK(be->ops->linear_rows(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, cw_ref_none(), m, m_class) == CW_OK);
    float *y = down(be, by, m * n);
    be->ops->buf_free(be, bx); be->ops->buf_free(be, bw); be->ops->buf_free(be, bs); be->ops->buf_free(be, by);
    return y;
}

static void test_linear_rows(void)
{
    static const size_t items[][2] = { { 12, 1 }, { 3, 3 }, { 2, 10 }, { 9, 8 }, { 1, 20 } }; /* count, rows */
    static const cw_dtype dts[] = { CW_DTYPE_F32, CW_DTYPE_F16, CW_DTYPE_BF16, CW_DTYPE_I8 };
    uint64_t s = 5;
    size_t n = 70, k = 200;
    for (int lowp = 0; lowp < 2; lowp++)
        for (int th = 1; th <= 2; th++) {
            cw_backend_params p = cw_backend_default_params();
            p.isa = fast_isa;
            p.n_threads = th;
            p.lowp = lowp;
            cw_backend *be = NULL;
            CHECK(cw_backend_create(&p, &be) == CW_OK);
            for (size_t d = 0; d < 4; d++)
                for (size_t ii = 0; ii < sizeof items / sizeof *items; ii++) {
                    size_t cnt = items[ii][0], rows = items[ii][1], m = cnt * rows;
                    float *x = rand_vec(m * k, -1, 1, &s), *wf = malloc(n * k * 4), *scale = malloc(n * 4);
                    void *w = make_weight(dts[d], n, k, wf, scale, &s);
                    float *all = run_linear_rows(be, x, w, scale, dts[d], m, n, k, rows);
                    for (size_t it = 0; it < cnt; it++) {
                        float *one = run_linear_rows(be, x + it * rows * k, w, scale, dts[d], rows, n, k, 0);
                        CHECK_MSG(memcmp(one, all + it * rows * n, rows * n * 4) == 0,
                                  "linear_rows %s lowp %d threads %d: item %zu of %zu x %zu rows differs from alone",
                                  cw_dtype_name(dts[d]), lowp, th, it, cnt, rows);
                        free(one);
                    }
                    free(all); free(x); free(wf); free(scale); free(w);
                }
            cw_backend_free(be);
        }
}

/* GELU far below 0: erfc underflows. Every mode flushes the subnormals that
 * gives, so those outputs are -0, as PyTorch's GELU gives there
 * (src/backend/cpu/fpenv.h); every output has the same bits in both modes,
 * and the calling thread's MXCSR is what it was. */
static void test_gelu_subnormals(void)
{
    enum { N = 40 };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = -20.0f + 0.5f * (float)i; /* -20 ... -0.5 */
#if defined(__x86_64__) || defined(__i386__)
    unsigned csr = _mm_getcsr();
#endif
    float *out[2];
    for (int lowp = 0; lowp < 2; lowp++) {
        cw_backend_params p = cw_backend_default_params();
        p.isa = fast_isa;
        p.n_threads = 2;
        p.lowp = lowp;
        cw_backend *be = NULL;
        CHECK(cw_backend_create(&p, &be) == CW_OK);
        cw_buf *b = up(be, x, sizeof x);
        CHECK(be->ops->gelu(be, cw_ref_at(b, 0), N) == CW_OK);
        out[lowp] = down(be, b, N);
        be->ops->buf_free(be, b);
        cw_backend_free(be);
#if defined(__x86_64__) || defined(__i386__)
        CHECK_MSG(_mm_getcsr() == csr, "gelu lowp %d left MXCSR %#x (was %#x)", lowp, _mm_getcsr(), csr);
#endif
    }
    int flushed = 0;
    for (int i = 0; i < N; i++) {
        float a = out[0][i], f = out[1][i];
        CHECK_MSG(memcmp(&a, &f, 4) == 0, "gelu(%g): exact %g, lowp %g", (double)x[i], (double)a, (double)f);
        CHECK_MSG(a == 0.0f || fabsf(a) >= FLT_MIN, "gelu(%g) = %g: a subnormal", (double)x[i], (double)a);
        flushed += a == 0.0f && signbit(a);
    }
    /* -20 ... -14 at least: 0.5 erfc(|x| / sqrt 2) < FLT_MIN there */
    CHECK_MSG(flushed >= 12, "%d GELU outputs in [-20, -0.5] flushed to -0", flushed);
    free(out[0]);
    free(out[1]);
}

/* ---- attention ----------------------------------------------------------------- */

typedef struct {
    size_t B, H, nq, nkv, ctx; /* ctx: rows reserved per sequence in the K/V cache */
    int causal;
    size_t q_pos, pad; /* pad: extra floats per row of Q and O */
    int shared_kv;     /* K/V batch stride 0: every sequence reads sequence 0's */
} attn_case;

/* K/V element types of the tests: float32, bf16 (narrow op), int8 (quantize_heads op) */
enum { KV_F32 = 0, KV_BF16 = 1, KV_I8 = 2 };

/* x [n_slots, ctx, H*64] into a back end's K/V of type kvt; I8: the values
 * [n_slots, H, ctx, 64] (quantize_heads, slot by slot) with the steps
 * [n_slots, H, ctx] in *steps. */
static cw_buf *kv_upload(cw_backend *be, const float *x, size_t n_slots, size_t ctx, size_t H, int kvt, cw_buf **steps)
{
    size_t hd = H * 64, n = n_slots * ctx * hd;
    cw_buf *bx = up(be, x, n * 4), *y = NULL;
    if (kvt == KV_F32) return bx;
    if (kvt == KV_BF16) {
        CHECK(be->ops->buf_alloc(be, n * 2, &y) == CW_OK);
        CHECK(be->ops->narrow(be, cw_ref_at(y, 0), CW_DTYPE_BF16, cw_ref_at(bx, 0), n) == CW_OK);
    } else {
        CHECK(be->ops->buf_alloc(be, n, &y) == CW_OK && be->ops->buf_alloc(be, n_slots * H * ctx * 4, steps) == CW_OK);
        for (size_t b = 0; b < n_slots; b++)
            CHECK(be->ops->quantize_heads(be, cw_ref_at(y, b * ctx * hd / 4), cw_ref_at(*steps, b * H * ctx),
                                          cw_ref_at(bx, b * ctx * hd), ctx, H) == CW_OK);
    }
    be->ops->buf_free(be, bx);
    return y;
}

/* x [n] (rows of 64-wide head segments) as the attention op sees it after
 * kv_upload: bf16 values, or each segment's cw_quantize_row_i8 integers
 * times 1 / its scale. */
static float *kv_values(const float *x, size_t n, int kvt)
{
    float *r = malloc(n * 4);
    for (size_t i = 0; i < n; i += 64) {
        if (kvt == KV_BF16) {
            for (size_t e = 0; e < 64; e++) r[i + e] = cw_bf16_to_f32(cw_f32_to_bf16(x[i + e]));
            continue;
        }
        int8_t q8[64];
        float step = 1.0f / cw_quantize_row_i8(q8, x + i, 64);
        for (size_t e = 0; e < 64; e++) r[i + e] = (float)q8[e] * step;
    }
    return r;
}

/* The op's K/V fields for kv_upload's buffers (slot stride `slot`, 0: shared). */
static void kv_fields(cw_attn *a, cw_buf *bk, cw_buf *bv, cw_buf *ks, cw_buf *vs, size_t ctx, size_t H, int slot,
                      int kvt)
{
    size_t hd = H * 64;
    a->kv_dtype = kvt == KV_F32 ? CW_DTYPE_F32 : kvt == KV_BF16 ? CW_DTYPE_BF16 : CW_DTYPE_I8;
    a->k = cw_ref_at(bk, 0), a->v = cw_ref_at(bv, 0);
    a->k_bstride = a->v_bstride = slot ? ctx * hd : 0;
    a->k_ld = a->v_ld = hd;
    if (kvt != KV_I8) return;
    a->k_ld = a->v_ld = 64;
    a->k_hstride = a->v_hstride = ctx * 64;
    a->k_step = cw_ref_at(ks, 0), a->v_step = cw_ref_at(vs, 0);
    a->s_hstride = ctx;
    a->s_bstride = slot ? H * ctx : 0;
}

static float *run_attention_kv(cw_backend *be, const attn_case *c, const float *q, const float *k, const float *v,
                               int kvt)
{
    size_t hd = c->H * 64, ld = hd + c->pad;
    size_t nq_f = c->B * c->nq * ld;
    cw_buf *ks = NULL, *vs = NULL, *bq = up(be, q, nq_f * 4), *bo = NULL;
    cw_buf *bk = kv_upload(be, k, c->B, c->ctx, c->H, kvt, &ks), *bv = kv_upload(be, v, c->B, c->ctx, c->H, kvt, &vs);
    CHECK(be->ops->buf_alloc(be, nq_f * 4, &bo) == CW_OK);
    float *zero = calloc(nq_f, 4);
    CHECK(be->ops->upload(be, bo, 0, zero, nq_f * 4) == CW_OK);
    cw_attn a = { .n_batch = c->B, .n_head = c->H, .nq = c->nq, .nkv = c->nkv,
                  .o = cw_ref_at(bo, 0), .o_ld = ld, .o_bstride = c->nq * ld,
                  .q = cw_ref_at(bq, 0), .q_ld = ld, .q_bstride = c->nq * ld,
                  .scale = 0.125f, .causal = c->causal, .q_pos = c->q_pos };
    kv_fields(&a, bk, bv, ks, vs, c->ctx, c->H, !c->shared_kv, kvt);
    CHECK(be->ops->attention(be, &a) == CW_OK);
    float *o = down(be, bo, nq_f);
    free(zero);
    be->ops->buf_free(be, bq); be->ops->buf_free(be, bk); be->ops->buf_free(be, bv); be->ops->buf_free(be, bo);
    be->ops->buf_free(be, ks); be->ops->buf_free(be, vs);
    return o;
}

static float *run_attention(cw_backend *be, const attn_case *c, const float *q, const float *k, const float *v)
{
    return run_attention_kv(be, c, q, k, v, KV_F32);
}

/* Every back end with bf16 or int8 K/V against the float32 reference on the
 * values they hold (kv_values): the same attention, so the float32
 * tolerances hold. */
static void check_attention_kvq(const backends *b, const attn_case *c, size_t ci, const float *q, const float *k,
                                const float *v, int kvt)
{
    size_t hd = c->H * 64, nq_f = c->B * c->nq * (hd + c->pad), kv_f = c->B * c->ctx * hd;
    const char *name = kvt == KV_BF16 ? "bf16" : "int8";
    float *kr = kv_values(k, kv_f, kvt), *vr = kv_values(v, kv_f, kvt);
    float *r = run_attention(b->ref, c, q, kr, vr), *o1 = NULL;
    for (int t = -1; t < 3; t++) {
        float *o = run_attention_kv(t < 0 ? b->ref : b->fast[t], c, q, k, v, kvt);
        char what[64];
        snprintf(what, sizeof what, "attention %s K/V case %zu threads %d", name, ci, t + 1);
        close_all(o, r, nq_f, 2e-6, 1e-5, what);
        if (t <= 0) {
            free(o1);
            o1 = o;
        } else {
            CHECK_MSG(memcmp(o, o1, nq_f * 4) == 0, "attention %s K/V case %zu: %d threads differ", name, ci, t + 1);
            free(o);
        }
    }
    free(o1); free(r); free(kr); free(vr);
}

/* quantize_heads: every back end's integers and steps are those of
 * cw_quantize_row_i8 on each 64-wide segment, moved head-major; a zero
 * segment is all zeros with step 1. */
static void test_quantize_heads(void)
{
    backends b = make_backends();
    uint64_t s = 11;
    size_t rows = 37, H = 3, hd = H * 64, n = rows * hd;
    float *x = rand_vec(n, -3, 3, &s);
    for (size_t e = 0; e < 64; e++) x[5 * hd + 64 + e] = 0.0f; /* row 5, head 1 */
    for (int t = -1; t < 3; t++) {
        cw_backend *be = t < 0 ? b.ref : b.fast[t];
        cw_buf *ks = NULL, *bk = kv_upload(be, x, 1, rows, H, KV_I8, &ks);
        int8_t *y = malloc(n);
        float *st = malloc(rows * H * 4);
        CHECK(be->ops->download(be, y, bk, 0, n) == CW_OK && be->ops->download(be, st, ks, 0, rows * H * 4) == CW_OK);
        int bad = 0;
        for (size_t r = 0; r < rows; r++)
            for (size_t h = 0; h < H; h++) {
                int8_t q8[64];
                float sc = cw_quantize_row_i8(q8, x + r * hd + h * 64, 64);
                bad += memcmp(q8, y + (h * rows + r) * 64, 64) != 0 || st[h * rows + r] != 1.0f / sc;
            }
        CHECK_MSG(bad == 0, "quantize_heads threads %d: %d segments differ", t + 1, bad);
        CHECK(st[1 * rows + 5] == 1.0f && y[(1 * rows + 5) * 64] == 0);
        /* a destination that does not fit is refused */
        CHECK(be->ops->quantize_heads(be, cw_ref_at(bk, 1), cw_ref_at(ks, 0), cw_ref_at(bk, 0), rows, H) ==
              CW_ERR_INVALID_ARG);
        free(y); free(st);
        be->ops->buf_free(be, bk); be->ops->buf_free(be, ks);
    }
    free(x);
    free_backends(&b);
}

static void test_attention(void)
{
    backends b = make_backends();
    uint64_t s = 7;
    static const attn_case cases[] = {
        { 2, 3, 70, 70, 70, 0, 0, 0, 0 },     /* encoder-like self-attention, 2 blocks */
        { 1, 2, 5, 5, 8, 1, 0, 0, 0 },       /* decoder prompt pass, causal */
        { 2, 2, 3, 20, 32, 1, 17, 8, 0 },     /* 3 new tokens after 17 cached, padded rows */
        { 3, 1, 1, 130, 200, 0, 0, 0, 0 },    /* one-token step over a cross-attention cache */
        { 1, 2, 130, 150, 150, 1, 20, 0, 0 }, /* causal over several query blocks */
        { 4, 2, 1, 40, 40, 0, 0, 0, 1 },   /* beams sharing one cross-attention K/V */
        { 1, 3, 1, 1500, 1500, 0, 0, 0, 0 },  /* a step over a full-size cross-attention cache */
        { 2, 2, 4, 23, 40, 1, 19, 5, 0 },     /* 4 new tokens after 19 cached (few-row route) */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const attn_case *c = &cases[ci];
        size_t hd = c->H * 64, nq_f = c->B * c->nq * (hd + c->pad), kv_f = c->B * c->ctx * hd;
        float *q = rand_vec(nq_f, -2, 2, &s), *k = rand_vec(kv_f, -2, 2, &s), *v = rand_vec(kv_f, -1, 1, &s);
        float *r = run_attention(b.ref, c, q, k, v), *o1 = NULL;
        /* the reference against one hand-computed row: last query of head 0 */
        {
            size_t i = c->nq - 1, ld = hd + c->pad, keep = c->causal ? c->q_pos + i + 1 : c->nkv;
            if (keep > c->nkv) keep = c->nkv;
            double mx = -1e300, sum = 0, out0 = 0, sc[2048];
            for (size_t j = 0; j < keep; j++) {
                double d = 0;
                for (size_t e = 0; e < 64; e++) d += (double)q[i * ld + e] * k[j * hd + e];
                sc[j] = 0.125 * d;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (size_t j = 0; j < keep; j++) sum += exp(sc[j] - mx);
            for (size_t j = 0; j < keep; j++) out0 += exp(sc[j] - mx) / sum * v[j * hd];
            CHECK_NEAR(r[i * ld], out0, 1e-5);
        }
        for (int t = 0; t < 3; t++) {
            float *o = run_attention(b.fast[t], c, q, k, v);
            char what[64];
            snprintf(what, sizeof what, "attention case %zu threads %d", ci, t + 1);
            close_all(o, r, nq_f, 2e-6, 1e-5, what);
            if (t == 0) o1 = o;
            else {
                CHECK_MSG(memcmp(o, o1, nq_f * 4) == 0, "attention case %zu: %d threads differ", ci, t + 1);
                free(o);
            }
        }
        check_attention_kvq(&b, c, ci, q, k, v, KV_BF16);
        check_attention_kvq(&b, c, ci, q, k, v, KV_I8);
        free(o1); free(r); free(q); free(k); free(v);
    }
    free_backends(&b);
}

/* Per-sequence attention fields: 3 sequences at different cache lengths, each
 * reading another slot of a 4-slot cache (kv_item, b_nkv, b_q_pos), against
 * an op per sequence alone on the same kernels (bit-identical) and the
 * reference (float32 tolerance), float32 and bf16 K/V. */
static float *run_attn_items(cw_backend *be, size_t B, size_t H, size_t nq, size_t ctx, const float *q,
                             const float *k, const float *v, size_t n_slots, const size_t *kv_item,
                             const size_t *nkv, const size_t *q_pos, int causal, int kvt)
{
    size_t hd = H * 64, nq_f = B * nq * hd;
    cw_buf *ks = NULL, *vs = NULL, *bq = up(be, q, nq_f * 4), *bo = NULL;
    cw_buf *bk = kv_upload(be, k, n_slots, ctx, H, kvt, &ks), *bv = kv_upload(be, v, n_slots, ctx, H, kvt, &vs);
    CHECK(be->ops->buf_alloc(be, nq_f * 4, &bo) == CW_OK);
    size_t mx = 0;
    for (size_t b = 0; b < B; b++) mx = nkv[b] > mx ? nkv[b] : mx;
    cw_attn a = { .n_batch = B, .n_head = H, .nq = nq, .nkv = mx,
                  .o = cw_ref_at(bo, 0), .o_ld = hd, .o_bstride = nq * hd,
                  .q = cw_ref_at(bq, 0), .q_ld = hd, .q_bstride = nq * hd,
                  .scale = 0.125f, .causal = causal,
                  .kv_item = kv_item, .b_nkv = nkv, .b_q_pos = q_pos };
    kv_fields(&a, bk, bv, ks, vs, ctx, H, 1, kvt);
    if (!kv_item) /* the plain op: one sequence, scalars */
        a.nkv = nkv[0], a.q_pos = q_pos[0], a.b_nkv = a.b_q_pos = NULL;
    CHECK(be->ops->attention(be, &a) == CW_OK);
    float *o = down(be, bo, nq_f);
    be->ops->buf_free(be, bq); be->ops->buf_free(be, bk); be->ops->buf_free(be, bv); be->ops->buf_free(be, bo);
    be->ops->buf_free(be, ks); be->ops->buf_free(be, vs);
    return o;
}

static void test_attention_items(void)
{
    backends bs = make_backends();
    uint64_t s = 9;
    size_t H = 2, ctx = 80, n_slots = 4, hd = H * 64, n = n_slots * ctx * hd;
    /* three sequences on three slots; then seven, runs of them on one slot (a
     * window's beams: the back end's attention_shared, when nq is 1 without a
     * mask), with that slot's keys */
    static const size_t kv3[] = { 2, 0, 3 }, kv7[] = { 1, 1, 1, 0, 0, 3, 1 };
    static const size_t q_pos[] = { 17, 0, 60, 5, 5, 33, 17 };
    static const size_t nqs[] = { 1, 4, 9 }; /* steps, the few-row route, a prompt */
    float *k = rand_vec(n, -2, 2, &s), *v = rand_vec(n, -1, 1, &s);
    float *kr[3] = { k, kv_values(k, n, KV_BF16), kv_values(k, n, KV_I8) };
    float *vr[3] = { v, kv_values(v, n, KV_BF16), kv_values(v, n, KV_I8) };
    for (int lay = 0; lay < 2; lay++)
        for (size_t qi = 0; qi < 3; qi++)
            for (int causal = 0; causal < 2; causal++)
                for (int kvt = 0; kvt < 3; kvt++) {
                    size_t B = lay ? 7 : 3, nq = nqs[qi], nkv[7];
                    const size_t *kv_item = lay ? kv7 : kv3;
                    for (size_t b = 0; b < B; b++)
                        nkv[b] = causal ? q_pos[b] + nq : 30 + (lay ? 15 * kv_item[b] : 20 * b);
                    float *q = rand_vec(B * nq * hd, -2, 2, &s);
                    float *r = run_attn_items(bs.ref, B, H, nq, ctx, q, kr[kvt], vr[kvt], n_slots, kv_item, nkv, q_pos,
                                              causal, KV_F32);
                    for (int t = -1; t < 2; t++) {
                        cw_backend *be = t < 0 ? bs.ref : bs.fast[t];
                        float *o = run_attn_items(be, B, H, nq, ctx, q, k, v, n_slots, kv_item, nkv, q_pos, causal, kvt);
                        char what[112];
                        snprintf(what, sizeof what, "attention items (%zu sequences) nq %zu causal %d K/V type %d threads %d",
                                 B, nq, causal, kvt, t + 1);
                        close_all(o, r, B * nq * hd, 2e-6, 1e-5, what);
                        for (size_t b = 0; b < B; b++) { /* sequence b alone: slot kv_item[b] as its only one */
                            float *ob = run_attn_items(be, 1, H, nq, ctx, q + b * nq * hd, k + kv_item[b] * ctx * hd,
                                                       v + kv_item[b] * ctx * hd, 1, NULL, &nkv[b], &q_pos[b],
                                                       causal, kvt);
                            CHECK_MSG(memcmp(ob, o + b * nq * hd, nq * hd * 4) == 0,
                                      "%s: sequence %zu differs from alone", what, b);
                            free(ob);
                        }
                        free(o);
                    }
                    free(q); free(r);
                }
    for (int i = 1; i < 3; i++) free(kr[i]), free(vr[i]);
    free(k); free(v);
    free_backends(&bs);
}

/* ---- row-wise and elementwise ------------------------------------------------------- */

static void test_layernorm(void)
{
    backends b = make_backends();
    uint64_t s = 3;
    static const size_t dims[][2] = { { 1, 1 }, { 3, 7 }, { 37, 384 }, { 5, 385 }, { 64, 512 } };
    for (size_t di = 0; di < 5; di++) {
        size_t rows = dims[di][0], cols = dims[di][1], n = rows * cols;
        float *x = rand_vec(n, 5, 9, &s), *g = rand_vec(cols, 0.5f, 1.5f, &s), *be_ = rand_vec(cols, -1, 1, &s);
        float *r = NULL, *f1 = malloc(n * sizeof *f1);
        for (int t = -1; t < 3; t++) {
            cw_backend *be = t < 0 ? b.ref : b.fast[t];
            cw_buf *bx = up(be, x, n * 4), *bg = up(be, g, cols * 4), *bb = up(be, be_, cols * 4);
            /* in place, with gamma and beta only on odd shapes */
            cw_ref gr = di & 1 ? cw_ref_at(bg, 0) : cw_ref_none(), br = di & 1 ? cw_ref_at(bb, 0) : cw_ref_none();
            CHECK(be->ops->layernorm(be, cw_ref_at(bx, 0), cw_ref_at(bx, 0), gr, br, rows, cols, 1e-5f) == CW_OK);
            float *y = down(be, bx, n);
            if (t < 0) r = y;
            else {
                close_all(y, r, n, 1e-5, 1e-5, "layernorm");
                if (t == 0) memcpy(f1, y, n * sizeof *y);
                else CHECK_MSG(memcmp(y, f1, n * sizeof *y) == 0, "layernorm: %d threads differ from 1", t + 1);
                free(y);
            }
            be->ops->buf_free(be, bx); be->ops->buf_free(be, bg); be->ops->buf_free(be, bb);
        }
        if (cols == 7 && !(di & 1)) { /* mean 0, variance 1 with no affine */
            double m = 0;
            for (size_t c = 0; c < cols; c++) m += r[c];
            CHECK_NEAR(m, 0, 1e-5);
        }
        free(r); free(x); free(g); free(be_); free(f1);
    }
    free_backends(&b);
}

static void test_softmax(void)
{
    backends b = make_backends();
    uint64_t s = 4;
    static const size_t cols_list[] = { 1, 7, 100 };
    const cw_mask masks[] = { { 0, 0, 0 }, { 1, 2, 0 }, { 0, 0, 50 }, { 1, 0, 4 } };
    for (size_t ci = 0; ci < 3; ci++)
        for (size_t mi = 0; mi < 4; mi++) {
            size_t rows = 9, cols = cols_list[ci], n = rows * cols;
            float *x = rand_vec(n, -20, 20, &s), *r = NULL, *f1 = malloc(n * sizeof *f1);
            for (int t = -1; t < 3; t++) {
                cw_backend *be = t < 0 ? b.ref : b.fast[t];
                cw_buf *bx = up(be, x, n * 4), *by = NULL;
                CHECK(be->ops->buf_alloc(be, n * 4, &by) == CW_OK);
                CHECK(be->ops->softmax(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), rows, cols, 0.5f,
                                       mi ? &masks[mi] : NULL) == CW_OK);
                float *y = down(be, by, n);
                if (t < 0) r = y;
                else {
                    close_all(y, r, n, 1e-7, 2e-6, "softmax");
                    if (t == 0) memcpy(f1, y, n * sizeof *y);
                    else CHECK_MSG(memcmp(y, f1, n * sizeof *y) == 0, "softmax: %d threads differ from 1", t + 1);
                    free(y);
                }
                be->ops->buf_free(be, bx); be->ops->buf_free(be, by);
            }
            for (size_t row = 0; row < rows; row++) { /* rows sum to 1, masked entries are 0 */
                double sum = 0;
                for (size_t c = 0; c < cols; c++) {
                    sum += r[row * cols + c];
                    if (mi && cw_mask_hides(&masks[mi], row, c)) CHECK(r[row * cols + c] == 0.0f);
                }
                CHECK_NEAR(sum, 1.0, 1e-6);
            }
            free(r); free(x); free(f1);
        }
    free_backends(&b);
}

static void test_gelu(void)
{
    backends b = make_backends();
    uint64_t s = 5;
    static const size_t ns[] = { 1, 7, 1000, 4099 };
    for (size_t ni = 0; ni < 4; ni++) {
        size_t n = ns[ni];
        float *x = rand_vec(n, -12, 12, &s), *r = NULL, *f1 = malloc(n * sizeof *f1);
        x[0] = ni == 3 ? -0.0f : x[0];
        if (n > 4) x[1] = 0.0f, x[2] = 1e-8f, x[3] = -30.0f;
        for (int t = -1; t < 3; t++) {
            cw_backend *be = t < 0 ? b.ref : b.fast[t];
            cw_buf *bx = up(be, x, n * 4);
            CHECK(be->ops->gelu(be, cw_ref_at(bx, 0), n) == CW_OK);
            float *y = down(be, bx, n);
            if (t < 0) r = y;
            else {
                close_all(y, r, n, 1e-7, 3e-6, "gelu");
                if (t == 0) memcpy(f1, y, n * sizeof *y);
                else CHECK_MSG(memcmp(y, f1, n * sizeof *y) == 0, "gelu: %d threads differ from 1", t + 1);
                free(y);
            }
            be->ops->buf_free(be, bx);
        }
        if (n > 4) CHECK(r[1] == 0.0f);
        free(r); free(x); free(f1);
    }
    /* known values: gelu(1) = 0.8413447460685429, gelu(-1) = -0.15865525393145707 */
    float v[2] = { 1.0f, -1.0f };
    cw_buf *bv = up(b.fast[0], v, 8);
    CHECK(b.fast[0]->ops->gelu(b.fast[0], cw_ref_at(bv, 0), 2) == CW_OK);
    float *y = down(b.fast[0], bv, 2);
    CHECK_NEAR(y[0], 0.8413447460685429, 1e-6);
    CHECK_NEAR(y[1], -0.15865525393145707, 1e-6);
    free(y);
    b.fast[0]->ops->buf_free(b.fast[0], bv);
    free_backends(&b);
}

/* ---- conv, gathers, copies ---------------------------------------------------------- */

static void test_conv1d(void)
{
    backends b = make_backends();
    uint64_t s = 6;
    static const size_t cfg[][4] = { { 5, 17, 7, 1 }, { 5, 17, 7, 2 }, { 8, 16, 20, 2 }, { 3, 1, 2, 1 }, { 80, 60, 24, 1 } };
    for (size_t ci = 0; ci < 5; ci++) {
        size_t c_in = cfg[ci][0], t_in = cfg[ci][1], c_out = cfg[ci][2], st = cfg[ci][3];
        size_t t_out = (t_in - 1) / st + 1, nw = c_out * c_in * 3;
        cw_dtype dt = ci & 1 ? CW_DTYPE_F16 : CW_DTYPE_F32;
        float *x = rand_vec(c_in * t_in, -1, 1, &s), *bias = rand_vec(c_out, -1, 1, &s);
        float *wf = malloc(nw * 4), *scale = malloc(c_out * 4);
        void *w = make_weight(dt, c_out, c_in * 3, wf, scale, &s);
        float *want = malloc(c_out * t_out * 4); /* PyTorch Conv1d(padding=1) by definition */
        for (size_t o = 0; o < c_out; o++)
            for (size_t t = 0; t < t_out; t++) {
                double acc = bias[o];
                for (size_t c = 0; c < c_in; c++)
                    for (size_t j = 0; j < 3; j++) {
                        long pos = (long)(t * st + j) - 1;
                        if (pos >= 0 && pos < (long)t_in) acc += (double)wf[(o * c_in + c) * 3 + j] * x[c * t_in + (size_t)pos];
                    }
                want[o * t_out + t] = (float)acc;
            }
        for (int t = -1; t < 3; t++) {
            cw_backend *be = t < 0 ? b.ref : b.fast[t];
            cw_buf *bx = up(be, x, c_in * t_in * 4), *bw = up(be, w, nw * cw_dtype_size(dt)), *bb = up(be, bias, c_out * 4), *by = NULL;
            CHECK(be->ops->buf_alloc(be, c_out * t_out * 4, &by) == CW_OK);
            cw_weight wt = { .dtype = dt, .rows = c_out, .cols = c_in * 3, .data = bw };
            CHECK(be->ops->conv1d(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, cw_ref_at(bb, 0), c_in, t_in, st) == CW_OK);
            float *y = down(be, by, c_out * t_out);
            close_all(y, want, c_out * t_out, 1e-5, 1e-5, "conv1d");
            free(y);
            be->ops->buf_free(be, bx); be->ops->buf_free(be, bw); be->ops->buf_free(be, bb); be->ops->buf_free(be, by);
        }
        free(x); free(bias); free(wf); free(scale); free(w); free(want);
    }
    free_backends(&b);
}

static void test_embedding(void)
{
    backends b = make_backends();
    uint64_t s = 8;
    size_t rows = 11, d = 21;
    const int32_t ids[4] = { 3, 0, 10, 3 };
    static const cw_dtype dts[] = { CW_DTYPE_F32, CW_DTYPE_F16, CW_DTYPE_BF16, CW_DTYPE_I8 };
    for (size_t di = 0; di < 4; di++) {
        float *wf = malloc(rows * d * 4), *scale = malloc(rows * 4);
        void *w = make_weight(dts[di], rows, d, wf, scale, &s);
        for (int t = -1; t < 3; t++) {
            cw_backend *be = t < 0 ? b.ref : b.fast[t];
            cw_buf *bw = up(be, w, rows * d * cw_dtype_size(dts[di])), *bs = up(be, scale, rows * 4), *by = NULL;
            CHECK(be->ops->buf_alloc(be, 4 * d * 4, &by) == CW_OK);
            cw_weight wt = { .dtype = dts[di], .rows = rows, .cols = d, .data = bw, .scale = bs };
            CHECK(be->ops->embedding(be, cw_ref_at(by, 0), &wt, ids, 4) == CW_OK);
            float *y = down(be, by, 4 * d);
            for (size_t i = 0; i < 4; i++) close_all(y + i * d, wf + (size_t)ids[i] * d, d, 0, 1e-7, "embedding");
            const int32_t bad = 11;
            CHECK_FAILS(be->ops->embedding(be, cw_ref_at(by, 0), &wt, &bad, 1), CW_ERR_INVALID_ARG, "id 11");
            free(y);
            be->ops->buf_free(be, bw); be->ops->buf_free(be, bs); be->ops->buf_free(be, by);
        }
        free(wf); free(scale); free(w);
    }
    free_backends(&b);
}

static void test_copies_and_adds(void)
{
    backends b = make_backends();
    cw_backend *be = b.fast[1];
    uint64_t s = 9;
    size_t rows = 5, cols = 7, n = rows * cols;
    float *x = rand_vec(n, -1, 1, &s), *r = rand_vec(cols, -1, 1, &s);
    cw_buf *bx = up(be, x, n * 4), *br = up(be, r, cols * 4), *by = NULL, *bz = NULL;
    CHECK(be->ops->buf_alloc(be, n * 4, &by) == CW_OK);
    CHECK(be->ops->buf_alloc(be, 3 * 10 * 4, &bz) == CW_OK);

    CHECK(be->ops->transpose(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), rows, cols) == CW_OK);
    float *y = down(be, by, n);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) CHECK(y[j * rows + i] == x[i * cols + j]);
    free(y);

    CHECK(be->ops->add_bcast(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), cw_ref_at(br, 0), rows, cols) == CW_OK);
    y = down(be, by, n);
    for (size_t i = 0; i < n; i++) CHECK(y[i] == x[i] + r[i % cols]);
    free(y);

    CHECK(be->ops->add(be, cw_ref_at(by, 0), cw_ref_at(by, 0), cw_ref_at(bx, 0), n) == CW_OK); /* in place */
    y = down(be, by, n);
    for (size_t i = 0; i < n; i++) CHECK(y[i] == (x[i] + r[i % cols]) + x[i]);
    free(y);

    /* rows 1..3 of x, columns 2..5, into a [3, 10] grid at column 1: a KV-cache write */
    float z0[30] = { 0 };
    CHECK(be->ops->upload(be, bz, 0, z0, sizeof z0) == CW_OK);
    CHECK(be->ops->copy2d(be, cw_ref_at(bz, 1), 10, cw_ref_at(bx, 1 * cols + 2), cols, 3, 4) == CW_OK);
    y = down(be, bz, 30);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 10; j++)
            CHECK(y[i * 10 + j] == (j >= 1 && j < 5 ? x[(i + 1) * cols + 2 + j - 1] : 0.0f));
    CHECK_FAILS(be->ops->copy2d(be, cw_ref_at(bz, 1), 10, cw_ref_at(bx, 0), cols, 4, 4), CW_ERR_INVALID_ARG, "copy2d y");
    free(y);
    be->ops->buf_free(be, bx); be->ops->buf_free(be, br); be->ops->buf_free(be, by); be->ops->buf_free(be, bz);
    free(x); free(r);
    free_backends(&b);
}

static void test_half_conversions(void)
{
    CHECK(cw_f32_to_f16(1.0f) == 0x3c00);
    CHECK(cw_f32_to_f16(-2.0f) == 0xc000);
    CHECK(cw_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(cw_f32_to_f16(1e6f) == 0x7c00);
    CHECK(cw_f32_to_f16(5.9604645e-8f) == 0x0001); /* smallest subnormal */
    CHECK(cw_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00); /* a tie rounds to even */
    CHECK(cw_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(cw_f16_to_f32(0x3555) == 0.333251953125f);
    CHECK(cw_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(cw_bf16_to_f32(0xc040) == -3.0f);
    for (uint32_t h = 0; h < 0x7c00; h += 7) /* every 7th finite half round-trips */
        CHECK_MSG(cw_f32_to_f16(cw_f16_to_f32((uint16_t)h)) == h, "half 0x%04x", (unsigned)h);
}

int main(void)
{
    RUN(test_dispatch);
    RUN(test_half_conversions);
    static const struct { cw_isa isa; const char *name; } isas[] = {
        { CW_ISA_AVX2, "avx2" }, { CW_ISA_AVX512, "avx512" } };
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        cw_backend_params p = cw_backend_default_params();
        p.n_threads = 1;
        p.isa = isas[i].isa;
        cw_backend *be = NULL;
        if (cw_backend_create(&p, &be) != CW_OK) {
            printf("SKIPPED: the %s kernels (this CPU lacks the instructions: %s)\n", isas[i].name, cw_last_error());
            fflush(stdout);
            continue;
        }
        cw_backend_free(be);
        printf("-- the %s kernels against the reference\n", isas[i].name);
        fflush(stdout);
        fast_isa = isas[i].isa;
        RUN(test_linear_all_dtypes);
        RUN(test_linear_bad_args);
        RUN(test_gemm_b_kn);
        RUN(test_linear_rows);
        RUN(test_attention);
        RUN(test_attention_items);
        RUN(test_quantize_heads);
        RUN(test_layernorm);
        RUN(test_softmax);
        RUN(test_gelu);
        RUN(test_conv1d);
        RUN(test_embedding);
        RUN(test_copies_and_adds);
        RUN(test_gelu_subnormals);
    }
    return test_summary();
}
