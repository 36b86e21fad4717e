/* AVX-512 attention: the AVX2 algorithm (avx2_vec.c: S = Q.K^T over a block
 * of query rows, softmax, O = S.V) on the AVX-512 GEMM, whose packing is a
 * register transpose and which reads V in place; with the packing cheap, a
 * block of 8 tiles (112 query rows) keeps S [112, nkv] (660 KiB for
 * nkv = 1500) in L2 while halving the times K is packed per head. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/fpenv.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>

#include "backend/cpu/hsum.h"
#include <math.h>
#include <string.h>


#define CW_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define CW_AVX512_MATH_TARGET CW_TARGET
#include "backend/cpu/avx512_math.h"
#define CW_INLINE static inline __attribute__((always_inline))

#ifndef CW_AVX512_ATTN_BLOCK
#define CW_AVX512_ATTN_BLOCK 112
#endif
enum { CW_ATTN_BLOCK = CW_AVX512_ATTN_BLOCK };

const size_t cw_avx512_attn_block = CW_ATTN_BLOCK;

/* Scores [CW_ATTN_BLOCK, nkv], the GEMM's scratch, then the fused route's
 * K panels and what they hold, and its V rows (fused_kv). */
static size_t kpan_floats(size_t nkv) { return (nkv + 31) / 32 * 32 * CW_HEAD_DIM; }

size_t cw_avx512_attn_scratch_floats(const cw_attn *a)
{
    cw_gemm g = { 0 };
    return (size_t)CW_ATTN_BLOCK * a->nkv + 16 + cw_avx512_gemm_scratch_floats(&g) + kpan_floats(a->nkv) + 32 +
           a->nkv * CW_HEAD_DIM;
}

/* ---- a few query rows (decoder steps) ----------------------------------------
 *
 * A decoder step has one query row per sequence against up to 1500 keys. The
 * GEMM route spends that on a 14-row tile of which one row is used and on
 * per-call packing; here K and V are read in place, once per query row, and
 * the products are plain dot products: Q.K^T 16 keys at a time (one 16-lane
 * partial sum per key, reduced 16 at once by a transpose-add tree), P.V as
 * a row of 64 accumulated over the keys. Query blocks up to CW_ATTN_FEW rows
 * take this route; the arithmetic per row does not depend on the block. */
enum { CW_ATTN_FEW = 4 };
const size_t cw_avx512_attn_few = CW_ATTN_FEW;

/* K/V element types of the few-row route */
enum { KV_F32 = 0, KV_BF16 = 1, KV_I8 = 2 };

/* 16 values of a K or V row: float32, bf16 widened exactly, or int8 (the
 * integers; the row's step is applied to the sums) */
CW_TARGET CW_INLINE __m512 load_kv(const void *x, size_t i, const int T)
{
    if (T == KV_I8)
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)((const int8_t *)x + i))));
    if (T == KV_F32) return _mm512_loadu_ps((const float *)x + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)x + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

CW_TARGET CW_INLINE __m512 dot64(__m512 q0, __m512 q1, __m512 q2, __m512 q3, const void *k, size_t at,
                                 const int T)
{
    __m512 a = _mm512_mul_ps(q0, load_kv(k, at, T));
    a = _mm512_fmadd_ps(q1, load_kv(k, at + 16, T), a);
    a = _mm512_fmadd_ps(q2, load_kv(k, at + 32, T), a);
    return _mm512_fmadd_ps(q3, load_kv(k, at + 48, T), a);
}

/* s [n] = q [64] . k rows [n] (stride ld elements), times the rows' steps
 * ks [n] for int8 keys */
CW_TARGET CW_INLINE void dot_rows(float *s, const float *q, const void *k, size_t ld, size_t n, const float *ks,
                                  const int T)
{
    __m512 q0 = _mm512_loadu_ps(q), q1 = _mm512_loadu_ps(q + 16), q2 = _mm512_loadu_ps(q + 32),
           q3 = _mm512_loadu_ps(q + 48);
    /* keys in their order: the prefetchers follow a constant stride */
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v[16];
        for (int i = 0; i < 16; i++) v[i] = dot64(q0, q1, q2, q3, k, (j + (size_t)i) * ld, T);
        __m512 t = cw_sum16x16(v);
        if (T == KV_I8) t = _mm512_mul_ps(t, _mm512_loadu_ps(ks + j));
        _mm512_storeu_ps(s + j, t);
    }
    for (; j < n; j++) {
        float t = _mm512_reduce_add_ps(dot64(q0, q1, q2, q3, k, j * ld, T));
        s[j] = T == KV_I8 ? t * ks[j] : t;
    }
}

/* o [64] = p [n] . v rows [n] (stride ld elements); two sets of accumulators
 * (even and odd keys) so that the FMAs' latency is covered. */
CW_TARGET CW_INLINE void weigh_rows(float *o, const float *p, const void *v, size_t ld, size_t n, const int T)
{
    __m512 a[8];
    for (int c = 0; c < 8; c++) a[c] = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
        for (int c = 0; c < 4; c++) {
            a[c] = _mm512_fmadd_ps(p0, load_kv(v, j * ld + 16 * (size_t)c, T), a[c]);
            a[4 + c] = _mm512_fmadd_ps(p1, load_kv(v, (j + 1) * ld + 16 * (size_t)c, T), a[4 + c]);
        }
    }
    if (j < n) {
        __m512 p0 = _mm512_set1_ps(p[j]);
        for (int c = 0; c < 4; c++) a[c] = _mm512_fmadd_ps(p0, load_kv(v, j * ld + 16 * (size_t)c, T), a[c]);
    }
    for (int c = 0; c < 4; c++) _mm512_storeu_ps(o + 16 * c, _mm512_add_ps(a[c], a[4 + c]));
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
        dot_rows(s, qi, k, a->k_ld, keep, ks, T);
        cw_avx512_softmax(s, s, 0, 1, keep, a->scale, NULL);
        if (T == KV_I8) /* P.V = (P x steps) . the integers */
            for (size_t j = 0; j < keep; j++) s[j] *= vs[j];
        weigh_rows(oi, s, v, a->v_ld, keep, T);
    }
}

CW_TARGET static void attention_few(const cw_attn_ptrs *p, size_t b, size_t h, size_t i0, size_t i1, size_t ncols,
                                    float *s)
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

/* ---- blocks of more than 8 query rows, fused ------------------------------
 *
 * The GEMM route (S = Q.K^T by cw_avx512_gemm, softmax, O = S.V) packs K
 * again for every block of 112 rows and walks S [112, nkv] (660 KiB) three
 * times. Here K is transposed once per (call, head) and thread into panels
 * [key / 32][64][32] (kept for the thread's next block of the same head, as
 * the bf16 kernel keeps its own), and 8 query rows at a time go through
 * scores, softmax and P.V while their S [8, ncols] is in L1/L2. The float
 * operations are the GEMM's own, in its order: each score one FMA chain
 * over the 64 dimensions from zero, added to zero; each output the sum of
 * cw_avx512_k_block(ncols) blocks, each an FMA chain over its keys from zero
 * added to the previous blocks' sum; the softmax the same function. So the
 * results are bit for bit those of the GEMM route, and blocks of up to 8 rows
 * (whose Q.K^T the GEMM computes as a GEMV) stay on it. */
enum { FG = 8 };

/* K panels: kpan [npan][64][32] = K[32 p + c][d] at [p][d][c], zero past the
 * keys converted; held { call_id, bh, keys } after them (32 floats), then
 * the head's V rows [nkv][64] side by side: read in place, 64 of a row's
 * floats every v_ld, the V loads of P.V missed the cache (half the fused
 * kernel's time); the copy is read in order. */
static float *fused_vrows(const cw_attn *a, float *kpan) { return kpan + kpan_floats(a->nkv) + 32; }

static void fused_kv(const cw_attn_ptrs *p, size_t bh, const float *k, const float *v, size_t ncols, float *kpan)
{
    const cw_attn *a = p->a;
    size_t *held = (size_t *)(void *)(kpan + kpan_floats(a->nkv));
    size_t rows = p->call_id && held[0] == p->call_id && held[1] == bh ? held[2] : 0;
    if (ncols <= rows) return;
    float *vr = fused_vrows(a, kpan);
    for (size_t j = rows; j < ncols; j++) {
        float *d = kpan + j / 32 * 32 * CW_HEAD_DIM + j % 32;
        const float *kr = k + j * a->k_ld;
        for (size_t q = 0; q < CW_HEAD_DIM; q++) d[q * 32] = kr[q];
        memcpy(vr + j * CW_HEAD_DIM, v + j * a->v_ld, CW_HEAD_DIM * sizeof *vr);
    }
    for (size_t j = ncols; j % 32; j++) {
        float *d = kpan + j / 32 * 32 * CW_HEAD_DIM + j % 32;
        for (size_t q = 0; q < CW_HEAD_DIM; q++) d[q * 32] = 0.0f;
    }
    held[0] = p->call_id, held[1] = bh, held[2] = ncols;
}

/* s [R, ncols] columns [c0, c0 + 32) = Q [R] . K^T (panel kp) */
CW_TARGET CW_INLINE void fqk_tile(const float *q, size_t q_ld, const float *kp, float *s, size_t ncols, size_t c0,
                                  const int R)
{
    __m512 acc[FG][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t d = 0; d < CW_HEAD_DIM; d++, kp += 32) {
        __m512 b0 = _mm512_loadu_ps(kp), b1 = _mm512_loadu_ps(kp + 16);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(q[(size_t)r * q_ld + d]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    size_t left = ncols - c0;
    __mmask16 m0 = cw_mask16(left);
    __mmask16 m1 = left >= 32 ? (__mmask16)0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(s + (size_t)r * ncols + c0, m0, _mm512_add_ps(_mm512_setzero_ps(), acc[r][0]));
        _mm512_mask_storeu_ps(s + (size_t)r * ncols + c0 + 16, m1, _mm512_add_ps(_mm512_setzero_ps(), acc[r][1]));
    }
}

/* o [R, 32 dims] = s [R, ncols] . V [ncols, 32 dims], in k blocks of kb */
CW_TARGET CW_INLINE void fpv_tile(const float *s, size_t ncols, const float *v, size_t v_ld, float *o, size_t o_ld,
                                  size_t kb, const int R)
{
    for (size_t p0 = 0; p0 < ncols; p0 += kb) {
        size_t p1 = ncols - p0 < kb ? ncols : p0 + kb;
        __m512 acc[FG][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (size_t t = p0; t < p1; t++) {
            __m512 b0 = _mm512_loadu_ps(v + t * v_ld), b1 = _mm512_loadu_ps(v + t * v_ld + 16);
            for (int r = 0; r < R; r++) {
                __m512 x = _mm512_set1_ps(s[(size_t)r * ncols + t]);
                acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
            }
        }
        for (int r = 0; r < R; r++) {
            float *orow = o + (size_t)r * o_ld;
            __m512 c0 = p0 ? _mm512_loadu_ps(orow) : _mm512_setzero_ps();
            __m512 c1 = p0 ? _mm512_loadu_ps(orow + 16) : _mm512_setzero_ps();
            _mm512_storeu_ps(orow, _mm512_add_ps(c0, acc[r][0]));
            _mm512_storeu_ps(orow + 16, _mm512_add_ps(c1, acc[r][1]));
        }
    }
}

#define CW_FCASES(CALL) \
    switch (R) {        \
    case 1: CALL(1); break; \
    case 2: CALL(2); break; \
    case 3: CALL(3); break; \
    case 4: CALL(4); break; \
    case 5: CALL(5); break; \
    case 6: CALL(6); break; \
    case 7: CALL(7); break; \
    default: CALL(8); break; \
    }

CW_TARGET static void fqk_any(const float *q, size_t q_ld, const float *kp, float *s, size_t ncols, size_t c0,
                              size_t R)
{
#define CW_QK(RR) fqk_tile(q, q_ld, kp, s, ncols, c0, RR)
    CW_FCASES(CW_QK)
#undef CW_QK
}

CW_TARGET static void fpv_any(const float *s, size_t ncols, const float *v, size_t v_ld, float *o, size_t o_ld,
                              size_t kb, size_t R)
{
#define CW_PV(RR) fpv_tile(s, ncols, v, v_ld, o, o_ld, kb, RR)
    CW_FCASES(CW_PV)
#undef CW_PV
}
#undef CW_FCASES

/* Rows [i0, i1) (more than cw_avx512_gemv_max_m) of head bh against ncols > 0
 * keys; s: scores [FG, ncols]; kpan: kpan_floats(nkv) + 32 + nkv * 64 floats. */
static void attention_fused(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, size_t ncols, float *s,
                            float *kpan)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, kb = cw_avx512_k_block(ncols);
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    fused_kv(p, bh, p->k + b * a->k_bstride + h * CW_HEAD_DIM, v, ncols, kpan);
    const float *vr = fused_vrows(a, kpan);
    cw_mask mask = { a->causal, a->q_pos, 0 };
    for (size_t g0 = i0; g0 < i1; g0 += FG) {
        size_t R = i1 - g0 < FG ? i1 - g0 : FG;
        const float *q = p->q + b * a->q_bstride + g0 * a->q_ld + h * CW_HEAD_DIM;
        float *o = p->o + b * a->o_bstride + g0 * a->o_ld + h * CW_HEAD_DIM;
        size_t keep_max = cw_mask_keep(&mask, g0 + R - 1, ncols); /* the group's last row sees the most keys */
        for (size_t c0 = 0; c0 < keep_max; c0 += 32) fqk_any(q, a->q_ld, kpan + c0 * CW_HEAD_DIM, s, ncols, c0, R);
        cw_avx512_softmax(s, s, g0, g0 + R, ncols, a->scale, &mask);
        for (size_t hh = 0; hh < 2; hh++) fpv_any(s, ncols, vr + 32 * hh, CW_HEAD_DIM, o + 32 * hh, a->o_ld, kb, R);
    }
}

/* Query rows [i0, i1) (at most CW_ATTN_BLOCK) of head bh, as cw_avx2_attention. */
void cw_avx512_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, nb = i1 - i0;
    size_t ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    float *s = scratch, *gs = scratch + (size_t)CW_ATTN_BLOCK * a->nkv + 16;
    if (nb <= CW_ATTN_FEW) { /* before the float32 pointers: K/V may be bf16 or int8 here */
        attention_few(p, b, h, i0, i1, ncols, s);
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
    if (nb > cw_avx512_gemv_max_m) {
        cw_gemm none = { 0 };
        attention_fused(p, bh, i0, i1, ncols, s, gs + cw_avx512_gemm_scratch_floats(&none));
        return;
    }
    cw_gemm qk = { .m = nb, .n = ncols, .k = CW_HEAD_DIM, .a = q, .lda = a->q_ld, .b = k,
                   .ldb = a->k_ld, .bt = CW_DTYPE_F32, .c = s, .ldc = ncols };
    cw_avx512_gemm(&qk, 0, nb, 0, ncols, gs);
    cw_mask mask = { a->causal, a->q_pos, 0 };
    cw_avx512_softmax(s, s, i0, i1, ncols, a->scale, &mask);
    cw_gemm sv = { .m = nb, .n = CW_HEAD_DIM, .k = ncols, .a = s, .lda = ncols, .b = v,
                   .ldb = a->v_ld, .bt = CW_DTYPE_F32, .b_kn = 1, .c = o, .ldc = a->o_ld };
    cw_avx512_gemm(&sv, 0, nb, 0, CW_HEAD_DIM, gs);
}

/* ---- softmax ---------------------------------------------------------------
 *
 * cw_avx2_softmax's bits at 16 lanes: the exponentials lane for lane
 * (cw_exp16 is exp8's sequence), their sum still one 8-lane vector added
 * group of 8 after group of 8 in order (the upper half of each 16 after the
 * lower), the same horizontal reductions, the same scalar tail. The max is
 * exact in any order. The 8-lane exp was 7% of a base fp32 profile. */
CW_TARGET static void softmax_row16(float *y, const float *x, size_t keep, size_t cols, float scale)
{
    __m512 vs = _mm512_set1_ps(scale), vmax = _mm512_set1_ps(-INFINITY);
    size_t c = 0, k8 = keep / 8 * 8;
    for (; c + 16 <= k8; c += 16) vmax = _mm512_max_ps(vmax, _mm512_mul_ps(_mm512_loadu_ps(x + c), vs));
    if (c < k8) vmax = _mm512_mask_max_ps(vmax, 0xff, vmax, _mm512_mul_ps(_mm512_maskz_loadu_ps(0xff, x + c), vs));
    float mx = _mm512_reduce_max_ps(vmax);
    for (c = k8; c < keep; c++) mx = fmaxf(mx, scale * x[c]);
    __m512 vmx = _mm512_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (c = 0; c + 16 <= k8; c += 16) {
        __m512 e = cw_exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + c), vs, vmx));
        _mm512_storeu_ps(y + c, e);
        vsum = _mm256_add_ps(vsum, _mm512_castps512_ps256(e));
        vsum = _mm256_add_ps(vsum, _mm512_extractf32x8_ps(e, 1));
    }
    if (c < k8) {
        __m512 e = cw_exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(0xff, x + c), vs, vmx));
        _mm512_mask_storeu_ps(y + c, 0xff, e);
        vsum = _mm256_add_ps(vsum, _mm512_castps512_ps256(e));
    }
    float sum = cw_hsum8(vsum);
    for (c = k8; c < keep; c++) { /* tail through the same vector exp, lane 0 */
        float e = _mm512_cvtss_f32(cw_exp16(_mm512_set1_ps(x[c] * scale - mx)));
        y[c] = e;
        sum += e;
    }
    __m512 vinv = _mm512_set1_ps(1.0f / sum);
    for (c = 0; c + 16 <= k8; c += 16) _mm512_storeu_ps(y + c, _mm512_mul_ps(_mm512_loadu_ps(y + c), vinv));
    if (c < k8) _mm512_mask_storeu_ps(y + c, 0xff, _mm512_mul_ps(_mm512_maskz_loadu_ps(0xff, y + c), vinv));
    for (c = k8; c < keep; c++) y[c] *= 1.0f / sum;
    for (c = keep; c < cols; c++) y[c] = 0.0f;
}

void cw_avx512_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols, float scale, const cw_mask *mask)
{
    cw_softmax_rows(y, x, r0, r1, cols, scale, mask, softmax_row16);
}

/* ---- GELU --------------------------------------------------------------- */

/* Lane for lane avx2's gelu8 (avx512_math.h), twice the width: GELU was 7.6%
 * of a 1-thread tiny.en int8 profile on Sapphire Rapids with the AVX2 one. */
CW_TARGET void cw_avx512_gelu(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, cw_gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, cw_gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void cw_avx512_gelu_block(float *c, size_t ldc, size_t rows, size_t cols)
{
    cw_rows_flushed(cw_avx512_gelu, c, ldc, rows, cols);
}

#endif /* CW_HAVE_X86 */
