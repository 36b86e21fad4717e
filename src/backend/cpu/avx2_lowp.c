/* AVX2 kernels of lowp mode (lowp.h): activation quantization and bf16
 * rounding with the reference's exact arithmetic, and the int8 product with
 * vpmaddubsw, which multiplies unsigned by signed bytes. The sign trick makes
 * both operands fit: a . w = |w| . sign(a, w) (vpsignb moves w's sign onto a),
 * and since |a|, |w| <= 127 the int16 pair sums (<= 2 * 127 * 127) never
 * saturate, so the int32 totals are exact and equal the reference's.
 *
 * The product is in "dot" form: W [n, k] is read in place, row by row (no
 * packing, which for the decoder's m <= 8 rows would cost as much as the
 * product), against MR rows of A at a time; each output is one int32 sum
 * reduced once at the end. A is zero past k up to its padded stride, so a W
 * row's tail (k % 32) is copied into a zeroed 32-byte block and multiplied
 * like any other. The BF16 product is cw_avx2_gemm on rounded activations. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "util/quant.h"

#define CW_TARGET __attribute__((target("avx2,fma,f16c")))
#define CW_INLINE static inline __attribute__((always_inline))

/* ---- activations ----------------------------------------------------------- */

CW_TARGET static float absmax8(const float *x, size_t n)
{
    const __m256 nosign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    size_t i = 0;
    /* maxps(a, m) returns m when a is NaN: the reference's a > m ? a : m */
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), nosign), m);
    float t[8], r = 0.0f;
    _mm256_storeu_ps(t, m);
    for (int l = 0; l < 8; l++) r = t[l] > r ? t[l] : r;
    float tail = cw_absmax(x + i, n - i);
    return tail > r ? tail : r;
}

CW_TARGET void cw_avx2_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq)
{
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * k;
        int8_t *qr = q + r * ldq;
        float s = cw_quant_scale(absmax8(xr, k));
        memset(qr, 0, ldq);
        if (s == 0.0f) {
            scale[r] = 1.0f;
            continue;
        }
        scale[r] = s;
        __m256 vs = _mm256_set1_ps(s);
        size_t i = 0;
        for (; i + 32 <= k; i += 32) {
            __m256i v[4];
            for (int u = 0; u < 4; u++) { /* cvtps: round to nearest even, as nearbyintf */
                v[u] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i + 8 * u), vs));
                v[u] = _mm256_min_epi32(_mm256_max_epi32(v[u], lo), hi);
            }
            __m256i p01 = _mm256_packs_epi32(v[0], v[1]), p23 = _mm256_packs_epi32(v[2], v[3]);
            __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
            _mm256_storeu_si256((__m256i *)(qr + i), b);
        }
        if (i < k) { /* the tail with the reference's own loop and scale */
            for (; i < k; i++) {
                float v = nearbyintf(xr[i] * s);
                if (v != v) v = 0.0f;
                qr[i] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
            }
        }
    }
}

CW_TARGET void cw_avx2_bf16_round(float *y, const float *x, size_t n)
{
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
    const __m256i top = _mm256_set1_epi32((int)0xffff0000u), quiet = _mm256_set1_epi32(0x00400000);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(x + i);
        __m256i b = _mm256_castps_si256(f);
        __m256i r = _mm256_add_epi32(b, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(b, 16), one)));
        __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));
        r = _mm256_blendv_epi8(r, _mm256_or_si256(b, quiet), nan); /* NaN stays a (quiet) NaN */
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_and_si256(r, top)));
    }
    cw_ref_bf16_round(y + i, x + i, n - i);
}

/* ---- the int8 product ------------------------------------------------------- */

enum { MR = 4, NR = 2, KB = 32, NBLK = 64 };

CW_TARGET CW_INLINE int32_t hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Rows [i, i+R) of A (planes in a16 mode, R even, C rows i/2 on) x columns
 * [j, j+C); R <= MR, C <= NR are constants at each call site, so the
 * accumulators stay in registers. */
CW_TARGET CW_INLINE void tile_i8(const cw_i8_gemm *g, size_t i, size_t j, const int R, const int C)
{
    const __m256i ones = _mm256_set1_epi16(1);
    size_t k32 = g->k & ~(size_t)(KB - 1);
    __m256i acc[MR][NR];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_si256();
    const int8_t *w[NR], *a[MR];
    for (int c = 0; c < C; c++) w[c] = g->w + (j + (size_t)c) * g->ldw;
    for (int r = 0; r < R; r++) a[r] = g->a + (i + (size_t)r) * g->lda;
    int8_t tail[NR][KB];
    for (int c = 0; c < C; c++) {
        memset(tail[c], 0, KB);
        memcpy(tail[c], w[c] + k32, g->k - k32);
    }
    for (size_t p = 0; p < g->k; p += KB) {
        __m256i wv[NR], wa[NR];
        for (int c = 0; c < C; c++) {
            wv[c] = p < k32 ? _mm256_loadu_si256((const __m256i *)(w[c] + p))
                            : _mm256_loadu_si256((const __m256i *)tail[c]);
            wa[c] = _mm256_abs_epi8(wv[c]);
        }
        for (int r = 0; r < R; r++) {
            __m256i av = _mm256_loadu_si256((const __m256i *)(a[r] + p));
            for (int c = 0; c < C; c++) {
                __m256i pr = _mm256_maddubs_epi16(wa[c], _mm256_sign_epi8(av, wv[c]));
                acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(pr, ones));
            }
        }
    }
    float rw[NR];
    for (int c = 0; c < C; c++) rw[c] = cw_i8_recip(g->wscale[j + (size_t)c]);
    if (g->a16) {
        for (int r = 0; r + 1 < R; r += 2) { /* R is even here */
            size_t ii = (i + (size_t)r) / 2;
            float ra = cw_i8_recip(g->ascale[ii]);
            for (int c = 0; c < C; c++) {
                size_t jj = j + (size_t)c;
                g->c[ii * g->ldc + jj] =
                    cw_a16_out(hsum_epi32(acc[r][c]), hsum_epi32(acc[r + 1][c]), ra, rw[c], g->bias, jj);
            }
        }
        return;
    }
    for (int r = 0; r < R; r++) {
        float ra = cw_i8_recip(g->ascale[i + (size_t)r]);
        for (int c = 0; c < C; c++) {
            size_t ii = i + (size_t)r, jj = j + (size_t)c;
            g->c[ii * g->ldc + jj] = cw_i8_out(hsum_epi32(acc[r][c]), ra, rw[c], g->bias, jj);
        }
    }
}

CW_TARGET static void tile_any(const cw_i8_gemm *g, size_t i, size_t j, size_t mr, size_t nr)
{
#define CW_T(R) (nr == 2 ? tile_i8(g, i, j, R, 2) : tile_i8(g, i, j, R, 1))
    switch (mr) {
    case 1: CW_T(1); break;
    case 2: CW_T(2); break;
    case 3: CW_T(3); break;
    default: CW_T(4); break;
    }
#undef CW_T
}

/* Column blocks of NBLK rows of W (<= 64 x 5120 bytes, L2) are reused by every
 * row group of A before moving on. A 16-bit row is two plane rows to the
 * tiles (MR even keeps a row's planes in one tile). */
CW_TARGET void cw_avx2_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1)
{
    size_t pl = cw_i8_planes(g), p0 = m0 * pl, p1 = m1 * pl;
    for (size_t jb = n0; jb < n1; jb += NBLK) {
        size_t je = n1 - jb < NBLK ? n1 : jb + NBLK;
        for (size_t i = p0; i < p1; i += MR) {
            size_t mr = p1 - i < MR ? p1 - i : MR;
            for (size_t j = jb; j < je; j += NR) tile_any(g, i, j, mr, je - j < NR ? je - j : NR);
            cw_gemm_post(g->post, g->c, g->ldc, i / pl, (i + mr) / pl, jb, je);
        }
    }
}

/* ---- the int4 screen of the logits (lowp.h) -----------------------------------
 *
 * As avx512_lowp.c's, 32 bytes (2 groups, 4 lanes each) at a time: vpmaddubsw
 * of the low nibbles (q + 8 <= 15, unsigned) by the groups' first halves of
 * activations plus that of the high nibbles by the second halves (each <=
 * 2 * 15 * 127, their sum fits int16), vpmaddwd to 8 lanes of exact sums,
 * less 8 x the activations' lane sums; one FMA by the lanes' steps. */

enum { SCREEN_MAXC = 16 }; /* chunks of 128: k <= 2048 */

CW_TARGET CW_INLINE __m256i pair_sums(__m256i u8lo, __m256i s8lo, __m256i u8hi, __m256i s8hi)
{
    return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u8lo, s8lo), _mm256_maddubs_epi16(u8hi, s8hi)),
                             _mm256_set1_epi16(1));
}

/* One activation row per 32-byte half h (groups 2 h, 2 h + 1): rearranged as
 * the nibbles pair up, and 8 x its lane sums. */
typedef struct {
    __m256i lo[2 * SCREEN_MAXC], hi[2 * SCREEN_MAXC], off[2 * SCREEN_MAXC];
} screen_act;

CW_TARGET static void screen_prep(screen_act *p, const int8_t *a, size_t nh)
{
    const __m256i ones = _mm256_set1_epi8(1);
    int8_t bl[64 * SCREEN_MAXC], bh[64 * SCREEN_MAXC];
    cw_screen_split(a, 64 * nh, bl, bh);
    for (size_t h = 0; h < nh; h++) {
        p->lo[h] = _mm256_loadu_si256((const __m256i *)(const void *)(bl + 32 * h));
        p->hi[h] = _mm256_loadu_si256((const __m256i *)(const void *)(bh + 32 * h));
        p->off[h] = _mm256_slli_epi32(pair_sums(ones, p->lo[h], ones, p->hi[h]), 3);
    }
}

CW_TARGET void cw_avx2_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m,
                                 float *y, size_t ldy, size_t n0, size_t n1)
{
    size_t nh = s->ld / 32, ng = s->ld / 16;
    if (nh > 2 * SCREEN_MAXC || m > CW_SCREEN_MAX_M) {
        cw_ref_screen_i4(s, a, lda, ascale, m, y, ldy, n0, n1);
        return;
    }
    screen_act act[CW_SCREEN_MAX_M];
    for (size_t i = 0; i < m; i++) screen_prep(&act[i], a + i * lda, nh);
    const __m256i m4 = _mm256_set1_epi8(15);
    float d[4 * SCREEN_MAXC + 8];
    for (size_t j = n0; j < n1; j++) {
        const uint8_t *q = s->q + j * s->ld;
        for (size_t g = 0; g < ng; g += 8)
            _mm256_storeu_ps(d + g, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(s->d + j * ng + g))));
        for (size_t i = 0; i < m; i++) {
            const screen_act *p = &act[i];
            __m256 f = _mm256_setzero_ps();
            for (size_t h = 0; h < nh; h++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * h));
                __m256i acc = _mm256_sub_epi32(
                    pair_sums(_mm256_and_si256(v, m4), p->lo[h], _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), p->hi[h]),
                    p->off[h]);
                __m256 st = _mm256_setr_m128(_mm_set1_ps(d[2 * h]), _mm_set1_ps(d[2 * h + 1]));
                f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), st, f);
            }
            __m128 t = _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
            t = _mm_add_ps(t, _mm_movehl_ps(t, t));
            t = _mm_add_ss(t, _mm_movehdup_ps(t));
            y[i * ldy + j] = _mm_cvtss_f32(t) / ascale[i];
        }
    }
}

#endif /* CW_HAVE_X86 */
