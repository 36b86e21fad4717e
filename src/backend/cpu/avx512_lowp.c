/* AVX-512 kernels of lowp mode (lowp.h), in two shapes:
 *
 *  - m <= 8 rows of a W not prepacked (the logits' exact columns, or
 *    a caller without prepare_weight):
 *    the "dot" form of avx2_lowp.c, W [n, k] read in place and once, all
 *    rows of A against 1..4 rows of W, one 16-lane accumulator per output
 *    reduced at the end;
 *  - m > 8 (encoder): W packed per call into 32-column panels in the
 *    instruction's own layout and 6 x 64 register tiles (see below), which
 *    need no reductions; decoder weights are packed so once at load, and
 *    read the same way for any rows.
 *
 *  - int8, vpdpbusd (AVX512-VNNI): multiplies unsigned by signed bytes, so
 *    one operand goes in offset by 128 (x ^ 0x80 = x + 128 as u8) and the
 *    offset is taken back out with the sums of the other operand: in the dot
 *    form A is offset and W's sums come from one more vpdpbusd with ones; in
 *    the packed form W is offset and A's row sums correct. Every sum is an
 *    exact int32, so the results are the reference's bits.
 *  - bf16, vdpbf16ps (AVX512-BF16): the activations, already rounded to bf16
 *    values, are narrowed to bf16 exactly and each pair of products is added
 *    into float32 lanes.
 *
 * W rows' tails (k % 64 bytes) are read with masked loads in the dot form and
 * zero-padded in the packed one, so nothing is read past the end. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "util/quant.h"

#define CW_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define CW_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define CW_TARGET_F __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define CW_AVX512_MATH_TARGET CW_TARGET_F
#include "backend/cpu/avx512_math.h"
#define CW_INLINE static inline __attribute__((always_inline))

enum { MR = 4, NR = 4, NBLK = 64, MR_GEMV = 8 };

/* acc + u8 . s8 (vpdpbusd). GCC 12 compiles the intrinsic into a copy of the
 * accumulator per instruction, and with 16 accumulators into spills: the
 * encoder's 8 x 32 tile ran at half the instruction's rate. The asm keeps the
 * accumulator in place (same instruction, same bits). */
CW_TARGET_VNNI CW_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, u8, s8);
#endif
}

/* ---- int8 ----------------------------------------------------------------------- */

/* W is the unsigned operand here, w ^ 0x80 = w + 128: (w + 128) . a = w . a +
 * 128 sum(a), and sum(a) is one dot per A row per call (asum), where the
 * other way round (A offset) cost one more vpdpbusd per W vector for W's sums
 * and a second reduction per output. */
CW_TARGET_VNNI CW_INLINE void tile_i8(const cw_i8_gemm *g, size_t i, size_t j, const int32_t *asum, const int R,
                                       const int C)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc[MR_GEMV][NR];
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++) acc[r][c] = _mm512_setzero_si512();
    const int8_t *w[NR], *a[MR_GEMV];
    for (int c = 0; c < C; c++) w[c] = g->w + (j + (size_t)c) * g->ldw;
    for (int r = 0; r < R; r++) a[r] = g->a + (i + (size_t)r) * g->lda;
    for (size_t p = 0; p < g->k; p += 64) {
        size_t left = g->k - p;
        __mmask64 mk = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        __m512i wv[NR];
        /* past k: w = 0 ^ 0x80 = 128 meets a = 0 (A is zero-padded to lda) */
        for (int c = 0; c < C; c++) wv[c] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, w[c] + p), flip);
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_loadu_si512(a[r] + p);
            for (int c = 0; c < C; c++) acc[r][c] = dpbusd(acc[r][c], wv[c], av);
        }
    }
    size_t pl = cw_i8_planes(g);
    float ra[MR_GEMV];
    for (int r = 0; r < R; r += (int)pl) ra[r] = cw_i8_recip(g->ascale[(i + (size_t)r) / pl]);
    for (int c = 0; c < C; c++) {
        size_t jj = j + (size_t)c;
        float rw = cw_i8_recip(g->wscale[jj]);
        int32_t t[MR_GEMV];
        /* wrap-around int32 arithmetic: the true total fits, so the result is exact */
        for (int r = 0; r < R; r++)
            t[r] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(acc[r][c]) - 128u * (uint32_t)asum[r]);
        if (pl == 2) /* R is even */
            for (int r = 0; r + 1 < R; r += 2)
                g->c[(i + (size_t)r) / 2 * g->ldc + jj] = cw_a16_out(t[r], t[r + 1], ra[r], rw, g->bias, jj);
        else
            for (int r = 0; r < R; r++) g->c[(i + (size_t)r) * g->ldc + jj] = cw_i8_out(t[r], ra[r], rw, g->bias, jj);
    }
}

CW_TARGET_VNNI static void tile_i8_any(const cw_i8_gemm *g, size_t i, size_t j, const int32_t *asum, size_t mr,
                                        size_t nr)
{
#define CW_T(R)                                              \
    switch (nr) {                                            \
    case 1: tile_i8(g, i, j, asum, R, 1); break;             \
    case 2: tile_i8(g, i, j, asum, R, 2); break;             \
    case 3: tile_i8(g, i, j, asum, R, 3); break;             \
    default: tile_i8(g, i, j, asum, R, 4); break;            \
    }
#define CW_T2(R) (nr == 1 ? tile_i8(g, i, j, asum, R, 1) : tile_i8(g, i, j, asum, R, 2))
    switch (mr) { /* 5..8 rows (the decoder's beams): at most 2 W rows, 16 accumulators */
    case 1: CW_T(1); break;
    case 2: CW_T(2); break;
    case 3: CW_T(3); break;
    case 4: CW_T(4); break;
    case 5: CW_T2(5); break;
    case 6: CW_T2(6); break;
    case 7: CW_T2(7); break;
    default: CW_T2(8); break;
    }
#undef CW_T
#undef CW_T2
}

/* ---- int8, packed (m > GEMV_MAX_M) ------------------------------------------------------
 *
 * For many rows the dot form spends as much on its final reductions as on
 * products (k = 384 is only 6 steps of 64). Here W is packed per call into
 * panels of 32 columns in vpdpbusd's own layout, bp [k/4][32][4] bytes, so one
 * broadcast of 4 A bytes times two panel vectors adds into 32 column sums with
 * no reduction at all: an 8 x 32 tile of 16 accumulators. The unsigned operand
 * is W this time: w ^ 0x80 = w + 128, so (w + 128) . a = w . a + 128 sum(a),
 * and the row sums of A take the offset back out (exact int32 again). */

enum { GEMV_MAX_M = 8, PR = 8, PC = 32, WR = 6 };

/* W rows per dot tile for a W of `bytes`: NR while W stays in cache; one when
 * it streams from memory (the 51864-row logits projection), which measured
 * up to 2x faster on Zen 4 (one sequential stream prefetches better). */
static size_t gemv_cols(size_t bytes)
{
    return bytes > ((size_t)4 << 20) ? 1 : NR;
}

/* bp [kq][32][4] = W rows [j0, j0+32) of w [n, k] (row stride ldw) as u8
 * (w ^ 0x80), k padded to 4 * kq with w = 0; rows past n as w = 0 too (their
 * sums are never stored). The layout of lowp.h's cw_i8_gemm.wp, block by block. */
static void pack_i8(const int8_t *wt, size_t ldw, size_t n, size_t k, size_t j0, size_t kq, uint8_t *bp)
{
    size_t k4 = k / 4;
    for (size_t c = 0; c < PC; c++) {
        uint32_t *d = (uint32_t *)(void *)bp + c; /* 4 bytes of column c, stride 32 */
        if (j0 + c >= n) {
            for (size_t q = 0; q < kq; q++) d[q * PC] = 0x80808080u;
            continue;
        }
        const int8_t *w = wt + (j0 + c) * ldw;
        for (size_t q = 0; q < k4; q++) {
            uint32_t v;
            memcpy(&v, w + 4 * q, sizeof v);
            d[q * PC] = v ^ 0x80808080u;
        }
        if (k4 < kq) { /* k % 4 tail */
            uint8_t t[4] = { 0x80, 0x80, 0x80, 0x80 };
            for (size_t kk = 4 * k4; kk < k; kk++) t[kk - 4 * k4] = (uint8_t)w[kk] ^ 0x80u;
            memcpy(d + k4 * PC, t, sizeof t);
        }
    }
}

size_t cw_avx512_prepack_i8_bytes(size_t n, size_t k)
{
    return (n + PC - 1) / PC * ((k + 3) / 4) * PC * 4;
}

void cw_avx512_prepack_i8(const int8_t *w, size_t ldw, size_t n, size_t k, size_t b0, size_t b1, uint8_t *wp)
{
    size_t kq = (k + 3) / 4;
    for (size_t b = b0; b < b1; b++) pack_i8(w, ldw, n, k, b * PC, kq, wp + b * kq * PC * 4);
}

/* 16 lanes of cw_a16_out's total 255 hs + ls, rounded once to float32: the
 * sum is exact in double (|total| < 2^53), and so only cvtpd_ps rounds. */
CW_TARGET_F CW_INLINE __m512 a16_total(__m512i hs, __m512i ls)
{
    const __m512d f = _mm512_set1_pd(255.0);
    __m512d t0 = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(hs)), f,
                                 _mm512_cvtepi32_pd(_mm512_castsi512_si256(ls)));
    __m512d t1 = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(hs, 1)), f,
                                 _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(ls, 1)));
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(t0)), _mm512_cvtpd_ps(t1), 1);
}

/* Plane rows [i, i+R) of A (a16: R even, C rows i / 2 on) by NB blocks of
 * 32 columns from j on (block b at bp + b * bstride; nc: columns left from
 * j, any beyond the NB blocks ignored). One block takes 8 plane rows (16
 * accumulators); one row takes 4 blocks, so that a decoder step's product
 * runs 8 independent vpdpbusd chains (16 with a 16-bit row's two planes). */
CW_TARGET_VNNI CW_INLINE void ptile_i8(const cw_i8_gemm *g, size_t i, size_t j, size_t nc, size_t kq,
                                        const uint8_t *bp, size_t bstride, const int32_t *rsum, const int R,
                                        const int NB, const int A16)
{
    __m512i acc[PR][8];
    for (int r = 0; r < R; r++)
        for (int h = 0; h < 2 * NB; h++) acc[r][h] = _mm512_setzero_si512();
    const int8_t *a = g->a + i * g->lda;
    for (size_t q = 0; q < kq; q++, bp += PC * 4) {
        __m512i b[8];
        for (int h = 0; h < 2 * NB; h++) b[h] = _mm512_loadu_si512(bp + (size_t)(h / 2) * bstride + 64 * (h % 2));
        for (int r = 0; r < R; r++) {
            int32_t v;
            memcpy(&v, a + (size_t)r * g->lda + 4 * q, sizeof v);
            __m512i av = _mm512_set1_epi32(v);
            for (int h = 0; h < 2 * NB; h++) acc[r][h] = dpbusd(acc[r][h], b[h], av);
        }
    }
    for (int h = 0; h < 2 * NB; h++) {
        size_t jh = j + 16 * (size_t)h;
        if (jh >= j + nc) break;
        size_t left = j + nc - jh;
        __mmask16 mk = cw_mask16(left);
        /* cw_i8_recip lane by lane; masked-off lanes divide by 1 */
        __m512 ws = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mk, g->wscale + jh));
        __m512 bias = g->bias ? _mm512_maskz_loadu_ps(mk, g->bias + jh) : _mm512_setzero_ps();
        __m512i t[PR];
        for (int r = 0; r < R; r++) /* wraps like the sums */
            t[r] = _mm512_sub_epi32(acc[r][h], _mm512_set1_epi32((int32_t)(128u * (uint32_t)rsum[r])));
        for (int r = 0; r + A16 < R; r += 1 + A16) {
            size_t ii = (i + (size_t)r) / (1 + A16);
            __m512 sa = _mm512_set1_ps(cw_i8_recip(g->ascale[ii]));
            /* cw_i8_out or cw_a16_out, lane by lane: the same float operations in the same order */
            __m512 tf = A16 ? a16_total(t[r], t[r + 1]) : _mm512_cvtepi32_ps(t[r]);
            __m512 y = _mm512_mul_ps(tf, _mm512_mul_ps(sa, ws));
            if (g->bias) y = _mm512_add_ps(y, bias);
            _mm512_mask_storeu_ps(g->c + ii * g->ldc + jh, mk, y);
        }
    }
}

/* Row sums of A rows [i, i+R), R <= PR. */
CW_TARGET_VNNI static void row_sums(const cw_i8_gemm *g, size_t i, size_t R, int32_t *rsum)
{
    const __m512i ones = _mm512_set1_epi8(1);
    for (size_t r = 0; r < R; r++) {
        const int8_t *a = g->a + (i + r) * g->lda;
        __m512i s = _mm512_setzero_si512();
        for (size_t p = 0; p < g->k; p += 64) s = _mm512_dpbusd_epi32(s, ones, _mm512_loadu_si512(a + p));
        rsum[r] = _mm512_reduce_add_epi32(s);
    }
}

/* ptile_i8 for R plane rows and NB blocks known only at run time (R <= PR;
 * NB 4 for one row, at most 2 for up to 4 plane rows, else 1). */
CW_TARGET_VNNI static void ptile_any(const cw_i8_gemm *g, size_t i, size_t R, size_t NB, size_t j, size_t nc,
                                     size_t kq, const uint8_t *wb, size_t bstride, const int32_t *rs)
{
    if (g->a16) {
#define CW_P(R_, NB_) ptile_i8(g, i, j, nc, kq, wb, bstride, rs, R_, NB_, 1)
        switch (R) {
        case 2: NB == 4 ? CW_P(2, 4) : NB == 2 ? CW_P(2, 2) : CW_P(2, 1); break;
        case 4: NB == 2 ? CW_P(4, 2) : CW_P(4, 1); break;
        case 6: CW_P(6, 1); break;
        default: CW_P(8, 1); break;
        }
#undef CW_P
        return;
    }
#define CW_P(R_, NB_) ptile_i8(g, i, j, nc, kq, wb, bstride, rs, R_, NB_, 0)
    if (R == 1 && NB == 4) CW_P(1, 4);
    else if (NB == 2) {
        switch (R) {
        case 1: CW_P(1, 2); break;
        case 2: CW_P(2, 2); break;
        case 3: CW_P(3, 2); break;
        default: CW_P(4, 2); break;
        }
    } else {
        switch (R) {
        case 1: CW_P(1, 1); break;
        case 2: CW_P(2, 1); break;
        case 3: CW_P(3, 1); break;
        case 4: CW_P(4, 1); break;
        case 5: CW_P(5, 1); break;
        case 6: CW_P(6, 1); break;
        case 7: CW_P(7, 1); break;
        default: CW_P(8, 1); break;
        }
    }
#undef CW_P
}

/* Plane rows [i, i+R) (R <= PR) by the blocks of [j, n1) (j a block start),
 * W's blocks from wb, bstride apart, as many at a time as ptile_any takes. */
CW_TARGET_VNNI static void ptile_row(const cw_i8_gemm *g, size_t i, size_t R, size_t j, size_t n1, size_t kq,
                                     const uint8_t *wb, size_t bstride, const int32_t *rs)
{
    size_t most = R <= cw_i8_planes(g) ? 4 : R <= 4 ? 2 : 1;
    while (j < n1) {
        size_t nb = (n1 - j + PC - 1) / PC;
        size_t take = nb >= most ? most : nb >= 2 && most >= 2 ? 2 : 1;
        ptile_any(g, i, R, take, j, n1 - j, kq, wb, bstride, rs);
        j += take * PC;
        wb += take * bstride;
    }
}

/* The packed form over rows [m0, m1), columns [n0, n1): W's blocks from
 * g->wp where the kernel table's prepack made them (n0 on a block start),
 * else packed here two at a time. Many rows go in 6 x 64 tiles (24
 * accumulators: 6 broadcasts and 4 loads feed 24 vpdpbusd, where the 8 x 32
 * tile's 8 and 2 fed 16); bench_gemm, one Zen 4 core, the encoder shapes:
 * 336-403 -> 368-405 G ops/s. Returns 0 (nothing done) if a buffer cannot
 * be allocated. */
CW_TARGET_VNNI static int gemm_i8_packed(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    /* plane rows [p0, p1); a 16-bit row's two planes stay in one tile */
    size_t pl = cw_i8_planes(g), p0 = m0 * pl, p1 = m1 * pl, step = pl == 2 ? PR : WR;
    size_t kq = (g->k + 3) / 4, nr = (p1 - p0 + PR - 1) / PR, bs = kq * PC * 4;
    uint8_t *bp = g->wp ? NULL : malloc(2 * bs);
    int32_t *rs = malloc(nr * PR * sizeof *rs);
    if ((!g->wp && !bp) || !rs) {
        free(bp);
        free(rs);
        return 0;
    }
    for (size_t i = p0; i < p1; i += PR) row_sums(g, i, p1 - i < PR ? p1 - i : PR, rs + (i - p0));
    if (g->wp && p1 - p0 <= PR) { /* few rows: across the blocks, several at a time */
        ptile_row(g, p0, p1 - p0, n0, n1, kq, g->wp + n0 / PC * bs, bs, rs);
        cw_gemm_post(g->post, g->c, g->ldc, m0, m1, n0, n1);
        free(rs);
        return 1;
    }
    for (size_t j = n0; j < n1; j += 2 * PC) {
        size_t nc = n1 - j < 2 * PC ? n1 - j : 2 * PC;
        const uint8_t *wb = g->wp ? g->wp + j / PC * bs : bp;
        if (!g->wp) {
            pack_i8(g->w, g->ldw, g->n, g->k, j, kq, bp);
            if (nc > PC) pack_i8(g->w, g->ldw, g->n, g->k, j + PC, kq, bp + bs);
        }
        for (size_t i = p0; i < p1; i += step) {
            size_t R = p1 - i < step ? p1 - i : step;
            if (pl == 1 && R == WR && nc > PC) ptile_i8(g, i, j, nc, kq, wb, bs, rs + (i - p0), WR, 2, 0);
            else ptile_row(g, i, R, j, j + nc, kq, wb, bs, rs + (i - p0));
            cw_gemm_post(g->post, g->c, g->ldc, i / pl, (i + R) / pl, j, j + nc);
        }
    }
    free(bp);
    free(rs);
    return 1;
}

/* ---- activations ----------------------------------------------------------------
 *
 * quant_rows as avx2_lowp.c's, 16 lanes and masked tails: max|x| by vmaxps
 * (which, like the reference's a > m ? a : m, never lets a NaN win; max is
 * exact in any order), cvtps2dq rounding ties to even as the reference's
 * 1.5 * 2^23 trick, then 64 values at a time narrowed by saturating packs
 * and clamped to [-127, 127] (the masked tail by vpmovdb on values clamped
 * in int32). Four max chains and the packs instead of one chain and a
 * vpmovdb store per 16 values: this was a third of an encoder GEMM's time. */
CW_TARGET_F static float absmax16(const float *x, size_t n)
{
    __m512 m0 = _mm512_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), m0);
        m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 16)), m1);
        m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 32)), m2);
        m3 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 48)), m3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = cw_mask16(n - i);
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)), m0);
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

/* q [0, 64) = clamp(round(x [0, 64) * s), -127, 127). packs saturate to
 * [-128, 127] (cvtps2dq's 0x80000000 for NaN too) and interleave 128-bit
 * lanes, which the permute undoes; the max then lifts -128 to -127. */
CW_TARGET_F static void quant64(int8_t *q, const float *x, __m512 s)
{
    __m512i v0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), s));
    __m512i v1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16), s));
    __m512i v2 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32), s));
    __m512i v3 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 48), s));
    /* lane l of the packs holds values 4l..4l+3 of v0, v1, v2, v3 in turn */
    __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(v0, v1), _mm512_packs_epi32(v2, v3));
    b = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), b);
    _mm512_storeu_si512(q, _mm512_max_epi8(b, _mm512_set1_epi8(-127)));
}

CW_TARGET_F void cw_avx512_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq)
{
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * k;
        int8_t *qr = q + r * ldq;
        float s = cw_quant_scale(absmax16(xr, k));
        if (s == 0.0f) {
            memset(qr, 0, ldq);
            scale[r] = 1.0f;
            continue;
        }
        scale[r] = s;
        memset(qr + k, 0, ldq - k);
        __m512 vs = _mm512_set1_ps(s);
        size_t i = 0;
        for (; i + 64 <= k; i += 64) quant64(qr + i, xr + i, vs);
        for (; i < k; i += 16) {
            __mmask16 m = cw_mask16(k - i);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), vs));
            _mm512_mask_cvtepi32_storeu_epi8(qr + i, m, _mm512_min_epi32(_mm512_max_epi32(v, lo), hi));
        }
    }
}

CW_TARGET_VNNI void cw_avx512_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    if (m0 >= m1 || n0 >= n1) return;
    /* W prepacked (its blocks start at multiples of 32): the packed form for
     * any rows, as its sums are exact and its outputs the same bits */
    if (g->wp && n0 % PC == 0 && gemm_i8_packed(g, m0, m1, n0, n1)) return;
    if (!g->wp && (g->m_class ? g->m_class : g->m) > GEMV_MAX_M && gemm_i8_packed(g, m0, m1, n0, n1)) return;
    /* m <= 8 here (plane rows: 16): all in one group, so W is read once;
     * more than 4 plane rows take at most 2 W rows per tile; MR and
     * MR_GEMV are even, so a 16-bit row's planes share a tile */
    size_t pl = cw_i8_planes(g), p0 = m0 * pl, p1 = m1 * pl;
    size_t nrg = gemv_cols(g->n * g->k), mrg = p1 - p0 > MR ? MR_GEMV : MR;
    if (mrg > MR && nrg > 2) nrg = 2;
    /* plane rows in strips of up to 64 (more only where the packed form found no memory) */
    int32_t asum[64];
    for (size_t s0 = p0; s0 < p1; s0 += 64) {
        size_t s1 = p1 - s0 < 64 ? p1 : s0 + 64;
        for (size_t i = s0; i < s1; i += PR) row_sums(g, i, s1 - i < PR ? s1 - i : PR, asum + (i - s0));
        for (size_t jb = n0; jb < n1; jb += NBLK) {
            size_t je = n1 - jb < NBLK ? n1 : jb + NBLK;
            for (size_t i = s0; i < s1; i += mrg) {
                size_t mr = s1 - i < mrg ? s1 - i : mrg;
                for (size_t j = jb; j < je; j += nrg)
                    tile_i8_any(g, i, j, asum + (i - s0), mr, je - j < nrg ? je - j : nrg);
                cw_gemm_post(g->post, g->c, g->ldc, i / pl, (i + mr) / pl, jb, je);
            }
        }
    }
}

/* ---- the int4 screen of the logits (lowp.h) ----------------------------------------
 *
 * Memory-bound by design: half the bytes of the int8 rows. A 64-byte chunk of
 * a row is 4 groups of 32, 4 lanes each; two chained vpdpbusd (low nibbles by
 * the activations of the groups' first halves, high by their second halves,
 * both rearranged once per call) leave each lane an exact sum within its
 * group. The nibbles are q + 8 as u8: the accumulators start at -8 x the
 * activations' lane sums. Then one conversion and one FMA by the lanes'
 * steps per chunk, and 16 rows reduced at once by a transpose-add tree. */

enum { SCREEN_MAXC = 16 }; /* chunks of 128: k <= 2048, Whisper's widest is 1280 */

/* A 64-byte chunk of a row of W taken apart: its low and high nibbles and
 * its 4 steps spread over their lanes. */
typedef struct {
    __m512i lo, hi;
    __m512 dz;
} screen_w;

CW_TARGET_VNNI CW_INLINE screen_w screen_unpack(const uint8_t *q, const uint16_t *d)
{
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512i v = _mm512_loadu_si512(q);
    __m512 dz = _mm512_cvtph_ps(_mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(const void *)d)));
    return (screen_w){ _mm512_and_si512(v, m4), _mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
                       _mm512_permutexvar_ps(spread, dz) };
}

/* f + the chunk's lanes (exact sums within groups) weighted by their steps. */
CW_TARGET_VNNI CW_INLINE __m512 screen_apply(__m512 f, const screen_w *w, __m512i lo, __m512i hi, __m512i noff)
{
    __m512i acc = dpbusd(dpbusd(noff, w->lo, lo), w->hi, hi);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), w->dz, f);
}

/* Row j's chunk c weighted by its 4 steps, into f. */
CW_TARGET_VNNI CW_INLINE __m512 screen_chunk(__m512 f, const uint8_t *q, const uint16_t *d, __m512i lo, __m512i hi,
                                              __m512i noff)
{
    screen_w w = screen_unpack(q, d);
    return screen_apply(f, &w, lo, hi, noff);
}

/* One activation row's chunks rearranged (lo[c] byte 16 t + i = a[128 c + 32 t + i],
 * hi[c] the same + 16) and -8 x their lane sums. */
typedef struct {
    __m512i lo[SCREEN_MAXC], hi[SCREEN_MAXC], noff[SCREEN_MAXC];
} screen_act;

CW_TARGET_VNNI static void screen_prep(screen_act *p, const int8_t *a, size_t nc)
{
    const __m512i ones = _mm512_set1_epi8(1);
    int8_t bl[64 * SCREEN_MAXC], bh[64 * SCREEN_MAXC];
    cw_screen_split(a, 128 * nc, bl, bh);
    for (size_t c = 0; c < nc; c++) {
        p->lo[c] = _mm512_loadu_si512(bl + 64 * c);
        p->hi[c] = _mm512_loadu_si512(bh + 64 * c);
        __m512i sums = dpbusd(dpbusd(_mm512_setzero_si512(), ones, p->lo[c]), ones, p->hi[c]);
        p->noff[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, 3));
    }
}

/* Several activation rows: the blocks of 16 rows of W from n0 on, each
 * taken apart into L1 once (16 x nc chunks, 24 KiB at most) and then read
 * by every activation row, which did the unpacking (7 of 11 instructions a
 * chunk) once per row. The same operations in the same order per output as
 * screen_chunk, so the same bits. Returns where the whole blocks end. */
enum { SCREEN_UNPACK_MAXC = 8 }; /* k <= 1024: the buffer stays within L1 */

CW_TARGET_VNNI static size_t screen_rows_unpacked(const cw_i4_screen *s, const screen_act *act, const float *ascale,
                                                  size_t m, float *y, size_t ldy, size_t n0, size_t n1)
{
    size_t nc = s->ld / 64, ng = s->ld / 16, j = n0;
    screen_w uw[16 * SCREEN_UNPACK_MAXC];
    for (; j + 16 <= n1; j += 16) {
        for (size_t r = 0; r < 16; r++)
            for (size_t c = 0; c < nc; c++)
                uw[r * nc + c] = screen_unpack(s->q + (j + r) * s->ld + 64 * c, s->d + (j + r) * ng + 4 * c);
        for (size_t i = 0; i < m; i++) {
            const screen_act *p = &act[i];
            __m512 f[16];
            for (int r = 0; r < 16; r++) f[r] = _mm512_setzero_ps();
            for (size_t c = 0; c < nc; c++)
                for (int r = 0; r < 16; r++) f[r] = screen_apply(f[r], &uw[(size_t)r * nc + c], p->lo[c], p->hi[c], p->noff[c]);
            _mm512_storeu_ps(y + i * ldy + j, _mm512_div_ps(cw_sum16x16(f), _mm512_set1_ps(ascale[i])));
        }
    }
    return j;
}

CW_TARGET_VNNI void cw_avx512_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale,
                                         size_t m, float *y, size_t ldy, size_t n0, size_t n1)
{
    size_t nc = s->ld / 64, ng = s->ld / 16;
    if (nc > SCREEN_MAXC || m > CW_SCREEN_MAX_M) {
        cw_ref_screen_i4(s, a, lda, ascale, m, y, ldy, n0, n1);
        return;
    }
    screen_act act[CW_SCREEN_MAX_M];
    for (size_t i = 0; i < m; i++) screen_prep(&act[i], a + i * lda, nc);
    size_t j = n0;
    if (m > 1 && nc <= SCREEN_UNPACK_MAXC) /* each block of W taken apart once for all rows */
        j = screen_rows_unpacked(s, act, ascale, m, y, ldy, n0, n1);
    for (; j + 16 <= n1; j += 16) /* the 16 rows of W stay in L1 for every activation row */
        for (size_t i = 0; i < m; i++) {
            const screen_act *p = &act[i];
            __m512 f[16];
            for (int r = 0; r < 16; r++) f[r] = _mm512_setzero_ps();
            for (size_t c = 0; c < nc; c++)
                for (int r = 0; r < 16; r++)
                    f[r] = screen_chunk(f[r], s->q + (j + (size_t)r) * s->ld + 64 * c, s->d + (j + (size_t)r) * ng + 4 * c,
                                        p->lo[c], p->hi[c], p->noff[c]);
            _mm512_storeu_ps(y + i * ldy + j, _mm512_div_ps(cw_sum16x16(f), _mm512_set1_ps(ascale[i])));
        }
    for (; j < n1; j++)
        for (size_t i = 0; i < m; i++) {
            const screen_act *p = &act[i];
            __m512 f = _mm512_setzero_ps();
            for (size_t c = 0; c < nc; c++)
                f = screen_chunk(f, s->q + j * s->ld + 64 * c, s->d + j * ng + 4 * c, p->lo[c], p->hi[c], p->noff[c]);
            y[i * ldy + j] = _mm512_reduce_add_ps(f) / ascale[i];
        }
}

/* ---- bf16 ----------------------------------------------------------------------- */

/* ab: NULL, or A rows [i0, ...) already narrowed to bf16, row stride lda16 (a
 * multiple of 32, zero past k); then each A vector is one load instead of
 * two loads and a conversion per tile. */
typedef struct {
    const uint16_t *ab;
    size_t i0, lda16;
} bf16_rows;

CW_TARGET_BF16 CW_INLINE void tile_bf16(const cw_gemm *g, const bf16_rows *ar, size_t i, size_t j, const int R,
                                         const int C)
{
    __m512 acc[MR_GEMV][NR];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    const uint16_t *w[NR], *ab[MR_GEMV];
    const float *a[MR_GEMV];
    for (int c = 0; c < C; c++) w[c] = (const uint16_t *)g->b + (j + (size_t)c) * g->ldb;
    for (int r = 0; r < R; r++) {
        a[r] = g->a + (i + (size_t)r) * g->lda;
        ab[r] = ar->ab ? ar->ab + (i - ar->i0 + (size_t)r) * ar->lda16 : NULL;
    }
    for (size_t p = 0; p < g->k; p += 32) {
        size_t left = g->k - p;
        __mmask32 mk = left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1);
        __mmask16 lo = (__mmask16)mk, hi = (__mmask16)(mk >> 16);
        __m512bh wv[NR];
        for (int c = 0; c < C; c++) wv[c] = (__m512bh)_mm512_maskz_loadu_epi16(mk, w[c] + p);
        for (int r = 0; r < R; r++) {
            /* element 2t of the bf16 vector pairs with element 2t of W: low half first */
            __m512bh av = ab[r] ? (__m512bh)_mm512_loadu_si512(ab[r] + p)
                                : _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, a[r] + p + 16),
                                                      _mm512_maskz_loadu_ps(lo, a[r] + p));
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], av, wv[c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            size_t ii = i + (size_t)r, jj = j + (size_t)c;
            float s = _mm512_reduce_add_ps(acc[r][c]);
            g->c[ii * g->ldc + jj] = g->bias ? g->bias[jj] + s : s;
        }
}

CW_TARGET_BF16 static void tile_bf16_any(const cw_gemm *g, const bf16_rows *ar, size_t i, size_t j, size_t mr,
                                         size_t nr)
{
#define CW_T(R)                                        \
    switch (nr) {                                      \
    case 1: tile_bf16(g, ar, i, j, R, 1); break;           \
    case 2: tile_bf16(g, ar, i, j, R, 2); break;           \
    case 3: tile_bf16(g, ar, i, j, R, 3); break;           \
    default: tile_bf16(g, ar, i, j, R, 4); break;          \
    }
#define CW_T2(R) (nr == 1 ? tile_bf16(g, ar, i, j, R, 1) : tile_bf16(g, ar, i, j, R, 2))
    switch (mr) { /* 5..8 rows (the decoder's beams): at most 2 W rows, 16 accumulators */
    case 1: CW_T(1); break;
    case 2: CW_T(2); break;
    case 3: CW_T(3); break;
    case 4: CW_T(4); break;
    case 5: CW_T2(5); break;
    case 6: CW_T2(6); break;
    case 7: CW_T2(7); break;
    default: CW_T2(8); break;
    }
#undef CW_T
#undef CW_T2
}

/* ---- bf16, packed (m > GEMV_MAX_M) -----------------------------------------------------
 *
 * As for int8: W packed per call into panels of 32 columns in vdpbf16ps's
 * layout, bp [k/2][32][2] bf16, and A's rows (bf16 values held as float32)
 * narrowed exactly to bf16 pairs [k/2] that are broadcast 4 bytes at a time:
 * 6 x 64 tiles of 24 accumulators (8 x 32 at the edges), each output one
 * lane summed in k order, so the bits do not depend on the tile. */

/* bp [kp][32][2] = W rows [j0, j0+32) (zero past n and past k). */
static void pack_bf16(const cw_gemm *g, size_t j0, size_t kp, uint16_t *bp)
{
    const uint16_t *wb = g->b;
    size_t k2 = g->k / 2;
    for (size_t c = 0; c < PC; c++) {
        uint32_t *d = (uint32_t *)(void *)bp + c;
        if (j0 + c >= g->n) {
            for (size_t q = 0; q < kp; q++) d[q * PC] = 0;
            continue;
        }
        const uint16_t *w = wb + (j0 + c) * g->ldb;
        for (size_t q = 0; q < k2; q++) {
            uint32_t v;
            memcpy(&v, w + 2 * q, sizeof v);
            d[q * PC] = v;
        }
        if (k2 < kp) d[k2 * PC] = w[g->k - 1]; /* odd k: the last element, paired with 0 */
    }
}

/* Rows [i, i+R) by NB panels of 32 columns from j on (panel b at bp + b *
 * kp * 64; nc: columns left from j). 6 rows by 2 panels (24 accumulators)
 * where there are that many, as the int8 kernel's tiles. */
CW_TARGET_BF16 CW_INLINE void ptile_bf16(const cw_gemm *g, const uint16_t *ab, size_t i, size_t j, size_t nc,
                                          size_t kp, const uint16_t *bp, const int R, const int NB)
{
    __m512 acc[PR][4];
    const size_t bstride = kp * PC * 2;
    for (int r = 0; r < R; r++)
        for (int h = 0; h < 2 * NB; h++) acc[r][h] = _mm512_setzero_ps();
    for (size_t q = 0; q < kp; q++, bp += PC * 2) {
        __m512bh b[4];
        for (int h = 0; h < 2 * NB; h++) b[h] = (__m512bh)_mm512_loadu_si512(bp + (size_t)(h / 2) * bstride + 32 * (h % 2));
        for (int r = 0; r < R; r++) {
            int32_t v;
            memcpy(&v, ab + (size_t)r * 2 * kp + 2 * q, sizeof v);
            __m512bh av = (__m512bh)_mm512_set1_epi32(v);
            for (int h = 0; h < 2 * NB; h++) acc[r][h] = _mm512_dpbf16_ps(acc[r][h], av, b[h]);
        }
    }
    for (int h = 0; h < 2 * NB; h++) {
        size_t jh = j + 16 * (size_t)h;
        if (jh >= j + nc) break;
        size_t left = j + nc - jh;
        __mmask16 mk = cw_mask16(left);
        __m512 bias = g->bias ? _mm512_maskz_loadu_ps(mk, g->bias + jh) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++)
            _mm512_mask_storeu_ps(g->c + (i + (size_t)r) * g->ldc + jh, mk, _mm512_add_ps(bias, acc[r][h]));
    }
}

/* Floats of scratch the bf16 product needs for g with m rows and depth k:
 * the packed path's B panel [kp, PC] and narrowed A [m, kp] (bf16 pairs),
 * or the dot path's narrowed rows [m, lda16] (bf16), plus alignment. */
static size_t bf16_scratch(size_t m, size_t k)
{
    size_t kp = (k + 1) / 2;
    if (m > GEMV_MAX_M) return 2 * kp * PC + m * kp + 32;
    return m * ((k + 31) / 32 * 32) / 2 + 32;
}

/* buf: bf16_scratch() floats, 64-byte aligned, or NULL (then the panels are
 * allocated here). Returns 0 (nothing done) if they cannot be. */
CW_TARGET_BF16 static int gemm_bf16_packed(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1,
                                           uint16_t *buf)
{
    size_t kp = (g->k + 1) / 2, mr = m1 - m0;
    uint16_t *bp = buf, *ab = buf ? buf + 2 * kp * PC * 2 : NULL;
    if (!buf) {
        bp = malloc(2 * kp * PC * 2 * sizeof *bp);
        ab = malloc(mr * kp * 2 * sizeof *ab);
    }
    if (!bp || !ab) {
        free(bp);
        free(ab);
        return 0;
    }
    for (size_t r = 0; r < mr; r++) { /* the upper halves: exact for values already rounded to bf16 */
        const float *a = g->a + (m0 + r) * g->lda;
        uint16_t *d = ab + r * 2 * kp;
        for (size_t kk = 0; kk < g->k; kk++) {
            uint32_t u;
            memcpy(&u, a + kk, sizeof u);
            d[kk] = (uint16_t)(u >> 16);
        }
        if (g->k & 1) d[g->k] = 0;
    }
    for (size_t j = n0; j < n1; j += 2 * PC) {
        size_t nc = n1 - j < 2 * PC ? n1 - j : 2 * PC;
        pack_bf16(g, j, kp, bp);
        if (nc > PC) pack_bf16(g, j + PC, kp, bp + kp * PC * 2);
        for (size_t i = m0; i < m1;) {
            const uint16_t *a = ab + (i - m0) * 2 * kp;
            size_t R = m1 - i;
            if (R >= WR && nc > PC) {
                ptile_bf16(g, a, i, j, nc, kp, bp, WR, 2);
                R = WR;
            } else { /* the last rows, or a last panel alone: 8 x 32 tiles */
                R = R < PR ? R : PR;
                for (size_t p = 0; p < nc; p += PC) {
                    const uint16_t *b = bp + p / PC * kp * PC * 2;
                    size_t c = nc - p;
                    switch (R) {
                    case 1: ptile_bf16(g, a, i, j + p, c, kp, b, 1, 1); break;
                    case 2: ptile_bf16(g, a, i, j + p, c, kp, b, 2, 1); break;
                    case 3: ptile_bf16(g, a, i, j + p, c, kp, b, 3, 1); break;
                    case 4: ptile_bf16(g, a, i, j + p, c, kp, b, 4, 1); break;
                    case 5: ptile_bf16(g, a, i, j + p, c, kp, b, 5, 1); break;
                    case 6: ptile_bf16(g, a, i, j + p, c, kp, b, 6, 1); break;
                    case 7: ptile_bf16(g, a, i, j + p, c, kp, b, 7, 1); break;
                    default: ptile_bf16(g, a, i, j + p, c, kp, b, 8, 1); break;
                    }
                }
            }
            cw_gemm_post(g->post, g->c, g->ldc, i, i + R, j, j + nc);
            i += R;
        }
    }
    if (!buf) {
        free(bp);
        free(ab);
    }
    return 1;
}

size_t cw_avx512_gemm_bf16_scratch_floats(const cw_gemm *g)
{
    size_t cls = cw_gemm_class(g); /* the shape the kernel takes, for m rows */
    return bf16_scratch(cls > GEMV_MAX_M && g->m <= GEMV_MAX_M ? cls : g->m, g->k);
}

/* g: A [m, k] float32 holding bf16 values, B = W^T with W [n, k] BF16. */
CW_TARGET_BF16 void cw_avx512_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1,
                                        float *scratch)
{
    if (m0 >= m1 || n0 >= n1) return;
    /* scratch: cw_avx512_gemm_bf16_scratch_floats(g) floats, or NULL */
    uint16_t *buf = scratch ? (uint16_t *)(void *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63) : NULL;
    if (cw_gemm_class(g) > GEMV_MAX_M && gemm_bf16_packed(g, m0, m1, n0, n1, buf)) return;
    /* the slice's rows narrowed once (exact: they hold bf16 values) */
    bf16_rows ar = { NULL, m0, (g->k + 31) / 32 * 32 };
    uint16_t *ab = NULL;
    int own = 0;
    if (m1 - m0 <= MR_GEMV && buf && cw_gemm_class(g) <= GEMV_MAX_M) {
        ab = buf;
        memset(ab, 0, (m1 - m0) * ar.lda16 * sizeof *ab);
    } else if (m1 - m0 <= MR_GEMV) {
        ab = calloc((m1 - m0) * ar.lda16, sizeof *ab);
        own = 1;
    }
    for (size_t r = 0; ab && r < m1 - m0; r++)
        for (size_t kk = 0; kk < g->k; kk++) {
            uint32_t u;
            memcpy(&u, g->a + (m0 + r) * g->lda + kk, sizeof u);
            ab[r * ar.lda16 + kk] = (uint16_t)(u >> 16);
        }
    ar.ab = ab;
    size_t nrg = gemv_cols(g->n * g->k * 2), mrg = m1 - m0 > MR ? MR_GEMV : MR;
    if (mrg > MR && nrg > 2) nrg = 2;
    for (size_t jb = n0; jb < n1; jb += NBLK) {
        size_t je = n1 - jb < NBLK ? n1 : jb + NBLK;
        for (size_t i = m0; i < m1; i += mrg) {
            size_t mr = m1 - i < mrg ? m1 - i : mrg;
            for (size_t j = jb; j < je; j += nrg) tile_bf16_any(g, &ar, i, j, mr, je - j < nrg ? je - j : nrg);
            cw_gemm_post(g->post, g->c, g->ldc, i, i + mr, jb, je);
        }
    }
    if (own) free(ab);
}

#endif /* CW_HAVE_X86 */
