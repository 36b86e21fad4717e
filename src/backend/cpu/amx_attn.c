/* Attention in bf16 with AMX-BF16 (Sapphire Rapids and later), for blocks of
 * at least 16 query rows: the rounding of cw_ref_attention_lowp (Q, K, P and
 * V rounded to bf16, S = Q.K^T and O = P.V accumulated in float32, softmax
 * in float32), as avx512_attn_bf16.c computes it, with both products as
 * TDPBF16PS tile multiplies. On a Xeon of this machine kind vdpbf16ps peaks
 * near 120 GFLOP/s a core, and the AVX-512 kernel was 35% of a 1-thread
 * tiny.en int8 profile; a tile multiply does 16 x 16 x 32 per instruction.
 *
 * Layouts (per thread, kept for the thread's next item of the same head as
 * avx512_attn_bf16.c does):
 *  - K panel [key block of 16][dim pair][16 keys] of bf16 pairs: the B tile
 *    of half h of key block b is 16 pair rows of 64 bytes;
 *  - V panel [dim block of 16][key pair][16 dims][2]: the B tile of dim
 *    block d for 16 key pairs is 16 rows of 64 bytes;
 *  - Q and P of 16 query rows as bf16 pairs, row-major: the A tiles.
 * A group of 16 rows: S [16, keys] in float32 (94 KiB at 1500 keys), the
 * softmax writes P as bf16, then O [16, 64] is four accumulator tiles. */
#include "backend/cpu/cpu.h"

#if defined(CW_HAVE_X86) && defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#include "backend/cpu/amx_tiles.h"

#define CW_TARGET_AMXA \
    __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

enum {
    T = 16,                /* query rows of a group; keys of a K tile; key pairs of a P/V tile */
    HP = CW_HEAD_DIM / 2,  /* dim pairs of a row: 32 */
    MIN_ROWS = 16,         /* fewer rows: avx512_attn_bf16.c's route */
};

typedef struct {
    uint32_t *kpan; /* [nkb][HP][T]: (K[j][2q], K[j][2q+1]) of key j = T b + c at [b][q][c] */
    uint16_t *vpan; /* [4][npp][T][2]: (V[2t][16d + e], V[2t+1][16d + e]) at [d][t][e] */
    float *s;       /* [T][nkb * T] */
    uint32_t *pa;   /* [T][npp] (P[2t], P[2t+1]) */
    uint32_t *qa;   /* [T][HP] (Q[2q], Q[2q+1]) */
    float *ot;      /* [T][64]: O of a group of fewer than T rows */
    size_t *held;   /* { call_id, bh, keys converted } */
    size_t nkb, npp; /* key blocks; key pairs, a multiple of T */
} work;

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

static void parts(size_t nkv, size_t f[7])
{
    size_t nkb = (nkv + T - 1) / T, npp = (nkv + 2 * T - 1) / (2 * T) * T;
    f[0] = up16(nkb * HP * T);
    f[1] = up16(4 * npp * T); /* 4 * npp * T * 2 bf16 */
    f[2] = up16(T * nkb * T);
    f[3] = up16(T * npp);
    f[4] = up16(T * HP);
    f[5] = T * CW_HEAD_DIM;
    f[6] = 16;
}

/* The AVX-512 bf16 kernel's scratch (short blocks and bf16 K/V go there), then ours. */
size_t cw_amx_attn_bf16_scratch_floats(const cw_attn *a)
{
    size_t f[7], n = cw_avx512_attn_bf16_scratch_floats(a) + 16;
    parts(a->nkv, f);
    for (int i = 0; i < 7; i++) n += f[i];
    return n;
}

static work carve(float *scratch, size_t skip, size_t nkv)
{
    size_t f[7];
    parts(nkv, f);
    float *p = (float *)(((uintptr_t)(scratch + skip) + 63) & ~(uintptr_t)63);
    work w = { .nkb = (nkv + T - 1) / T, .npp = (nkv + 2 * T - 1) / (2 * T) * T };
    w.kpan = (uint32_t *)(void *)p, p += f[0];
    w.vpan = (uint16_t *)(void *)p, p += f[1];
    w.s = p, p += f[2];
    w.pa = (uint32_t *)(void *)p, p += f[3];
    w.qa = (uint32_t *)(void *)p, p += f[4];
    w.ot = p, p += f[5];
    w.held = (size_t *)(void *)p;
    return w;
}

/* Keys [from, to) into the panels; then the rest of the last K tile and of
 * the last 32-key V block zeroed: P is 0 there, and 0 times a stale NaN
 * would not be. */
CW_TARGET_AMXA static void convert_keys(const work *w, const float *k, size_t k_ld, const float *v, size_t v_ld,
                                        size_t from, size_t to)
{
    for (size_t j = from; j < to; j++) {
        uint16_t kb[CW_HEAD_DIM], vb[CW_HEAD_DIM];
        uint32_t pairs[HP];
        cw_avx512_bf16_row64(kb, k + j * k_ld);
        memcpy(pairs, kb, sizeof pairs);
        uint32_t *kp = w->kpan + j / T * HP * T + j % T;
        for (size_t q = 0; q < HP; q++) kp[q * T] = pairs[q];
        cw_avx512_bf16_row64(vb, v + j * v_ld);
        for (size_t d = 0; d < CW_HEAD_DIM; d++)
            w->vpan[((d / T * w->npp + j / 2) * T + d % T) * 2 + (j & 1)] = vb[d];
    }
    for (size_t j = to; j % T; j++) {
        uint32_t *kp = w->kpan + j / T * HP * T + j % T;
        for (size_t q = 0; q < HP; q++) kp[q * T] = 0;
    }
    for (size_t j = to; j % (2 * T); j++)
        for (size_t d = 0; d < CW_HEAD_DIM; d++) w->vpan[((d / T * w->npp + j / 2) * T + d % T) * 2 + (j & 1)] = 0;
}

/* S [T, 16 nb keys from block b0] = Q . K^T; Q's halves in tiles 4 and 5. */
CW_TARGET_AMXA static void qk_blocks(const work *w, size_t b0, size_t nb, size_t ld_s)
{
    const uint32_t *kp = w->kpan + b0 * HP * T;
    float *s = w->s + b0 * T;
    size_t st = ld_s * sizeof(float);
#define CW_QK(c)                                                   \
    if (nb > c) {                                                  \
        _tile_zero(c);                                             \
        _tile_loadd(6, kp + (c * HP) * T, T * 4);                  \
        _tile_dpbf16ps(c, 4, 6);                                   \
        _tile_loadd(7, kp + (c * HP + T) * T, T * 4);              \
        _tile_dpbf16ps(c, 5, 7);                                   \
    }
    CW_QK(0) CW_QK(1) CW_QK(2) CW_QK(3)
#undef CW_QK
    _tile_stored(0, s, st);
    if (nb > 1) _tile_stored(1, s + T, st);
    if (nb > 2) _tile_stored(2, s + 2 * T, st);
    if (nb > 3) _tile_stored(3, s + 3 * T, st);
}

/* O [T, 64] = P [T, 2 np pairs] . V into tiles 0-3, P tiles in 4. */
CW_TARGET_AMXA static void pv_tiles(const work *w, size_t np)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t t0 = 0; t0 < np; t0 += T) {
        _tile_loadd(4, w->pa + t0, w->npp * 4);
        const uint16_t *vp = w->vpan + t0 * T * 2;
        size_t dstep = w->npp * T * 2;
        _tile_loadd(6, vp, T * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, vp + dstep, T * 4);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(6, vp + 2 * dstep, T * 4);
        _tile_dpbf16ps(2, 4, 6);
        _tile_loadd(7, vp + 3 * dstep, T * 4);
        _tile_dpbf16ps(3, 4, 7);
    }
}

CW_TARGET_AMXA static void store_o(float *o, size_t o_ld)
{
    size_t st = o_ld * sizeof(float);
    _tile_stored(0, o, st);
    _tile_stored(1, o + T, st);
    _tile_stored(2, o + 2 * T, st);
    _tile_stored(3, o + 3 * T, st);
}

/* Query rows [g0, g0 + R) of the head, R <= T: Q rounded, S, P, O. */
CW_TARGET_AMXA static void group(const work *w, const cw_attn *a, const float *q, float *o, size_t g0, size_t R,
                                 size_t ncols)
{
    cw_mask mask = { a->causal, a->q_pos, 0 };
    size_t ld_s = w->nkb * T, keep[T], keep_max = 0;
    for (size_t r = 0; r < T; r++) {
        uint32_t *qr = w->qa + r * HP;
        keep[r] = r < R ? cw_mask_keep(&mask, g0 + r, ncols) : 0;
        if (r < R) cw_avx512_bf16_row64((uint16_t *)(void *)qr, q + r * a->q_ld);
        else memset(qr, 0, HP * sizeof *qr);
        if (keep[r] > keep_max) keep_max = keep[r];
    }
    _tile_loadd(4, w->qa, HP * 4);
    _tile_loadd(5, w->qa + T, HP * 4);
    size_t nkb = (keep_max + T - 1) / T;
    for (size_t b0 = 0; b0 < nkb; b0 += 4) qk_blocks(w, b0, nkb - b0 < 4 ? nkb - b0 : 4, ld_s);
    size_t np = ((keep_max + 1) / 2 + T - 1) / T * T; /* key pairs the P tiles cover */
    for (size_t r = 0; r < T; r++) {
        uint16_t *pr = (uint16_t *)(void *)(w->pa + r * w->npp);
        if (keep[r]) cw_avx512_softmax_bf16(pr, w->s + r * ld_s, keep[r], np, a->scale);
        else memset(pr, 0, 2 * np * sizeof *pr); /* every key masked, or a padding row: O = 0 */
    }
    pv_tiles(w, np);
    if (R == T) {
        store_o(o, a->o_ld);
        return;
    }
    store_o(w->ot, CW_HEAD_DIM);
    for (size_t r = 0; r < R; r++) memcpy(o + r * a->o_ld, w->ot + r * CW_HEAD_DIM, CW_HEAD_DIM * sizeof *o);
}

CW_TARGET_AMXA void cw_amx_attention_bf16(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head;
    size_t ncols = a->nkv;
    if (a->causal && a->q_pos + i1 < ncols) ncols = a->q_pos + i1;
    if (i1 - i0 < MIN_ROWS || ncols == 0 || !p->k) {
        cw_avx512_attention_bf16(p, bh, i0, i1, scratch);
        return;
    }
    work w = carve(scratch, cw_avx512_attn_bf16_scratch_floats(a), a->nkv);
    const float *k = p->k + b * a->k_bstride + h * CW_HEAD_DIM;
    const float *v = p->v + b * a->v_bstride + h * CW_HEAD_DIM;
    size_t rows = p->call_id && w.held[0] == p->call_id && w.held[1] == bh ? w.held[2] : 0;
    if (ncols > rows) {
        convert_keys(&w, k, a->k_ld, v, a->v_ld, rows, ncols);
        w.held[0] = p->call_id, w.held[1] = bh, w.held[2] = ncols;
    }
    const float *q = p->q + b * a->q_bstride + h * CW_HEAD_DIM;
    float *o = p->o + b * a->o_bstride + h * CW_HEAD_DIM;
    cw_amx_tile_config cfg;
    cw_amx_config_16x64(&cfg);
    _tile_loadconfig(&cfg);
    for (size_t g0 = i0; g0 < i1; g0 += T) {
        size_t R = i1 - g0 < T ? i1 - g0 : T;
        group(&w, a, q + g0 * a->q_ld, o + g0 * a->o_ld, g0, R, ncols);
    }
    _tile_release();
}

#endif
