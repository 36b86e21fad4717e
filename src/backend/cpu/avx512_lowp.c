/* AVX-512 kernels of lowp mode (lowp.h), in the same "dot" form as
 * avx2_lowp.c: W [n, k] read in place, MR rows of A against NR rows of W, one
 * 16-lane accumulator per output reduced once at the end.
 *
 *  - int8, vpdpbusd (AVX512-VNNI): multiplies unsigned by signed bytes, so A
 *    goes in offset by 128 (a ^ 0x80 = a + 128 as u8) and the offset is taken
 *    back out with the column sums of W: a . w = (a + 128) . w - 128 sum(w);
 *    the sums come from one more vpdpbusd of W with a vector of ones. Every
 *    sum is an exact int32, so the results are the reference's bits.
 *  - bf16, vdpbf16ps (AVX512-BF16): the activations, already rounded to bf16
 *    values, are packed to bf16 exactly (vcvtne2ps2bf16) and each pair of
 *    products is added into float32 lanes.
 *
 * W rows' tails (k % 64 bytes) are read with masked loads, so nothing is
 * copied or read past the end. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>

#define CW_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define CW_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define CW_INLINE static inline __attribute__((always_inline))

enum { MR = 4, NR = 4, NBLK = 64 };

/* ---- int8 ----------------------------------------------------------------------- */

CW_TARGET_VNNI CW_INLINE void tile_i8(const cw_i8_gemm *g, size_t i, size_t j, const int R, const int C)
{
    const __m512i ones = _mm512_set1_epi8(1), flip = _mm512_set1_epi8((char)0x80);
    __m512i acc[MR][NR], sum[NR];
    for (int c = 0; c < C; c++) {
        sum[c] = _mm512_setzero_si512();
        for (int r = 0; r < R; r++) acc[r][c] = _mm512_setzero_si512();
    }
    const int8_t *w[NR], *a[MR];
    for (int c = 0; c < C; c++) w[c] = g->w + (j + (size_t)c) * g->ldw;
    for (int r = 0; r < R; r++) a[r] = g->a + (i + (size_t)r) * g->lda;
    for (size_t p = 0; p < g->k; p += 64) {
        size_t left = g->k - p;
        __mmask64 mk = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        __m512i wv[NR];
        for (int c = 0; c < C; c++) {
            wv[c] = _mm512_maskz_loadu_epi8(mk, w[c] + p);
            sum[c] = _mm512_dpbusd_epi32(sum[c], ones, wv[c]);
        }
        for (int r = 0; r < R; r++) { /* A is zero-padded to lda: whole loads, 0 ^ 0x80 meets w = 0 */
            __m512i av = _mm512_xor_si512(_mm512_loadu_si512(a[r] + p), flip);
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], av, wv[c]);
        }
    }
    for (int c = 0; c < C; c++) {
        size_t jj = j + (size_t)c;
        int32_t s = _mm512_reduce_add_epi32(sum[c]);
        for (int r = 0; r < R; r++) {
            size_t ii = i + (size_t)r;
            /* wrap-around int32 arithmetic: the true total fits, so the result is exact */
            int32_t t = (int32_t)((uint32_t)_mm512_reduce_add_epi32(acc[r][c]) - 128u * (uint32_t)s);
            g->c[ii * g->ldc + jj] = cw_i8_out(t, g->ascale[ii], g->wscale[jj], g->bias, jj);
        }
    }
}

CW_TARGET_VNNI static void tile_i8_any(const cw_i8_gemm *g, size_t i, size_t j, size_t mr, size_t nr)
{
#define CW_T(R)                                        \
    switch (nr) {                                      \
    case 1: tile_i8(g, i, j, R, 1); break;             \
    case 2: tile_i8(g, i, j, R, 2); break;             \
    case 3: tile_i8(g, i, j, R, 3); break;             \
    default: tile_i8(g, i, j, R, 4); break;            \
    }
    switch (mr) {
    case 1: CW_T(1); break;
    case 2: CW_T(2); break;
    case 3: CW_T(3); break;
    default: CW_T(4); break;
    }
#undef CW_T
}

CW_TARGET_VNNI void cw_avx512_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    for (size_t jb = n0; jb < n1; jb += NBLK) {
        size_t je = n1 - jb < NBLK ? n1 : jb + NBLK;
        for (size_t i = m0; i < m1; i += MR) {
            size_t mr = m1 - i < MR ? m1 - i : MR;
            for (size_t j = jb; j < je; j += NR) tile_i8_any(g, i, j, mr, je - j < NR ? je - j : NR);
        }
    }
}

/* ---- bf16 ----------------------------------------------------------------------- */

CW_TARGET_BF16 CW_INLINE void tile_bf16(const cw_gemm *g, size_t i, size_t j, const int R, const int C)
{
    __m512 acc[MR][NR];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    const uint16_t *w[NR];
    const float *a[MR];
    for (int c = 0; c < C; c++) w[c] = (const uint16_t *)g->b + (j + (size_t)c) * g->ldb;
    for (int r = 0; r < R; r++) a[r] = g->a + (i + (size_t)r) * g->lda;
    for (size_t p = 0; p < g->k; p += 32) {
        size_t left = g->k - p;
        __mmask32 mk = left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1);
        __mmask16 lo = (__mmask16)mk, hi = (__mmask16)(mk >> 16);
        __m512bh wv[NR];
        for (int c = 0; c < C; c++) wv[c] = (__m512bh)_mm512_maskz_loadu_epi16(mk, w[c] + p);
        for (int r = 0; r < R; r++) {
            /* element 2t of the bf16 vector pairs with element 2t of W: low half first */
            __m512bh av = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, a[r] + p + 16),
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

CW_TARGET_BF16 static void tile_bf16_any(const cw_gemm *g, size_t i, size_t j, size_t mr, size_t nr)
{
#define CW_T(R)                                        \
    switch (nr) {                                      \
    case 1: tile_bf16(g, i, j, R, 1); break;           \
    case 2: tile_bf16(g, i, j, R, 2); break;           \
    case 3: tile_bf16(g, i, j, R, 3); break;           \
    default: tile_bf16(g, i, j, R, 4); break;          \
    }
    switch (mr) {
    case 1: CW_T(1); break;
    case 2: CW_T(2); break;
    case 3: CW_T(3); break;
    default: CW_T(4); break;
    }
#undef CW_T
}

size_t cw_avx512_gemm_bf16_scratch_floats(const cw_gemm *g)
{
    (void)g;
    return 0;
}

/* g: A [m, k] float32 holding bf16 values, B = W^T with W [n, k] BF16. */
CW_TARGET_BF16 void cw_avx512_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1,
                                        float *scratch)
{
    (void)scratch;
    for (size_t jb = n0; jb < n1; jb += NBLK) {
        size_t je = n1 - jb < NBLK ? n1 : jb + NBLK;
        for (size_t i = m0; i < m1; i += MR) {
            size_t mr = m1 - i < MR ? m1 - i : MR;
            for (size_t j = jb; j < je; j += NR) tile_bf16_any(g, i, j, mr, je - j < NR ? je - j : NR);
        }
    }
}

#endif /* CW_HAVE_X86 */
