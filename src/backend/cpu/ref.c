/* The CPU reference kernels: the plainest loops that compute each op, with
 * double accumulation where it is cheap. They define what "correct" means:
 * every SIMD kernel is tested against them, and CW_ISA_REF runs a whole model
 * on them when a result is in doubt. Speed is not a goal here. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/fpenv.h"

#include <math.h>
#include <string.h>

void cw_ref_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n)
{
    const uint16_t *h = x;
    const int8_t *q = x;
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case CW_DTYPE_F32: y[i] = ((const float *)x)[i]; break;
        case CW_DTYPE_F16: y[i] = cw_f16_to_f32(h[i]); break;
        case CW_DTYPE_BF16: y[i] = cw_bf16_to_f32(h[i]); break;
        case CW_DTYPE_I8: y[i] = (float)q[i] / scale; break;
        default: y[i] = 0; break; /* other dtypes never reach a kernel: ops reject them */
        }
    }
}

/* Element (j, kk) of B as a float, whatever its layout and dtype. */
static double gemm_b(const cw_gemm *g, size_t kk, size_t j)
{
    if (g->b_kn) return ((const float *)g->b)[kk * g->ldb + j];
    size_t i = j * g->ldb + kk;
    switch (g->bt) {
    case CW_DTYPE_F32: return ((const float *)g->b)[i];
    case CW_DTYPE_F16: return cw_f16_to_f32(((const uint16_t *)g->b)[i]);
    case CW_DTYPE_BF16: return cw_bf16_to_f32(((const uint16_t *)g->b)[i]);
    case CW_DTYPE_I8: return (double)((float)((const int8_t *)g->b)[i] / g->scale[j]);
    default: break; /* other dtypes never reach a kernel: ops reject them */
    }
    return 0;
}

size_t cw_ref_gemm_scratch_floats(const cw_gemm *g)
{
    (void)g;
    return 0;
}

void cw_ref_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch)
{
    (void)scratch;
    for (size_t i = m0; i < m1; i++) {
        const float *a = g->a + i * g->lda; /* [k] */
        for (size_t j = n0; j < n1; j++) {
            double s = g->bias ? g->bias[j] : 0.0;
            for (size_t kk = 0; kk < g->k; kk++) s += (double)a[kk] * gemm_b(g, kk, j);
            g->c[i * g->ldc + j] = (float)s;
        }
    }
    cw_gemm_post(g->post, g->c, g->ldc, m0, m1, n0, n1);
}

void cw_ref_layernorm(float *y, const float *x, const float *gamma, const float *beta,
                      size_t rows, size_t cols, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double mean = 0, var = 0;
        for (size_t c = 0; c < cols; c++) mean += xr[c];
        mean /= (double)cols;
        for (size_t c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= (double)cols; /* biased, as torch.nn.LayerNorm */
        double inv = 1.0 / sqrt(var + eps);
        for (size_t c = 0; c < cols; c++) {
            double v = (xr[c] - mean) * inv;
            if (gamma) v *= gamma[c];
            if (beta) v += beta[c];
            yr[c] = (float)v;
        }
    }
}

void cw_ref_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols,
                    float scale, const cw_mask *mask)
{
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + (r - r0) * cols;
        float *yr = y + (r - r0) * cols;
        size_t keep = cw_mask_keep(mask, r, cols);
        double mx = -INFINITY, sum = 0;
        for (size_t c = 0; c < keep; c++) mx = fmax(mx, (double)scale * xr[c]);
        for (size_t c = 0; c < keep; c++) sum += exp((double)scale * xr[c] - mx);
        for (size_t c = 0; c < cols; c++)
            yr[c] = c < keep ? (float)(exp((double)scale * xr[c] - mx) / sum) : 0.0f;
    }
}

void cw_ref_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * M_SQRT1_2)));
}

void cw_ref_gelu_block(float *c, size_t ldc, size_t rows, size_t cols) { cw_rows_flushed(cw_ref_gelu, c, ldc, rows, cols); }

size_t cw_ref_attn_scratch_floats(const cw_attn *a)
{
    return a->nkv; /* one row of scores */
}

static double as_is(float x) { return x; }

/* O rows [i0, i1) of head bh, one query at a time: scores, softmax, weighted
 * sum, with each input of a product (Q, K, then P, V) passed through rnd
 * first: as_is for the fp32 op, bf16 rounding for the lowp one. */
void cw_ref_attention_rounded(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch,
                              double (*rnd)(float))
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head;
    const float *k = p->k + b * a->k_bstride + h * CW_HEAD_DIM;
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    cw_mask mask = { a->causal, a->q_pos, 0 };
    for (size_t i = i0; i < i1; i++) {
        const float *q = p->q + b * a->q_bstride + i * a->q_ld + h * CW_HEAD_DIM;
        float *o = p->o + b * a->o_bstride + i * a->o_ld + h * CW_HEAD_DIM;
        for (size_t j = 0; j < a->nkv; j++) {
            double s = 0;
            for (size_t d = 0; d < CW_HEAD_DIM; d++) s += rnd(q[d]) * rnd(k[j * a->k_ld + d]);
            scratch[j] = (float)s;
        }
        cw_ref_softmax(scratch, scratch, i, i + 1, a->nkv, a->scale, &mask);
        for (size_t d = 0; d < CW_HEAD_DIM; d++) {
            double s = 0;
            for (size_t j = 0; j < a->nkv; j++) s += rnd(scratch[j]) * rnd(v[j * a->v_ld + d]);
            o[d] = (float)s;
        }
    }
}

void cw_ref_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    cw_ref_attention_rounded(p, bh, i0, i1, scratch, as_is);
}
