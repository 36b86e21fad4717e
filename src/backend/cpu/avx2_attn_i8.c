/* Attention in int8 (lowp.h) with AVX2 alone (no VNNI: Zen 3, Haswell to
 * Ice Lake client parts), fused per group of 4 query rows, for the encoder:
 * blocks of 16+ rows, no causal mask, float32 K/V. Other blocks go to
 * cw_avx2_attention (float32), as without attn_i8.
 *
 * The definition is the reference's (cw_ref_attention_i8) and the VNNI
 * kernel's: Q and K quantized per row, V per column, P = round(255 e) with
 * 1 / (255 sum e) applied to O, both products exact in int32. Without
 * vpdpbusd the two products take the two routes AVX2 has:
 *
 *  - S = Qq . Kq^T with vpmaddubsw and the sign trick (avx2_lowp.c):
 *    q . k = |q| . sign(k, q), pair sums <= 2 * 127 * 127, so never
 *    saturated; vpmaddwd by ones then makes int32 sums of 4;
 *  - O = P . Vq with vpmaddwd on 16-bit lanes: P reaches 255, and 255 * 127
 *    pairs would saturate vpmaddubsw, so P is kept as u16 and V as s16.
 *
 * Either is 8 multiply-adds per instruction like a float32 FMA, but spread
 * over the integer ports as well as the multiply ones: on this project's
 * Zen 4 run with the AVX2 table, bench_gemm's attention table measures the
 * gain over the float32 kernel (bench/results). K and V are quantized once
 * per (call, head) into panels: K [key/16][dim quad][16 keys] (4 bytes each),
 * V [dim octet][key pair][8 dims][2 keys] (s16). */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/exp2_poly.h"
#include "util/quant.h"

#define CW_TARGET __attribute__((target("avx2,fma,f16c")))
#define CW_INLINE static inline __attribute__((always_inline))

enum {
    G = 4,                /* query rows per group */
    KP = 16,              /* keys per K panel (two ymm of 8 keys per dim quad) */
    QD = CW_HEAD_DIM / 4, /* dim quads of a row: 16 */
    MIN_ROWS = 16,        /* smaller blocks (prompts, tails) stay float32 */
};

typedef struct {
    uint32_t *kpan; /* [npan][QD][KP]: bytes Kq[j][4q .. 4q + 3] of key j = KP p + c */
    int16_t *vpan;  /* [8][kp][8][2]: Vq[2t + e][8g + d] at ((g kp + t) 8 + d) 2 + e */
    float *rk;      /* [npan KP]: 1 / K row scale (0 past the keys) */
    float *rv;      /* [64]: 1 / V column scale */
    float *s;       /* [G][npan KP] scores */
    uint32_t *pa;   /* [G][kp]: P[2t], P[2t + 1] as u16 pairs */
    uint32_t *qa;   /* [G][QD]: |Qq| as bytes */
    uint32_t *qs;   /* [G][QD]: Qq as bytes (their signs) */
    float *rq;      /* [G] */
    size_t *held;   /* { call_id, bh } */
    size_t npan, kp;
} work;

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

/* Floats of each part (64-byte multiples), in work's order. */
static void parts(size_t nkv, size_t f[10])
{
    size_t npan = (nkv + KP - 1) / KP, kp = (nkv + 1) / 2;
    f[0] = up16(npan * QD * KP);
    f[1] = up16(8 * kp * 8);
    f[2] = up16(npan * KP);
    f[3] = 64;
    f[4] = up16(G * npan * KP);
    f[5] = up16(G * kp);
    f[6] = up16(G * QD);
    f[7] = up16(G * QD);
    f[8] = 16;
    f[9] = 16;
}

/* The float32 kernel's scratch (the blocks it takes), then ours. */
size_t cw_avx2_attn_i8_scratch_floats(const cw_attn *a)
{
    size_t f[10], n = cw_avx2_attn_scratch_floats(a) + 16;
    parts(a->nkv, f);
    for (int i = 0; i < 10; i++) n += f[i];
    return n;
}

static work carve(float *scratch, size_t skip, size_t nkv)
{
    size_t f[10];
    parts(nkv, f);
    float *p = (float *)(((uintptr_t)(scratch + skip) + 63) & ~(uintptr_t)63);
    work w = { .npan = (nkv + KP - 1) / KP, .kp = (nkv + 1) / 2 };
    w.kpan = (uint32_t *)(void *)p, p += f[0];
    w.vpan = (int16_t *)(void *)p, p += f[1];
    w.rk = p, p += f[2];
    w.rv = p, p += f[3];
    w.s = p, p += f[4];
    w.pa = (uint32_t *)(void *)p, p += f[5];
    w.qa = (uint32_t *)(void *)p, p += f[6];
    w.qs = (uint32_t *)(void *)p, p += f[7];
    w.rq = p, p += f[8];
    w.held = (size_t *)(void *)p;
    return w;
}

/* round(x * scale) clamped to [-127, 127] as int32 lanes (cw_quantize_row_i8's
 * rounding: cvtps2dq in the default mode is nearest even). */
CW_TARGET CW_INLINE __m256i q8x8(__m256 x, __m256 scale)
{
    __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(x, scale));
    return _mm256_max_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
}

/* The low bytes of the int32 lanes of a, b, c, d (each in [-127, 127]), in order. */
CW_TARGET CW_INLINE __m256i bytes32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d); /* lanes: a0 b0 | a1 b1 */
    __m256i x = _mm256_packs_epi16(ab, cd);                               /* a0 b0 c0 d0 | a1 b1 c1 d1 */
    return _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Row x [64] quantized as cw_quantize_row_i8: its 64 bytes, and its scale's
 * reciprocal (1 for a zero row). */
CW_TARGET static float quant_row64(int8_t *d, const float *x)
{
    const __m256 nosign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (size_t i = 0; i < CW_HEAD_DIM; i += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), nosign), m);
    float t[8], amax = 0.0f;
    _mm256_storeu_ps(t, m);
    for (int l = 0; l < 8; l++) amax = t[l] > amax ? t[l] : amax;
    float scale = cw_quant_scale(amax);
    __m256 vs = _mm256_set1_ps(scale);
    for (size_t i = 0; i < CW_HEAD_DIM; i += 32) {
        __m256i b = bytes32(q8x8(_mm256_loadu_ps(x + i), vs), q8x8(_mm256_loadu_ps(x + i + 8), vs),
                            q8x8(_mm256_loadu_ps(x + i + 16), vs), q8x8(_mm256_loadu_ps(x + i + 24), vs));
        _mm256_storeu_si256((__m256i *)(void *)(d + i), b);
    }
    return cw_i8_recip(scale == 0.0f ? 1.0f : scale);
}

/* K and V of the head (keys [0, n)) into the panels, zeros past n. */
CW_TARGET static void convert_keys(const work *w, const float *k, size_t k_ld, const float *v, size_t v_ld, size_t n)
{
    for (size_t j = 0; j < w->npan * KP; j++) {
        uint32_t quads[QD] = { 0 };
        float rk = 0.0f;
        if (j < n) {
            int8_t b[CW_HEAD_DIM];
            rk = quant_row64(b, k + j * k_ld);
            memcpy(quads, b, sizeof quads);
        }
        uint32_t *kp = w->kpan + j / KP * QD * KP + j % KP;
        for (size_t q = 0; q < QD; q++) kp[q * KP] = quads[q];
        w->rk[j] = rk;
    }
    const __m256 nosign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m[8], vs[8];
    for (int c = 0; c < 8; c++) m[c] = _mm256_setzero_ps();
    for (size_t j = 0; j < n; j++)
        for (int c = 0; c < 8; c++) m[c] = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(v + j * v_ld + 8 * c), nosign), m[c]);
    for (int c = 0; c < 8; c++) {
        float amax[8], sc[8];
        _mm256_storeu_ps(amax, m[c]);
        for (int l = 0; l < 8; l++) {
            sc[l] = cw_quant_scale(amax[l]);
            w->rv[8 * c + l] = cw_i8_recip(sc[l] == 0.0f ? 1.0f : sc[l]);
        }
        vs[c] = _mm256_loadu_ps(sc);
    }
    /* two keys at a time: dims 8c .. 8c + 7 of each, interleaved as s16 */
    for (size_t t = 0; t < w->kp; t++) {
        size_t j = 2 * t;
        for (int c = 0; c < 8; c++) {
            __m256i a = q8x8(_mm256_loadu_ps(v + j * v_ld + 8 * c), vs[c]);
            __m256i b = j + 1 < n ? q8x8(_mm256_loadu_ps(v + (j + 1) * v_ld + 8 * c), vs[c]) : _mm256_setzero_si256();
            __m256i x = _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(b, 16));
            _mm256_storeu_si256((__m256i *)(void *)(w->vpan + ((size_t)c * w->kp + t) * 16), x);
        }
    }
}

/* 2^t for t <= 0 as cw_exp2_neg16 (the same polynomial), 2^n put into the
 * exponent; t below -126 is taken as -126 (255 e rounds to 0 there anyway). */
CW_TARGET CW_INLINE __m256 exp2_neg8(__m256 t)
{
    t = _mm256_max_ps(t, _mm256_set1_ps(-126.0f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    static const float c[CW_EXP2_POLY_N] = CW_EXP2_POLY;
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < CW_EXP2_POLY_N; i++) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[i]));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* max x [n], n > 0 */
CW_TARGET static float max_row(const float *x, size_t n)
{
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    size_t c = 0;
    for (; c + 16 <= n; c += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + c));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + c + 8));
    }
    float t[8], m = -INFINITY;
    _mm256_storeu_ps(t, _mm256_max_ps(m0, m1));
    for (int l = 0; l < 8; l++) m = t[l] > m ? t[l] : m;
    for (; c < n; c++) m = x[c] > m ? x[c] : m;
    return m;
}

/* P row [2 kp] as u16 = round(255 e), e = exp(scale (x - max x)) over x
 * [keep], zeros past keep (x is read up to 2 kp rounded up to 8: the
 * scores' row has that room); returns the sum of e. */
CW_TARGET static float softmax_u16(uint16_t *p, const float *x, size_t keep, size_t kp, float scale)
{
    float cs = scale * 1.44269504088896341f;
    __m256 vc = _mm256_set1_ps(cs), vmx = _mm256_set1_ps(max_row(x, keep) * cs), vsum = _mm256_setzero_ps();
    __m256 v255 = _mm256_set1_ps(255.0f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t c = 0; c < 2 * kp; c += 8) {
        __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(keep > c ? keep - c : 0)), lane);
        __m256 ev = _mm256_and_ps(_mm256_castsi256_ps(live), exp2_neg8(_mm256_fmsub_ps(_mm256_loadu_ps(x + c), vc, vmx)));
        vsum = _mm256_add_ps(vsum, ev);
        __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(ev, v255));
        __m128i h = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(q, q), 0x08));
        if (c + 8 <= 2 * kp) _mm_storeu_si128((__m128i *)(void *)(p + c), h);
        else {
            uint16_t t[8];
            _mm_storeu_si128((__m128i *)(void *)t, h);
            memcpy(p + c, t, (2 * kp - c) * sizeof *p);
        }
    }
    float t[8], s = 0.0f;
    _mm256_storeu_ps(t, vsum);
    for (int l = 0; l < 8; l++) s += t[l];
    return s;
}

/* S [R, keys of panel p] = Q [R] . K^T, dequantized */
CW_TARGET CW_INLINE void qk_tile(const work *w, size_t ld_s, size_t p, const int R)
{
    __m256i acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    const uint32_t *kp = w->kpan + p * QD * KP;
    for (size_t q = 0; q < QD; q++, kp += KP) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)kp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(kp + 8));
        for (int r = 0; r < R; r++) {
            __m256i av = _mm256_set1_epi32((int)w->qa[(size_t)r * QD + q]);
            __m256i sv = _mm256_set1_epi32((int)w->qs[(size_t)r * QD + q]);
            __m256i t0 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(b0, sv)), ones);
            __m256i t1 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(b1, sv)), ones);
            acc[r][0] = _mm256_add_epi32(acc[r][0], t0);
            acc[r][1] = _mm256_add_epi32(acc[r][1], t1);
        }
    }
    __m256 k0 = _mm256_loadu_ps(w->rk + p * KP), k1 = _mm256_loadu_ps(w->rk + p * KP + 8);
    for (int r = 0; r < R; r++) {
        __m256 rq = _mm256_set1_ps(w->rq[r]);
        float *s = w->s + (size_t)r * ld_s + p * KP;
        _mm256_storeu_ps(s, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(rq, k0)));
        _mm256_storeu_ps(s + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(rq, k1)));
    }
}

/* O [R, dims 16 g2 .. 16 g2 + 15] = P [R, 2 tp] . Vq, dequantized with rp [R] */
CW_TARGET CW_INLINE void pv_tile(const work *w, size_t tp, size_t g2, const float *rp, float *o, size_t o_ld,
                                 const int R)
{
    __m256i acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int16_t *v0 = w->vpan + (2 * g2) * w->kp * 16, *v1 = v0 + w->kp * 16;
    for (size_t t = 0; t < tp; t++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(v0 + t * 16));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(v1 + t * 16));
        for (int r = 0; r < R; r++) {
            __m256i pv = _mm256_set1_epi32((int)w->pa[(size_t)r * w->kp + t]);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(pv, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(pv, b1));
        }
    }
    __m256 s0 = _mm256_loadu_ps(w->rv + 16 * g2), s1 = _mm256_loadu_ps(w->rv + 16 * g2 + 8);
    for (int r = 0; r < R; r++) {
        __m256 sp = _mm256_set1_ps(rp[r]);
        float *out = o + (size_t)r * o_ld + 16 * g2;
        _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(sp, s0)));
        _mm256_storeu_ps(out + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(sp, s1)));
    }
}

CW_TARGET static void qk_any(const work *w, size_t ld_s, size_t p, size_t R)
{
    switch (R) {
    case 1: qk_tile(w, ld_s, p, 1); break;
    case 2: qk_tile(w, ld_s, p, 2); break;
    case 3: qk_tile(w, ld_s, p, 3); break;
    default: qk_tile(w, ld_s, p, 4); break;
    }
}

CW_TARGET static void pv_any(const work *w, size_t tp, size_t g2, const float *rp, float *o, size_t o_ld, size_t R)
{
    switch (R) {
    case 1: pv_tile(w, tp, g2, rp, o, o_ld, 1); break;
    case 2: pv_tile(w, tp, g2, rp, o, o_ld, 2); break;
    case 3: pv_tile(w, tp, g2, rp, o, o_ld, 3); break;
    default: pv_tile(w, tp, g2, rp, o, o_ld, 4); break;
    }
}

/* Query rows [g0, g0 + R) of the head, every one keeping keys [0, n). */
static void group(const work *w, const cw_attn *a, const float *q, float *o, size_t R, size_t n)
{
    size_t ld_s = w->npan * KP;
    for (size_t r = 0; r < R; r++) {
        int8_t b[CW_HEAD_DIM];
        uint8_t u[CW_HEAD_DIM];
        w->rq[r] = quant_row64(b, q + r * a->q_ld);
        for (size_t i = 0; i < CW_HEAD_DIM; i++) u[i] = (uint8_t)(b[i] < 0 ? -b[i] : b[i]);
        memcpy(w->qa + r * QD, u, sizeof u);
        memcpy(w->qs + r * QD, b, sizeof b);
    }
    for (size_t p = 0; p * KP < n; p++) qk_any(w, ld_s, p, R);
    size_t tp = (n + 1) / 2;
    float rp[G];
    for (size_t r = 0; r < R; r++)
        rp[r] = 1.0f / (255.0f * softmax_u16((uint16_t *)(void *)(w->pa + r * w->kp), w->s + r * ld_s, n, tp, a->scale));
    for (size_t g2 = 0; g2 < 4; g2++) pv_any(w, tp, g2, rp, o, a->o_ld, R);
}

void cw_avx2_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    if (a->causal || i1 - i0 < MIN_ROWS || a->nkv == 0 || !p->k) {
        cw_avx2_attention(p, bh, i0, i1, scratch);
        return;
    }
    size_t b = bh / a->n_head, h = bh % a->n_head;
    work w = carve(scratch, cw_avx2_attn_scratch_floats(a), a->nkv);
    if (!(p->call_id && w.held[0] == p->call_id && w.held[1] == bh)) {
        convert_keys(&w, p->k + b * a->k_bstride + h * CW_HEAD_DIM, a->k_ld,
                     p->v + b * a->v_bstride + h * CW_HEAD_DIM, a->v_ld, a->nkv);
        w.held[0] = p->call_id, w.held[1] = bh;
    }
    const float *q = p->q + b * a->q_bstride + h * CW_HEAD_DIM;
    float *o = p->o + b * a->o_bstride + h * CW_HEAD_DIM;
    for (size_t g0 = i0; g0 < i1; g0 += G) {
        size_t R = i1 - g0 < G ? i1 - g0 : G;
        group(&w, a, q + g0 * a->q_ld, o + g0 * a->o_ld, R, a->nkv);
    }
}

#endif /* CW_HAVE_X86 */
