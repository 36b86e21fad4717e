/* Reference kernels of lowp mode (lowp.h): plain loops that define the
 * results the SIMD kernels are tested against. */
#include "backend/cpu/cpu.h"

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
