/* AMX kernels of lowp mode (lowp.h) for m > 8 rows (Sapphire Rapids and
 * later): TDPBSSD multiplies int8 by int8 into int32 (no offset needed, the
 * sums are exact: the reference's bits) and TDPBF16PS bf16 pairs into
 * float32. Each call packs W, 32 columns at a time, into B tiles (16 rows of
 * k/4 int8 quads or k/2 bf16 pairs, 16 columns of 4 bytes), and walks A in
 * blocks of 32 rows: four 16 x 16 accumulator tiles (tmm0-3), two A tiles
 * (tmm4-5) and two B tiles (tmm6-7) per 64 bytes of k. Fewer than 8 rows (the
 * decoder) go to the AVX-512 dot kernels: AMX needs 16 rows to pay.
 *
 * UNTESTED on real AMX hardware when written (the development CPU has none):
 * dispatch uses these only when cw_cpu_detect reports AMX and CW_AMX=1 is set
 * in the environment, until test_lowp has passed on such a machine. */
#ifdef CW_AMX_EMULATE
#define cw_amx_gemm_i8 cw_emu_amx_gemm_i8
#define cw_amx_gemm_bf16 cw_emu_amx_gemm_bf16
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

enum { TR = 16, TB = 64, BR = 32, BC = 32, GEMV_MAX_M = 8 };

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

/* ---- int8 ----------------------------------------------------------------------- */

/* bp [2][kb][16][64]: columns [j0, j0+32) of W, k in 64-byte blocks; int8
 * quad q of block t of column c at [c/16][t][q][(c%16)*4]; zero past k, n.
 * Moved a quad (4 bytes) at a time: a byte loop with index arithmetic cost
 * five times the tile products of a 1500-row encoder GEMM. */
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

/* c[i + r][j + q] for the 32 x 32 int32 block acc (row stride BC): mr rows,
 * nc columns; cw_i8_out's arithmetic, 16 lanes at a time (scalar in the
 * emulation, which runs on CPUs without AVX-512). */
#ifdef CW_AMX_EMULATE
static void store_i8_block(const cw_i8_gemm *g, const int32_t *acc, size_t i, size_t j, size_t mr, size_t nc)
{
    for (size_t r = 0; r < mr; r++)
        for (size_t q = 0; q < nc; q++)
            g->c[(i + r) * g->ldc + j + q] = cw_i8_out(acc[r * BC + q], g->ascale[i + r], g->wscale[j + q], g->bias, j + q);
}
#else
CW_TARGET_AMX static void store_i8_block(const cw_i8_gemm *g, const int32_t *acc, size_t i, size_t j, size_t mr,
                                         size_t nc)
{
    for (size_t q = 0; q < nc; q += 16) {
        __mmask16 m = nc - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nc - q)) - 1);
        __m512 ws = _mm512_maskz_loadu_ps(m, g->wscale + j + q);
        __m512 b = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + j + q) : _mm512_setzero_ps();
        for (size_t r = 0; r < mr; r++) {
            __m512 x = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + r * BC + q));
            __m512 y = _mm512_div_ps(x, _mm512_mul_ps(_mm512_set1_ps(g->ascale[i + r]), ws));
            if (g->bias) y = _mm512_add_ps(y, b);
            _mm512_mask_storeu_ps(g->c + (i + r) * g->ldc + j + q, m, y);
        }
    }
}
#endif

/* B is packed whole first, then each block of 32 rows of A (in L1) meets
 * every column block in turn: walking A once per column block instead kept
 * the tile loads waiting on L2. */
CW_TARGET_AMX static int gemm_i8_amx(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t kb = g->lda / TB; /* lda: a multiple of 64, zeros past k */
    size_t nb = (n1 - n0 + BC - 1) / BC, per = 2 * kb * TR * TB;
    int8_t *bp = malloc(nb * per), *pad = malloc(BR * g->lda);
    int32_t *c = malloc(BR * BC * sizeof *c);
    if (!bp || !pad || !c) {
        free(bp), free(pad), free(c);
        return 0;
    }
    for (size_t b = 0; b < nb; b++) pack_b_i8(g, n0 + b * BC, kb, bp + b * per);
    configure();
    for (size_t i = m0; i < m1; i += BR) {
        const int8_t *a = a_block(g->a, g->lda, i, m1, pad);
        for (size_t b = 0; b < nb; b++) {
            size_t j = n0 + b * BC, nc = n1 - j < BC ? n1 - j : BC;
            const int8_t *bb = bp + b * per;
            TILE_ZERO(0);
            TILE_ZERO(1);
            TILE_ZERO(2);
            TILE_ZERO(3);
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
            TILE_STORE(0, c, BC * sizeof *c);
            TILE_STORE(1, c + 16, BC * sizeof *c);
            TILE_STORE(2, c + TR * BC, BC * sizeof *c);
            TILE_STORE(3, c + TR * BC + 16, BC * sizeof *c);
            store_i8_block(g, c, i, j, m1 - i < BR ? m1 - i : BR, nc);
        }
    }
    TILE_RELEASE();
    free(bp), free(pad), free(c);
    return 1;
}

void cw_amx_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    if (m0 >= m1 || n0 >= n1) return;
    if ((g->m_class ? g->m_class : g->m) > GEMV_MAX_M && gemm_i8_amx(g, m0, m1, n0, n1)) return;
    cw_avx512_gemm_i8(g, m0, m1, n0, n1);
}

/* ---- bf16 ----------------------------------------------------------------------- */

/* bp [2][kb][16][64]: bf16 pair q of 32-element block t of column c at
 * [c/16][t][q][(c%16)*4]; zero past k, n. A pair (4 bytes) at a time, as
 * pack_b_i8 moves quads. */
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

/* ab [rows][ld/2]: the upper halves of A's floats (exact: A holds values
 * rounded to bf16), zero past k; 16 lanes at a time (scalar in the emulation). */
#ifdef CW_AMX_EMULATE
static void a_to_bf16(const cw_gemm *g, size_t m0, size_t m1, uint16_t *ab, size_t ld)
{
    for (size_t r = 0; r < m1 - m0; r++) {
        const float *a = g->a + (m0 + r) * g->lda;
        uint16_t *d = ab + r * (ld / 2);
        for (size_t kk = 0; kk < g->k; kk++) {
            uint32_t u;
            memcpy(&u, a + kk, sizeof u);
            d[kk] = (uint16_t)(u >> 16);
        }
    }
}

static void store_bf16_block(const cw_gemm *g, const float *acc, size_t i, size_t j, size_t mr, size_t nc)
{
    for (size_t r = 0; r < mr; r++)
        for (size_t q = 0; q < nc; q++) {
            float s = acc[r * BC + q];
            g->c[(i + r) * g->ldc + j + q] = g->bias ? g->bias[j + q] + s : s;
        }
}
#else
CW_TARGET_AMX static void a_to_bf16(const cw_gemm *g, size_t m0, size_t m1, uint16_t *ab, size_t ld)
{
    for (size_t r = 0; r < m1 - m0; r++) {
        const float *a = g->a + (m0 + r) * g->lda;
        uint16_t *d = ab + r * (ld / 2);
        for (size_t kk = 0; kk < g->k; kk += 16) {
            __mmask16 m = g->k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (g->k - kk)) - 1);
            __m512i u = _mm512_srli_epi32(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, a + kk)), 16);
            _mm256_mask_storeu_epi16(d + kk, m, _mm512_cvtepi32_epi16(u));
        }
    }
}

/* c[i + r][j + q] = acc (+ bias) for the 32 x 32 block, 16 lanes at a time. */
CW_TARGET_AMX static void store_bf16_block(const cw_gemm *g, const float *acc, size_t i, size_t j, size_t mr,
                                           size_t nc)
{
    for (size_t q = 0; q < nc; q += 16) {
        __mmask16 m = nc - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nc - q)) - 1);
        __m512 b = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + j + q) : _mm512_setzero_ps();
        for (size_t r = 0; r < mr; r++) {
            __m512 s = _mm512_maskz_loadu_ps(m, acc + r * BC + q);
            _mm512_mask_storeu_ps(g->c + (i + r) * g->ldc + j + q, m, g->bias ? _mm512_add_ps(b, s) : s);
        }
    }
}
#endif

/* As gemm_i8_amx: B packed whole, then row blocks of A against every column block. */
CW_TARGET_AMX static int gemm_bf16_amx(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t kb = (g->k + 31) / 32, ld = kb * TB; /* A rows as bf16, bytes */
    size_t rows = (m1 - m0 + BR - 1) / BR * BR;
    size_t nb = (n1 - n0 + BC - 1) / BC, per = 2 * kb * TR * TB;
    char *bp = malloc(nb * per);
    uint16_t *ab = calloc(rows, ld);
    float *c = malloc(BR * BC * sizeof *c);
    if (!bp || !ab || !c) {
        free(bp), free(ab), free(c);
        return 0;
    }
    a_to_bf16(g, m0, m1, ab, ld);
    for (size_t b = 0; b < nb; b++) pack_b_bf16(g, n0 + b * BC, kb, (uint16_t *)(void *)(bp + b * per));
    configure();
    for (size_t i = m0; i < m1; i += BR) {
        const char *a = (const char *)ab + (i - m0) * ld;
        for (size_t b = 0; b < nb; b++) {
            size_t j = n0 + b * BC, nc = n1 - j < BC ? n1 - j : BC;
            const char *bb = bp + b * per;
            TILE_ZERO(0);
            TILE_ZERO(1);
            TILE_ZERO(2);
            TILE_ZERO(3);
            for (size_t t = 0; t < kb; t++) {
                TILE_LOAD(4, a + t * TB, ld);
                TILE_LOAD(5, a + TR * ld + t * TB, ld);
                TILE_LOAD(6, bb + t * TR * TB, TB);
                TILE_LOAD(7, bb + (kb + t) * TR * TB, TB);
                TILE_DPBF16PS(0, 4, 6);
                TILE_DPBF16PS(1, 4, 7);
                TILE_DPBF16PS(2, 5, 6);
                TILE_DPBF16PS(3, 5, 7);
            }
            TILE_STORE(0, c, BC * sizeof *c);
            TILE_STORE(1, c + 16, BC * sizeof *c);
            TILE_STORE(2, c + TR * BC, BC * sizeof *c);
            TILE_STORE(3, c + TR * BC + 16, BC * sizeof *c);
            store_bf16_block(g, c, i, j, m1 - i < BR ? m1 - i : BR, nc);
        }
    }
    TILE_RELEASE();
    free(bp), free(ab), free(c);
    return 1;
}

void cw_amx_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch)
{
    if (m0 >= m1 || n0 >= n1) return;
    if (cw_gemm_class(g) > GEMV_MAX_M && gemm_bf16_amx(g, m0, m1, n0, n1)) return;
    cw_avx512_gemm_bf16(g, m0, m1, n0, n1, scratch);
}

#endif
