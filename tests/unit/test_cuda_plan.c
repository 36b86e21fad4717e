/* The CUDA back end's host-side logic (src/backend/cuda/cuda_plan.c), which
 * is built on every machine: argument checks, scratch plans, the grow-only
 * scratch pool (no allocation per token), launch geometry; and the public
 * device selection (cw_device_parse / cw_device_check), which on a machine
 * without a usable GPU must refuse CUDA with a one-line reason. */
#include <stdint.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_plan.h"
#include "backend/cuda/kernels_geom.h"
#include "cwhisper.h"
#include "test.h"

/* fake device memory: addresses from 4096 on, never dereferenced */
static cw_buf *fbuf(cw_cuda_buf *b, size_t bytes)
{
    *b = (cw_cuda_buf){ (void *)(uintptr_t)4096, bytes, 0 };
    return (cw_buf *)(void *)b;
}

static void test_refs_and_weights(void)
{
    cw_cuda_buf b;
    cw_buf *buf = fbuf(&b, 400); /* 100 floats */
    CHECK(cw_cuda_ref(cw_ref_at(buf, 0), 100, "x") == (float *)(uintptr_t)4096);
    CHECK(cw_cuda_ref(cw_ref_at(buf, 60), 40, "x") == (float *)(uintptr_t)4096 + 60);
    CHECK(cw_cuda_ref(cw_ref_at(buf, 60), 41, "x") == NULL);
    CHECK(strstr(cw_last_error(), "x: 41 floats at 60 outside its buffer") != NULL);
    CHECK(cw_cuda_ref(cw_ref_at(buf, 101), 0, "x") == NULL);
    CHECK(cw_cuda_ref(cw_ref_at(buf, 1), SIZE_MAX, "x") == NULL);
    CHECK(cw_cuda_ref(cw_ref_none(), 1, "x") == NULL);
    int ok = 1;
    CHECK(cw_cuda_opt(cw_ref_none(), 5, "bias", &ok) == NULL && ok);
    CHECK(cw_cuda_opt(cw_ref_at(buf, 99), 5, "bias", &ok) == NULL && !ok);

    cw_cuda_buf wb, sb;
    cw_weight w = { CW_DTYPE_F16, 10, 20, fbuf(&wb, 400), NULL, 0, NULL };
    CHECK(cw_cuda_check_weight(&w) == CW_OK);
    w.offset = 2;
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "buffer holds 400 bytes");
    w.offset = 1;
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "not a multiple");
    w = (cw_weight){ CW_DTYPE_I8, 10, 40, fbuf(&wb, 400), NULL, 0, NULL };
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "lacks its 10 scales");
    w.scale = fbuf(&sb, 36);
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "scales");
    w.scale = fbuf(&sb, 40);
    CHECK(cw_cuda_check_weight(&w) == CW_OK);
    w.dtype = CW_DTYPE_I32;
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "dtype");
    w = (cw_weight){ CW_DTYPE_F32, SIZE_MAX / 2, 3, fbuf(&wb, 400), NULL, 0, NULL };
    CHECK_FAILS(cw_cuda_check_weight(&w), CW_ERR_INVALID_ARG, "too large");
}

static void test_linear_plans(void)
{
    cw_cuda_buf wb, sb;
    size_t N = 1536, K = 384, m = 3;
    cw_weight w = { CW_DTYPE_F32, N, K, fbuf(&wb, N * K * 4), NULL, 0, NULL };
    cw_cuda_linear_plan p;
    CHECK(cw_cuda_plan_linear(&w, m, 0, &p) == CW_OK && p.mode == CW_CUDA_GEMM_F32 && p.scratch == 0);
    CHECK(cw_cuda_plan_linear(&w, m, 1, &p) == CW_OK && p.mode == CW_CUDA_GEMM_F32);
    /* exact mode: 16-bit weights widened to float32 (the CPU's semantics) */
    w = (cw_weight){ CW_DTYPE_F16, N, K, fbuf(&wb, N * K * 2), NULL, 0, NULL };
    CHECK(cw_cuda_plan_linear(&w, m, 0, &p) == CW_OK && p.mode == CW_CUDA_GEMM_WIDEN);
    CHECK_EQ_INT(p.widen_bytes, N * K * 4);
    CHECK_EQ_INT(p.scratch, N * K * 4);
    /* lowp: x rounded to 16 bits, tensor cores; aligned parts */
    CHECK(cw_cuda_plan_linear(&w, m, 1, &p) == CW_OK && p.mode == CW_CUDA_GEMM_HALF);
    CHECK_EQ_INT(p.x16_bytes, cw_cuda_align(m * K * 2));
    CHECK_EQ_INT(p.x16_bytes % CW_CUDA_ALIGN, 0);
    w.dtype = CW_DTYPE_BF16;
    CHECK(cw_cuda_plan_linear(&w, m, 1, &p) == CW_OK && p.mode == CW_CUDA_GEMM_HALF);
    /* int8: widened in both modes */
    w = (cw_weight){ CW_DTYPE_I8, N, K, fbuf(&wb, N * K), fbuf(&sb, N * 4), 0, NULL };
    CHECK(cw_cuda_plan_linear(&w, m, 1, &p) == CW_OK && p.mode == CW_CUDA_GEMM_WIDEN);
    /* cuBLAS takes int sizes */
    CHECK_FAILS(cw_cuda_plan_linear(&w, (size_t)1 << 31, 0, &p), CW_ERR_INVALID_ARG, "cuBLAS");

    cw_cuda_conv_plan c;
    w = (cw_weight){ CW_DTYPE_F16, 384, 80 * 3, fbuf(&wb, 384 * 240 * 2), NULL, 0, NULL };
    CHECK(cw_cuda_plan_conv1d(&w, 80, 3000, 1, 0, &c) == CW_OK);
    CHECK_EQ_INT(c.t_out, 3000);
    CHECK_EQ_INT(c.cols_bytes, cw_cuda_align(3000 * 240 * 4));
    CHECK_EQ_INT(c.z_bytes, cw_cuda_align(3000 * 384 * 4));
    CHECK_EQ_INT(c.scratch, c.cols_bytes + c.z_bytes + c.lin.scratch);
    w.cols = 384 * 3;
    CHECK(cw_cuda_plan_conv1d(&w, 384, 3000, 2, 0, &c) == CW_ERR_INVALID_ARG); /* buffer too small */
    w.data = fbuf(&wb, 384 * 384 * 3 * 2);
    CHECK(cw_cuda_plan_conv1d(&w, 384, 3000, 2, 0, &c) == CW_OK);
    CHECK_EQ_INT(c.t_out, 1500);
    CHECK_FAILS(cw_cuda_plan_conv1d(&w, 384, 3000, 3, 0, &c), CW_ERR_INVALID_ARG, "stride 3");
    CHECK_FAILS(cw_cuda_plan_conv1d(&w, 383, 3000, 1, 0, &c), CW_ERR_INVALID_ARG, "c_in 383");
}

static cw_attn attn_of(cw_buf *o, cw_buf *q, cw_buf *k, cw_buf *v, size_t B, size_t H, size_t nq, size_t nkv,
                       size_t n_ctx)
{
    size_t ld = H * 64;
    return (cw_attn){ .n_batch = B, .n_head = H, .nq = nq, .nkv = nkv, .o = cw_ref_at(o, 0), .o_ld = ld,
                      .o_bstride = nq * ld, .q = cw_ref_at(q, 0), .q_ld = ld, .q_bstride = nq * ld,
                      .k = cw_ref_at(k, 0), .k_ld = ld, .k_bstride = n_ctx * ld, .v = cw_ref_at(v, 0), .v_ld = ld,
                      .v_bstride = n_ctx * ld, .scale = 0.125f };
}

static void test_attention_plans(void)
{
    cw_cuda_buf ob, qb, kb, vb;
    size_t B = 2, H = 6, nq = 3, n_ctx = 448, ld = 384;
    cw_buf *o = fbuf(&ob, B * nq * ld * 4), *q = fbuf(&qb, B * nq * ld * 4);
    cw_buf *k = fbuf(&kb, B * n_ctx * ld * 4), *v = fbuf(&vb, B * n_ctx * ld * 4);
    cw_attn a = attn_of(o, q, k, v, B, H, nq, 10, n_ctx);
    cw_cuda_attn_plan p;
    CHECK(cw_cuda_plan_attention(&a, &p) == CW_OK);
    CHECK(!p.kv16 && p.kv_bytes == 0);
    CHECK_EQ_INT(p.s_bytes, cw_cuda_align(H * nq * 10 * 4));
    CHECK(p.o == (float *)(uintptr_t)4096 && p.k == (const void *)(uintptr_t)4096);
    a.nkv = n_ctx; /* the whole cache */
    CHECK(cw_cuda_plan_attention(&a, &p) == CW_OK);
    a.nkv = n_ctx + 1;
    CHECK_FAILS(cw_cuda_plan_attention(&a, &p), CW_ERR_INVALID_ARG, "outside its buffer");
    a = attn_of(o, q, k, v, B, H, nq, 10, n_ctx);
    a.k_ld = 383;
    CHECK_FAILS(cw_cuda_plan_attention(&a, &p), CW_ERR_INVALID_ARG, "below H*64");
    a = attn_of(o, q, k, v, B, H, nq, 10, n_ctx);
    a.kv_dtype = CW_DTYPE_F16;
    CHECK_FAILS(cw_cuda_plan_attention(&a, &p), CW_ERR_INVALID_ARG, "neither F32 nor BF16");
    /* bf16 K/V: half the bytes suffice; K and V of one sequence widened */
    cw_cuda_buf kb16, vb16;
    cw_buf *k16 = fbuf(&kb16, B * n_ctx * ld * 2), *v16 = fbuf(&vb16, B * n_ctx * ld * 2);
    a = attn_of(o, q, k16, v16, B, H, nq, n_ctx, n_ctx);
    a.kv_dtype = CW_DTYPE_BF16;
    CHECK(cw_cuda_plan_attention(&a, &p) == CW_OK && p.kv16);
    CHECK_EQ_INT(p.kv_bytes, 2 * cw_cuda_align(n_ctx * ld * 4));
    a.kv_dtype = CW_DTYPE_F32;
    CHECK_FAILS(cw_cuda_plan_attention(&a, &p), CW_ERR_INVALID_ARG, "outside its buffer");
    /* shared cross K/V (bstride 0) need one sequence's worth */
    cw_cuda_buf xb;
    cw_buf *x = fbuf(&xb, 1500 * ld * 4);
    a = attn_of(o, q, x, x, B, H, nq, 1500, 0);
    CHECK(cw_cuda_plan_attention(&a, &p) == CW_OK);
}

/* ---- the pool ---------------------------------------------------------------------- */

typedef struct {
    size_t allocs, frees, live;
    int fail;
} counter;

static cw_status count_alloc(void *ctx, size_t bytes, void **out)
{
    counter *c = ctx;
    if (c->fail) return CW_ERR_NOMEM;
    c->allocs++;
    c->live += bytes;
    *out = malloc(1); /* a distinct address; the pool never touches it */
    return *out ? CW_OK : CW_ERR_NOMEM;
}

static void count_free(void *ctx, void *p)
{
    counter *c = ctx;
    c->frees++;
    free(p);
}

static void test_pool(void)
{
    counter c = { 0 };
    cw_cuda_pool p = { .alloc = count_alloc, .release = count_free, .ctx = &c };
    void *a = cw_cuda_pool_get(&p, 1000);
    CHECK(a && p.bytes == CW_CUDA_POOL_GRAIN && p.grows == 1);
    CHECK(cw_cuda_pool_get(&p, CW_CUDA_POOL_GRAIN) == a && p.grows == 1);
    CHECK(cw_cuda_pool_get(&p, 0) == a);
    void *b = cw_cuda_pool_get(&p, CW_CUDA_POOL_GRAIN + 1);
    CHECK(b && p.bytes == 2 * CW_CUDA_POOL_GRAIN && p.grows == 2 && c.frees == 1);
    c.fail = 1;
    CHECK(cw_cuda_pool_get(&p, 100 * CW_CUDA_POOL_GRAIN) == NULL);
    CHECK(strstr(cw_last_error(), "growing scratch") != NULL);
    CHECK(p.base == NULL && p.bytes == 0); /* the old one was freed first */
    c.fail = 0;
    CHECK(cw_cuda_pool_get(&p, SIZE_MAX - 5) == NULL);
    cw_cuda_pool_free(&p);
    CHECK_EQ_INT(c.allocs, c.frees);

    /* tiny.en's ops in their order, one 30 s window then 200 decoder steps
     * of 5 beams: the scratch grows during the first window only */
    counter d = { 0 };
    cw_cuda_pool q = { .alloc = count_alloc, .release = count_free, .ctx = &d };
    cw_cuda_buf wb, sb, ob, xb;
    size_t H = 6, dm = 384, n_audio = 1500, beams = 5, n_ctx = 448;
    cw_weight conv2 = { CW_DTYPE_F16, dm, dm * 3, fbuf(&wb, dm * dm * 3 * 2), NULL, 0, NULL };
    cw_weight fc1 = { CW_DTYPE_F16, 4 * dm, dm, fbuf(&wb, 4 * dm * dm * 2), NULL, 0, NULL };
    cw_weight logits = { CW_DTYPE_F16, 51864, dm, fbuf(&sb, 51864 * dm * 2), NULL, 0, NULL };
    cw_buf *big = fbuf(&ob, beams * n_ctx * dm * 4 * 4), *x = fbuf(&xb, n_audio * dm * 4);
    cw_cuda_conv_plan cp;
    cw_cuda_linear_plan lp;
    cw_cuda_attn_plan ap;
    size_t grows_after_window = 0;
    for (int step = -1; step < 200; step++) {
        if (step < 0) { /* encoder */
            CHECK(cw_cuda_plan_conv1d(&conv2, dm, 3000, 2, 0, &cp) == CW_OK && cw_cuda_pool_get(&q, cp.scratch));
            CHECK(cw_cuda_plan_linear(&fc1, n_audio, 0, &lp) == CW_OK && cw_cuda_pool_get(&q, lp.scratch));
            cw_attn a = attn_of(x, x, x, x, 1, H, n_audio, n_audio, n_audio);
            a.o_bstride = a.q_bstride = a.k_bstride = a.v_bstride = 0;
            CHECK(cw_cuda_plan_attention(&a, &ap) == CW_OK && cw_cuda_pool_get(&q, ap.scratch));
            grows_after_window = q.grows;
            continue;
        }
        size_t nq = step == 0 ? 3 : 1, nkv = 3 + (size_t)step;
        cw_attn self = attn_of(big, big, big, big, beams, H, nq, nkv, n_ctx);
        self.causal = 1, self.q_pos = nkv - nq;
        CHECK(cw_cuda_plan_attention(&self, &ap) == CW_OK && cw_cuda_pool_get(&q, ap.scratch));
        cw_attn cross = attn_of(big, big, x, x, beams, H, nq, n_audio, 0);
        CHECK(cw_cuda_plan_attention(&cross, &ap) == CW_OK && cw_cuda_pool_get(&q, ap.scratch));
        CHECK(cw_cuda_plan_linear(&fc1, beams * nq, 0, &lp) == CW_OK && cw_cuda_pool_get(&q, lp.scratch));
        CHECK(cw_cuda_plan_linear(&logits, beams, 0, &lp) == CW_OK && cw_cuda_pool_get(&q, lp.scratch));
        if (step == 0) grows_after_window = q.grows; /* the logits' widened weight is the biggest */
    }
    CHECK_EQ_INT(q.grows, grows_after_window);
    CHECK(q.grows <= 3);
    cw_cuda_pool_free(&q);
    CHECK_EQ_INT(d.allocs, d.frees);
}

static void test_geometry(void)
{
    CHECK_EQ_INT(cw_cuda_blocks(0, 256), 1);
    CHECK_EQ_INT(cw_cuda_blocks(1, 256), 1);
    CHECK_EQ_INT(cw_cuda_blocks(256, 256), 1);
    CHECK_EQ_INT(cw_cuda_blocks(257, 256), 2);
    CHECK_EQ_INT(cw_cuda_blocks(SIZE_MAX / 2, 256), (size_t)65535 * 32);
    unsigned b = 7;
    CHECK(cw_cuda_row_blocks(0, &b) == CW_OK && b == 0);
    CHECK(cw_cuda_row_blocks(5, &b) == CW_OK && b == 2);
    CHECK(cw_cuda_row_blocks(8, &b) == CW_OK && b == 2);
    CHECK_FAILS(cw_cuda_row_blocks(SIZE_MAX / 2, &b), CW_ERR_INVALID_ARG, "rows");
    CHECK_EQ_INT(cw_cuda_align(0), 0);
    CHECK_EQ_INT(cw_cuda_align(1), 256);
    CHECK_EQ_INT(cw_cuda_align(SIZE_MAX), SIZE_MAX);
}

/* The cuBLAS call arguments for the linear op and attention: shapes,
 * transposes, leading dimensions and strides (their meaning is checked on
 * the host by test_cuda_kernels' replays against the CPU back end). */
static void test_gemm_args(void)
{
    float *y = (float *)(uintptr_t)4096;
    cw_cuda_gemm g = cw_cuda_gemm_linear(y, y, y, 5, 1536, 384);
    CHECK(g.trans_a == 1 && g.trans_b == 0 && g.m == 1536 && g.n == 5 && g.k == 384);
    CHECK(g.lda == 384 && g.ldb == 384 && g.ldc == 1536 && g.batch == 1);
    g = cw_cuda_gemm_attn_qk(y, y, 400, y, 384, 6, 3, 10);
    CHECK(g.trans_a == 1 && g.m == 10 && g.n == 3 && g.k == 64 && g.lda == 384 && g.ldb == 400 && g.ldc == 10);
    CHECK(g.stride_a == 64 && g.stride_b == 64 && g.stride_c == 30 && g.batch == 6);
    g = cw_cuda_gemm_attn_pv(y, 400, y, y, 384, 6, 3, 10);
    CHECK(g.trans_a == 0 && g.trans_b == 0 && g.m == 64 && g.n == 3 && g.k == 10);
    CHECK(g.lda == 384 && g.ldb == 10 && g.ldc == 400 && g.stride_b == 30 && g.stride_c == 64 && g.batch == 6);
}

static void test_device_selection(void)
{
    cw_device d = CW_DEVICE_CUDA;
    int i = 9;
    CHECK(cw_device_parse("cpu", &d, &i) == CW_OK && d == CW_DEVICE_CPU && i == 0);
    CHECK(cw_device_parse("cuda", &d, &i) == CW_OK && d == CW_DEVICE_CUDA && i == 0);
    CHECK(cw_device_parse("cuda:3", &d, &i) == CW_OK && d == CW_DEVICE_CUDA && i == 3);
    const char *bad[] = { "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cuda:99999999999", "CUDA", "cudax", "" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK_FAILS(cw_device_parse(bad[k], &d, &i), CW_ERR_INVALID_ARG, "not cpu, cuda or cuda:N");
    CHECK_FAILS(cw_device_parse(NULL, &d, &i), CW_ERR_INVALID_ARG, "(null)");
    CHECK(cw_device_check(CW_DEVICE_CPU, 0) == CW_OK);
    CHECK_FAILS(cw_device_check(CW_DEVICE_CUDA, -1), CW_ERR_INVALID_ARG, "negative");
    CHECK_FAILS(cw_device_check((cw_device)7, 0), CW_ERR_INVALID_ARG, "not cpu or cuda");
    cw_context_params cp = cw_context_default_params();
    CHECK(cp.device == CW_DEVICE_CPU && cp.device_index == 0);
    /* where CUDA cannot run: every way in says why, in one line */
    if (cw_device_check(CW_DEVICE_CUDA, 0) != CW_OK) {
        const char *why = cw_last_error();
        printf("  CUDA unavailable here: %s\n", why);
        CHECK(strncmp(why, "CUDA: ", 6) == 0 && !strchr(why, '\n'));
        CHECK_FAILS(cw_device_check(CW_DEVICE_CUDA, 5), CW_ERR_UNSUPPORTED, "CUDA: ");
        cw_backend_params bp = cw_backend_default_params();
        bp.kind = CW_BACKEND_CUDA;
        cw_backend *be = (cw_backend *)&bp; /* must be set to NULL */
        CHECK_FAILS(cw_backend_create(&bp, &be), CW_ERR_UNSUPPORTED, "CUDA: ");
        CHECK(be == NULL);
    } else {
        printf("  a CUDA device is usable here\n");
    }
}

int main(void)
{
    RUN(test_refs_and_weights);
    RUN(test_linear_plans);
    RUN(test_attention_plans);
    RUN(test_pool);
    RUN(test_geometry);
    RUN(test_gemm_args);
    RUN(test_device_selection);
    return test_summary();
}
