/* The CUDA back end without a GPU: its kernels (src/backend/cuda/kernels.h)
 * run through tests/cuda_shim.h (each block's threads as host threads, real
 * barriers and warp exchanges), and its ops' sequences (plans, cuBLAS call
 * arguments of cuda_plan.c, kernels) replayed on the host with a column-major
 * GEMM written here to cuBLAS's definition, against the CPU reference back
 * end. NOTHING HERE RUNS ON A GPU: the device's own arithmetic, cuBLAS and
 * the CUDA API calls are checked by bench/gpu/run.sh's op test
 * (tests/gpu/test_cuda_ops.c) on a GPU machine. */
#include "cuda_shim.h"

#include "backend/cuda/kernels.h"

#include <stdint.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "backend/cuda/cuda_plan.h"
#include "test.h"

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rvec(size_t n, float amp, uint64_t *s)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = amp * frand(s);
    return v;
}

/* max |a - b| / (1 + |b|) */
static double max_rel(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

static cw_dim3 d3(unsigned x, unsigned y) { return (cw_dim3){ x, y, 1 }; }

/* A grid of at most cap blocks: smaller than one item per thread makes the
 * grid-stride loops go round. */
static cw_dim3 ew_grid(size_t n, unsigned cap)
{
    unsigned b = cw_cuda_blocks(n, CW_EW_THREADS);
    return d3(b < cap ? b : cap, 1);
}

/* ---- kernel calls for the shim ------------------------------------------------- */

typedef struct {
    float *y; const float *x, *g, *b, *r; size_t rows, cols; float eps, scale;
    int causal; size_t offset, n_valid, group;
    const void *table; int dt; const float *sc; const int *ids; size_t n, d, ld, per, bstride;
    unsigned short *y16; size_t c_in, t_in, t_out, stride;
} kargs;

static void b_layernorm(void *p) { kargs *a = p; cw_k_layernorm(a->y, a->x, a->g, a->b, a->rows, a->cols, a->eps); }
static void b_softmax(void *p)
{
    kargs *a = p;
    cw_k_softmax(a->y, a->x, a->rows, a->cols, a->scale, a->causal, a->offset, a->n_valid, a->group);
}
static void b_gelu(void *p) { kargs *a = p; cw_k_gelu(a->y, a->n); }
static void b_add(void *p) { kargs *a = p; cw_k_add(a->y, a->x, a->r, a->n); }
static void b_add_bcast(void *p) { kargs *a = p; cw_k_add_bcast(a->y, a->x, a->r, a->rows, a->cols); }
static void b_gather(void *p)
{
    kargs *a = p;
    cw_k_gather(a->y, a->table, a->dt, a->sc, a->ids, a->n, a->d, a->ld, a->per, a->bstride);
}
static void b_narrow(void *p) { kargs *a = p; cw_k_narrow(a->y16, a->x, a->dt, a->n); }
static void b_im2col(void *p) { kargs *a = p; cw_k_im2col3(a->y, a->x, a->c_in, a->t_in, a->t_out, a->stride); }
static void b_transpose(void *p) { kargs *a = p; cw_k_transpose(a->y, a->x, a->rows, a->cols); }

static void k_row(void (*body)(void *), kargs *a)
{
    unsigned blocks;
    CHECK(cw_cuda_row_blocks(a->rows, &blocks) == CW_OK);
    if (blocks) cw_shim_launch(d3(blocks, 1), d3(CW_ROW_THREADS, 1), body, a);
}

static void k_ew(void (*body)(void *), kargs *a, size_t n) { cw_shim_launch(ew_grid(n, 3), d3(CW_EW_THREADS, 1), body, a); }

static void k_transpose(float *y, const float *x, size_t rows, size_t cols)
{
    kargs a = { .y = y, .x = x, .rows = rows, .cols = cols };
    cw_shim_launch(d3((unsigned)((cols + CW_TILE - 1) / CW_TILE), (unsigned)((rows + CW_TILE - 1) / CW_TILE)),
                   d3(CW_TILE, CW_TILE_ROWS), b_transpose, &a);
}

/* ---- kernels against the reference ---------------------------------------------- */

static void test_layernorm(void)
{
    uint64_t s = 1;
    size_t rows_[] = { 1, 5, 9 }, cols_[] = { 1, 31, 64, 100, 385 };
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < 5; ci++)
            for (int affine = 0; affine < 2; affine++) {
                size_t rows = rows_[ri], cols = cols_[ci], n = rows * cols;
                float *x = rvec(n, 3.0f, &s), *g = rvec(cols, 1.0f, &s), *b = rvec(cols, 1.0f, &s);
                for (size_t i = 0; i < n; i++) x[i] += 2.0f; /* a mean away from 0 */
                float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
                cw_ref_layernorm(ref, x, affine ? g : NULL, affine ? b : NULL, rows, cols, 1e-5f);
                kargs a = { .y = y, .x = x, .g = affine ? g : NULL, .b = affine ? b : NULL, .rows = rows, .cols = cols,
                            .eps = 1e-5f };
                k_row(b_layernorm, &a);
                CHECK_MSG(max_rel(y, ref, n) < 1e-5, "layernorm [%zu, %zu] affine %d: %g", rows, cols, affine,
                          max_rel(y, ref, n));
                a.y = x; /* in place */
                k_row(b_layernorm, &a);
                CHECK_MSG(max_rel(x, ref, n) < 1e-5, "layernorm in place [%zu, %zu]", rows, cols);
                free(x), free(g), free(b), free(y), free(ref);
            }
}

static void test_softmax(void)
{
    uint64_t s = 2;
    struct { size_t rows, cols, group; int causal; size_t offset, n_valid; } c[] = {
        { 1, 1, 0, 0, 0, 0 },   { 3, 40, 0, 0, 0, 0 },  { 7, 70, 0, 1, 0, 0 },   { 6, 33, 0, 1, 20, 0 },
        { 5, 64, 0, 0, 0, 17 }, { 5, 64, 0, 1, 3, 6 },  { 8, 50, 4, 1, 2, 0 },   { 12, 9, 3, 1, 0, 0 },
        { 4, 100, 2, 0, 0, 0 }, { 9, 1500, 0, 0, 0, 0 },
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        size_t rows = c[t].rows, cols = c[t].cols, n = rows * cols, grp = c[t].group ? c[t].group : rows;
        float *x = rvec(n, 8.0f, &s), *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
        cw_mask m = { c[t].causal, c[t].offset, c[t].n_valid };
        /* reference: each group of rows on its own (row index within the group) */
        for (size_t g0 = 0; g0 < rows; g0 += grp)
            cw_ref_softmax(ref + g0 * cols, x + g0 * cols, 0, grp, cols, 0.125f, &m);
        kargs a = { .y = y, .x = x, .rows = rows, .cols = cols, .scale = 0.125f, .causal = m.causal,
                    .offset = m.offset, .n_valid = m.n_valid, .group = c[t].group };
        k_row(b_softmax, &a);
        CHECK_MSG(max_rel(y, ref, n) < 1e-6, "softmax case %zu: %g", t, max_rel(y, ref, n));
        size_t exact0 = 1; /* masked entries exactly 0 */
        for (size_t i = 0; i < n; i++) exact0 &= ref[i] != 0.0f || y[i] == 0.0f;
        CHECK_MSG(exact0, "softmax case %zu: a masked entry is not 0", t);
        a.y = x;
        k_row(b_softmax, &a);
        CHECK_MSG(max_rel(x, ref, n) < 1e-6, "softmax in place case %zu", t);
        free(x), free(y), free(ref);
    }
}

static void test_elementwise(void)
{
    uint64_t s = 3;
    size_t ns[] = { 1, 255, 257, 5000 };
    for (size_t t = 0; t < 4; t++) {
        size_t n = ns[t];
        float *x = rvec(n, 6.0f, &s), *r = rvec(n, 1.0f, &s), *ref = malloc(n * sizeof *ref), *y = malloc(n * sizeof *y);
        memcpy(ref, x, n * sizeof *x);
        cw_ref_gelu(ref, n);
        memcpy(y, x, n * sizeof *x);
        kargs a = { .y = y, .n = n };
        k_ew(b_gelu, &a, n);
        CHECK_MSG(max_rel(y, ref, n) < 1e-6, "gelu n %zu: %g", n, max_rel(y, ref, n));
        for (size_t i = 0; i < n; i++) ref[i] = x[i] + r[i];
        a = (kargs){ .y = y, .x = x, .r = r, .n = n };
        k_ew(b_add, &a, n);
        CHECK_MSG(max_rel(y, ref, n) == 0, "add n %zu", n);
        a.y = x; /* residual: y is a */
        k_ew(b_add, &a, n);
        CHECK_MSG(max_rel(x, ref, n) == 0, "add in place n %zu", n);
        free(x), free(r), free(ref), free(y);
    }
    size_t outer = 7, inner = 300;
    float *x = rvec(outer * inner, 1.0f, &s), *r = rvec(inner, 1.0f, &s), *y = malloc(outer * inner * sizeof *y);
    kargs a = { .y = y, .x = x, .r = r, .rows = outer, .cols = inner };
    k_ew(b_add_bcast, &a, outer * inner);
    int good = 1;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) good &= y[o * inner + i] == x[o * inner + i] + r[i];
    CHECK(good);
    free(x), free(r), free(y);
}

static void test_conversions(void)
{
    /* every f16 value decodes as util/half.c's */
    int good = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        float a = cw_k_f16((unsigned short)h), b = cw_f16_to_f32((uint16_t)h);
        good &= (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
    }
    CHECK(good);
    /* bf16 rounding: bit-exact with util/half.c, ties and NaN included */
    uint64_t s = 4;
    good = 1;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t u = (uint32_t)(s >> 32);
        if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u; /* exact ties */
        float f;
        memcpy(&f, &u, sizeof f);
        uint16_t a = cw_k_to_bf16(f), b = cw_f32_to_bf16(f);
        good &= a == b || (isnan(f) && (a & 0x7fc0) == 0x7fc0 && (b & 0x7f80) == 0x7f80);
        good &= cw_k_bf16(b) == cw_bf16_to_f32(b) || isnan(f);
    }
    CHECK(good);
    /* the narrow kernel over a grid-strided range */
    size_t n = 3001;
    float *x = rvec(n, 100.0f, &s);
    unsigned short *y = malloc(n * sizeof *y);
    kargs a = { .y16 = y, .x = x, .dt = CW_K_BF16, .n = n };
    k_ew(b_narrow, &a, n);
    good = 1;
    for (size_t i = 0; i < n; i++) good &= y[i] == cw_f32_to_bf16(x[i]);
    CHECK(good);
    a.dt = CW_K_F16;
    k_ew(b_narrow, &a, n);
    good = 1;
    for (size_t i = 0; i < n; i++) good &= y[i] == cw_f32_to_f16(x[i]);
    CHECK(good);
    free(x), free(y);
}

static void test_gather(void)
{
    uint64_t s = 5;
    size_t rows = 11, d = 70;
    float *w = rvec(rows * d, 2.0f, &s), *sc = malloc(rows * sizeof *sc);
    uint16_t *w16 = malloc(rows * d * 2), *wb = malloc(rows * d * 2);
    int8_t *w8 = malloc(rows * d);
    for (size_t i = 0; i < rows * d; i++) {
        w16[i] = cw_f32_to_f16(w[i]), wb[i] = cw_f32_to_bf16(w[i]);
        w8[i] = (int8_t)(int)lrintf(w[i] * 60.0f);
    }
    for (size_t r = 0; r < rows; r++) sc[r] = 60.0f + (float)r;
    const void *tab[] = { w, w16, wb, w8 };
    int dts[] = { CW_K_F32, CW_K_F16, CW_K_BF16, CW_K_I8 };
    int ids[] = { 3, 0, 10, 3, 7 };
    size_t n = 5;
    float *y = malloc(rows * d * sizeof *y), *ref = malloc(rows * d * sizeof *ref);
    for (int t = 0; t < 4; t++) {
        size_t es = cw_dtype_size((cw_dtype)dts[t]);
        for (size_t i = 0; i < n; i++)
            cw_ref_to_f32(ref + i * d, (const char *)tab[t] + (size_t)ids[i] * d * es, (cw_dtype)dts[t],
                          dts[t] == CW_K_I8 ? sc[ids[i]] : 1.0f, d);
        kargs a = { .y = y, .table = tab[t], .dt = dts[t], .sc = sc, .ids = ids, .n = n, .d = d, .ld = d, .per = n };
        k_ew(b_gather, &a, n * d);
        CHECK_MSG(max_rel(y, ref, n * d) == 0, "embedding dtype %d", dts[t]);
        /* the whole table widened (ids NULL), as linear's WIDEN mode */
        for (size_t r = 0; r < rows; r++)
            cw_ref_to_f32(ref + r * d, (const char *)tab[t] + r * d * es, (cw_dtype)dts[t],
                          dts[t] == CW_K_I8 ? sc[r] : 1.0f, d);
        a = (kargs){ .y = y, .table = tab[t], .dt = dts[t], .sc = sc, .n = rows, .d = d, .ld = d, .per = rows };
        k_ew(b_gather, &a, rows * d);
        CHECK_MSG(max_rel(y, ref, rows * d) == 0, "widen dtype %d", dts[t]);
    }
    /* strided slabs (bf16 K/V of 2 sequences: rows of 24 of a 30-wide row, 4 rows a slab, slabs 150 apart) */
    size_t per = 4, dd = 24, ld = 30, bs = 150, nb = 2;
    uint16_t *kv = malloc((bs * nb) * 2);
    for (size_t i = 0; i < bs * nb; i++) kv[i] = cw_f32_to_bf16(frand(&s));
    kargs a = { .y = y, .table = kv, .dt = CW_K_BF16, .n = nb * per, .d = dd, .ld = ld, .per = per, .bstride = bs };
    k_ew(b_gather, &a, nb * per * dd);
    int good = 1;
    for (size_t b = 0; b < nb; b++)
        for (size_t r = 0; r < per; r++)
            for (size_t c = 0; c < dd; c++) good &= y[(b * per + r) * dd + c] == cw_bf16_to_f32(kv[b * bs + r * ld + c]);
    CHECK(good);
    free(w), free(sc), free(w16), free(wb), free(w8), free(y), free(ref), free(kv);
}

static void test_transpose_im2col(void)
{
    uint64_t s = 6;
    size_t shapes[][2] = { { 1, 1 }, { 33, 70 }, { 64, 32 }, { 5, 100 }, { 100, 3 } };
    for (size_t t = 0; t < 5; t++) {
        size_t r = shapes[t][0], c = shapes[t][1];
        float *x = rvec(r * c, 1.0f, &s), *y = malloc(r * c * sizeof *y);
        k_transpose(y, x, r, c);
        int good = 1;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++) good &= y[j * r + i] == x[i * c + j];
        CHECK_MSG(good, "transpose [%zu, %zu]", r, c);
        free(x), free(y);
    }
    for (size_t stride = 1; stride <= 2; stride++) {
        size_t c_in = 5, t_in = 37, t_out = (t_in - 1) / stride + 1, n = t_out * c_in * 3;
        float *x = rvec(c_in * t_in, 1.0f, &s), *y = malloc(n * sizeof *y);
        kargs a = { .y = y, .x = x, .c_in = c_in, .t_in = t_in, .t_out = t_out, .stride = stride };
        k_ew(b_im2col, &a, n);
        int good = 1;
        for (size_t t = 0; t < t_out; t++)
            for (size_t c = 0; c < c_in; c++)
                for (size_t j = 0; j < 3; j++) {
                    long pos = (long)(t * stride + j) - 1;
                    float want = pos >= 0 && pos < (long)t_in ? x[c * t_in + (size_t)pos] : 0.0f;
                    good &= y[t * c_in * 3 + c * 3 + j] == want;
                }
        CHECK_MSG(good, "im2col stride %zu", stride);
        free(x), free(y);
    }
}

/* ---- the ops replayed: plans + cuBLAS arguments + kernels --------------------------- */

/* cublasGemmStridedBatchedEx by its definition (column-major, op T when
 * trans), A and B of kernel dtype dt (F32, F16, BF16), float32 sums. */
static void host_gemm(const cw_cuda_gemm *g, int dt)
{
    for (size_t bi = 0; bi < g->batch; bi++) {
        const char *A = (const char *)g->a, *B = (const char *)g->b;
        size_t es = dt == CW_K_F32 ? 4 : 2;
        A += bi * g->stride_a * es, B += bi * g->stride_b * es;
        float *C = g->c + bi * g->stride_c;
        for (size_t j = 0; j < g->n; j++)
            for (size_t i = 0; i < g->m; i++) {
                double acc = 0;
                for (size_t l = 0; l < g->k; l++) {
                    size_t ia = g->trans_a ? l + i * g->lda : i + l * g->lda;
                    size_t ib = g->trans_b ? j + l * g->ldb : l + j * g->ldb;
                    acc += (double)cw_k_load(A, dt, ia, 1.0f) * cw_k_load(B, dt, ib, 1.0f);
                }
                C[i + j * g->ldc] = (float)acc;
            }
    }
}

/* host memory seen as a CUDA back-end buffer */
static cw_buf *hbuf(cw_cuda_buf *b, void *p, size_t bytes)
{
    *b = (cw_cuda_buf){ p, bytes, 0 };
    return (cw_buf *)(void *)b;
}

/* cuda_linear's sequence (cuda_backend.cu) on host memory */
static cw_status emu_linear(cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m, int lowp)
{
    cw_cuda_linear_plan p;
    cw_status s = cw_cuda_plan_linear(w, m, lowp, &p);
    if (s != CW_OK) return s;
    int ok = 1;
    float *py = cw_cuda_ref(y, m * w->rows, "y");
    const float *px = cw_cuda_ref(x, m * w->cols, "x"), *pb = cw_cuda_opt(bias, w->rows, "bias", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    char *scr = malloc(p.scratch ? p.scratch : 1);
    const void *a = cw_cuda_weight_ptr(w), *bx = px;
    int dt = CW_K_F32;
    if (p.mode == CW_CUDA_GEMM_WIDEN) {
        kargs k = { .y = (float *)(void *)scr, .table = a, .dt = (int)w->dtype,
                    .sc = w->dtype == CW_DTYPE_I8 ? ((cw_cuda_buf *)(void *)w->scale)->dev : NULL,
                    .n = w->rows, .d = w->cols, .ld = w->cols, .per = w->rows };
        k_ew(b_gather, &k, w->rows * w->cols);
        a = scr;
    } else if (p.mode == CW_CUDA_GEMM_HALF) {
        kargs k = { .y16 = (unsigned short *)(void *)(scr + p.widen_bytes), .x = px, .dt = (int)w->dtype,
                    .n = m * w->cols };
        k_ew(b_narrow, &k, m * w->cols);
        bx = k.y16, dt = (int)w->dtype;
    }
    cw_cuda_gemm g = cw_cuda_gemm_linear(py, bx, a, m, w->rows, w->cols);
    host_gemm(&g, dt);
    if (pb) {
        kargs k = { .y = py, .x = py, .r = pb, .rows = m, .cols = w->rows };
        k_ew(b_add_bcast, &k, m * w->rows);
    }
    free(scr);
    return CW_OK;
}

static cw_backend *cpu_ref(int lowp)
{
    cw_backend_params p = cw_backend_default_params();
    p.n_threads = 1;
    p.isa = CW_ISA_REF;
    p.lowp = lowp;
    cw_backend *be = NULL;
    CHECK(cw_backend_create(&p, &be) == CW_OK);
    return be;
}

static void test_linear_replayed(void)
{
    uint64_t s = 7;
    size_t M = 5, N = 37, K = 70;
    float *x = rvec(M * K, 1.0f, &s), *wf = rvec(N * K, 0.5f, &s), *bias = rvec(N, 1.0f, &s);
    float *y = malloc(M * N * sizeof *y), *ref = malloc(M * N * sizeof *ref), *sc = malloc(N * sizeof *sc);
    uint16_t *w16 = malloc(N * K * 2), *wb = malloc(N * K * 2);
    int8_t *w8 = malloc(N * K);
    for (size_t i = 0; i < N * K; i++) w16[i] = cw_f32_to_f16(wf[i]), wb[i] = cw_f32_to_bf16(wf[i]);
    for (size_t r = 0; r < N; r++) {
        sc[r] = 127.0f / 0.5f;
        for (size_t c = 0; c < K; c++) w8[r * K + c] = (int8_t)(int)lrintf(wf[r * K + c] * sc[r]);
    }
    struct { cw_dtype dt; const void *w; size_t es; int lowp; double tol; } c[] = {
        { CW_DTYPE_F32, wf, 4, 0, 1e-6 },  { CW_DTYPE_F16, w16, 2, 0, 1e-6 }, { CW_DTYPE_BF16, wb, 2, 0, 1e-6 },
        { CW_DTYPE_I8, w8, 1, 0, 1e-6 },   { CW_DTYPE_I8, w8, 1, 1, 1e-6 },   /* int8: widened either way */
        { CW_DTYPE_BF16, wb, 2, 1, 2e-2 }, { CW_DTYPE_F16, w16, 2, 1, 4e-3 }, /* x rounded to 16 bits */
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        cw_backend *be = cpu_ref(0); /* exact reference: the 16-bit cases' tolerance is x's rounding */
        const cw_backend_ops *op = be->ops;
        cw_buf *bx = NULL, *bw = NULL, *bb = NULL, *by = NULL, *bs = NULL;
        CHECK(op->buf_wrap(be, x, M * K * 4, &bx) == CW_OK && op->buf_wrap(be, c[t].w, N * K * c[t].es, &bw) == CW_OK &&
              op->buf_wrap(be, bias, N * 4, &bb) == CW_OK && op->buf_wrap(be, sc, N * 4, &bs) == CW_OK &&
              op->buf_alloc(be, M * N * 4, &by) == CW_OK);
        cw_weight w = { c[t].dt, N, K, bw, bs, 0, NULL };
        CHECK(op->linear(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &w, cw_ref_at(bb, 0), M) == CW_OK);
        CHECK(op->download(be, ref, by, 0, M * N * 4) == CW_OK);
        cw_cuda_buf hx, hw, hb, hy, hs;
        cw_weight wd = { c[t].dt, N, K, hbuf(&hw, (void *)c[t].w, N * K * c[t].es), hbuf(&hs, sc, N * 4), 0, NULL };
        CHECK(emu_linear(cw_ref_at(hbuf(&hy, y, M * N * 4), 0), cw_ref_at(hbuf(&hx, x, M * K * 4), 0), &wd,
                         cw_ref_at(hbuf(&hb, bias, N * 4), 0), M, c[t].lowp) == CW_OK);
        CHECK_MSG(max_rel(y, ref, M * N) < c[t].tol, "linear %s lowp %d: %g", cw_dtype_name(c[t].dt), c[t].lowp,
                  max_rel(y, ref, M * N));
        op->buf_free(be, bx), op->buf_free(be, bw), op->buf_free(be, bb), op->buf_free(be, by), op->buf_free(be, bs);
        cw_backend_free(be);
    }
    free(x), free(wf), free(bias), free(y), free(ref), free(sc), free(w16), free(wb), free(w8);
}

/* cuda_conv1d's sequence on host memory (F32 weight) */
static void test_conv_replayed(void)
{
    uint64_t s = 8;
    for (size_t stride = 1; stride <= 2; stride++) {
        size_t c_in = 6, t_in = 41, c_out = 35, t_out = (t_in - 1) / stride + 1;
        float *x = rvec(c_in * t_in, 1.0f, &s), *w = rvec(c_out * c_in * 3, 0.5f, &s), *bias = rvec(c_out, 1.0f, &s);
        float *y = malloc(c_out * t_out * 4), *ref = malloc(c_out * t_out * 4);
        cw_backend *be = cpu_ref(0);
        const cw_backend_ops *op = be->ops;
        cw_buf *bx = NULL, *bw = NULL, *bb = NULL, *by = NULL;
        CHECK(op->buf_wrap(be, x, c_in * t_in * 4, &bx) == CW_OK && op->buf_wrap(be, w, c_out * c_in * 12, &bw) == CW_OK &&
              op->buf_wrap(be, bias, c_out * 4, &bb) == CW_OK && op->buf_alloc(be, c_out * t_out * 4, &by) == CW_OK);
        cw_weight cw = { CW_DTYPE_F32, c_out, c_in * 3, bw, NULL, 0, NULL };
        CHECK(op->conv1d(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &cw, cw_ref_at(bb, 0), c_in, t_in, stride) == CW_OK);
        CHECK(op->download(be, ref, by, 0, c_out * t_out * 4) == CW_OK);
        /* replay */
        cw_cuda_buf hw;
        cw_weight wd = { CW_DTYPE_F32, c_out, c_in * 3, hbuf(&hw, w, c_out * c_in * 12), NULL, 0, NULL };
        cw_cuda_conv_plan p;
        CHECK(cw_cuda_plan_conv1d(&wd, c_in, t_in, stride, 0, &p) == CW_OK);
        CHECK_EQ_INT(p.t_out, t_out);
        char *scr = malloc(p.scratch);
        float *cols = (float *)(void *)scr, *z = (float *)(void *)(scr + p.cols_bytes);
        kargs k = { .y = cols, .x = x, .c_in = c_in, .t_in = t_in, .t_out = t_out, .stride = stride };
        k_ew(b_im2col, &k, t_out * c_in * 3);
        cw_cuda_gemm g = cw_cuda_gemm_linear(z, cols, w, t_out, c_out, c_in * 3);
        host_gemm(&g, CW_K_F32);
        k = (kargs){ .y = z, .x = z, .r = bias, .rows = t_out, .cols = c_out };
        k_ew(b_add_bcast, &k, t_out * c_out);
        k_transpose(y, z, t_out, c_out);
        CHECK_MSG(max_rel(y, ref, c_out * t_out) < 1e-6, "conv1d stride %zu: %g", stride, max_rel(y, ref, c_out * t_out));
        free(scr), free(x), free(w), free(bias), free(y), free(ref);
        op->buf_free(be, bx), op->buf_free(be, bw), op->buf_free(be, bb), op->buf_free(be, by);
        cw_backend_free(be);
    }
}

/* cuda_attention's sequence on host memory: per sequence, (bf16: widen K
 * and V), Q.K^T over the heads, the grouped softmax, P.V. */
static void emu_attention(const cw_attn *a)
{
    cw_cuda_attn_plan p;
    CHECK(cw_cuda_plan_attention(a, &p) == CW_OK);
    size_t H = a->n_head, hd = H * CW_HEAD_DIM;
    char *scr = malloc(p.scratch);
    float *S = (float *)(void *)scr, *kw = (float *)(void *)(scr + p.s_bytes);
    float *vw = (float *)(void *)(scr + p.s_bytes + p.kv_bytes / 2);
    for (size_t b = 0; b < a->n_batch; b++) {
        const float *qb = p.q + b * a->q_bstride, *kb, *vb;
        float *ob = p.o + b * a->o_bstride;
        size_t ldk = a->k_ld, ldv = a->v_ld;
        if (p.kv16) {
            kargs k = { .y = kw, .table = (const uint16_t *)p.k + b * a->k_bstride, .dt = CW_K_BF16, .n = a->nkv,
                        .d = hd, .ld = a->k_ld, .per = a->nkv };
            k_ew(b_gather, &k, a->nkv * hd);
            k.y = vw, k.table = (const uint16_t *)p.v + b * a->v_bstride, k.ld = a->v_ld;
            k_ew(b_gather, &k, a->nkv * hd);
            kb = kw, vb = vw, ldk = ldv = hd;
        } else {
            kb = (const float *)p.k + b * a->k_bstride, vb = (const float *)p.v + b * a->v_bstride;
        }
        cw_cuda_gemm g = cw_cuda_gemm_attn_qk(S, qb, a->q_ld, kb, ldk, H, a->nq, a->nkv);
        host_gemm(&g, CW_K_F32);
        kargs k = { .y = S, .x = S, .rows = H * a->nq, .cols = a->nkv, .scale = a->scale, .causal = a->causal,
                    .offset = a->q_pos, .group = a->nq };
        k_row(b_softmax, &k);
        g = cw_cuda_gemm_attn_pv(ob, a->o_ld, S, vb, ldv, H, a->nq, a->nkv);
        host_gemm(&g, CW_K_F32);
    }
    free(scr);
}

static void test_attention_replayed(void)
{
    uint64_t s = 9;
    struct { size_t B, H, nq, nkv; int causal; size_t q_pos; int shared_kv, kv16; } c[] = {
        { 1, 1, 1, 1, 0, 0, 0, 0 },  { 2, 2, 3, 7, 1, 4, 0, 0 },  { 2, 3, 5, 9, 0, 0, 1, 0 },
        { 1, 2, 6, 6, 1, 0, 0, 0 },  { 2, 2, 3, 7, 1, 4, 0, 1 },  { 3, 2, 1, 40, 0, 0, 1, 1 },
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        size_t B = c[t].B, H = c[t].H, hd = H * 64, ld = hd + 8, nq = c[t].nq, nkv = c[t].nkv;
        size_t kv_b = c[t].shared_kv ? 0 : (nkv + 2) * ld, q_b = (nq + 1) * ld;
        size_t kv_n = (c[t].shared_kv ? 1 : B) * (nkv + 2) * ld, q_n = B * q_b;
        float *q = rvec(q_n, 1.0f, &s), *k = rvec(kv_n, 1.0f, &s), *v = rvec(kv_n, 1.0f, &s);
        float *o = calloc(q_n, 4), *ref = calloc(q_n, 4);
        uint16_t *k16 = malloc(kv_n * 2), *v16 = malloc(kv_n * 2);
        for (size_t i = 0; i < kv_n; i++) k16[i] = cw_f32_to_bf16(k[i]), v16[i] = cw_f32_to_bf16(v[i]);
        void *kp = c[t].kv16 ? (void *)k16 : (void *)k, *vp = c[t].kv16 ? (void *)v16 : (void *)v;
        size_t kv_bytes = kv_n * (c[t].kv16 ? 2 : 4);
        cw_attn a = { .n_batch = B, .n_head = H, .nq = nq, .nkv = nkv, .o_ld = ld, .o_bstride = q_b, .q_ld = ld,
                      .q_bstride = q_b, .k_ld = ld, .k_bstride = kv_b, .v_ld = ld, .v_bstride = kv_b, .scale = 0.125f,
                      .causal = c[t].causal, .q_pos = c[t].q_pos, .kv_dtype = c[t].kv16 ? CW_DTYPE_BF16 : CW_DTYPE_F32 };
        cw_backend *be = cpu_ref(0);
        const cw_backend_ops *op = be->ops;
        cw_buf *bq = NULL, *bk = NULL, *bv = NULL, *bo = NULL;
        CHECK(op->buf_wrap(be, q, q_n * 4, &bq) == CW_OK && op->buf_wrap(be, kp, kv_bytes, &bk) == CW_OK &&
              op->buf_wrap(be, vp, kv_bytes, &bv) == CW_OK && op->buf_wrap(be, ref, q_n * 4, &bo) == CW_OK);
        a.o = cw_ref_at(bo, 0), a.q = cw_ref_at(bq, 0), a.k = cw_ref_at(bk, 0), a.v = cw_ref_at(bv, 0);
        CHECK(op->attention(be, &a) == CW_OK);
        cw_cuda_buf hq, hk, hv, ho;
        a.o = cw_ref_at(hbuf(&ho, o, q_n * 4), 0), a.q = cw_ref_at(hbuf(&hq, q, q_n * 4), 0);
        a.k = cw_ref_at(hbuf(&hk, kp, kv_bytes), 0), a.v = cw_ref_at(hbuf(&hv, vp, kv_bytes), 0);
        emu_attention(&a);
        CHECK_MSG(max_rel(o, ref, q_n) < 1e-5, "attention case %zu: %g", t, max_rel(o, ref, q_n));
        op->buf_free(be, bq), op->buf_free(be, bk), op->buf_free(be, bv), op->buf_free(be, bo);
        cw_backend_free(be);
        free(q), free(k), free(v), free(o), free(ref), free(k16), free(v16);
    }
}

int main(void)
{
    RUN(test_layernorm);
    RUN(test_softmax);
    RUN(test_elementwise);
    RUN(test_conversions);
    RUN(test_gather);
    RUN(test_transpose_im2col);
    RUN(test_linear_replayed);
    RUN(test_conv_replayed);
    RUN(test_attention_replayed);
    return test_summary();
}
