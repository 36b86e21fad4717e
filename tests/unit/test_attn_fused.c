/* The AVX-512 float32 attention's fused route (blocks of more than 8 query
 * rows: K panels kept per head, 8 rows through scores, softmax and P.V) is
 * meant to do the GEMM route's float operations in the GEMM's order. Here it
 * is compared bit for bit with that route written out (cw_avx512_gemm for
 * Q.K^T, cw_avx2_softmax, cw_avx512_gemm for P.V) on encoder, causal-prompt
 * and edge shapes, item by item with and without the kept K panels
 * (call_id), and through the back end with 1 and 2 threads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_features.h"
#include "test.h"

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

#ifdef CW_HAVE_X86
/* The GEMM route for rows [i0, i1) of head bh (all float32 K/V). */
static void gemm_route(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *s, float *gs)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, nb = i1 - i0, ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    float *o = p->o + b * a->o_bstride + i0 * a->o_ld + h * CW_HEAD_DIM;
    cw_gemm qk = { .m = nb, .n = ncols, .k = CW_HEAD_DIM, .a = p->q + b * a->q_bstride + i0 * a->q_ld + h * 64,
                   .lda = a->q_ld, .b = p->k + b * a->k_bstride + h * 64, .ldb = a->k_ld, .bt = CW_DTYPE_F32,
                   .c = s, .ldc = ncols };
    cw_avx512_gemm(&qk, 0, nb, 0, ncols, gs);
    cw_mask mask = { a->causal, a->q_pos, 0 };
    cw_avx2_softmax(s, s, i0, i1, ncols, a->scale, &mask);
    cw_gemm sv = { .m = nb, .n = CW_HEAD_DIM, .k = ncols, .a = s, .lda = ncols, .b = p->v + b * a->v_bstride + h * 64,
                   .ldb = a->v_ld, .bt = CW_DTYPE_F32, .b_kn = 1, .c = o, .ldc = a->o_ld };
    cw_avx512_gemm(&sv, 0, nb, 0, CW_HEAD_DIM, gs);
}

static cw_buf *up(cw_backend *be, const void *x, size_t bytes)
{
    cw_buf *b = NULL;
    CHECK(be->ops->buf_alloc(be, bytes, &b) == CW_OK);
    CHECK(be->ops->upload(be, b, 0, x, bytes) == CW_OK);
    return b;
}
#endif

static void test_fused_equals_gemm_route(void)
{
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) {
        printf("  skipped: avx512 attention (no AVX-512 F/BW/VL/DQ)\n");
        return;
    }
    static const struct { size_t B, H, nq, nkv; int causal; size_t q_pos; } cases[] = {
        { 1, 2, 1500, 1500, 0, 0 }, /* the encoder: 13 blocks of 112 and one of 44 */
        { 2, 3, 200, 200, 1, 0 },   /* a decoder prompt */
        { 1, 2, 120, 300, 1, 180 }, /* a prompt after a kept cache */
        { 2, 1, 9, 33, 0, 0 },      { 1, 1, 17, 1, 0, 0 }, { 1, 2, 130, 385, 0, 0 }, { 1, 1, 113, 769, 1, 656 },
    };
    cw_backend *be[2] = { 0 };
    cw_backend_params bp = cw_backend_default_params();
    bp.isa = CW_ISA_AUTO;
    for (int t = 0; t < 2; t++) {
        bp.n_threads = t + 1;
        CHECK(cw_backend_create(&bp, &be[t]) == CW_OK);
    }
    uint64_t s = 3;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        size_t B = cases[ci].B, H = cases[ci].H, nq = cases[ci].nq, nkv = cases[ci].nkv, hd = H * 64;
        size_t ld = hd + 64, qbs = nq * ld + 64, kvbs = nkv * hd + 64, nq_f = B * qbs, kv_f = B * kvbs;
        float *q = malloc(nq_f * 4), *k = malloc(kv_f * 4), *v = malloc(kv_f * 4);
        for (size_t i = 0; i < nq_f; i++) q[i] = frand(&s) * 2.0f;
        for (size_t i = 0; i < kv_f; i++) k[i] = frand(&s), v[i] = frand(&s);
        cw_attn a = { .n_batch = B, .n_head = H, .nq = nq, .nkv = nkv, .o_ld = ld, .o_bstride = qbs, .q_ld = ld,
                      .q_bstride = qbs, .k_ld = hd, .k_bstride = kvbs, .v_ld = hd, .v_bstride = kvbs,
                      .scale = 0.125f, .causal = cases[ci].causal, .q_pos = cases[ci].q_pos };
        float *want = calloc(nq_f, 4), *got = calloc(nq_f, 4), *got_kept = calloc(nq_f, 4);
        size_t per = cw_avx512_attn_scratch_floats(&a) + 32;
        float *scr = calloc(per, 4), *scr2 = calloc(per, 4);
        float *al = (float *)(((uintptr_t)scr + 63) & ~(uintptr_t)63), *al2 = (float *)(((uintptr_t)scr2 + 63) & ~(uintptr_t)63);
        cw_attn_ptrs pw = { .a = &a, .o = want, .q = q, .k = k, .v = v, .call_id = 0 }, pg = { .a = &a, .o = got, .q = q, .k = k, .v = v, .call_id = 0 };
        cw_attn_ptrs pk = { .a = &a, .o = got_kept, .q = q, .k = k, .v = v, .call_id = 7 }; /* call 7: K panels kept between items */
        size_t blk = cw_avx512_attn_block, nfused = 0;
        for (size_t bh = 0; bh < B * H; bh++)
            for (size_t i0 = 0; i0 < nq; i0 += blk) {
                size_t i1 = i0 + blk < nq ? i0 + blk : nq;
                if (i1 - i0 > cw_avx512_gemv_max_m) {
                    gemm_route(&pw, bh, i0, i1, al, al + (size_t)blk * nkv + 16);
                    nfused++;
                } else {
                    cw_avx512_attention(&pw, bh, i0, i1, al);
                }
                cw_avx512_attention(&pg, bh, i0, i1, al);
                cw_avx512_attention(&pk, bh, i0, i1, al2);
            }
        CHECK(nfused > 0);
        CHECK_MSG(memcmp(want, got, nq_f * 4) == 0, "case %zu: fused route differs from the GEMM route", ci);
        CHECK_MSG(memcmp(want, got_kept, nq_f * 4) == 0, "case %zu: with kept K panels", ci);
        for (int t = 0; t < 2; t++) {
            cw_buf *bq = up(be[t], q, nq_f * 4), *bk = up(be[t], k, kv_f * 4), *bv = up(be[t], v, kv_f * 4);
            cw_buf *bo = up(be[t], got, nq_f * 4); /* the same padding values */
            cw_attn ab = a;
            ab.o = cw_ref_at(bo, 0), ab.q = cw_ref_at(bq, 0), ab.k = cw_ref_at(bk, 0), ab.v = cw_ref_at(bv, 0);
            CHECK(be[t]->ops->attention(be[t], &ab) == CW_OK);
            CHECK(be[t]->ops->download(be[t], got, bo, 0, nq_f * 4) == CW_OK);
            if (strstr(be[t]->desc, "avx512"))
                CHECK_MSG(memcmp(want, got, nq_f * 4) == 0, "case %zu: back end, %d threads", ci, t + 1);
            be[t]->ops->buf_free(be[t], bq), be[t]->ops->buf_free(be[t], bk);
            be[t]->ops->buf_free(be[t], bv), be[t]->ops->buf_free(be[t], bo);
        }
        free(q), free(k), free(v), free(want), free(got), free(got_kept), free(scr), free(scr2);
    }
    for (int t = 0; t < 2; t++) cw_backend_free(be[t]);
#else
    printf("  skipped: avx512 attention (not x86)\n");
#endif
}

int main(void)
{
    RUN(test_fused_equals_gemm_route);
    return test_summary();
}
