/* cuda_plan.h: the CUDA back end's checks and plans, plain C. */
#include "backend/cuda/cuda_plan.h"

#include <limits.h>
#include <stdint.h>

#include "backend/cuda/kernels_geom.h"
#include "util/error.h"

static size_t mul(size_t a, size_t b)
{
    size_t r;
    return cw_mul_size(a, b, &r) ? SIZE_MAX : r;
}

static size_t add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

static cw_cuda_buf *cbuf(const cw_buf *b) { return (cw_cuda_buf *)(void *)b; }

float *cw_cuda_ref(cw_ref r, size_t n, const char *what)
{
    cw_cuda_buf *b = cbuf(r.buf);
    if (!b || r.off > b->size / sizeof(float) || n > b->size / sizeof(float) - r.off) {
        cw_error(CW_ERR_INVALID_ARG, "%s: %zu floats at %zu outside its buffer", what, n, r.off);
        return NULL;
    }
    return (float *)b->dev + r.off;
}

const float *cw_cuda_opt(cw_ref r, size_t n, const char *what, int *ok)
{
    if (!r.buf) return NULL;
    const float *p = cw_cuda_ref(r, n, what);
    if (!p) *ok = 0;
    return p;
}

cw_status cw_cuda_check_weight(const cw_weight *w)
{
    size_t bytes;
    if (!w || !w->data) return cw_error(CW_ERR_INVALID_ARG, "weight: missing");
    if (w->dtype != CW_DTYPE_F32 && w->dtype != CW_DTYPE_F16 && w->dtype != CW_DTYPE_BF16 && w->dtype != CW_DTYPE_I8)
        return cw_error(CW_ERR_INVALID_ARG, "weight: dtype %s is not f32, f16, bf16 or i8", cw_dtype_name(w->dtype));
    if (cw_mul_size(w->rows, w->cols, &bytes) || cw_mul_size(bytes, cw_dtype_size(w->dtype), &bytes))
        return cw_error(CW_ERR_INVALID_ARG, "weight: too large");
    if (w->offset % cw_dtype_size(w->dtype) != 0)
        return cw_error(CW_ERR_INVALID_ARG, "weight: byte offset %zu not a multiple of its %s elements", w->offset,
                        cw_dtype_name(w->dtype));
    const cw_cuda_buf *b = cbuf(w->data);
    if (w->offset > b->size || bytes > b->size - w->offset)
        return cw_error(CW_ERR_INVALID_ARG, "weight [%zu, %zu] %s at byte %zu: buffer holds %zu bytes", w->rows,
                        w->cols, cw_dtype_name(w->dtype), w->offset, b->size);
    if (w->dtype == CW_DTYPE_I8 && (!w->scale || cbuf(w->scale)->size / sizeof(float) < w->rows))
        return cw_error(CW_ERR_INVALID_ARG, "int8 weight [%zu, %zu] lacks its %zu scales", w->rows, w->cols, w->rows);
    return CW_OK;
}

const void *cw_cuda_weight_ptr(const cw_weight *w) { return (const char *)cbuf(w->data)->dev + w->offset; }

/* ---- scratch -------------------------------------------------------------------- */

size_t cw_cuda_align(size_t bytes)
{
    if (bytes > SIZE_MAX - CW_CUDA_ALIGN) return SIZE_MAX;
    return (bytes + CW_CUDA_ALIGN - 1) / CW_CUDA_ALIGN * CW_CUDA_ALIGN;
}

void *cw_cuda_pool_get(cw_cuda_pool *p, size_t bytes)
{
    if (bytes <= p->bytes && p->base) return p->base;
    if (bytes > SIZE_MAX - CW_CUDA_POOL_GRAIN) {
        cw_error(CW_ERR_NOMEM, "scratch of %zu bytes", bytes);
        return NULL;
    }
    size_t want = (bytes + CW_CUDA_POOL_GRAIN - 1) / CW_CUDA_POOL_GRAIN * CW_CUDA_POOL_GRAIN;
    if (want == 0) want = CW_CUDA_POOL_GRAIN;
    /* free first: the old and the new scratch need not fit together */
    if (p->base && p->release) p->release(p->ctx, p->base);
    p->base = NULL;
    p->bytes = 0;
    void *n = NULL;
    if (p->alloc(p->ctx, want, &n) != CW_OK || !n) {
        cw_error(CW_ERR_NOMEM, "out of device memory growing scratch to %zu bytes", want);
        return NULL;
    }
    p->base = n;
    p->bytes = want;
    p->grows++;
    return n;
}

void cw_cuda_pool_free(cw_cuda_pool *p)
{
    if (p->base && p->release) p->release(p->ctx, p->base);
    p->base = NULL;
    p->bytes = 0;
}

/* ---- plans ---------------------------------------------------------------------- */

static int fits_int(size_t v) { return v <= (size_t)INT_MAX; }

cw_status cw_cuda_plan_linear(const cw_weight *w, size_t m, int lowp, cw_cuda_linear_plan *p)
{
    cw_status s = cw_cuda_check_weight(w);
    if (s != CW_OK) return s;
    *p = (cw_cuda_linear_plan){ 0 };
    if (!fits_int(m) || !fits_int(w->rows) || !fits_int(w->cols))
        return cw_error(CW_ERR_INVALID_ARG, "[%zu, %zu] x [%zu, %zu]^T: beyond cuBLAS's int sizes", m, w->cols, w->rows,
                        w->cols);
    if (w->dtype == CW_DTYPE_F32) {
        p->mode = CW_CUDA_GEMM_F32;
    } else if (lowp && (w->dtype == CW_DTYPE_F16 || w->dtype == CW_DTYPE_BF16)) {
        p->mode = CW_CUDA_GEMM_HALF;
        p->x16_bytes = cw_cuda_align(mul(mul(m, w->cols), 2));
    } else {
        /* int8 (any mode) and exact-mode 16-bit weights: float32 product */
        p->mode = CW_CUDA_GEMM_WIDEN;
        p->widen_bytes = cw_cuda_align(mul(mul(w->rows, w->cols), sizeof(float)));
    }
    p->scratch = add(p->widen_bytes, p->x16_bytes);
    if (p->scratch == SIZE_MAX) return cw_error(CW_ERR_NOMEM, "linear: scratch too large");
    return CW_OK;
}

cw_status cw_cuda_plan_conv1d(const cw_weight *w, size_t c_in, size_t t_in, size_t stride, int lowp,
                              cw_cuda_conv_plan *p)
{
    *p = (cw_cuda_conv_plan){ 0 };
    cw_status s = cw_cuda_check_weight(w);
    if (s != CW_OK) return s;
    if ((stride != 1 && stride != 2) || t_in == 0 || w->cols != mul(c_in, 3))
        return cw_error(CW_ERR_INVALID_ARG, "stride %zu, t_in %zu, weight cols %zu for c_in %zu", stride, t_in,
                        w->cols, c_in);
    p->t_out = (t_in - 1) / stride + 1;
    if ((s = cw_cuda_plan_linear(w, p->t_out, lowp, &p->lin)) != CW_OK) return s;
    p->cols_bytes = cw_cuda_align(mul(mul(p->t_out, w->cols), sizeof(float)));
    p->z_bytes = cw_cuda_align(mul(mul(p->t_out, w->rows), sizeof(float)));
    p->scratch = add(add(p->cols_bytes, p->z_bytes), p->lin.scratch);
    if (p->scratch == SIZE_MAX) return cw_error(CW_ERR_NOMEM, "conv1d: scratch too large");
    return CW_OK;
}

/* Floats spanned by X[b, t, h] for b < nb, t < nt, h < H (strided view). */
static size_t span(size_t nb, size_t nt, size_t ld, size_t bstride, size_t n_head)
{
    if (nb == 0 || nt == 0) return 0;
    return add(add(mul(nb - 1, bstride), mul(nt - 1, ld)), mul(n_head, CW_HEAD_DIM));
}

cw_status cw_cuda_plan_attention(const cw_attn *a, cw_cuda_attn_plan *p)
{
    *p = (cw_cuda_attn_plan){ 0 };
    size_t B = a->n_batch, H = a->n_head, hd = mul(H, CW_HEAD_DIM);
    if (a->q_ld < hd || a->k_ld < hd || a->v_ld < hd || a->o_ld < hd)
        return cw_error(CW_ERR_INVALID_ARG, "attention: a row stride is below H*64 = %zu", hd);
    if (a->kv_dtype != CW_DTYPE_F32 && a->kv_dtype != CW_DTYPE_BF16)
        return cw_error(CW_ERR_INVALID_ARG, "attention: K/V dtype %d is neither F32 nor BF16", (int)a->kv_dtype);
    if (a->kv_item || a->b_nkv || a->b_q_pos)
        return cw_error(CW_ERR_UNSUPPORTED, "attention: per-sequence K/V slots and lengths are not written for CUDA yet");
    /* cuBLAS takes ints: sizes, leading dimensions, and (long long) strides */
    if (!fits_int(a->nq) || !fits_int(a->nkv) || !fits_int(H) || !fits_int(a->q_ld) || !fits_int(a->k_ld) ||
        !fits_int(a->v_ld) || !fits_int(a->o_ld))
        return cw_error(CW_ERR_INVALID_ARG, "attention: sizes beyond cuBLAS's int range");
    p->kv16 = a->kv_dtype == CW_DTYPE_BF16;
    p->o = cw_cuda_ref(a->o, span(B, a->nq, a->o_ld, a->o_bstride, H), "attention o");
    p->q = cw_cuda_ref(a->q, span(B, a->nq, a->q_ld, a->q_bstride, H), "attention q");
    size_t k_n = span(B, a->nkv, a->k_ld, a->k_bstride, H), v_n = span(B, a->nkv, a->v_ld, a->v_bstride, H);
    p->k = cw_cuda_ref(a->k, p->kv16 ? k_n / 2 + k_n % 2 : k_n, "attention k");
    p->v = cw_cuda_ref(a->v, p->kv16 ? v_n / 2 + v_n % 2 : v_n, "attention v");
    if (!p->o || !p->q || !p->k || !p->v) return CW_ERR_INVALID_ARG;
    p->s_bytes = cw_cuda_align(mul(mul(mul(H, a->nq), a->nkv), sizeof(float)));
    if (p->kv16) p->kv_bytes = 2 * cw_cuda_align(mul(mul(a->nkv, hd), sizeof(float)));
    p->scratch = add(p->s_bytes, p->kv_bytes);
    if (p->s_bytes == SIZE_MAX || p->scratch == SIZE_MAX || mul(a->nq, a->nkv) > (size_t)LLONG_MAX)
        return cw_error(CW_ERR_NOMEM, "attention: scores too large");
    return CW_OK;
}

/* ---- cuBLAS calls ----------------------------------------------------------------- */

cw_cuda_gemm cw_cuda_gemm_linear(float *y, const void *x, const void *w, size_t m, size_t n, size_t k)
{
    return (cw_cuda_gemm){ .trans_a = 1, .trans_b = 0, .m = n, .n = m, .k = k, .a = w, .lda = k, .b = x, .ldb = k,
                           .c = y, .ldc = n, .batch = 1 };
}

cw_cuda_gemm cw_cuda_gemm_attn_qk(float *s, const float *q, size_t q_ld, const float *k, size_t k_ld, size_t n_head,
                                  size_t nq, size_t nkv)
{
    return (cw_cuda_gemm){ .trans_a = 1, .trans_b = 0, .m = nkv, .n = nq, .k = CW_HEAD_DIM,
                           .a = k, .lda = k_ld, .stride_a = CW_HEAD_DIM,
                           .b = q, .ldb = q_ld, .stride_b = CW_HEAD_DIM,
                           .c = s, .ldc = nkv, .stride_c = nq * nkv, .batch = n_head };
}

cw_cuda_gemm cw_cuda_gemm_attn_pv(float *o, size_t o_ld, const float *s, const float *v, size_t v_ld, size_t n_head,
                                  size_t nq, size_t nkv)
{
    return (cw_cuda_gemm){ .trans_a = 0, .trans_b = 0, .m = CW_HEAD_DIM, .n = nq, .k = nkv,
                           .a = v, .lda = v_ld, .stride_a = CW_HEAD_DIM,
                           .b = s, .ldb = nkv, .stride_b = nq * nkv,
                           .c = o, .ldc = o_ld, .stride_c = CW_HEAD_DIM, .batch = n_head };
}

/* ---- geometry ------------------------------------------------------------------- */

unsigned cw_cuda_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads, cap = (size_t)65535 * 32;
    if (b == 0) b = 1;
    return (unsigned)(b < cap ? b : cap);
}

cw_status cw_cuda_row_blocks(size_t rows, unsigned *blocks)
{
    size_t b = (rows + CW_ROWS_PER_BLOCK - 1) / CW_ROWS_PER_BLOCK;
    if (b > (size_t)INT_MAX) return cw_error(CW_ERR_INVALID_ARG, "%zu rows: beyond one grid", rows);
    *blocks = (unsigned)b;
    return CW_OK;
}

_Static_assert(CW_K_F32 == CW_DTYPE_F32 && CW_K_F16 == CW_DTYPE_F16 && CW_K_BF16 == CW_DTYPE_BF16 &&
                   CW_K_I8 == CW_DTYPE_I8,
               "kernels_geom.h's dtype codes are cw_dtype's");
