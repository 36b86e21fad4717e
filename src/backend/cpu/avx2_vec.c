/* AVX2 + FMA row and elementwise kernels: layernorm, softmax, exact-erf GELU,
 * and attention built from the AVX2 GEMM (S = Q.K^T, softmax, O = S.V over a
 * block of query rows, so the scores of a block stay in cache). exp and erfc
 * are float polynomials accurate to a few 1e-7 relative (Cephes expf, and the
 * Numerical Recipes erfc whose fractional error is below 1.2e-7 everywhere,
 * which keeps GELU's relative error small even deep in the negative tail
 * where 1 + erf(x) would cancel). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/fpenv.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>

#include "backend/cpu/hsum.h"
#include <math.h>

#define CW_TARGET __attribute__((target("avx2,fma,f16c")))
#define CW_INLINE static inline __attribute__((always_inline))

enum { CW_ATTN_BLOCK = 64 };

CW_TARGET CW_INLINE float hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* e^x, Cephes expf: 2^n * p(r), r = x - n ln 2. Inputs below -87.3 give
 * ~1e-38 instead of 0; callers that need exact zeros (masks) write them. */
CW_TARGET CW_INLINE __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* ---- layernorm ------------------------------------------------------------ */

CW_TARGET static float row_sum(const float *x, size_t n)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + i));
    float t = cw_hsum8(s);
    for (; i < n; i++) t += x[i];
    return t;
}

CW_TARGET static float row_sqdev(const float *x, size_t n, float mean)
{
    __m256 s = _mm256_setzero_ps(), m = _mm256_set1_ps(mean);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
        s = _mm256_fmadd_ps(d, d, s);
    }
    float t = cw_hsum8(s);
    for (; i < n; i++) t += (x[i] - mean) * (x[i] - mean);
    return t;
}

/* Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2,
 * which cancels badly on the residual stream's large means. */
CW_TARGET void cw_avx2_layernorm(float *y, const float *x, const float *gamma, const float *beta,
                                 size_t rows, size_t cols, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mean = row_sum(xr, cols) / (float)cols;
        float inv = 1.0f / sqrtf(row_sqdev(xr, cols, mean) / (float)cols + eps);
        __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
        size_t c = 0;
        for (; c + 8 <= cols; c += 8) {
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vm), vi);
            if (gamma) v = _mm256_mul_ps(v, _mm256_loadu_ps(gamma + c));
            if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + c));
            _mm256_storeu_ps(yr + c, v);
        }
        for (; c < cols; c++) {
            float v = (xr[c] - mean) * inv;
            if (gamma) v *= gamma[c];
            if (beta) v += beta[c];
            yr[c] = v;
        }
    }
}

/* ---- softmax -------------------------------------------------------------- */

CW_TARGET static void softmax_row(float *y, const float *x, size_t keep, size_t cols, float scale)
{
    __m256 vs = _mm256_set1_ps(scale), vmax = _mm256_set1_ps(-INFINITY);
    size_t c = 0;
    for (; c + 8 <= keep; c += 8) vmax = _mm256_max_ps(vmax, _mm256_mul_ps(_mm256_loadu_ps(x + c), vs));
    float mx = hmax8(vmax);
    for (; c < keep; c++) mx = fmaxf(mx, scale * x[c]);
    __m256 vmx = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
    for (c = 0; c + 8 <= keep; c += 8) {
        __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + c), vs, vmx));
        _mm256_storeu_ps(y + c, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = cw_hsum8(vsum);
    for (; c < keep; c++) { /* tail through the same vector exp, lane 0 */
        float e = _mm256_cvtss_f32(exp8(_mm256_set1_ps(x[c] * scale - mx)));
        y[c] = e;
        sum += e;
    }
    __m256 vinv = _mm256_set1_ps(1.0f / sum);
    for (c = 0; c + 8 <= keep; c += 8) _mm256_storeu_ps(y + c, _mm256_mul_ps(_mm256_loadu_ps(y + c), vinv));
    for (; c < keep; c++) y[c] *= 1.0f / sum;
    for (c = keep; c < cols; c++) y[c] = 0.0f;
}

void cw_avx2_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols, float scale, const cw_mask *mask)
{
    cw_softmax_rows(y, x, r0, r1, cols, scale, mask, softmax_row);
}

/* ---- GELU ------------------------------------------------------------------ */

/* 0.5 x (1 + erf(x/sqrt2)) = x Phi(x), Phi(x) = 0.5 erfc(-x/sqrt2) for x < 0
 * and 1 - 0.5 erfc(x/sqrt2) otherwise; erfc(z) = t exp(-z^2 + P(t)), t = 1/(1+z/2). */
CW_TARGET CW_INLINE __m256 gelu8(__m256 x)
{
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
    static const float c[10] = { -1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
                                 0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f };
    __m256 p = _mm256_set1_ps(c[9]);
    for (int i = 8; i >= 0; i--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
    __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(t, _mm256_set1_ps(0.5f)),
                                     exp8(_mm256_fnmadd_ps(z, z, p)));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc, neg);
    return _mm256_mul_ps(x, phi);
}

CW_TARGET void cw_avx2_gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) { /* the tail through the same vector code */
        float t[8] = { 0 };
        for (size_t j = i; j < n; j++) t[j - i] = x[j];
        _mm256_storeu_ps(t, gelu8(_mm256_loadu_ps(t)));
        for (size_t j = i; j < n; j++) x[j] = t[j - i];
    }
}

void cw_avx2_gelu_block(float *c, size_t ldc, size_t rows, size_t cols)
{
    cw_rows_flushed(cw_avx2_gelu, c, ldc, rows, cols);
}

/* ---- attention ---------------------------------------------------------- */

size_t cw_avx2_attn_scratch_floats(const cw_attn *a)
{
    cw_gemm g = { 0 };
    return (size_t)CW_ATTN_BLOCK * a->nkv + cw_avx2_gemm_scratch_floats(&g);
}

/* ---- a few query rows (decoder steps): avx512_vec.c's route at 8 lanes ---- */

enum { CW_ATTN_FEW = 4 };
const size_t cw_avx2_attn_few = CW_ATTN_FEW;

/* K/V element types of the few-row route */
enum { KV_F32 = 0, KV_BF16 = 1, KV_I8 = 2 };

/* 8 values of a K or V row: float32, bf16 widened exactly, or int8 (the
 * integers; the row's step is applied to the sums) */
CW_TARGET CW_INLINE __m256 load_kv8(const void *x, size_t i, const int T)
{
    if (T == KV_I8)
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)((const int8_t *)x + i))));
    if (T == KV_F32) return _mm256_loadu_ps((const float *)x + i);
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)x + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* v[i]: 8 partial sums of key i of a block of 8; returns their totals in
 * key order (three levels of pairwise shuffles, then one permutation). */
CW_TARGET CW_INLINE __m256 sum8x8(const __m256 v[8])
{
    __m256 w[4], u[2];
    for (int p = 0; p < 4; p++)
        w[p] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x31));
    for (int q = 0; q < 2; q++)
        u[q] = _mm256_add_ps(_mm256_shuffle_ps(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(w[2 * q], w[2 * q + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 t = _mm256_add_ps(_mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permutevar8x32_ps(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)); /* key 2e + c sat in 4c + e */
}

CW_TARGET CW_INLINE __m256 dot64_8(const __m256 q[8], const void *k, size_t at, const int T)
{
    __m256 a = _mm256_mul_ps(q[0], load_kv8(k, at, T));
    for (int c = 1; c < 8; c++) a = _mm256_fmadd_ps(q[c], load_kv8(k, at + 8 * (size_t)c, T), a);
    return a;
}

/* s [n] = q [64] . k rows [n] (stride ld elements), times the rows' steps
 * ks [n] for int8 keys */
CW_TARGET CW_INLINE void dot_rows8(float *s, const float *qp, const void *k, size_t ld, size_t n, const float *ks,
                                   const int T)
{
    __m256 q[8];
    for (int c = 0; c < 8; c++) q[c] = _mm256_loadu_ps(qp + 8 * c);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v[8];
        for (int i = 0; i < 8; i++) v[i] = dot64_8(q, k, (j + (size_t)i) * ld, T);
        __m256 t = sum8x8(v);
        if (T == KV_I8) t = _mm256_mul_ps(t, _mm256_loadu_ps(ks + j));
        _mm256_storeu_ps(s + j, t);
    }
    for (; j < n; j++) {
        float t = cw_hsum8(dot64_8(q, k, j * ld, T));
        s[j] = T == KV_I8 ? t * ks[j] : t;
    }
}

/* o [64] = p [n] . v rows [n] (stride ld elements) */
CW_TARGET CW_INLINE void weigh_rows8(float *o, const float *p, const void *v, size_t ld, size_t n, const int T)
{
    __m256 a[8];
    for (int c = 0; c < 8; c++) a[c] = _mm256_setzero_ps();
    for (size_t j = 0; j < n; j++) {
        __m256 pj = _mm256_set1_ps(p[j]);
        for (int c = 0; c < 8; c++) a[c] = _mm256_fmadd_ps(pj, load_kv8(v, j * ld + 8 * (size_t)c, T), a[c]);
    }
    for (int c = 0; c < 8; c++) _mm256_storeu_ps(o + 8 * c, a[c]);
}

/* k, v: float32, bf16 or int8 with their rows' steps ks, vs (T: KV_*) */
CW_TARGET CW_INLINE void attention_few_t(const cw_attn *a, const float *q, const void *k, const void *v,
                                          const float *ks, const float *vs, float *o, size_t i0, size_t i1,
                                          size_t ncols, float *s, const int T)
{
    cw_mask mask = { a->causal, a->q_pos, 0 };
    for (size_t i = i0; i < i1; i++) {
        const float *qi = q + (i - i0) * a->q_ld;
        float *oi = o + (i - i0) * a->o_ld;
        size_t keep = cw_mask_keep(&mask, i, ncols);
        if (keep == 0) {
            for (size_t d = 0; d < CW_HEAD_DIM; d++) oi[d] = 0.0f;
            continue;
        }
        dot_rows8(s, qi, k, a->k_ld, keep, ks, T);
        cw_avx2_softmax(s, s, 0, 1, keep, a->scale, NULL);
        if (T == KV_I8) /* P.V = (P x steps) . the integers */
            for (size_t j = 0; j < keep; j++) s[j] *= vs[j];
        weigh_rows8(oi, s, v, a->v_ld, keep, T);
    }
}

/* Query rows [i0, i1) (at most CW_ATTN_FEW) of head (b, h); K/V float32,
 * bf16 (p->k16) or int8 (p->k8). */
CW_TARGET void cw_avx2_attention_few(const cw_attn_ptrs *p, size_t b, size_t h, size_t i0, size_t i1,
                                     size_t ncols, float *s)
{
    const cw_attn *a = p->a;
    const float *q = p->q + b * a->q_bstride + i0 * a->q_ld + h * CW_HEAD_DIM;
    float *o = p->o + b * a->o_bstride + i0 * a->o_ld + h * CW_HEAD_DIM;
    if (p->k8)
        attention_few_t(a, q, p->k8 + b * a->k_bstride + h * a->k_hstride, p->v8 + b * a->v_bstride + h * a->v_hstride,
                        p->ks + b * a->s_bstride + h * a->s_hstride, p->vs + b * a->s_bstride + h * a->s_hstride,
                        o, i0, i1, ncols, s, KV_I8);
    else if (p->k16)
        attention_few_t(a, q, p->k16 + b * a->k_bstride + h * CW_HEAD_DIM, p->v16 + b * a->v_bstride + h * CW_HEAD_DIM,
                        NULL, NULL, o, i0, i1, ncols, s, KV_BF16);
    else
        attention_few_t(a, q, p->k + b * a->k_bstride + h * CW_HEAD_DIM, p->v + b * a->v_bstride + h * CW_HEAD_DIM,
                        NULL, NULL, o, i0, i1, ncols, s, KV_F32);
}

/* Query rows [i0, i1) (at most CW_ATTN_BLOCK) of head bh:
 *   S [nb, ncols] = Q_blk [nb, 64] . K_h [ncols, 64]^T;  softmax rows;
 *   O_blk [nb, 64] = S . V_h [ncols, 64].
 * With a causal mask, keys past the block's last query are never computed. */
CW_TARGET void cw_avx2_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, nb = i1 - i0;
    size_t ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    float *s = scratch, *gs = scratch + (size_t)CW_ATTN_BLOCK * a->nkv;
    if (nb <= CW_ATTN_FEW) { /* before the float32 pointers: K/V may be bf16 or int8 here */
        cw_avx2_attention_few(p, b, h, i0, i1, ncols, s);
        return;
    }
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
    cw_avx2_gemm(&qk, 0, nb, 0, ncols, gs);
    cw_mask mask = { a->causal, a->q_pos, 0 };
    cw_avx2_softmax(s, s, i0, i1, ncols, a->scale, &mask);
    cw_gemm sv = { .m = nb, .n = CW_HEAD_DIM, .k = ncols, .a = s, .lda = ncols, .b = v,
                   .ldb = a->v_ld, .bt = CW_DTYPE_F32, .b_kn = 1, .c = o, .ldc = a->o_ld };
    cw_avx2_gemm(&sv, 0, nb, 0, CW_HEAD_DIM, gs);
}

#endif /* CW_HAVE_X86 */
