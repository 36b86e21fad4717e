/* Attention in bf16 (AVX512-BF16, lowp.h), fused per group of 8 query rows.
 *
 * The rounding is that of cw_ref_attention_lowp: Q, K, P and V rounded to
 * bf16, S = Q.K^T and O = P.V accumulated in float32, softmax in float32.
 * What makes it fast is where the data lives:
 *
 *  - K and V of a head are converted once per (call, head) and thread into
 *    panels in vdpbf16ps's own layout (K: [key/32][dim pair][32 keys],
 *    V: [dim half][key pair][32 dims][2]) and kept for the thread's next
 *    item of the same head, as the rows a causal mask adds arrive;
 *  - 8 query rows at a time: their scores [8, nkv] (48 KiB for 1500 keys)
 *    stay in L1/L2, the softmax writes P directly as bf16 pairs, and both
 *    products are 8 x 32 register tiles of 16 accumulators with no packing
 *    per call and no reductions.
 *
 * The earlier route through cw_avx512_gemm_bf16 packed K and V again for
 * every block of 112 rows, kept S [112, nkv] in float32 and narrowed it in
 * a scalar loop. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <string.h>


#define CW_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
#define CW_AVX512_MATH_TARGET CW_TARGET_BF16
#include "backend/cpu/avx512_math.h"
#define CW_INLINE static inline __attribute__((always_inline))

enum {
    G = 8,                    /* query rows per group */
    KP = 32,                  /* keys per K panel */
    HP = CW_HEAD_DIM / 2,     /* dim pairs of a row: 32 */
    MIN_ROWS = 16,            /* below: the float32 kernel (a few decoder rows) */
};
const size_t cw_avx512_attn_lowp_min_rows = MIN_ROWS;

typedef struct {
    uint32_t *kpan; /* [npan][HP][KP]: (K[j][2q], K[j][2q+1]) of key j = KP p + c */
    uint16_t *vpan; /* [2][kpv][32][2]: (V[2t][32h + d], V[2t+1][32h + d]) */
    float *s;       /* [G][npan * KP] scores */
    uint32_t *pa;   /* [G][kpv] (P[2t], P[2t+1]) */
    uint32_t *qa;   /* [G][HP] (Q[2q], Q[2q+1]) */
    size_t *held;   /* { call_id, bh, rows converted } */
    size_t npan, kpv;
} work;

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

/* Floats of each part (64-byte multiples), in work's order. */
static void parts(size_t nkv, size_t f[6])
{
    size_t npan = (nkv + KP - 1) / KP, kpv = (nkv + 1) / 2;
    f[0] = up16(npan * HP * KP);
    f[1] = up16(2 * kpv * 32);  /* 2 * kpv * 64 bf16 */
    f[2] = up16(G * npan * KP);
    f[3] = up16(G * kpv);
    f[4] = up16(G * HP);
    f[5] = 16;
}

/* The float32 kernel's scratch (short blocks go there), then ours. */
size_t cw_avx512_attn_bf16_scratch_floats(const cw_attn *a)
{
    size_t f[6], n = cw_avx512_attn_scratch_floats(a) + 16;
    parts(a->nkv, f);
    for (int i = 0; i < 6; i++) n += f[i];
    return n;
}

static work carve(float *scratch, size_t skip, size_t nkv)
{
    size_t f[6];
    parts(nkv, f);
    float *p = (float *)(((uintptr_t)(scratch + skip) + 63) & ~(uintptr_t)63);
    work w = { .npan = (nkv + KP - 1) / KP, .kpv = (nkv + 1) / 2 };
    w.kpan = (uint32_t *)(void *)p, p += f[0];
    w.vpan = (uint16_t *)(void *)p, p += f[1];
    w.s = p, p += f[2];
    w.pa = (uint32_t *)(void *)p, p += f[3];
    w.qa = (uint32_t *)(void *)p, p += f[4];
    w.held = (size_t *)(void *)p;
    return w;
}

/* d [64] = bf16 of x [64] */
CW_TARGET_BF16 void cw_avx512_bf16_row64(uint16_t *d, const float *x)
{
    for (size_t i = 0; i < CW_HEAD_DIM; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(d + i), _mm512_cvtepi32_epi16(cw_bf16_rne16(_mm512_loadu_ps(x + i))));
}

/* Keys [from, to) of the head into the panels; then the slots past `to` in
 * its K panel and V pair zeroed, so that whatever the products read is finite. */
CW_TARGET_BF16 static void convert_keys(const work *w, const float *k, size_t k_ld, const float *v, size_t v_ld,
                                        size_t from, size_t to)
{
    for (size_t j = from; j < to; j++) {
        uint16_t kb[CW_HEAD_DIM], vb[CW_HEAD_DIM];
        uint32_t pairs[HP];
        cw_avx512_bf16_row64(kb, k + j * k_ld);
        memcpy(pairs, kb, sizeof pairs);
        uint32_t *kp = w->kpan + j / KP * HP * KP + j % KP;
        for (size_t q = 0; q < HP; q++) kp[q * KP] = pairs[q];
        cw_avx512_bf16_row64(vb, v + j * v_ld);
        for (size_t d = 0; d < CW_HEAD_DIM; d++)
            w->vpan[((d / 32 * w->kpv + j / 2) * 32 + d % 32) * 2 + (j & 1)] = vb[d];
    }
    for (size_t j = to; j % KP; j++) {
        uint32_t *kp = w->kpan + j / KP * HP * KP + j % KP;
        for (size_t q = 0; q < HP; q++) kp[q * KP] = 0;
    }
    if (to & 1)
        for (size_t d = 0; d < CW_HEAD_DIM; d++) w->vpan[((d / 32 * w->kpv + to / 2) * 32 + d % 32) * 2 + 1] = 0;
}

/* P [2 tp] as bf16 = softmax(scale * x [keep]) then zeros; x [keep] is
 * overwritten with the exponentials. The maximum is taken on x (scale > 0:
 * the same element), exp(scale x - scale max) = 2^(x c - max c) with
 * c = scale log2(e), and P narrowed by vcvtneps2bf16 (nearest even). */
CW_TARGET_BF16 void cw_avx512_softmax_bf16(uint16_t *p, float *x, size_t keep, size_t tp, float scale)
{
    float cs = scale * 1.44269504088896341f;
    __m512 vc = _mm512_set1_ps(cs), vmx = _mm512_set1_ps(cw_max_row(x, keep) * cs), vsum = _mm512_setzero_ps();
    for (size_t c = 0; c < keep; c += 16) {
        __mmask16 m = cw_mask16(keep - c);
        __m512 ev = _mm512_maskz_mov_ps(m, cw_exp2_neg16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + c), vc, vmx)));
        _mm512_mask_storeu_ps(x + c, m, ev);
        vsum = _mm512_add_ps(vsum, ev);
    }
    __m512 vinv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (size_t c = 0; c < 2 * tp; c += 16) {
        __mmask16 m = cw_mask16(2 * tp - c), mk = c < keep ? cw_mask16(keep - c) : 0;
        __m512 pv = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + c), vinv);
        _mm256_mask_storeu_epi16(p + c, m, (__m256i)_mm512_cvtneps_pbh(pv));
    }
}

/* S [R, keys of panel p] = Q [R] . K^T */
CW_TARGET_BF16 CW_INLINE void qk_tile(const work *w, size_t ld_s, size_t p, const int R)
{
    __m512 acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint32_t *kp = w->kpan + p * HP * KP;
    for (size_t q = 0; q < HP; q++, kp += KP) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(kp), b1 = (__m512bh)_mm512_loadu_si512(kp + 16);
        for (int r = 0; r < R; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)w->qa[(size_t)r * HP + q]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(w->s + (size_t)r * ld_s + p * KP, acc[r][0]);
        _mm512_storeu_ps(w->s + (size_t)r * ld_s + p * KP + 16, acc[r][1]);
    }
}

/* O [R, 32 dims of half h] = P [R, 2 tp] . V */
CW_TARGET_BF16 CW_INLINE void pv_tile(const work *w, size_t tp, size_t h, float *o, size_t o_ld, const int R)
{
    __m512 acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint16_t *vp = w->vpan + h * w->kpv * 64;
    for (size_t t = 0; t < tp; t++, vp += 64) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(vp), b1 = (__m512bh)_mm512_loadu_si512(vp + 32);
        for (int r = 0; r < R; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)w->pa[(size_t)r * w->kpv + t]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(o + (size_t)r * o_ld + 32 * h, acc[r][0]);
        _mm512_storeu_ps(o + (size_t)r * o_ld + 32 * h + 16, acc[r][1]);
    }
}

CW_TARGET_BF16 static void qk_any(const work *w, size_t ld_s, size_t p, size_t R)
{
    switch (R) {
    case 1: qk_tile(w, ld_s, p, 1); break;
    case 2: qk_tile(w, ld_s, p, 2); break;
    case 3: qk_tile(w, ld_s, p, 3); break;
    case 4: qk_tile(w, ld_s, p, 4); break;
    case 5: qk_tile(w, ld_s, p, 5); break;
    case 6: qk_tile(w, ld_s, p, 6); break;
    case 7: qk_tile(w, ld_s, p, 7); break;
    default: qk_tile(w, ld_s, p, 8); break;
    }
}

CW_TARGET_BF16 static void pv_any(const work *w, size_t tp, size_t h, float *o, size_t o_ld, size_t R)
{
    switch (R) {
    case 1: pv_tile(w, tp, h, o, o_ld, 1); break;
    case 2: pv_tile(w, tp, h, o, o_ld, 2); break;
    case 3: pv_tile(w, tp, h, o, o_ld, 3); break;
    case 4: pv_tile(w, tp, h, o, o_ld, 4); break;
    case 5: pv_tile(w, tp, h, o, o_ld, 5); break;
    case 6: pv_tile(w, tp, h, o, o_ld, 6); break;
    case 7: pv_tile(w, tp, h, o, o_ld, 7); break;
    default: pv_tile(w, tp, h, o, o_ld, 8); break;
    }
}

/* Query rows [g0, g0 + R) of the head: Q rounded, scores, P, O. */
CW_TARGET_BF16 static void group(const work *w, const cw_attn *a, const float *q, float *o, size_t g0, size_t R,
                                 size_t ncols)
{
    cw_mask mask = { a->causal, a->q_pos, 0 };
    size_t ld_s = w->npan * KP, keep_max = 0;
    for (size_t r = 0; r < R; r++) {
        uint16_t qb[CW_HEAD_DIM];
        cw_avx512_bf16_row64(qb, q + r * a->q_ld);
        memcpy(w->qa + r * HP, qb, sizeof qb);
        size_t keep = cw_mask_keep(&mask, g0 + r, ncols);
        if (keep > keep_max) keep_max = keep;
    }
    for (size_t p = 0; p * KP < keep_max; p++) qk_any(w, ld_s, p, R);
    size_t tp = (keep_max + 1) / 2;
    for (size_t r = 0; r < R; r++) {
        uint16_t *pr = (uint16_t *)(void *)(w->pa + r * w->kpv);
        size_t keep = cw_mask_keep(&mask, g0 + r, ncols);
        if (keep) cw_avx512_softmax_bf16(pr, w->s + r * ld_s, keep, tp, a->scale);
        else memset(pr, 0, 2 * tp * sizeof *pr); /* every key masked: O = 0 */
    }
    for (size_t h = 0; h < 2; h++) pv_any(w, tp, h, o, a->o_ld, R);
}

CW_TARGET_BF16 void cw_avx512_attention_bf16(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head;
    size_t ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    if (i1 - i0 < MIN_ROWS || ncols == 0 || !p->k) { /* bf16 or int8 K/V: few rows, read as they are */
        cw_avx512_attention(p, bh, i0, i1, scratch);
        return;
    }
    work w = carve(scratch, cw_avx512_attn_scratch_floats(a), a->nkv);
    const float *k = p->k + b * a->k_bstride + h * CW_HEAD_DIM;
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    size_t rows = p->call_id && w.held[0] == p->call_id && w.held[1] == bh ? w.held[2] : 0;
    if (ncols > rows) {
        convert_keys(&w, k, a->k_ld, v, a->v_ld, rows, ncols);
        w.held[0] = p->call_id, w.held[1] = bh, w.held[2] = ncols;
    }
    const float *q = p->q + b * a->q_bstride + h * CW_HEAD_DIM;
    float *o = p->o + b * a->o_bstride + h * CW_HEAD_DIM;
    for (size_t g0 = i0; g0 < i1; g0 += G) {
        size_t R = i1 - g0 < G ? i1 - g0 : G;
        group(&w, a, q + g0 * a->q_ld, o + g0 * a->o_ld, g0, R, ncols);
    }
}

#endif /* CW_HAVE_X86 */
