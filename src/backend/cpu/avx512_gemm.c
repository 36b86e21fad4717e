/* The AVX-512 (F/BW/VL/DQ) matrix product
 * C = A . B (+ bias), the same two shapes as avx2_gemm.c with 512-bit
 * registers:
 *
 *  - GEMM (m > CW_GEMV_MAX_M): B is packed KC x NC at a time into panels of
 *    NR = 32 float32 columns ([kc][32]) and A into strips of MR = 14 rows
 *    ([kc][14]); a 14 x 32 register tile (28 zmm accumulators, 2 for B, one
 *    broadcast: 31 of the 32 zmm registers) walks over them. Both packings
 *    are 16 x 16 register transposes of rows loaded (and converted from
 *    f16/bf16/int8) 16 elements at a time, so they cost a few instructions
 *    per 16 elements instead of a scalar strided store per element (the
 *    AVX2 packing: a quarter of GEMM time in a profile of base). A float32 [k, n] B (P.V in
 *    attention) is read in place, not packed, wherever a panel is whole.
 *  - GEMV-like (m <= CW_GEMV_MAX_M, the decoder's 1..5 tokens): W is read
 *    once, 16 elements of up to 4 rows at a time (vcvtph2ps zmm for f16),
 *    each dotted with all m rows of A, so 4 loads of W are in flight.
 *
 * Tile and KC by measurement on Zen 4 (bench/results/2026-12-04-gemm-cpu),
 * where AVX-512 is double-pumped (zmm FMA peak = ymm peak): 14 x 32 with
 * KC 384 was at least as fast as 6 x 64, 8 x 48 and KC 128/256, within the
 * noise of a shared machine; its gain over AVX2 there is the cheap packing,
 * the GEMV and the edges, not the FMA rate. The k blocks (KC) depend on K
 * only, never on the thread slice, and every C element goes through the
 * same micro-kernel (partial tiles through a local tile), so the arithmetic
 * does not depend on the thread count. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <string.h>

#define CW_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define CW_INLINE static inline __attribute__((always_inline))
#define CW_UNROLL _Pragma("GCC unroll 16")
#define CW_AVX512_MATH_TARGET CW_TARGET
#include "backend/cpu/avx512_math.h"

#ifndef CW_AVX512_MR /* -D overrides: the tile search in bench/gemm */
#define CW_AVX512_MR 14
#define CW_AVX512_NV 2
#endif
#ifndef CW_AVX512_KC
#define CW_AVX512_KC 384
#endif
#ifndef CW_AVX512_NC
#define CW_AVX512_NC 2048
#endif
/* GEMV: W rows in flight (4 while 4 x m accumulators + 4 W vectors fit in
 * the 32 registers); software prefetch CW_GEMV_PF groups of rows ahead, into
 * L2 (into L1, _MM_HINT_T0, it measured no better than none). */
#ifndef CW_GEMV_RW
#define CW_GEMV_RW(MRC) ((MRC) <= 6 ? 4 : 2)
#endif
#ifndef CW_GEMV_PF
#define CW_GEMV_PF 8
#endif
#ifndef CW_GEMV_HINT
#define CW_GEMV_HINT _MM_HINT_T1
#endif

/* MR x NR register tile (NR = 16 NV); a KC x NC block of packed B (3 MiB,
 * L3) is reused by all rows of the thread's slice; MC rows of A (112 x 384
 * floats = 168 KiB) stay in L2 with the 48 KiB B panel [KC][NR] the MC/MR
 * tiles below it share. NC covers the n slice of every Whisper linear
 * layer, so A is packed once per k block. */
enum {
    MR = CW_AVX512_MR, NV = CW_AVX512_NV, NR = 16 * CW_AVX512_NV,
    KC = CW_AVX512_KC, NC = CW_AVX512_NC, MC = 8 * CW_AVX512_MR,
    CW_GEMV_MAX_M = 8
};

/* The tile, for cpu_backend.c to split work into whole tiles. */
const size_t cw_avx512_gemm_mr = MR, cw_avx512_gemm_nr = NR;
/* For avx512_vec.c's fused attention, which repeats this product's float
 * operations: up to this many rows a [n, k] B goes through the GEMV. */
const size_t cw_avx512_gemv_max_m = CW_GEMV_MAX_M;

/* K is cut into equal blocks of at most KC (multiples of 16); depends on K only. */
size_t cw_avx512_k_block(size_t k)
{
    size_t nb = (k + KC - 1) / KC;
    size_t kb = (k + nb - 1) / nb;
    kb = (kb + 15) & ~(size_t)15;
    return kb > KC ? KC : kb;
}

/* ---- conversions ---------------------------------------------------------- */


/* float32 of x[i..i+16) of dtype dt, lanes outside `m` zero (never read).
 * I8 is divided by `scale` (w = q / scale, as the reference) if div. */
CW_TARGET CW_INLINE __m512 load16(const void *x, cw_dtype dt, size_t i, __mmask16 m, __m512 scale, const int div)
{
    switch (dt) {
    case CW_DTYPE_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)x + i));
    case CW_DTYPE_BF16: {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)x + i));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    case CW_DTYPE_I8: {
        __m128i q = _mm_maskz_loadu_epi8(m, (const int8_t *)x + i);
        __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
        return div ? _mm512_div_ps(f, scale) : f;
    }
    case CW_DTYPE_F32:
    default:
        return _mm512_maskz_loadu_ps(m, (const float *)x + i);
    }
}

/* r[c] <- column c of the 16 x 16 matrix whose rows are r[0..16). */
CW_TARGET CW_INLINE void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j */
        __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
        __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int j = 0; j < 4; j++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
        __m512 y0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 y1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
        r[0 + j] = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + j] = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(2, 0, 2, 0));
        r[8 + j] = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(3, 1, 3, 1));
        r[12 + j] = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* dst[p * ld + r] = row r of src (r < rows <= 16, row stride lds elements
 * of dtype dt, I8 row r scaled by 1/scale[r]) at k = p, for p < kc; lanes
 * r in [rows, width) are written 0; width <= 16. */
CW_TARGET CW_INLINE void pack_t16(float *dst, size_t ld, size_t width, const void *src, size_t lds,
                                  cw_dtype dt, const float *scale, size_t rows, size_t kc)
{
    size_t es = cw_dtype_size(dt);
    __mmask16 wm = cw_mask16(width);
    __m512 sc[16];
    for (size_t r = 0; r < 16; r++) sc[r] = _mm512_set1_ps(dt == CW_DTYPE_I8 && r < rows ? scale[r] : 1.0f);
    for (size_t p = 0; p < kc; p += 16) {
        __mmask16 km = cw_mask16(kc - p);
        __m512 v[16];
        for (size_t r = 0; r < 16; r++)
            v[r] = r < rows ? load16((const char *)src + r * lds * es, dt, p, km, sc[r], 1) : _mm512_setzero_ps();
        transpose16(v);
        size_t np = kc - p < 16 ? kc - p : 16;
        for (size_t t = 0; t < np; t++) _mm512_mask_storeu_ps(dst + (p + t) * ld, wm, v[t]);
    }
}

CW_TARGET CW_INLINE void pack_t16_dt(float *dst, size_t ld, size_t width, const void *src, size_t lds,
                                     cw_dtype dt, const float *scale, size_t rows, size_t kc)
{
    switch (dt) { /* one specialised loop per dtype */
    case CW_DTYPE_F16: pack_t16(dst, ld, width, src, lds, CW_DTYPE_F16, scale, rows, kc); break;
    case CW_DTYPE_BF16: pack_t16(dst, ld, width, src, lds, CW_DTYPE_BF16, scale, rows, kc); break;
    case CW_DTYPE_I8: pack_t16(dst, ld, width, src, lds, CW_DTYPE_I8, scale, rows, kc); break;
    default: pack_t16(dst, ld, width, src, lds, CW_DTYPE_F32, scale, rows, kc); break;
    }
}

CW_TARGET void cw_avx512_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n)
{
    __m512 s = _mm512_set1_ps(scale);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = cw_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, load16(x, dt, i, m, s, 1));
    }
}

/* ---- packing -------------------------------------------------------------- */

/* bp [kc][NR] = columns j0..j0+NR of B over k in [p0, p0+kc); columns >= n are 0. */
CW_TARGET static void pack_b(const cw_gemm *g, size_t j0, size_t p0, size_t kc, float *bp)
{
    size_t nr = g->n - j0 < NR ? g->n - j0 : NR;
    if (g->b_kn) {
        const float *b = (const float *)g->b + p0 * g->ldb + j0; /* [kc, n] */
        for (size_t p = 0; p < kc; p++)
            for (size_t v = 0; v < NV; v++) {
                size_t c = 16 * v, left = nr > c ? nr - c : 0;
                _mm512_storeu_ps(bp + p * NR + c, _mm512_maskz_loadu_ps(cw_mask16(left), b + p * g->ldb + c));
            }
        return;
    }
    size_t es = cw_dtype_size(g->bt);
    for (size_t v = 0; v < NV; v++) {
        size_t c = 16 * v, rows = nr > c ? nr - c : 0;
        if (rows > 16) rows = 16;
        const char *w = (const char *)g->b + ((j0 + c) * g->ldb + p0) * es;
        pack_t16_dt(bp + c, NR, 16, w, g->ldb, g->bt, g->scale ? g->scale + j0 + c : NULL, rows, kc);
    }
}

/* ap [ceil(mc/MR)][kc][MR] = rows [i0, i0+mc) of A over k in [p0, p0+kc),
 * rows past mc zero, so the kernel never needs a partial-row variant. */
CW_TARGET static void pack_a(const cw_gemm *g, size_t i0, size_t mc, size_t p0, size_t kc, float *ap)
{
    for (size_t s = 0; s < mc; s += MR, ap += MR * kc)
        for (size_t r = 0; r < MR; r += 16) {
            size_t rows = mc - s > r ? mc - s - r : 0, width = MR - r < 16 ? MR - r : 16;
            if (rows > width) rows = width;
            pack_t16(ap + r, MR, width, g->a + (i0 + s + r) * g->lda + p0, g->lda, CW_DTYPE_F32, NULL, rows, kc);
        }
}

/* ---- the MR x NR micro-kernel --------------------------------------------- */

/* c [MR, NR] (row stride ldc) = init [MR, NR] (row stride ldi; 0 broadcasts
 * one row, e.g. the bias) + A . B, with ap = A [MR, kc] packed as [kc][MR]
 * and B [kc][NR] at row stride ldb (NR when packed). */
CW_TARGET static void kern(size_t kc, const float *ap, const float *b, size_t ldb,
                           float *c, size_t ldc, const float *init, size_t ldi)
{
    __m512 acc[MR][NV];
    CW_UNROLL for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + NR - 1), _MM_HINT_T0);
        CW_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    }
    for (size_t p = 0; p < kc; p++, b += ldb, ap += MR) {
        __m512 bv[NV];
        CW_UNROLL for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
        CW_UNROLL for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(ap[r]);
            CW_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    CW_UNROLL for (int r = 0; r < MR; r++)
        CW_UNROLL for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(c + r * ldc + 16 * v, _mm512_add_ps(_mm512_loadu_ps(init + r * ldi + 16 * v), acc[r][v]));
}

/* One tile: rows [i, i+mr) x columns [j, j+nr) of C, k block at p0. Partial
 * tiles go through a local tile, with the same float operations. */
CW_TARGET static void gemm_tile(const cw_gemm *g, size_t i, size_t mr, size_t j, size_t nr, size_t p0,
                                size_t kc, const float *ap, const float *b, size_t ldb, const float *bias)
{
    int first = p0 == 0;
    float *c = g->c + i * g->ldc + j;
    if (mr == MR && nr == NR) {
        kern(kc, ap, b, ldb, c, g->ldc, first ? bias : c, first ? 0 : g->ldc);
        return;
    }
    float t[MR * NR];
    memset(t, 0, sizeof t);
    for (size_t r = 0; r < mr; r++) memcpy(t + r * NR, first ? bias : c + r * g->ldc, nr * sizeof *t);
    kern(kc, ap, b, ldb, t, NR, t, NR);
    for (size_t r = 0; r < mr; r++) memcpy(c + r * g->ldc, t + r * NR, nr * sizeof *t);
}

/* Elements of an activation row split into even and odd halves by gemv16
 * (below), and the floats of its scratch. */
static size_t gemv16_k2(size_t k) { return ((k + 1) / 2 + 15) / 16 * 16; }
static size_t gemv16_floats(size_t k) { return 2 * CW_GEMV_MAX_M * gemv16_k2(k) + 16; }

size_t cw_avx512_gemm_scratch_floats(const cw_gemm *g)
{
    size_t packed = (size_t)KC * NC + (size_t)MC * KC + NR + 16; /* bp, ap, bias, align */
    size_t split = gemv16_floats(g->k); /* gemv16's rows */
    return packed > split ? packed : split;
}

CW_TARGET static void gemm_packed(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch)
{
    float *bp = scratch, *ap = bp + (size_t)KC * NC, *bias = ap + (size_t)MC * KC;
    size_t kb = cw_avx512_k_block(g->k);
    for (size_t jc = n0; jc < n1; jc += NC) {
        size_t nc = n1 - jc < NC ? n1 - jc : NC;
        for (size_t p0 = 0; p0 < g->k; p0 += kb) {
            size_t kc = g->k - p0 < kb ? g->k - p0 : kb;
            /* whole panels of a float32 [k, n] B are read in place */
            for (size_t jr = 0; jr < nc; jr += NR)
                if (!g->b_kn || nc - jr < NR) pack_b(g, jc + jr, p0, kc, bp + jr * kc);
            for (size_t ic = m0; ic < m1; ic += MC) {
                size_t ie = m1 - ic < MC ? m1 : ic + MC;
                pack_a(g, ic, ie - ic, p0, kc, ap);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t j = jc + jr, nr = nc - jr < NR ? nc - jr : NR;
                    const float *b = bp + jr * kc;
                    size_t ldb = NR;
                    if (g->b_kn && nr == NR) b = (const float *)g->b + p0 * g->ldb + j, ldb = g->ldb;
                    memset(bias, 0, NR * sizeof *bias);
                    if (g->bias) memcpy(bias, g->bias + j, nr * sizeof *bias);
                    for (size_t i = ic; i < ie; i += MR) {
                        size_t mr = ie - i < MR ? ie - i : MR;
                        gemm_tile(g, i, mr, j, nr, p0, kc, ap + (i - ic) * kc, b, ldb, bias);
                        if (p0 + kc == g->k) cw_gemm_post(g->post, g->c, g->ldc, i, i + mr, j, j + nr);
                    }
                }
            }
        }
    }
}

/* ---- small m: W read once ------------------------------------------------ */

/* c[i, j] for i in [m0, m0+MRC), j in [j0, j0+RW): RW rows of W in flight,
 * each 16-element chunk dotted with all MRC rows of A. MRC, RW and DT are
 * constants at every call site, so the accumulators live in registers. The
 * k tail is a masked (zero-filled) chunk, so every c[i, j] is the same sum
 * whatever RW, and so whatever the thread slice. */
CW_TARGET CW_INLINE void gemv_t(const cw_gemm *g, size_t m0, size_t j0, const int MRC, const int RW,
                                const cw_dtype DT)
{
    size_t es = cw_dtype_size(DT);
    const char *w = (const char *)g->b + j0 * g->ldb * es;
    __m512 acc[4][CW_GEMV_MAX_M];
    CW_UNROLL for (int q = 0; q < RW; q++)
        CW_UNROLL for (int r = 0; r < MRC; r++) acc[q][r] = _mm512_setzero_ps();
    for (size_t p = 0; p < g->k; p += 16) {
        __mmask16 km = cw_mask16(g->k - p);
        __m512 wv[4];
        CW_UNROLL for (int q = 0; q < RW; q++) {
            const char *wq = w + (size_t)q * g->ldb * es;
            /* The hardware prefetchers lose track of RW interleaved streams
             * (less than half the bandwidth on the 51865-row logits): fetch
             * the same place in the rows CW_GEMV_PF groups ahead ourselves. */
            _mm_prefetch(wq + (size_t)(CW_GEMV_PF * RW) * g->ldb * es + p * es, CW_GEMV_HINT);
            wv[q] = load16(wq, DT, p, km, _mm512_setzero_ps(), 0);
        }
        CW_UNROLL for (int r = 0; r < MRC; r++) {
            __m512 a = _mm512_maskz_loadu_ps(km, g->a + (m0 + r) * g->lda + p);
            CW_UNROLL for (int q = 0; q < RW; q++) acc[q][r] = _mm512_fmadd_ps(a, wv[q], acc[q][r]);
        }
    }
    CW_UNROLL for (int q = 0; q < RW; q++) {
        size_t j = j0 + (size_t)q;
        CW_UNROLL for (int r = 0; r < MRC; r++) {
            float s = _mm512_reduce_add_ps(acc[q][r]);
            if (DT == CW_DTYPE_I8) s /= g->scale[j];
            g->c[(m0 + r) * g->ldc + j] = g->bias ? g->bias[j] + s : s;
        }
    }
}

#define CW_GEMV_ROWS(MRC, DT)                                                                  \
    do {                                                                                       \
        enum { RW = CW_GEMV_RW(MRC) };                                                    \
        size_t j = n0;                                                                         \
        for (; j + RW <= n1; j += RW) gemv_t(g, m0, j, MRC, RW, DT);                            \
        for (; j < n1; j++) gemv_t(g, m0, j, MRC, 1, DT);                                      \
    } while (0)

#define CW_GEMV_CASES(DT)                      \
    switch (mr) {                              \
    case 1: CW_GEMV_ROWS(1, DT); break;        \
    case 2: CW_GEMV_ROWS(2, DT); break;        \
    case 3: CW_GEMV_ROWS(3, DT); break;        \
    case 4: CW_GEMV_ROWS(4, DT); break;        \
    case 5: CW_GEMV_ROWS(5, DT); break;        \
    case 6: CW_GEMV_ROWS(6, DT); break;        \
    case 7: CW_GEMV_ROWS(7, DT); break;        \
    default: CW_GEMV_ROWS(8, DT); break;       \
    }

/* BF16 W, 32 elements a step: a 64-byte load holds 16 pairs, element 2i in
 * the low half of 32-bit lane i and 2i + 1 in the high half, and each half
 * becomes float32 by one shift or one mask (load16 widens 16 elements with a
 * port-5 shuffle and a shift, the bottleneck of this loop). They meet the
 * activation rows split once into even and odd elements (ae, ao [MRC][k2],
 * k2 = ceil(k / 2) rounded up to 16, zeros past k) in two sets of sums,
 * added at the end: the same arithmetic for a row whatever MRC and RW. */
#define CW_GEMV16_RW(MRC) ((MRC) <= 2 ? 4 : (MRC) <= 4 ? 2 : 1)
CW_TARGET CW_INLINE void gemv16_t(const cw_gemm *g, const float *ae, const float *ao, size_t k2, size_t m0, size_t j0,
                                  const int MRC, const int RW)
{
    const uint16_t *w = (const uint16_t *)g->b + j0 * g->ldb;
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    __m512 se[4][CW_GEMV_MAX_M], so[4][CW_GEMV_MAX_M];
    CW_UNROLL for (int q = 0; q < RW; q++)
        CW_UNROLL for (int r = 0; r < MRC; r++) se[q][r] = so[q][r] = _mm512_setzero_ps();
    for (size_t p = 0; p < k2; p += 16) {
        size_t left = g->k - 2 * p; /* > 0: k2 covers k */
        __mmask32 km = left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1);
        __m512 we[4], wo[4];
        CW_UNROLL for (int q = 0; q < RW; q++) {
            const uint16_t *wq = w + (size_t)q * g->ldb;
            _mm_prefetch((const char *)(wq + (size_t)(CW_GEMV_PF * RW) * g->ldb + 2 * p), CW_GEMV_HINT);
            __m512i v = _mm512_maskz_loadu_epi16(km, wq + 2 * p);
            we[q] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
            wo[q] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        }
        CW_UNROLL for (int r = 0; r < MRC; r++) {
            __m512 e = _mm512_load_ps(ae + (size_t)r * k2 + p), o = _mm512_load_ps(ao + (size_t)r * k2 + p);
            CW_UNROLL for (int q = 0; q < RW; q++) {
                se[q][r] = _mm512_fmadd_ps(e, we[q], se[q][r]);
                so[q][r] = _mm512_fmadd_ps(o, wo[q], so[q][r]);
            }
        }
    }
    CW_UNROLL for (int q = 0; q < RW; q++) {
        size_t j = j0 + (size_t)q;
        CW_UNROLL for (int r = 0; r < MRC; r++) {
            float s = _mm512_reduce_add_ps(_mm512_add_ps(se[q][r], so[q][r]));
            g->c[(m0 + r) * g->ldc + j] = g->bias ? g->bias[j] + s : s;
        }
    }
}

#define CW_GEMV16_ROWS(MRC)                                                                    \
    do {                                                                                       \
        enum { RW = CW_GEMV16_RW(MRC) };                                                       \
        size_t j = n0;                                                                         \
        for (; j + RW <= n1; j += RW) gemv16_t(g, ae, ao, k2, m0, j, MRC, RW);                 \
        for (; j < n1; j++) gemv16_t(g, ae, ao, k2, m0, j, MRC, 1);                            \
    } while (0)

CW_TARGET static void gemv16(const cw_gemm *g, size_t m0, size_t mr, size_t n0, size_t n1, float *scratch)
{
    size_t k2 = gemv16_k2(g->k);
    float *ae = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *ao = ae + mr * k2;
    /* 32 elements at a time: even lanes to ae, odd to ao (zeros past k) */
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    for (size_t r = 0; r < mr; r++) {
        const float *a = g->a + (m0 + r) * g->lda;
        for (size_t i = 0; i < k2; i += 16) {
            size_t e = 2 * i; /* first element of the 32 */
            __m512 lo = _mm512_maskz_loadu_ps(e < g->k ? cw_mask16(g->k - e) : 0, a + e);
            __m512 hi = _mm512_maskz_loadu_ps(e + 16 < g->k ? cw_mask16(g->k - e - 16) : 0, a + e + 16);
            _mm512_store_ps(ae + r * k2 + i, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_store_ps(ao + r * k2 + i, _mm512_permutex2var_ps(lo, od, hi));
        }
    }
    switch (mr) {
    case 1: CW_GEMV16_ROWS(1); break;
    case 2: CW_GEMV16_ROWS(2); break;
    case 3: CW_GEMV16_ROWS(3); break;
    case 4: CW_GEMV16_ROWS(4); break;
    case 5: CW_GEMV16_ROWS(5); break;
    case 6: CW_GEMV16_ROWS(6); break;
    case 7: CW_GEMV16_ROWS(7); break;
    default: CW_GEMV16_ROWS(8); break;
    }
}

CW_TARGET static void gemv(const cw_gemm *g, size_t m0, size_t mr, size_t n0, size_t n1)
{
    switch (g->bt) {
    case CW_DTYPE_F32: CW_GEMV_CASES(CW_DTYPE_F32); break;
    case CW_DTYPE_F16: CW_GEMV_CASES(CW_DTYPE_F16); break;
    case CW_DTYPE_BF16: CW_GEMV_CASES(CW_DTYPE_BF16); break;
    case CW_DTYPE_I8: CW_GEMV_CASES(CW_DTYPE_I8); break;
    default: break; /* other dtypes never reach a kernel: ops reject them */
    }
}

CW_TARGET void cw_avx512_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch)
{
    if (m0 >= m1 || n0 >= n1) return;
    if (cw_gemm_class(g) <= CW_GEMV_MAX_M && !g->b_kn) { /* decided on the class, not the slice */
        for (size_t i = m0; i < m1; i += CW_GEMV_MAX_M) { /* each row's sum is its own */
            size_t mr = m1 - i < CW_GEMV_MAX_M ? m1 - i : CW_GEMV_MAX_M;
            if (g->bt == CW_DTYPE_BF16 && scratch) gemv16(g, i, mr, n0, n1, scratch);
            else gemv(g, i, mr, n0, n1);
            cw_gemm_post(g->post, g->c, g->ldc, i, i + mr, n0, n1);
        }
        return;
    }
    float *s = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    gemm_packed(g, m0, m1, n0, n1, s);
}

#endif /* CW_HAVE_X86 */
