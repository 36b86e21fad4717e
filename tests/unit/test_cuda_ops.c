/* Every op of the CUDA back end against the CPU back end, through the op
 * table only (what src/nn sees): on a machine with a usable GPU (cc >= 8.0,
 * driver, cuBLAS). Without one it says why and passes as skipped: there is
 * nothing to run. bench/gpu/run.sh runs it on the lent GPU machine and
 * reports its lines. Tolerances: max |gpu - cpu| / (1 + |cpu|) per op, fp32
 * ops as the CPU's SIMD-vs-reference tests allow, the 16-bit tensor-core
 * products as the CPU's lowp mode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/half.h"
#include "test.h"

static cw_backend *cpu, *gpu, *gpu_lowp;

static float frand(uint64_t *s)
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

static double max_rel(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= m)) m = d;
    }
    return m;
}

/* a buffer of `bytes` holding host data on back end be */
static cw_buf *put(cw_backend *be, const void *host, size_t bytes)
{
    cw_buf *b = NULL;
    CHECK(be->ops->buf_alloc(be, bytes, &b) == CW_OK);
    if (b && host && bytes) CHECK(be->ops->upload(be, b, 0, host, bytes) == CW_OK);
    return b;
}

static void get(cw_backend *be, void *host, cw_buf *b, size_t bytes)
{
    CHECK(be->ops->download(be, host, b, 0, bytes) == CW_OK);
}

/* One pair of buffers: the same host data on the CPU and on the GPU back end. */
typedef struct { cw_buf *c, *g; } pair;

static pair both(cw_backend *c, cw_backend *g, const void *host, size_t bytes)
{
    return (pair){ put(c, host, bytes), put(g, host, bytes) };
}

static void drop(cw_backend *c, cw_backend *g, pair p)
{
    c->ops->buf_free(c, p.c);
    g->ops->buf_free(g, p.g);
}

/* the results of pair p compared over n floats */
static double diff(cw_backend *c, cw_backend *g, pair p, size_t n)
{
    float *a = malloc(n * 4), *b = malloc(n * 4);
    get(c, a, p.c, n * 4);
    get(g, b, p.g, n * 4);
    double d = max_rel(b, a, n);
    free(a), free(b);
    return d;
}

static void test_linear(void)
{
    uint64_t s = 11;
    size_t shapes[][3] = { { 1, 51, 70 }, { 5, 384, 384 }, { 67, 100, 1536 }, { 3, 1, 1 } };
    for (size_t t = 0; t < 4; t++) {
        size_t M = shapes[t][0], N = shapes[t][1], K = shapes[t][2];
        float *x = rvec(M * K, 1.0f, &s), *wf = rvec(N * K, 0.1f, &s), *bias = rvec(N, 1.0f, &s), *sc = malloc(N * 4);
        uint16_t *w16 = malloc(N * K * 2), *wb = malloc(N * K * 2);
        int8_t *w8 = malloc(N * K);
        for (size_t i = 0; i < N * K; i++) w16[i] = cw_f32_to_f16(wf[i]), wb[i] = cw_f32_to_bf16(wf[i]);
        for (size_t r = 0; r < N; r++) {
            sc[r] = 1270.0f;
            for (size_t c = 0; c < K; c++) w8[r * K + c] = (int8_t)(int)lrintf(wf[r * K + c] * sc[r]);
        }
        struct { cw_dtype dt; const void *w; size_t es; int lowp; double tol; } c[] = {
            { CW_DTYPE_F32, wf, 4, 0, 1e-5 },  { CW_DTYPE_F16, w16, 2, 0, 1e-5 },  { CW_DTYPE_BF16, wb, 2, 0, 1e-5 },
            { CW_DTYPE_I8, w8, 1, 0, 1e-5 },   { CW_DTYPE_BF16, wb, 2, 1, 1e-2 },  { CW_DTYPE_F16, w16, 2, 1, 2e-3 },
            { CW_DTYPE_I8, w8, 1, 1, 2e-2 },
        };
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
            cw_backend *C = cpu, *G = c[k].lowp ? gpu_lowp : gpu;
            pair px = both(C, G, x, M * K * 4), pw = both(C, G, c[k].w, N * K * c[k].es), pb = both(C, G, bias, N * 4);
            pair ps = both(C, G, sc, N * 4), py = both(C, G, NULL, M * N * 4);
            cw_weight wc = { c[k].dt, N, K, pw.c, ps.c, 0, NULL }, wg = { c[k].dt, N, K, pw.g, ps.g, 0, NULL };
            CHECK(C->ops->linear(C, cw_ref_at(py.c, 0), cw_ref_at(px.c, 0), &wc, cw_ref_at(pb.c, 0), M) == CW_OK);
            CHECK(G->ops->linear(G, cw_ref_at(py.g, 0), cw_ref_at(px.g, 0), &wg, cw_ref_at(pb.g, 0), M) == CW_OK);
            double d = diff(C, G, py, M * N);
            CHECK_MSG(d < c[k].tol, "linear [%zu,%zu]x[%zu,%zu] %s lowp %d: %g (tol %g)", M, K, N, K,
                      cw_dtype_name(c[k].dt), c[k].lowp, d, c[k].tol);
            /* out of range: refused as on the CPU */
            CHECK(G->ops->linear(G, cw_ref_at(py.g, 1), cw_ref_at(px.g, 0), &wg, cw_ref_none(), M) == CW_ERR_INVALID_ARG);
            drop(C, G, px), drop(C, G, pw), drop(C, G, pb), drop(C, G, ps), drop(C, G, py);
        }
        free(x), free(wf), free(bias), free(sc), free(w16), free(wb), free(w8);
    }
}

static void test_conv1d(void)
{
    uint64_t s = 12;
    for (size_t stride = 1; stride <= 2; stride++)
        for (int f16 = 0; f16 < 2; f16++) {
            size_t c_in = 80, t_in = 301, c_out = 384, t_out = (t_in - 1) / stride + 1, K = c_in * 3;
            float *x = rvec(c_in * t_in, 1.0f, &s), *w = rvec(c_out * K, 0.1f, &s), *bias = rvec(c_out, 1.0f, &s);
            uint16_t *w16 = malloc(c_out * K * 2);
            for (size_t i = 0; i < c_out * K; i++) w16[i] = cw_f32_to_f16(w[i]);
            pair px = both(cpu, gpu, x, c_in * t_in * 4), pb = both(cpu, gpu, bias, c_out * 4);
            pair pw = both(cpu, gpu, f16 ? (void *)w16 : (void *)w, c_out * K * (f16 ? 2 : 4));
            pair py = both(cpu, gpu, NULL, c_out * t_out * 4);
            cw_dtype dt = f16 ? CW_DTYPE_F16 : CW_DTYPE_F32;
            cw_weight wc = { dt, c_out, K, pw.c, NULL, 0, NULL }, wg = { dt, c_out, K, pw.g, NULL, 0, NULL };
            CHECK(cpu->ops->conv1d(cpu, cw_ref_at(py.c, 0), cw_ref_at(px.c, 0), &wc, cw_ref_at(pb.c, 0), c_in, t_in, stride) == CW_OK);
            CHECK(gpu->ops->conv1d(gpu, cw_ref_at(py.g, 0), cw_ref_at(px.g, 0), &wg, cw_ref_at(pb.g, 0), c_in, t_in, stride) == CW_OK);
            double d = diff(cpu, gpu, py, c_out * t_out);
            CHECK_MSG(d < 1e-5, "conv1d stride %zu %s: %g", stride, cw_dtype_name(dt), d);
            drop(cpu, gpu, px), drop(cpu, gpu, pb), drop(cpu, gpu, pw), drop(cpu, gpu, py);
            free(x), free(w), free(bias), free(w16);
        }
}

static void test_attention(void)
{
    uint64_t s = 13;
    struct { size_t B, H, nq, nkv; int causal; size_t q_pos; int shared, kv16; } c[] = {
        { 1, 6, 1500, 1500, 0, 0, 0, 0 }, { 5, 6, 1, 37, 1, 36, 0, 0 }, { 5, 6, 3, 3, 1, 0, 0, 0 },
        { 5, 8, 1, 1500, 0, 0, 1, 0 },    { 5, 8, 1, 1500, 0, 0, 1, 1 }, { 2, 6, 4, 20, 1, 16, 0, 1 },
        { 2, 2, 3, 0, 0, 0, 0, 0 },
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        size_t B = c[t].B, H = c[t].H, ld = H * 64, nq = c[t].nq, nkv = c[t].nkv, n_ctx = nkv + 5;
        size_t q_n = B * nq * ld, kv_n = (c[t].shared ? 1 : B) * n_ctx * ld;
        float *q = rvec(q_n, 1.0f, &s), *k = rvec(kv_n, 1.0f, &s), *v = rvec(kv_n, 1.0f, &s);
        uint16_t *k16 = malloc(kv_n * 2 + 2), *v16 = malloc(kv_n * 2 + 2);
        for (size_t i = 0; i < kv_n; i++) k16[i] = cw_f32_to_bf16(k[i]), v16[i] = cw_f32_to_bf16(v[i]);
        size_t kvb = c[t].kv16 ? kv_n * 2 : kv_n * 4;
        pair pq = both(cpu, gpu, q, q_n * 4), po = both(cpu, gpu, NULL, q_n * 4);
        pair pk = both(cpu, gpu, c[t].kv16 ? (void *)k16 : (void *)k, kvb);
        pair pv = both(cpu, gpu, c[t].kv16 ? (void *)v16 : (void *)v, kvb);
        cw_attn a = { .n_batch = B, .n_head = H, .nq = nq, .nkv = nkv, .o_ld = ld, .o_bstride = nq * ld, .q_ld = ld,
                      .q_bstride = nq * ld, .k_ld = ld, .k_bstride = c[t].shared ? 0 : n_ctx * ld, .v_ld = ld,
                      .v_bstride = c[t].shared ? 0 : n_ctx * ld, .scale = 0.125f, .causal = c[t].causal,
                      .q_pos = c[t].q_pos, .kv_dtype = c[t].kv16 ? CW_DTYPE_BF16 : CW_DTYPE_F32 };
        cw_attn ac = a, ag = a;
        ac.o = cw_ref_at(po.c, 0), ac.q = cw_ref_at(pq.c, 0), ac.k = cw_ref_at(pk.c, 0), ac.v = cw_ref_at(pv.c, 0);
        ag.o = cw_ref_at(po.g, 0), ag.q = cw_ref_at(pq.g, 0), ag.k = cw_ref_at(pk.g, 0), ag.v = cw_ref_at(pv.g, 0);
        CHECK(cpu->ops->attention(cpu, &ac) == CW_OK);
        CHECK(gpu->ops->attention(gpu, &ag) == CW_OK);
        double d = diff(cpu, gpu, po, q_n);
        CHECK_MSG(d < 1e-5, "attention case %zu (B %zu H %zu nq %zu nkv %zu%s%s): %g", t, B, H, nq, nkv,
                  c[t].causal ? " causal" : "", c[t].kv16 ? " bf16 K/V" : "", d);
        drop(cpu, gpu, pq), drop(cpu, gpu, po), drop(cpu, gpu, pk), drop(cpu, gpu, pv);
        free(q), free(k), free(v), free(k16), free(v16);
    }
}

static void test_rowwise_elementwise(void)
{
    uint64_t s = 14;
    size_t rows = 37, cols = 1280, n = rows * cols;
    float *x = rvec(n, 4.0f, &s), *g = rvec(cols, 1.0f, &s), *b = rvec(cols, 1.0f, &s), *r = rvec(n, 1.0f, &s);
    pair px = both(cpu, gpu, x, n * 4), pg = both(cpu, gpu, g, cols * 4), pb = both(cpu, gpu, b, cols * 4);
    pair pr = both(cpu, gpu, r, n * 4), py = both(cpu, gpu, NULL, n * 4);
    cw_backend *be[2] = { cpu, gpu };
    for (int i = 0; i < 2; i++) {
        cw_buf *X = i ? px.g : px.c, *G = i ? pg.g : pg.c, *Bt = i ? pb.g : pb.c, *Y = i ? py.g : py.c;
        CHECK(be[i]->ops->layernorm(be[i], cw_ref_at(Y, 0), cw_ref_at(X, 0), cw_ref_at(G, 0), cw_ref_at(Bt, 0), rows, cols, 1e-5f) == CW_OK);
    }
    CHECK_MSG(diff(cpu, gpu, py, n) < 1e-5, "layernorm: %g", diff(cpu, gpu, py, n));
    cw_mask masks[] = { { 0, 0, 0 }, { 1, 3, 0 }, { 0, 0, 700 }, { 1, 100, 900 } };
    for (int m = 0; m < 4; m++) {
        for (int i = 0; i < 2; i++) {
            cw_buf *X = i ? px.g : px.c, *Y = i ? py.g : py.c;
            CHECK(be[i]->ops->softmax(be[i], cw_ref_at(Y, 0), cw_ref_at(X, 0), rows, cols, 0.7f, m ? &masks[m] : NULL) == CW_OK);
        }
        CHECK_MSG(diff(cpu, gpu, py, n) < 1e-5, "softmax mask %d: %g", m, diff(cpu, gpu, py, n));
    }
    for (int i = 0; i < 2; i++) {
        cw_buf *X = i ? px.g : px.c, *R = i ? pr.g : pr.c, *Y = i ? py.g : py.c;
        CHECK(be[i]->ops->add(be[i], cw_ref_at(Y, 0), cw_ref_at(X, 0), cw_ref_at(R, 0), n) == CW_OK);
        CHECK(be[i]->ops->add_bcast(be[i], cw_ref_at(Y, 0), cw_ref_at(Y, 0), cw_ref_at(R, 5), rows, cols) == CW_OK);
        CHECK(be[i]->ops->gelu(be[i], cw_ref_at(Y, 3), n - 3) == CW_OK);
    }
    CHECK_MSG(diff(cpu, gpu, py, n) < 1e-5, "add, add_bcast, gelu: %g", diff(cpu, gpu, py, n));
    drop(cpu, gpu, px), drop(cpu, gpu, pg), drop(cpu, gpu, pb), drop(cpu, gpu, pr), drop(cpu, gpu, py);
    free(x), free(g), free(b), free(r);
}

static void test_gathers_copies(void)
{
    uint64_t s = 15;
    size_t rows = 300, d = 384;
    float *w = rvec(rows * d, 1.0f, &s), *sc = malloc(rows * 4);
    uint16_t *w16 = malloc(rows * d * 2), *wb = malloc(rows * d * 2);
    int8_t *w8 = malloc(rows * d);
    for (size_t i = 0; i < rows * d; i++) {
        w16[i] = cw_f32_to_f16(w[i]), wb[i] = cw_f32_to_bf16(w[i]);
        w8[i] = (int8_t)(int)lrintf(w[i] * 100.0f);
    }
    for (size_t r = 0; r < rows; r++) sc[r] = 100.0f;
    const void *tab[] = { w, w16, wb, w8 };
    cw_dtype dts[] = { CW_DTYPE_F32, CW_DTYPE_F16, CW_DTYPE_BF16, CW_DTYPE_I8 };
    int32_t ids[] = { 5, 299, 0, 5, 17, 123 };
    for (int t = 0; t < 4; t++) {
        pair pt = both(cpu, gpu, tab[t], rows * d * cw_dtype_size(dts[t])), ps = both(cpu, gpu, sc, rows * 4);
        pair py = both(cpu, gpu, NULL, 6 * d * 4);
        cw_weight wc = { dts[t], rows, d, pt.c, ps.c, 0, NULL }, wg = { dts[t], rows, d, pt.g, ps.g, 0, NULL };
        CHECK(cpu->ops->embedding(cpu, cw_ref_at(py.c, 0), &wc, ids, 6) == CW_OK);
        CHECK(gpu->ops->embedding(gpu, cw_ref_at(py.g, 0), &wg, ids, 6) == CW_OK);
        CHECK_MSG(diff(cpu, gpu, py, 6 * d) == 0, "embedding %s", cw_dtype_name(dts[t]));
        int32_t bad = 300;
        CHECK_FAILS(gpu->ops->embedding(gpu, cw_ref_at(py.g, 0), &wg, &bad, 1), CW_ERR_INVALID_ARG, "outside");
        drop(cpu, gpu, pt), drop(cpu, gpu, ps), drop(cpu, gpu, py);
    }
    /* copy2d (also overlapping, as the CPU's memmove), transpose, narrow */
    pair px = both(cpu, gpu, w, rows * d * 4), py = both(cpu, gpu, w, rows * d * 4);
    cw_backend *be[2] = { cpu, gpu };
    for (int i = 0; i < 2; i++) {
        cw_buf *X = i ? px.g : px.c, *Y = i ? py.g : py.c;
        CHECK(be[i]->ops->copy2d(be[i], cw_ref_at(Y, 7), 400, cw_ref_at(X, 3), 384, 50, 100) == CW_OK);
        CHECK(be[i]->ops->copy2d(be[i], cw_ref_at(Y, 10), 384, cw_ref_at(Y, 0), 384, 100, 384) == CW_OK);
    }
    CHECK_MSG(diff(cpu, gpu, py, rows * d) == 0, "copy2d");
    for (int i = 0; i < 2; i++) {
        cw_buf *X = i ? px.g : px.c, *Y = i ? py.g : py.c;
        CHECK(be[i]->ops->transpose(be[i], cw_ref_at(Y, 0), cw_ref_at(X, 1), 299, 383) == CW_OK);
    }
    CHECK_MSG(diff(cpu, gpu, py, 299 * 383) == 0, "transpose");
    for (int i = 0; i < 2; i++) {
        cw_buf *X = i ? px.g : px.c, *Y = i ? py.g : py.c;
        CHECK(be[i]->ops->narrow(be[i], cw_ref_at(Y, 2), CW_DTYPE_BF16, cw_ref_at(X, 0), 1001) == CW_OK);
    }
    CHECK_MSG(diff(cpu, gpu, py, rows * d) == 0, "narrow (compared as floats: bit patterns)");
    drop(cpu, gpu, px), drop(cpu, gpu, py);
    free(w), free(sc), free(w16), free(wb), free(w8);
}

int main(void)
{
    /* CW_TEST_CUDA_OPS_ON_CPU=1: the CPU's fast kernels stand in for the GPU,
     * a check of this test itself on machines without one */
    int stand_in = getenv("CW_TEST_CUDA_OPS_ON_CPU") && atoi(getenv("CW_TEST_CUDA_OPS_ON_CPU"));
    if (!stand_in && cw_backend_probe(CW_BACKEND_CUDA, 0) != CW_OK) {
        printf("skipped: %s\n", cw_last_error());
        return 0;
    }
    cw_backend_params p = cw_backend_default_params();
    p.isa = CW_ISA_REF; /* the reference kernels: double sums */
    p.n_threads = 4;
    CHECK(cw_backend_create(&p, &cpu) == CW_OK);
    p = cw_backend_default_params();
    p.kind = stand_in ? CW_BACKEND_CPU : CW_BACKEND_CUDA;
    CHECK(cw_backend_create(&p, &gpu) == CW_OK);
    p.lowp = 1;
    CHECK(cw_backend_create(&p, &gpu_lowp) == CW_OK);
    if (!cpu || !gpu || !gpu_lowp) return test_summary();
    printf("GPU: %s\n", gpu->desc);
    RUN(test_linear);
    RUN(test_conv1d);
    RUN(test_attention);
    RUN(test_rowwise_elementwise);
    RUN(test_gathers_copies);
    cw_backend_free(cpu), cw_backend_free(gpu), cw_backend_free(gpu_lowp);
    return test_summary();
}
