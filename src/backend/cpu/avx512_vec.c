/* AVX-512 attention: the AVX2 algorithm (avx2_vec.c: S = Q.K^T over a block
 * of query rows, softmax, O = S.V) on the AVX-512 GEMM, whose packing is a
 * register transpose and which reads V in place; with the packing cheap, a
 * block of 8 tiles (112 query rows) keeps S [112, nkv] (660 KiB for
 * nkv = 1500) in L2 while halving the times K is packed per head. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#ifndef CW_AVX512_ATTN_BLOCK
#define CW_AVX512_ATTN_BLOCK 112
#endif
enum { CW_ATTN_BLOCK = CW_AVX512_ATTN_BLOCK };

const size_t cw_avx512_attn_block = CW_ATTN_BLOCK;

size_t cw_avx512_attn_scratch_floats(const cw_attn *a)
{
    cw_gemm g = { 0 };
    return (size_t)CW_ATTN_BLOCK * a->nkv + 16 + cw_avx512_gemm_scratch_floats(&g);
}

/* Query rows [i0, i1) (at most CW_ATTN_BLOCK) of head bh, as cw_avx2_attention. */
void cw_avx512_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, nb = i1 - i0;
    size_t ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    float *s = scratch, *gs = scratch + (size_t)CW_ATTN_BLOCK * a->nkv + 16;
    const float *q = p->q + b * a->q_bstride + i0 * a->q_ld + h * CW_HEAD_DIM;
    const float *k = p->k + b * a->k_bstride + h * CW_HEAD_DIM;
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    float *o = p->o + b * a->o_bstride + i0 * a->o_ld + h * CW_HEAD_DIM;
    if (ncols == 0) { /* every key masked: O = 0, as softmax gives all zeros */
        for (size_t i = 0; i < nb; i++)
            for (size_t d = 0; d < CW_HEAD_DIM; d++) o[i * a->o_ld + d] = 0.0f;
        return;
    }
    cw_gemm qk = { .m = nb, .n = ncols, .k = CW_HEAD_DIM, .a = q, .lda = a->q_ld, .b = k,
                   .ldb = a->k_ld, .bt = CW_DTYPE_F32, .c = s, .ldc = ncols };
    cw_avx512_gemm(&qk, 0, nb, 0, ncols, gs);
    cw_mask mask = { a->causal, a->q_pos, 0 };
    cw_avx2_softmax(s, s, i0, i1, ncols, a->scale, &mask);
    cw_gemm sv = { .m = nb, .n = CW_HEAD_DIM, .k = ncols, .a = s, .lda = ncols, .b = v,
                   .ldb = a->v_ld, .bt = CW_DTYPE_F32, .b_kn = 1, .c = o, .ldc = a->o_ld };
    cw_avx512_gemm(&sv, 0, nb, 0, CW_HEAD_DIM, gs);
}

#endif /* CW_HAVE_X86 */
