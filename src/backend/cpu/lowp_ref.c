/* Reference kernels of lowp mode (lowp.h): plain loops that define the
 * results the SIMD kernels are tested against. */
#include "backend/cpu/cpu.h"

#include <math.h>
#include <string.h>

#include "util/quant.h"

void cw_ref_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq)
{
    for (size_t r = 0; r < rows; r++) {
        scale[r] = cw_quantize_row_i8(q + r * ldq, x + r * k, k);
        memset(q + r * ldq + k, 0, ldq - k);
    }
}

void cw_ref_quant_rows_a16(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq)
{
    for (size_t r = 0; r < rows; r++) {
        int8_t *hi = q + 2 * r * ldq, *lo = hi + ldq;
        scale[r] = cw_quantize_row_a16(hi, lo, x + r * k, k);
        memset(hi + k, 0, ldq - k);
        memset(lo + k, 0, ldq - k);
    }
}

void cw_ref_bf16_round(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = cw_bf16_to_f32(cw_f32_to_bf16(x[i]));
}

/* Sum of plane row a [k] times w [k]; |sum| <= 127 * 127 * k: exact in int32 for k < 133 000. */
static int32_t dot_i8(const int8_t *a, const int8_t *w, size_t k)
{
    int32_t acc = 0;
    for (size_t kk = 0; kk < k; kk++) acc += (int32_t)a[kk] * (int32_t)w[kk];
    return acc;
}

static void ref_gemm_a16(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    for (size_t i = m0; i < m1; i++) {
        const int8_t *hi = g->a + 2 * i * g->lda, *lo = hi + g->lda; /* [k] each */
        float ra = cw_i8_recip(g->ascale[i]);
        for (size_t j = n0; j < n1; j++) {
            const int8_t *w = g->w + j * g->ldw;
            g->c[i * g->ldc + j] = cw_a16_out(dot_i8(hi, w, g->k), dot_i8(lo, w, g->k), ra,
                                              cw_i8_recip(g->wscale[j]), g->bias, j);
        }
    }
    cw_gemm_post(g->post, g->c, g->ldc, m0, m1, n0, n1);
}

void cw_ref_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    if (g->a16) {
        ref_gemm_a16(g, m0, m1, n0, n1);
        return;
    }
    for (size_t i = m0; i < m1; i++) {
        const int8_t *a = g->a + i * g->lda; /* [k] */
        float ra = cw_i8_recip(g->ascale[i]);
        for (size_t j = n0; j < n1; j++) {
            const int8_t *w = g->w + j * g->ldw; /* [k] */
            g->c[i * g->ldc + j] = cw_i8_out(dot_i8(a, w, g->k), ra, cw_i8_recip(g->wscale[j]), g->bias, j);
        }
    }
    cw_gemm_post(g->post, g->c, g->ldc, m0, m1, n0, n1);
}

/* Element e of screen row j: its nibble (lowp.h) less 8. */
static int32_t screen_q(const cw_i4_screen *s, size_t j, size_t e)
{
    uint8_t b = s->q[j * s->ld + e / 32 * 16 + e % 16];
    return (int32_t)(e % 32 < 16 ? b & 15u : b >> 4) - 8;
}

void cw_ref_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m, float *y,
                      size_t ldy, size_t n0, size_t n1)
{
    size_t ng = s->ld / 16;
    for (size_t i = 0; i < m; i++)
        for (size_t j = n0; j < n1; j++) {
            double t = 0.0;
            for (size_t g = 0; g < ng; g++) {
                int32_t acc = 0;
                for (size_t e = 32 * g; e < 32 * g + 32 && e < s->k; e++) acc += screen_q(s, j, e) * (int32_t)a[i * lda + e];
                t += (double)cw_f16_to_f32(s->d[j * ng + g]) * acc;
            }
            y[i * ldy + j] = (float)(t / ascale[i]);
        }
}

static double bf16r(float x) { return cw_bf16_to_f32(cw_f32_to_bf16(x)); }

/* cw_ref_attention with Q, K, P and V rounded to bf16: each dot product the
 * exact sum of exact products (double), rounded once to float32. */
void cw_ref_attention_lowp(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    cw_ref_attention_rounded(p, bh, i0, i1, scratch, bf16r);
}

/* Attention in int8 (lowp.h), rows [i0, i1) of head bh; scratch: nkv floats. */
void cw_ref_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head;
    const float *k = p->k + b * a->k_bstride + h * CW_HEAD_DIM;
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    float vs[CW_HEAD_DIM], rv[CW_HEAD_DIM]; /* V's column scales, as a row's */
    for (size_t d = 0; d < CW_HEAD_DIM; d++) {
        float m = 0.0f;
        for (size_t j = 0; j < a->nkv; j++) {
            float x = fabsf(v[j * a->v_ld + d]);
            m = x > m ? x : m;
        }
        vs[d] = cw_quant_scale(m);
        rv[d] = cw_i8_recip(vs[d] == 0.0f ? 1.0f : vs[d]);
    }
    cw_mask mask = { a->causal, a->q_pos, 0 };
    for (size_t i = i0; i < i1; i++) {
        const float *q = p->q + b * a->q_bstride + i * a->q_ld + h * CW_HEAD_DIM;
        float *o = p->o + b * a->o_bstride + i * a->o_ld + h * CW_HEAD_DIM;
        size_t keep = cw_mask_keep(&mask, i, a->nkv);
        if (!keep) {
            memset(o, 0, CW_HEAD_DIM * sizeof *o);
            continue;
        }
        int8_t qq[CW_HEAD_DIM], kq[CW_HEAD_DIM];
        float rq = cw_i8_recip(cw_quantize_row_i8(qq, q, CW_HEAD_DIM));
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < keep; j++) {
            float rk = cw_i8_recip(cw_quantize_row_i8(kq, k + j * a->k_ld, CW_HEAD_DIM));
            int32_t acc = 0;
            for (size_t d = 0; d < CW_HEAD_DIM; d++) acc += (int32_t)qq[d] * kq[d];
            scratch[j] = (float)acc * (rq * rk);
            mx = fmax(mx, scratch[j]);
        }
        for (size_t j = 0; j < keep; j++) {
            double e = exp((double)a->scale * (scratch[j] - mx));
            sum += e;
            scratch[j] = nearbyintf((float)(e * 255.0)); /* P as u8 */
        }
        float rp = 1.0f / (255.0f * (float)sum);
        for (size_t d = 0; d < CW_HEAD_DIM; d++) {
            int32_t acc = 0;
            for (size_t j = 0; j < keep; j++) acc += (int32_t)scratch[j] * cw_quant_round_i8(v[j * a->v_ld + d], vs[d]);
            o[d] = (float)acc * (rp * rv[d]);
        }
    }
}
