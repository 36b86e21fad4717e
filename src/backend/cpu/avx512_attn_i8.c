/* Attention in int8 (AVX512-VNNI, lowp.h), fused per group of 8 query rows,
 * for the encoder: blocks of 16+ rows, no causal mask, float32 K/V. Other
 * blocks go to cw_avx512_attention_bf16, or on a CPU without AVX512-BF16
 * (Cascade Lake) to the float32 cw_avx512_attention.
 *
 * avx512_attn_bf16.c's plan with vpdpbusd (64 multiply-adds an instruction
 * against vdpbf16ps's 32):
 *
 *  - K and V of a head are quantized once per (call, head) and thread into
 *    panels in vpdpbusd's layout (K: [key/32][dim quad][32 keys], 4 bytes
 *    each; V: [dim half][key quad][32 dims][4 keys]), with each key's scale
 *    and 128 times its sum (vpdpbusd multiplies unsigned bytes by signed
 *    ones, so Q goes in as q + 128 and S takes 128 sum Kq back off);
 *  - 8 query rows: their scores [8, nkv] stay in L1/L2; the softmax writes
 *    P = round(255 e) as bytes with no division (1 / sum scales O instead);
 *    both products are 8 x 32 register tiles of 16 int32 accumulators. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "util/quant.h"

#define CW_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))
#define CW_AVX512_MATH_TARGET CW_TARGET_VNNI
#include "backend/cpu/avx512_math.h"
#define CW_INLINE static inline __attribute__((always_inline))

enum {
    G = 8,                /* query rows per group */
    KP = 32,              /* keys per K panel */
    QD = CW_HEAD_DIM / 4, /* dim quads of a row: 16 */
};

typedef struct {
    uint32_t *kpan; /* [npan][QD][KP]: bytes Kq[j][4q .. 4q + 3] of key j = KP p + c */
    uint8_t *vpan;  /* [2][kq][32][4]: Vq[4t + e][32h + d] at ((h kq + t) 32 + d) 4 + e */
    int32_t *ksum;  /* [npan KP]: 128 sum_d Kq[j][d] (0 past the keys) */
    float *rk;      /* [npan KP]: 1 / K row scale (0 past the keys) */
    float *rv;      /* [64]: 1 / V column scale */
    float *s;       /* [G][npan KP] scores */
    uint32_t *pa;   /* [G][kq]: P[4t .. 4t + 3] as bytes */
    uint32_t *qa;   /* [G][QD]: Qq + 128 as bytes */
    float *rq;      /* [G] */
    size_t *held;   /* { call_id, bh } */
    size_t npan, kq;
} work;

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

/* Floats of each part (64-byte multiples), in work's order. */
static void parts(size_t nkv, size_t f[10])
{
    size_t npan = (nkv + KP - 1) / KP, kq = (nkv + 3) / 4;
    f[0] = up16(npan * QD * KP);
    f[1] = up16(2 * kq * 32);
    f[2] = up16(npan * KP);
    f[3] = up16(npan * KP);
    f[4] = 64;
    f[5] = up16(G * npan * KP);
    f[6] = up16(G * kq);
    f[7] = up16(G * QD);
    f[8] = 16;
    f[9] = 16;
}

/* The fallback kernel's scratch (the blocks it takes: fb floats), then ours. */
static size_t scratch_after(size_t fb, size_t nkv)
{
    size_t f[10], n = fb + 16;
    parts(nkv, f);
    for (int i = 0; i < 10; i++) n += f[i];
    return n;
}

size_t cw_avx512_attn_i8_scratch_floats(const cw_attn *a)
{
    return scratch_after(cw_avx512_attn_bf16_scratch_floats(a), a->nkv);
}

size_t cw_avx512_attn_i8_f32_scratch_floats(const cw_attn *a)
{
    return scratch_after(cw_avx512_attn_scratch_floats(a), a->nkv);
}

static work carve(float *scratch, size_t skip, size_t nkv)
{
    size_t f[10];
    parts(nkv, f);
    float *p = (float *)(((uintptr_t)(scratch + skip) + 63) & ~(uintptr_t)63);
    work w = { .npan = (nkv + KP - 1) / KP, .kq = (nkv + 3) / 4 };
    w.kpan = (uint32_t *)(void *)p, p += f[0];
    w.vpan = (uint8_t *)(void *)p, p += f[1];
    w.ksum = (int32_t *)(void *)p, p += f[2];
    w.rk = p, p += f[3];
    w.rv = p, p += f[4];
    w.s = p, p += f[5];
    w.pa = (uint32_t *)(void *)p, p += f[6];
    w.qa = (uint32_t *)(void *)p, p += f[7];
    w.rq = p, p += f[8];
    w.held = (size_t *)(void *)p;
    return w;
}

/* round(x * scale) clamped to [-127, 127] as int32 lanes (cw_quantize_row_i8's
 * rounding: cvtps2dq in the default mode is nearest even). */
CW_TARGET_VNNI CW_INLINE __m512i q8x16(__m512 x, __m512 scale)
{
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(x, scale));
    return _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
}

/* Row x [64] quantized as cw_quantize_row_i8: its 64 bytes, and its scale's
 * reciprocal (1 for a zero row). */
CW_TARGET_VNNI static float quant_row64(uint8_t *d, const float *x)
{
    __m512 m = _mm512_setzero_ps();
    for (size_t i = 0; i < CW_HEAD_DIM; i += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m);
    float scale = cw_quant_scale(_mm512_reduce_max_ps(m));
    __m512 vs = _mm512_set1_ps(scale);
    for (size_t i = 0; i < CW_HEAD_DIM; i += 16)
        _mm_storeu_si128((__m128i *)(void *)(d + i), _mm512_cvtepi32_epi8(q8x16(_mm512_loadu_ps(x + i), vs)));
    return cw_i8_recip(scale == 0.0f ? 1.0f : scale);
}

/* K and V of the head (keys [0, n)) into the panels, zeros past n. */
CW_TARGET_VNNI static void convert_keys(const work *w, const float *k, size_t k_ld, const float *v, size_t v_ld,
                                        size_t n)
{
    for (size_t j = 0; j < w->npan * KP; j++) {
        uint32_t quads[QD] = { 0 };
        float rk = 0.0f;
        int32_t sum = 0;
        if (j < n) {
            uint8_t b[CW_HEAD_DIM];
            rk = quant_row64(b, k + j * k_ld);
            for (size_t d = 0; d < CW_HEAD_DIM; d++) sum += (int8_t)b[d];
            memcpy(quads, b, sizeof quads);
        }
        uint32_t *kp = w->kpan + j / KP * QD * KP + j % KP;
        for (size_t q = 0; q < QD; q++) kp[q * KP] = quads[q];
        w->ksum[j] = 128 * sum, w->rk[j] = rk;
    }
    __m512 m[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
    for (size_t j = 0; j < n; j++)
        for (int c = 0; c < 4; c++) m[c] = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(v + j * v_ld + 16 * c)), m[c]);
    __m512 vs[4];
    for (int c = 0; c < 4; c++) {
        float amax[16], sc[16];
        _mm512_storeu_ps(amax, m[c]);
        for (int l = 0; l < 16; l++) {
            sc[l] = cw_quant_scale(amax[l]);
            w->rv[16 * c + l] = cw_i8_recip(sc[l] == 0.0f ? 1.0f : sc[l]);
        }
        vs[c] = _mm512_loadu_ps(sc);
    }
    /* four keys at a time: lane d of each quantized row, one byte each, make
     * the 32-bit lane of dim d */
    for (size_t t = 0; t < w->kq; t++)
        for (int c = 0; c < 4; c++) {
            __m512i acc = _mm512_setzero_si512();
            for (int e = 0; e < 4; e++) {
                size_t j = 4 * t + (size_t)e;
                if (j >= n) break;
                __m512i qv = _mm512_and_si512(q8x16(_mm512_loadu_ps(v + j * v_ld + 16 * c), vs[c]), _mm512_set1_epi32(0xff));
                acc = _mm512_or_si512(acc, _mm512_slli_epi32(qv, 8 * e));
            }
            _mm512_storeu_si512(w->vpan + ((c / 2 * w->kq + t) * 32 + (size_t)(c % 2) * 16) * 4, acc);
        }
}

/* P row [4 kq] bytes = round(255 e), e = exp(scale (x - max x)) over x [keep],
 * zeros past keep; returns the sum of e. */
CW_TARGET_VNNI static float softmax_u8(uint8_t *p, const float *x, size_t keep, size_t kq, float scale)
{
    float cs = scale * 1.44269504088896341f;
    __m512 vc = _mm512_set1_ps(cs), vmx = _mm512_set1_ps(cw_max_row(x, keep) * cs), vsum = _mm512_setzero_ps();
    __m512 v255 = _mm512_set1_ps(255.0f);
    for (size_t c = 0; c < 4 * kq; c += 16) {
        __mmask16 m = c < keep ? cw_mask16(keep - c) : 0;
        __m512 ev = _mm512_maskz_mov_ps(m, cw_exp2_neg16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + c), vc, vmx)));
        vsum = _mm512_add_ps(vsum, ev);
        __m128i b = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(ev, v255)));
        _mm_mask_storeu_epi8(p + c, cw_mask16(4 * kq - c), b);
    }
    return _mm512_reduce_add_ps(vsum);
}

/* S [R, keys of panel p] = Q [R] . K^T, dequantized */
CW_TARGET_VNNI CW_INLINE void qk_tile(const work *w, size_t ld_s, size_t p, const int R)
{
    __m512i acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const uint32_t *kp = w->kpan + p * QD * KP;
    for (size_t q = 0; q < QD; q++, kp += KP) {
        __m512i b0 = _mm512_loadu_si512(kp), b1 = _mm512_loadu_si512(kp + 16);
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_set1_epi32((int)w->qa[(size_t)r * QD + q]);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
        }
    }
    __m512i s0 = _mm512_loadu_si512(w->ksum + p * KP), s1 = _mm512_loadu_si512(w->ksum + p * KP + 16);
    __m512 k0 = _mm512_loadu_ps(w->rk + p * KP), k1 = _mm512_loadu_ps(w->rk + p * KP + 16);
    for (int r = 0; r < R; r++) {
        __m512 rq = _mm512_set1_ps(w->rq[r]);
        float *s = w->s + (size_t)r * ld_s + p * KP;
        _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], s0)), _mm512_mul_ps(rq, k0)));
        _mm512_storeu_ps(s + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], s1)), _mm512_mul_ps(rq, k1)));
    }
}

/* O [R, 32 dims of half h] = P [R, 4 tq] . Vq, dequantized with rp [R] */
CW_TARGET_VNNI CW_INLINE void pv_tile(const work *w, size_t tq, size_t h, const float *rp, float *o, size_t o_ld,
                                      const int R)
{
    __m512i acc[G][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const uint8_t *vp = w->vpan + h * w->kq * 128;
    for (size_t t = 0; t < tq; t++, vp += 128) {
        __m512i b0 = _mm512_loadu_si512(vp), b1 = _mm512_loadu_si512(vp + 64);
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_set1_epi32((int)w->pa[(size_t)r * w->kq + t]);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
        }
    }
    __m512 v0 = _mm512_loadu_ps(w->rv + 32 * h), v1 = _mm512_loadu_ps(w->rv + 32 * h + 16);
    for (int r = 0; r < R; r++) {
        __m512 sp = _mm512_set1_ps(rp[r]);
        _mm512_storeu_ps(o + (size_t)r * o_ld + 32 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][0]), _mm512_mul_ps(sp, v0)));
        _mm512_storeu_ps(o + (size_t)r * o_ld + 32 * h + 16,
                         _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][1]), _mm512_mul_ps(sp, v1)));
    }
}

CW_TARGET_VNNI static void qk_any(const work *w, size_t ld_s, size_t p, size_t R)
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

CW_TARGET_VNNI static void pv_any(const work *w, size_t tq, size_t h, const float *rp, float *o, size_t o_ld, size_t R)
{
    switch (R) {
    case 1: pv_tile(w, tq, h, rp, o, o_ld, 1); break;
    case 2: pv_tile(w, tq, h, rp, o, o_ld, 2); break;
    case 3: pv_tile(w, tq, h, rp, o, o_ld, 3); break;
    case 4: pv_tile(w, tq, h, rp, o, o_ld, 4); break;
    case 5: pv_tile(w, tq, h, rp, o, o_ld, 5); break;
    case 6: pv_tile(w, tq, h, rp, o, o_ld, 6); break;
    case 7: pv_tile(w, tq, h, rp, o, o_ld, 7); break;
    default: pv_tile(w, tq, h, rp, o, o_ld, 8); break;
    }
}

/* Query rows [g0, g0 + R) of the head, every one keeping keys [0, n). */
CW_TARGET_VNNI static void group(const work *w, const cw_attn *a, const float *q, float *o, size_t R, size_t n)
{
    size_t ld_s = w->npan * KP;
    for (size_t r = 0; r < R; r++) {
        uint8_t b[CW_HEAD_DIM];
        w->rq[r] = quant_row64(b, q + r * a->q_ld);
        for (size_t i = 0; i < CW_HEAD_DIM; i++) b[i] ^= 0x80; /* q + 128 */
        memcpy(w->qa + r * QD, b, sizeof b);
    }
    for (size_t p = 0; p * KP < n; p++) qk_any(w, ld_s, p, R);
    size_t tq = (n + 3) / 4;
    float rp[G];
    for (size_t r = 0; r < R; r++)
        rp[r] = 1.0f / (255.0f * softmax_u8((uint8_t *)(void *)(w->pa + r * w->kq), w->s + r * ld_s, n, tq, a->scale));
    for (size_t h = 0; h < 2; h++) pv_any(w, tq, h, rp, o, a->o_ld, R);
}

typedef void (*attn_fn)(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);

/* The blocks this kernel takes; the others to fallback, whose scratch (fb
 * floats) comes first. */
CW_TARGET_VNNI static void attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch,
                                        attn_fn fallback, size_t fb)
{
    const cw_attn *a = p->a;
    if (a->causal || i1 - i0 < cw_avx512_attn_lowp_min_rows || a->nkv == 0 || !p->k) {
        fallback(p, bh, i0, i1, scratch);
        return;
    }
    size_t b = bh / a->n_head, h = bh % a->n_head;
    work w = carve(scratch, fb, a->nkv);
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

void cw_avx512_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    attention_i8(p, bh, i0, i1, scratch, cw_avx512_attention_bf16, cw_avx512_attn_bf16_scratch_floats(p->a));
}

void cw_avx512_attention_i8_f32(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    attention_i8(p, bh, i0, i1, scratch, cw_avx512_attention, cw_avx512_attn_scratch_floats(p->a));
}

#endif /* CW_HAVE_X86 */
