/* AMX kernels of lowp mode (lowp.h) for m > 8 rows (Sapphire Rapids and
 * later): TDPBSSD multiplies int8 by int8 into int32 (no offset needed, the
 * sums are exact: the reference's bits) and TDPBF16PS bf16 pairs into
 * float32. Each call packs W, 32 columns at a time, into B tiles (16 rows of
 * k/4 int8 quads or k/2 bf16 pairs, 16 columns of 4 bytes), and walks A in
 * blocks of 32 rows: four 16 x 16 accumulator tiles (tmm0-3), two A tiles
 * (tmm4-5) and two B tiles (tmm6-7) per 64 bytes of k. Fewer than 8 rows (the
 * decoder) go to the AVX-512 dot kernels: AMX needs 16 rows to pay.
 *
 * test_lowp checks them against the reference where the CPU has AMX (the
 * Sapphire Rapids-class Xeons of this machine kind), test_amx_emul their
 * packing and tiling with the tile operations in plain C on any x86-64. */
#ifdef CW_AMX_EMULATE
#define cw_amx_gemm_i8 cw_emu_amx_gemm_i8
#define cw_amx_gemm_bf16 cw_emu_amx_gemm_bf16
#define cw_amx_pack_i8 cw_emu_amx_pack_i8
#define cw_amx_pack_i8_bytes cw_emu_amx_pack_i8_bytes
#define cw_amx_pack_bf16 cw_emu_amx_pack_bf16
#define cw_amx_pack_bf16_bytes cw_emu_amx_pack_bf16_bytes
#define cw_amx_bf16_rows cw_emu_amx_bf16_rows
#endif
#include "backend/cpu/cpu.h"
#include "backend/cpu/amx_tiles.h"

#if defined(CW_HAVE_X86) && defined(__x86_64__)

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#ifndef CW_AMX_EMULATE
#define CW_TARGET_AMX \
    __attribute__((target("amx-tile,amx-int8,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16")))
#define CW_AVX512_MATH_TARGET CW_TARGET_AMX
#include "backend/cpu/avx512_math.h"
#else
#define CW_TARGET_AMX
#endif

/* The tile operations. tests/unit/test_amx_emul.c includes this file with
 * CW_AMX_EMULATE and plain C versions of them, which checks the packing and
 * tiling on any CPU; then the entry points get other names. */
#ifndef CW_AMX_EMULATE
#define TILE_CONFIG(cfg) _tile_loadconfig(cfg)
#define TILE_RELEASE() _tile_release()
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, p, stride) _tile_loadd(t, p, stride)
#define TILE_STORE(t, p, stride) _tile_stored(t, p, stride)
#define TILE_DPBSSD(c, a, b) _tile_dpbssd(c, a, b)
#define TILE_DPBF16PS(c, a, b) _tile_dpbf16ps(c, a, b)
#endif

enum { TR = 16, TB = 64, BR = 32, BC = CW_AMX_PACK_COLS, GEMV_MAX_M = CW_AMX_GEMV_MAX_M };

/* The four accumulators (tmm0-3) zeroed, and stored as the 32 x 32 block of
 * 4-byte elements at p, ld elements a row. */
#define ZERO_2X2()    \
    do {              \
        TILE_ZERO(0); \
        TILE_ZERO(1); \
        TILE_ZERO(2); \
        TILE_ZERO(3); \
    } while (0)
#define STORE_2X2(p, ld)                               \
    do {                                               \
        TILE_STORE(0, (p), (ld) * 4);                  \
        TILE_STORE(1, (p) + 16, (ld) * 4);             \
        TILE_STORE(2, (p) + TR * (ld), (ld) * 4);      \
        TILE_STORE(3, (p) + TR * (ld) + 16, (ld) * 4); \
    } while (0)

CW_TARGET_AMX static void configure(void)
{
    cw_amx_tile_config cfg;
    cw_amx_config_16x64(&cfg);
    TILE_CONFIG(&cfg);
}

/* Row blocks of 32 rows of `a` (row stride lda bytes) from row i: a pointer
 * to them, or to a zero-padded copy in pad [32][lda] when fewer remain. */
static const void *a_block(const void *a, size_t lda, size_t i, size_t m1, void *pad)
{
    const char *p = (const char *)a + i * lda;
    if (m1 - i >= BR) return p;
    memset(pad, 0, BR * lda);
    memcpy(pad, p, (m1 - i) * lda);
    return pad;
}

/* Column blocks of packed B (`per` bytes each) walked by every row block of
 * A before the next group: the whole B once per 32 rows of A streamed it
 * from L3 where it outgrew L2 (base's MLP: 2 MB in bf16 against the 2 MB
 * L2), at a fraction of the tiles' rate; a group of at most 512 KiB stays in
 * L2 and A (32 KiB to 128 KiB a block) streams instead, once per group. */
static size_t b_group(size_t per)
{
    size_t ng = ((size_t)512 << 10) / per;
    return ng ? ng : 1;
}

/* ---- int8 ----------------------------------------------------------------------- */

/* bp [2][kb][16][64]: columns [j0, j0+32) of W, k in 64-byte blocks; int8
 * quad q of block t of column c at [c/16][t][q][(c%16)*4]; zero past k, n.
 * The emulation moves a quad (4 bytes) at a time; the AVX-512 version
 * transposes each 16 x 16 block of quads in registers (a tenth of the
 * instructions: packing was a fifth of a 1500-row product's time). */
#ifdef CW_AMX_EMULATE
static void pack_b_i8(const cw_i8_gemm *g, size_t j0, size_t kb, int8_t *bp)
{
    memset(bp, 0, 2 * kb * TR * TB);
    size_t full = g->k / 4; /* whole quads of a row */
    for (size_t c = 0; c < BC && j0 + c < g->n; c++) {
        const int8_t *w = g->w + (j0 + c) * g->ldw;
        int8_t *d = bp + (c / 16) * kb * TR * TB + (c % 16) * 4;
        for (size_t quad = 0; quad < full; quad++) memcpy(d + quad * TB, w + quad * 4, 4);
        for (size_t kk = full * 4; kk < g->k; kk++) d[full * TB + kk % 4] = w[kk];
    }
}
#else
/* d [16][64]: the 4-byte unit q (an int8 quad, a bf16 pair) of rows r < 16
 * of w (row stride ldw bytes; rows from `rows` on zero) at [q][4r]; each row
 * has `left` bytes from w on (zeros past them). */
CW_TARGET_AMX static void pack_tile(const char *w, size_t ldw, size_t rows, size_t left, char *d)
{
    __mmask64 mk = left >= TB ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
    __m512i r[16], t[16];
    for (size_t c = 0; c < 16; c++) r[c] = c < rows ? _mm512_maskz_loadu_epi8(mk, w + c * ldw) : _mm512_setzero_si512();
    /* quads 4L + e of rows 4a .. 4a + 3 in 128-bit lane L of t[4a + e] */
    for (size_t a = 0; a < 16; a += 4) {
        __m512i lo0 = _mm512_unpacklo_epi32(r[a], r[a + 1]), hi0 = _mm512_unpackhi_epi32(r[a], r[a + 1]);
        __m512i lo1 = _mm512_unpacklo_epi32(r[a + 2], r[a + 3]), hi1 = _mm512_unpackhi_epi32(r[a + 2], r[a + 3]);
        t[a] = _mm512_unpacklo_epi64(lo0, lo1);
        t[a + 1] = _mm512_unpackhi_epi64(lo0, lo1);
        t[a + 2] = _mm512_unpacklo_epi64(hi0, hi1);
        t[a + 3] = _mm512_unpackhi_epi64(hi0, hi1);
    }
    /* row 4L + e = lane L of t[e], t[4 + e], t[8 + e], t[12 + e] */
    for (size_t e = 0; e < 4; e++) {
        __m512i x0 = _mm512_shuffle_i32x4(t[e], t[4 + e], 0x88), x1 = _mm512_shuffle_i32x4(t[e], t[4 + e], 0xdd);
        __m512i y0 = _mm512_shuffle_i32x4(t[8 + e], t[12 + e], 0x88), y1 = _mm512_shuffle_i32x4(t[8 + e], t[12 + e], 0xdd);
        _mm512_storeu_si512(d + (0 + e) * TB, _mm512_shuffle_i32x4(x0, y0, 0x88));
        _mm512_storeu_si512(d + (4 + e) * TB, _mm512_shuffle_i32x4(x1, y1, 0x88));
        _mm512_storeu_si512(d + (8 + e) * TB, _mm512_shuffle_i32x4(x0, y0, 0xdd));
        _mm512_storeu_si512(d + (12 + e) * TB, _mm512_shuffle_i32x4(x1, y1, 0xdd));
    }
}

/* Tiles [2][kb][16][64] of columns [j0, j0 + 32) of an [n, k] matrix of
 * `unit`-byte elements (row stride ld elements): 64 bytes of k per tile. */
CW_TARGET_AMX static void pack_tiles(const void *w, size_t ld, size_t n, size_t k, size_t unit, size_t j0, size_t kb,
                                     char *bp)
{
    for (size_t h = 0; h < 2; h++) {
        size_t c0 = j0 + 16 * h, rows = c0 < n ? n - c0 : 0;
        const char *src = (const char *)w + c0 * ld * unit;
        for (size_t t = 0; t < kb; t++)
            pack_tile(src + t * TB, ld * unit, rows, k * unit - t * TB, bp + (h * kb + t) * TR * TB);
    }
}

CW_TARGET_AMX static void pack_b_i8(const cw_i8_gemm *g, size_t j0, size_t kb, int8_t *bp)
{
    pack_tiles(g->w, g->ldw, g->n, g->k, 1, j0, kb, (char *)bp);
}
#endif

size_t cw_amx_pack_i8_bytes(const cw_i8_gemm *g)
{
    return (g->n + BC - 1) / BC * 2 * (g->lda / TB) * TR * TB;
}

void cw_amx_pack_i8(const cw_i8_gemm *g, size_t b0, size_t b1, int8_t *bp)
{
    size_t kb = g->lda / TB, per = 2 * kb * TR * TB;
    for (size_t b = b0; b < b1; b++) pack_b_i8(g, b * BC, kb, bp + b * per);
}

/* c[i + r][j + q] for the 32 x 32 int32 block acc (row stride BC): mr rows,
 * columns q0 <= q < q1; cw_i8_out's arithmetic, 16 lanes at a time (scalar
 * in the emulation, which runs on CPUs without AVX-512). */
#ifdef CW_AMX_EMULATE
static void store_i8_block(const cw_i8_gemm *g, const int32_t *acc, size_t i, size_t j, size_t mr, size_t q0,
                           size_t q1)
{
    for (size_t r = 0; r < mr; r++)
        for (size_t q = q0; q < q1; q++)
            g->c[(i + r) * g->ldc + j + q] =
                cw_i8_out(acc[r * BC + q], cw_i8_recip(g->ascale[i + r]), cw_i8_recip(g->wscale[j + q]), g->bias, j + q);
}
#else
CW_TARGET_AMX static void store_i8_block(const cw_i8_gemm *g, const int32_t *acc, size_t i, size_t j, size_t mr,
                                         size_t q0, size_t q1)
{
    float ra[BR];
    for (size_t r = 0; r < mr; r++) ra[r] = cw_i8_recip(g->ascale[i + r]);
    for (size_t q = q0; q < q1; q += 16) {
        __mmask16 m = q1 - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (q1 - q)) - 1);
        /* cw_i8_recip lane by lane; masked-off lanes divide by 1 */
        __m512 ws = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, g->wscale + j + q));
        __m512 b = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + j + q) : _mm512_setzero_ps();
        for (size_t r = 0; r < mr; r++) {
            __m512 x = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + r * BC + q));
            __m512 y = _mm512_mul_ps(x, _mm512_mul_ps(_mm512_set1_ps(ra[r]), ws));
            if (g->bias) y = _mm512_add_ps(y, b);
            _mm512_mask_storeu_ps(g->c + (i + r) * g->ldc + j + q, m, y);
        }
    }
}
#endif

/* B packed whole first (here, or once for all threads in g->bp), then each
 * block of 32 rows of A (in L1) meets every column block in turn: walking A
 * once per column block instead kept the tile loads waiting on L2. With
 * g->bp the blocks are those of the whole W, so a slice from column n0 may
 * begin inside one (q0). */
CW_TARGET_AMX static int gemm_i8_amx(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t kb = g->lda / TB; /* lda: a multiple of 64, zeros past k */
    size_t base = g->bp ? n0 / BC * BC : n0, nb = (n1 - base + BC - 1) / BC, per = 2 * kb * TR * TB;
    int8_t *own = g->bp ? NULL : malloc(nb * per), *pad = malloc(BR * g->lda);
    int32_t *c = malloc(BR * BC * sizeof *c);
    if ((!g->bp && !own) || !pad || !c) {
        free(own), free(pad), free(c);
        return 0;
    }
    const int8_t *bp = g->bp ? g->bp + base / BC * per : own;
    for (size_t b = 0; own && b < nb; b++) pack_b_i8(g, base + b * BC, kb, own + b * per);
    configure();
    size_t ng = b_group(per);
    for (size_t b0 = 0; b0 < nb; b0 += ng)
    for (size_t i = m0; i < m1; i += BR) {
        const int8_t *a = a_block(g->a, g->lda, i, m1, pad);
        size_t b1 = nb - b0 < ng ? nb : b0 + ng;
        for (size_t b = b0; b < b1; b++) {
            size_t j = base + b * BC, q0 = j < n0 ? n0 - j : 0, q1 = n1 - j < BC ? n1 - j : BC;
            const int8_t *bb = bp + b * per;
            ZERO_2X2();
            for (size_t t = 0; t < kb; t++) {
                TILE_LOAD(4, a + t * TB, g->lda);
                TILE_LOAD(5, a + TR * g->lda + t * TB, g->lda);
                TILE_LOAD(6, bb + t * TR * TB, TB);
                TILE_LOAD(7, bb + (kb + t) * TR * TB, TB);
                TILE_DPBSSD(0, 4, 6);
                TILE_DPBSSD(1, 4, 7);
                TILE_DPBSSD(2, 5, 6);
                TILE_DPBSSD(3, 5, 7);
            }
            STORE_2X2(c, BC);
            store_i8_block(g, c, i, j, m1 - i < BR ? m1 - i : BR, q0, q1);
        }
        /* the group's columns of the block's rows, final and in L2 */
        size_t c0 = base + b0 * BC, c1 = base + b1 * BC;
        cw_gemm_post(g->post, g->c, g->ldc, i, m1 - i < BR ? m1 : i + BR, c0 > n0 ? c0 : n0, c1 < n1 ? c1 : n1);
    }
    TILE_RELEASE();
    free(own), free(pad), free(c);
    return 1;
}

void cw_amx_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    if (m0 >= m1 || n0 >= n1) return;
    if (!g->a16 && (g->m_class ? g->m_class : g->m) > GEMV_MAX_M && gemm_i8_amx(g, m0, m1, n0, n1)) return;
    cw_avx512_gemm_i8(g, m0, m1, n0, n1);
}

/* ---- bf16 ----------------------------------------------------------------------- */

/* bp [2][kb][16][64]: bf16 pair q of 32-element block t of column c at
 * [c/16][t][q][(c%16)*4]; zero past k, n. The emulation moves a pair (4
 * bytes) at a time; the AVX-512 version transposes as the int8 packing. */
#ifdef CW_AMX_EMULATE
static void pack_b_bf16(const cw_gemm *g, size_t j0, size_t kb, uint16_t *bp)
{
    memset(bp, 0, 2 * kb * TR * TB);
    const uint16_t *wb = g->b;
    size_t full = g->k / 2; /* whole pairs of a row */
    for (size_t c = 0; c < BC && j0 + c < g->n; c++) {
        const uint16_t *w = wb + (j0 + c) * g->ldb;
        uint16_t *d = bp + (c / 16) * kb * TR * (TB / 2) + (c % 16) * 2;
        for (size_t pair = 0; pair < full; pair++) memcpy(d + pair * (TB / 2), w + 2 * pair, 4);
        if (g->k & 1) d[full * (TB / 2)] = w[g->k - 1];
    }
}
#else
CW_TARGET_AMX static void pack_b_bf16(const cw_gemm *g, size_t j0, size_t kb, uint16_t *bp)
{
    pack_tiles(g->b, g->ldb, g->n, g->k, 2, j0, kb, (char *)bp);
}
#endif

size_t cw_amx_pack_bf16_bytes(const cw_gemm *g)
{
    return (g->n + BC - 1) / BC * 2 * ((g->k + 31) / 32) * TR * TB;
}

void cw_amx_pack_bf16(const cw_gemm *g, size_t b0, size_t b1, void *bp)
{
    size_t kb = (g->k + 31) / 32, per = 2 * kb * TR * TB;
    for (size_t b = b0; b < b1; b++) pack_b_bf16(g, b * BC, kb, (uint16_t *)(void *)((char *)bp + b * per));
}

/* Rows [r0, r0 + rows) of a16 (cw_a16_at): x [rows, k] rounded to bf16
 * (nearest even; the upper halves of bf16_round's floats), zero from k to
 * lda, a multiple of 32. */
#ifdef CW_AMX_EMULATE
void cw_amx_bf16_rows(uint16_t *a16, size_t lda, const float *x, size_t r0, size_t rows, size_t k)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t kk = 0; kk < lda; kk++) a16[cw_a16_at(r0 + r, kk, lda)] = kk < k ? cw_f32_to_bf16(x[r * k + kk]) : 0;
}
#else
CW_TARGET_AMX void cw_amx_bf16_rows(uint16_t *a16, size_t lda, const float *x, size_t r0, size_t rows, size_t k)
{
    const __m512i quiet = _mm512_set1_epi32(0x00400000);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * k;
        for (size_t kk = 0; kk < lda; kk += 16) {
            __mmask16 m = kk >= k ? 0 : k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - kk)) - 1);
            __m512 f = _mm512_maskz_loadu_ps(m, xr + kk);
            /* a NaN stays a (quiet) NaN, as bf16_round keeps it */
            __m512i nan = _mm512_srli_epi32(_mm512_or_si512(_mm512_castps_si512(f), quiet), 16);
            __m512i v = _mm512_mask_mov_epi32(cw_bf16_rne16(f), _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), nan);
            _mm256_storeu_si256((__m256i *)(void *)(a16 + cw_a16_at(r0 + r, kk, lda)), _mm512_cvtepi32_epi16(v));
        }
    }
}
#endif

/* Rows [m0, m1) of A into ab as rows [0, m1 - m0) of an a16 (cw_a16_at):
 * the upper halves of A's floats (exact: A holds values rounded to bf16),
 * zero past k; 16 lanes at a time (scalar in the emulation). */
#ifdef CW_AMX_EMULATE
static void a_to_bf16(const cw_gemm *g, size_t m0, size_t m1, uint16_t *ab, size_t lda)
{
    for (size_t r = 0; r < m1 - m0; r++) {
        const float *a = g->a + (m0 + r) * g->lda;
        for (size_t kk = 0; kk < g->k; kk++) {
            uint32_t u;
            memcpy(&u, a + kk, sizeof u);
            ab[cw_a16_at(r, kk, lda)] = (uint16_t)(u >> 16);
        }
    }
}

/* c[i + r][j + q] = acc[r][q] (row stride BC) + bias for rows r0 <= r < r1
 * and columns q0 <= q < q1 of a 32 x 32 block. */
static void store_bf16_block(const cw_gemm *g, const float *acc, size_t i, size_t j, size_t r0, size_t r1, size_t q0,
                             size_t q1)
{
    for (size_t r = r0; r < r1; r++)
        for (size_t q = q0; q < q1; q++) {
            float s = acc[r * BC + q];
            g->c[(i + r) * g->ldc + j + q] = g->bias ? g->bias[j + q] + s : s;
        }
}
#else
CW_TARGET_AMX static void a_to_bf16(const cw_gemm *g, size_t m0, size_t m1, uint16_t *ab, size_t lda)
{
    for (size_t r = 0; r < m1 - m0; r++) {
        const float *a = g->a + (m0 + r) * g->lda;
        for (size_t kk = 0; kk < g->k; kk += 16) {
            __mmask16 m = g->k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (g->k - kk)) - 1);
            __m512i u = _mm512_srli_epi32(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, a + kk)), 16);
            _mm256_mask_storeu_epi16(ab + cw_a16_at(r, kk, lda), m, _mm512_cvtepi32_epi16(u));
        }
    }
}

CW_TARGET_AMX static void store_bf16_block(const cw_gemm *g, const float *acc, size_t i, size_t j, size_t r0,
                                           size_t r1, size_t q0, size_t q1)
{
    for (size_t q = q0; q < q1; q += 16) {
        __mmask16 m = q1 - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (q1 - q)) - 1);
        __m512 b = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + j + q) : _mm512_setzero_ps();
        for (size_t r = r0; r < r1; r++) {
            __m512 s = _mm512_maskz_loadu_ps(m, acc + r * BC + q);
            _mm512_mask_storeu_ps(g->c + (i + r) * g->ldc + j + q, m, g->bias ? _mm512_add_ps(b, s) : s);
        }
    }
}
#endif

/* Rows [m0, m1) x columns [n0, n1) from A's bf16 rows in a16 (cw_a16_at,
 * row stride lda; its row 0 is row `row0` of the product, readable up to the
 * next multiple of 32 rows) and B's column blocks bp from column `base` on.
 * Without a bias a whole 32 x 32 block goes from the tiles straight into
 * C; otherwise through a buffer (the bias added as the other kernels add
 * it, after the sum), each block copied out while the next one's tile
 * multiplies run: read back at once, the tile stores held the loads up, and
 * the copy cost a quarter of the product's time. */
CW_TARGET_AMX static void bf16_blocks(const cw_gemm *g, const uint16_t *a16, size_t lda, size_t row0, const char *bp,
                                      size_t base, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t kb = lda / 32, per = 2 * kb * TR * TB, nb = (n1 - base + BC - 1) / BC, ng = b_group(per);
    size_t ib0 = (m0 - row0) / BR, ib1 = (m1 - row0 + BR - 1) / BR;
    float c[2][BR * BC];
    size_t held = 0, held_j = 0, held_q[2] = { 0, 0 }, slot = 0; /* a block in c[!slot] to store */
    configure();
    for (size_t b0 = 0; b0 < nb; b0 += ng) {
        size_t b1 = nb - b0 < ng ? nb : b0 + ng, c0 = base + b0 * BC, c1 = base + b1 * BC;
        for (size_t ib = ib0; ib < ib1; ib++) {
            const char *ai = (const char *)(a16 + ib * BR * lda);
            size_t i = row0 + ib * BR, r0 = i < m0 ? m0 - i : 0, r1 = m1 - i < BR ? m1 - i : BR;
            for (size_t b = b0; b < b1; b++) {
                size_t j = base + b * BC, q0 = j < n0 ? n0 - j : 0, q1 = n1 - j < BC ? n1 - j : BC;
                const char *bb = bp + b * per;
                ZERO_2X2();
                for (size_t t = 0; t < kb; t++) {
                    TILE_LOAD(4, ai + 2 * t * TR * TB, TB);
                    TILE_LOAD(5, ai + (2 * t + 1) * TR * TB, TB);
                    TILE_LOAD(6, bb + t * TR * TB, TB);
                    TILE_LOAD(7, bb + (kb + t) * TR * TB, TB);
                    TILE_DPBF16PS(0, 4, 6);
                    TILE_DPBF16PS(1, 4, 7);
                    TILE_DPBF16PS(2, 5, 6);
                    TILE_DPBF16PS(3, 5, 7);
                }
                /* the last block out of its buffer while these multiplies run */
                if (held) store_bf16_block(g, c[!slot], i, held_j, r0, r1, held_q[0], held_q[1]);
                held = 0;
                if (!g->bias && r0 == 0 && r1 == BR && q0 == 0 && q1 == BC) {
                    STORE_2X2(g->c + i * g->ldc + j, g->ldc);
                    continue;
                }
                STORE_2X2(c[slot], BC);
                held = 1, held_j = j, held_q[0] = q0, held_q[1] = q1, slot = !slot;
            }
            if (held) store_bf16_block(g, c[!slot], i, held_j, r0, r1, held_q[0], held_q[1]);
            held = 0;
            /* the group's columns of the block's rows, final and in L2 */
            cw_gemm_post(g->post, g->c, g->ldc, i + r0, i + r1, c0 > n0 ? c0 : n0, c1 < n1 ? c1 : n1);
        }
    }
    TILE_RELEASE();
}

/* As gemm_i8_amx: B packed whole (here, or once for all threads in g->bp,
 * with A's rows in g->a16), then row blocks of A against every column block. */
CW_TARGET_AMX static int gemm_bf16_amx(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t kb = (g->k + 31) / 32, lda = kb * 32, per = 2 * kb * TR * TB;
    if (g->bp) {
        size_t base = n0 / BC * BC;
        bf16_blocks(g, g->a16, g->lda16, 0, (const char *)g->bp + base / BC * per, base, m0, m1, n0, n1);
        return 1;
    }
    size_t rows = (m1 - m0 + BR - 1) / BR * BR, nb = (n1 - n0 + BC - 1) / BC;
    char *bp = malloc(nb * per);
    uint16_t *ab = calloc(rows, lda * sizeof *ab);
    if (!bp || !ab) {
        free(bp), free(ab);
        return 0;
    }
    a_to_bf16(g, m0, m1, ab, lda);
    for (size_t b = 0; b < nb; b++) pack_b_bf16(g, n0 + b * BC, kb, (uint16_t *)(void *)(bp + b * per));
    bf16_blocks(g, ab, lda, m0, bp, n0, m0, m1, n0, n1);
    free(bp), free(ab);
    return 1;
}

void cw_amx_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch)
{
    if (m0 >= m1 || n0 >= n1) return;
    if (cw_gemm_class(g) > GEMV_MAX_M && gemm_bf16_amx(g, m0, m1, n0, n1)) return;
    cw_avx512_gemm_bf16(g, m0, m1, n0, n1, scratch);
}

#endif
