/* The AVX2 + FMA + F16C matrix product C = A . B (+ bias), in two shapes:
 *
 *  - GEMM (m > CW_GEMV_MAX_M): B is packed, KC x NC at a time, into panels of
 *    16 float32 columns ([KC][16], converting f16/bf16/int8 on the way, so one
 *    micro-kernel serves every dtype); a 6 x 16 register tile (12 ymm
 *    accumulators) walks over it reading A in place, as in BLIS/OpenBLAS.
 *  - GEMV-like (m <= CW_GEMV_MAX_M, the decoder's 1..5 tokens): packing would
 *    cost as much as the product, so each W row is converted in registers and
 *    dotted with all m rows of A at once, reading W exactly once.
 *
 * The split into k blocks is fixed (KC), never derived from the thread slice,
 * so every element is summed in the same order whatever the thread count. */
#include "backend/cpu/cpu.h"

#ifdef CW_HAVE_X86

#include <immintrin.h>

#include "backend/cpu/hsum.h"
#include <string.h>

#define CW_TARGET __attribute__((target("avx2,fma,f16c")))
#define CW_INLINE static inline __attribute__((always_inline))

/* MR x NR register tile; a KC x NC block of packed B (1.5 MiB, L3) is
 * reused by all rows; MC rows of A (MC x KC = 108 KiB) stay in L2 while each
 * 24 KiB B panel sits in L1 for the MC/6 tiles below it. NC is large so that
 * A, the big operand of the encoder's products, is read from memory once.
 * KC = 384 measured ~10% faster than 256 on Zen 3 (bench/results). */
enum { MR = 6, NR = 16, KC = 384, NC = 1024, MC = 72, CW_GEMV_MAX_M = 8 };

/* K is cut into equal blocks of at most KC (multiples of 8), e.g. 512 into
 * 2 x 256 rather than 384 + 128; depends on K only, never on threads. */
static size_t k_block(size_t k)
{
    size_t nb = (k + KC - 1) / KC;
    size_t kb = (k + nb - 1) / nb;
    kb = (kb + 7) & ~(size_t)7;
    return kb > KC ? KC : kb;
}

/* ---- conversions ---------------------------------------------------------- */

/* 8 float32 from x[i..i+8) of dtype dt (I8 unscaled). */
CW_TARGET CW_INLINE __m256 load8(const void *x, cw_dtype dt, size_t i)
{
    switch (dt) {
    case CW_DTYPE_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + i)));
    case CW_DTYPE_BF16: {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    case CW_DTYPE_I8: {
        __m128i q = _mm_loadl_epi64((const __m128i *)((const int8_t *)x + i));
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    }
    case CW_DTYPE_F32:
    default:
        return _mm256_loadu_ps((const float *)x + i);
    }
}

CW_TARGET void cw_avx2_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n)
{
    size_t i = 0;
    if (dt == CW_DTYPE_I8) {
        __m256 s = _mm256_set1_ps(scale);
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(load8(x, dt, i), s));
    } else if (dt == CW_DTYPE_F16) {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load8(x, CW_DTYPE_F16, i));
    } else if (dt == CW_DTYPE_BF16) {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load8(x, CW_DTYPE_BF16, i));
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load8(x, CW_DTYPE_F32, i));
    }
    if (i < n) { /* the tail, with the reference's scalar conversion */
        size_t es = cw_dtype_size(dt);
        cw_ref_to_f32(y + i, (const char *)x + i * es, dt, scale, n - i);
    }
}

/* ---- packing -------------------------------------------------------------- */

/* bp [kc][16] = columns j0..j0+16 of B over k in [p0, p0+kc); columns >= n are 0.
 * tmp: kc floats. */
CW_TARGET static void pack_b(const cw_gemm *g, size_t j0, size_t p0, size_t kc, float *bp, float *tmp)
{
    size_t nr = g->n - j0 < NR ? g->n - j0 : NR;
    if (g->b_kn) {
        const float *b = (const float *)g->b + p0 * g->ldb + j0; /* [kc, n] */
        for (size_t p = 0; p < kc; p++) {
            float *d = bp + p * NR;
            if (nr == NR) {
                _mm256_storeu_ps(d, _mm256_loadu_ps(b + p * g->ldb));
                _mm256_storeu_ps(d + 8, _mm256_loadu_ps(b + p * g->ldb + 8));
            } else {
                memset(d, 0, NR * sizeof *d);
                memcpy(d, b + p * g->ldb, nr * sizeof *d);
            }
        }
        return;
    }
    size_t es = cw_dtype_size(g->bt);
    for (size_t r = 0; r < NR; r++) {
        if (r >= nr) {
            for (size_t p = 0; p < kc; p++) bp[p * NR + r] = 0.0f;
            continue;
        }
        const char *w = (const char *)g->b + ((j0 + r) * g->ldb + p0) * es; /* row of W */
        cw_avx2_to_f32(tmp, w, g->bt, g->scale ? g->scale[j0 + r] : 1.0f, kc);
        for (size_t p = 0; p < kc; p++) bp[p * NR + r] = tmp[p];
    }
}

/* ---- the 6 x 16 micro-kernel --------------------------------------------- */

/* c [6, 16] (row stride ldc) = init [6, 16] (row stride ldi; 0 broadcasts one
 * row, e.g. the bias) + A . bp, with ap = A [6, kc] packed as [kc][6] and
 * bp [kc][16]: both read strictly sequentially. */
CW_TARGET static void kern_6x16(size_t kc, const float *ap, const float *bp,
                                float *c, size_t ldc, const float *init, size_t ldi)
{
    for (int r = 0; r < MR; r++) { /* C is read or written at the end: fetch it now */
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + NR - 1), _MM_HINT_T0);
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (size_t p = 0; p < kc; p++, bp += NR, ap += MR) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8), x;
        x = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }
#define CW_STORE_ROW(r, lo, hi)                                                               \
    _mm256_storeu_ps(c + (r) * ldc, _mm256_add_ps(_mm256_loadu_ps(init + (r) * ldi), lo));     \
    _mm256_storeu_ps(c + (r) * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(init + (r) * ldi + 8), hi))
    CW_STORE_ROW(0, c00, c01); CW_STORE_ROW(1, c10, c11); CW_STORE_ROW(2, c20, c21);
    CW_STORE_ROW(3, c30, c31); CW_STORE_ROW(4, c40, c41); CW_STORE_ROW(5, c50, c51);
#undef CW_STORE_ROW
}

/* One tile: rows [i, i+mr) x columns [j, j+nr) of C, k block starting at p0,
 * ap the tile's packed A strip. Partial tiles go through a local 6 x 16 tile
 * so they do the same float operations as full ones. */
CW_TARGET static void gemm_tile(const cw_gemm *g, size_t i, size_t mr, size_t j, size_t nr,
                                size_t p0, size_t kc, const float *ap, const float *bp,
                                const float *bias16)
{
    int first = p0 == 0;
    float *c = g->c + i * g->ldc + j;
    if (mr == MR && nr == NR) {
        kern_6x16(kc, ap, bp, c, g->ldc, first ? bias16 : c, first ? 0 : g->ldc);
        return;
    }
    float t[MR * NR];
    memset(t, 0, sizeof t);
    for (size_t r = 0; r < mr; r++)
        memcpy(t + r * NR, first ? bias16 : c + r * g->ldc, nr * sizeof *t);
    kern_6x16(kc, ap, bp, t, NR, t, NR);
    for (size_t r = 0; r < mr; r++) memcpy(c + r * g->ldc, t + r * NR, nr * sizeof *t);
}

/* ap [ceil(mc/6)][kc][6] = rows [i0, i0+mc) of A over k in [p0, p0+kc),
 * rows past mc zero, so the kernel never needs a partial-row variant. */
static void pack_a(const cw_gemm *g, size_t i0, size_t mc, size_t p0, size_t kc, float *ap)
{
    for (size_t s = 0; s < mc; s += MR, ap += MR * kc)
        for (size_t r = 0; r < MR; r++) {
            if (s + r >= mc) {
                for (size_t p = 0; p < kc; p++) ap[p * MR + r] = 0.0f;
                continue;
            }
            const float *a = g->a + (i0 + s + r) * g->lda + p0;
            for (size_t p = 0; p < kc; p++) ap[p * MR + r] = a[p];
        }
}

size_t cw_avx2_gemm_scratch_floats(const cw_gemm *g)
{
    (void)g;
    return (size_t)KC * NC + KC + (size_t)MC * KC + 2 * NR + 16; /* bp, tmp, ap, bias, align */
}

CW_TARGET static void gemm_packed(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1,
                                  float *scratch)
{
    float *bp = scratch, *tmp = bp + (size_t)KC * NC, *ap = tmp + KC, *bias16 = ap + (size_t)MC * KC;
    for (size_t jc = n0; jc < n1; jc += NC) {
        size_t nc = n1 - jc < NC ? n1 - jc : NC;
        size_t kb = k_block(g->k);
        for (size_t p0 = 0; p0 < g->k; p0 += kb) {
            size_t kc = g->k - p0 < kb ? g->k - p0 : kb;
            for (size_t jr = 0; jr < nc; jr += NR)
                pack_b(g, jc + jr, p0, kc, bp + jr * kc, tmp);
            for (size_t ic = m0; ic < m1; ic += MC) {
                size_t ie = m1 - ic < MC ? m1 : ic + MC;
                pack_a(g, ic, ie - ic, p0, kc, ap);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t j = jc + jr, nr = nc - jr < NR ? nc - jr : NR;
                    memset(bias16, 0, NR * sizeof *bias16);
                    if (g->bias) memcpy(bias16, g->bias + j, nr * sizeof *bias16);
                    for (size_t i = ic; i < ie; i += MR) {
                        size_t mr = ie - i < MR ? ie - i : MR;
                        gemm_tile(g, i, mr, j, nr, p0, kc, ap + (i - ic) * kc, bp + jr * kc, bias16);
                        if (p0 + kc == g->k) cw_gemm_post(g->post, g->c, g->ldc, i, i + mr, j, j + nr);
                    }
                }
            }
        }
    }
}

/* ---- small m: W read once ------------------------------------------------ */

/* c[i, j] for i in [m0, m0+MRC), j in [n0, n1): MRC and DT are constants at
 * every call site, so the accumulators live in registers. */
CW_TARGET CW_INLINE void gemv_t(const cw_gemm *g, size_t m0, size_t n0, size_t n1,
                                const int MRC, const cw_dtype DT)
{
    size_t k8 = g->k & ~(size_t)7, es = cw_dtype_size(DT);
    for (size_t j = n0; j < n1; j++) {
        const char *w = (const char *)g->b + j * g->ldb * es; /* W row j [k] */
        __m256 acc[CW_GEMV_MAX_M];
        for (int r = 0; r < MRC; r++) acc[r] = _mm256_setzero_ps();
        for (size_t p = 0; p < k8; p += 8) {
            __m256 wv = load8(w, DT, p);
            for (int r = 0; r < MRC; r++)
                acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(g->a + (m0 + r) * g->lda + p), wv, acc[r]);
        }
        float wt[8] = { 0 };
        if (k8 < g->k) cw_ref_to_f32(wt, w + k8 * es, DT, 1.0f, g->k - k8);
        for (int r = 0; r < MRC; r++) {
            const float *a = g->a + (m0 + r) * g->lda;
            float s = cw_hsum8(acc[r]);
            for (size_t p = k8; p < g->k; p++) s += a[p] * wt[p - k8];
            if (DT == CW_DTYPE_I8) s /= g->scale[j];
            g->c[(m0 + r) * g->ldc + j] = g->bias ? g->bias[j] + s : s;
        }
    }
}

#define CW_GEMV_CASES(DT)                                                   \
    switch (mr) {                                                           \
    case 1: gemv_t(g, m0, n0, n1, 1, DT); break;                            \
    case 2: gemv_t(g, m0, n0, n1, 2, DT); break;                            \
    case 3: gemv_t(g, m0, n0, n1, 3, DT); break;                            \
    case 4: gemv_t(g, m0, n0, n1, 4, DT); break;                            \
    case 5: gemv_t(g, m0, n0, n1, 5, DT); break;                            \
    case 6: gemv_t(g, m0, n0, n1, 6, DT); break;                            \
    case 7: gemv_t(g, m0, n0, n1, 7, DT); break;                            \
    default: gemv_t(g, m0, n0, n1, 8, DT); break;                           \
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

CW_TARGET void cw_avx2_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1,
                            float *scratch)
{
    if (m0 >= m1 || n0 >= n1) return;
    if (cw_gemm_class(g) <= CW_GEMV_MAX_M && !g->b_kn) { /* decided on the class, not the slice */
        for (size_t i = m0; i < m1; i += CW_GEMV_MAX_M) { /* each row's sum is its own */
            size_t mr = m1 - i < CW_GEMV_MAX_M ? m1 - i : CW_GEMV_MAX_M;
            gemv(g, i, mr, n0, n1);
            cw_gemm_post(g->post, g->c, g->ldc, i, i + mr, n0, n1);
        }
        return;
    }
    /* 32-byte align the scratch (loads are unaligned-safe; this is for speed) */
    float *s = (float *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31);
    gemm_packed(g, m0, m1, n0, n1, s);
}

#endif /* CW_HAVE_X86 */
