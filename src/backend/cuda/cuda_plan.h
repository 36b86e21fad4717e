/* The CUDA back end's host-side logic, in plain C so that it is built and
 * unit-tested on every machine (tests/unit/test_cuda_plan.c), with or without
 * CUDA: the buffer struct, argument checks that turn cw_refs into device
 * addresses, the per-op scratch plans, the grow-only scratch pool and the
 * launch geometry. cuda_backend.cu only adds the CUDA calls. */
#ifndef CW_BACKEND_CUDA_PLAN_H
#define CW_BACKEND_CUDA_PLAN_H

#include <stddef.h>

#include "backend/backend.h"

/* What a cw_buf of the CUDA back end is. dev is a device address: this file
 * computes with it but never dereferences it. */
typedef struct {
    void *dev;
    size_t size;  /* bytes */
    int owned;    /* 1: freed with the buffer */
} cw_cuda_buf;

/* The device float address of r after checking that n floats from it lie in
 * its buffer; NULL (error set, naming `what`) if not. */
float *cw_cuda_ref(cw_ref r, size_t n, const char *what);
/* Like cw_cuda_ref, but an absent ref (buf NULL) gives NULL with *ok kept. */
const float *cw_cuda_opt(cw_ref r, size_t n, const char *what, int *ok);
/* w fits its buffer (and its scales) and has a dtype the ops take. */
cw_status cw_cuda_check_weight(const cw_weight *w);
const void *cw_cuda_weight_ptr(const cw_weight *w);

/* ---- scratch ------------------------------------------------------------------ */

/* Device scratch of one context: one allocation that only grows, to the
 * largest need of any op so far (rounded up to 2 MiB), so that once the
 * first window and the first decoder steps have run, no op allocates; the
 * allocator is a parameter so the tests can count calls. */
typedef struct {
    void *base;
    size_t bytes;
    size_t grows; /* allocations made so far */
    cw_status (*alloc)(void *ctx, size_t bytes, void **out);
    void (*release)(void *ctx, void *p); /* NULL is fine */
    void *ctx;
} cw_cuda_pool;

#define CW_CUDA_POOL_GRAIN ((size_t)2 << 20)
#define CW_CUDA_ALIGN ((size_t)256)

/* At least `bytes` of scratch (base address), or NULL (CW_ERR_NOMEM set). */
void *cw_cuda_pool_get(cw_cuda_pool *p, size_t bytes);
void cw_cuda_pool_free(cw_cuda_pool *p);
/* bytes rounded up to CW_CUDA_ALIGN (every scratch part starts aligned);
 * SIZE_MAX stays SIZE_MAX. */
size_t cw_cuda_align(size_t bytes);

/* ---- op plans ------------------------------------------------------------------ */

/* How a linear op multiplies (cuda/README.md):
 *   F32: W float32 as is, x float32, fp32 GEMM (parity);
 *   WIDEN: W (F16, BF16 or I8) widened to float32 in scratch, then fp32 GEMM:
 *          the CPU's exact mode (float32 activations, any weight);
 *   HALF: lowp with F16 / BF16 W: x rounded to W's type in scratch, tensor-core
 *          GEMM with float32 accumulation (the CPU lowp mode's bf16 product). */
typedef enum { CW_CUDA_GEMM_F32 = 0, CW_CUDA_GEMM_WIDEN, CW_CUDA_GEMM_HALF } cw_cuda_gemm_mode;

typedef struct {
    cw_cuda_gemm_mode mode;
    size_t widen_bytes; /* WIDEN: W as float32 */
    size_t x16_bytes;   /* HALF: x as 16-bit */
    size_t scratch;     /* both, aligned */
} cw_cuda_linear_plan;

/* y [m, N] = x [m, K] . W^T with w [N, K]; lowp: the back end's lowp flag.
 * CW_ERR_INVALID_ARG for a bad weight or sizes cuBLAS (int) cannot take. */
cw_status cw_cuda_plan_linear(const cw_weight *w, size_t m, int lowp, cw_cuda_linear_plan *p);

/* conv1d: cols [t_out, c_in*3] and Z [t_out, c_out] in scratch, then the
 * linear plan's part; t_out = (t_in - 1) / stride + 1. */
typedef struct {
    size_t t_out, cols_bytes, z_bytes;
    cw_cuda_linear_plan lin;
    size_t scratch;
} cw_cuda_conv_plan;
cw_status cw_cuda_plan_conv1d(const cw_weight *w, size_t c_in, size_t t_in, size_t stride, int lowp,
                              cw_cuda_conv_plan *p);

/* attention, one sequence at a time: scores S [H, nq, nkv] (float32), and
 * with bf16 K/V that sequence's K and V widened to float32 [nkv, H*64]
 * (the CPU's attn_item_widened). Resolves the device addresses. */
typedef struct {
    float *o;
    const float *q;
    const void *k, *v;   /* float32, or bf16 (kv16) from element 2 * off */
    int kv16;
    size_t s_bytes, kv_bytes; /* kv_bytes: K and V together */
    size_t scratch;
} cw_cuda_attn_plan;
cw_status cw_cuda_plan_attention(const cw_attn *a, cw_cuda_attn_plan *p);

/* ---- cuBLAS calls ------------------------------------------------------------------ */

/* The arguments of one cublasGemmStridedBatchedEx call (batch 1: cublasGemmEx),
 * column-major as cuBLAS sees it: for each batch item i,
 *   C_i (m x n, ldc) = op(A_i) (m x k) . op(B_i) (k x n),  X_i = x + i * stride_x
 * with op T for trans = 1. Element strides; the pointers are device
 * addresses (host ones in the tests, which run the call on the CPU). */
typedef struct {
    int trans_a, trans_b;
    size_t m, n, k;
    const void *a; size_t lda; size_t stride_a;
    const void *b; size_t ldb; size_t stride_b;
    float *c; size_t ldc; size_t stride_c;
    size_t batch;
} cw_cuda_gemm;

/* linear: y [m, N] (row-major) = x [m, K] . W^T, W [N, K] row-major:
 * y^T (N x m) = op_T(W seen as K x N) . (x seen as K x m). */
cw_cuda_gemm cw_cuda_gemm_linear(float *y, const void *x, const void *w, size_t m, size_t n, size_t k);
/* attention of one sequence, heads as the batch (stride 64 along a row):
 *   qk: S_h [nq, nkv] row-major = Q_h . K_h^T, i.e. S_h^T (nkv x nq) =
 *       op_T(K_h seen as 64 x nkv, ld k_ld) . (Q_h seen as 64 x nq, ld q_ld);
 *   pv: O_h [nq, 64] = P_h . V_h, i.e. O_h^T (64 x nq, ld o_ld) =
 *       (V_h seen as 64 x nkv, ld v_ld) . (P_h^T seen as nkv x nq, ld nkv). */
cw_cuda_gemm cw_cuda_gemm_attn_qk(float *s, const float *q, size_t q_ld, const float *k, size_t k_ld, size_t n_head,
                                  size_t nq, size_t nkv);
cw_cuda_gemm cw_cuda_gemm_attn_pv(float *o, size_t o_ld, const float *s, const float *v, size_t v_ld, size_t n_head,
                                  size_t nq, size_t nkv);

/* ---- launch geometry -------------------------------------------------------------- */

/* Blocks of `threads` for a grid-stride loop over n items: enough for one
 * item a thread, at most 65535 * 32 (the loops stride over the rest). */
unsigned cw_cuda_blocks(size_t n, unsigned threads);
/* Blocks for one warp per row (kernels.h's row kernels); 0 rows: 0. The
 * grid's x dimension (< 2^31) bounds the rows: CW_ERR_INVALID_ARG past it. */
cw_status cw_cuda_row_blocks(size_t rows, unsigned *blocks);

#endif
