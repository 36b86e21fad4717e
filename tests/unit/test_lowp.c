/* lowp mode (backend/cpu/lowp.h): every lowp kernel this CPU runs against the
 * reference on edge shapes (m = 1..9, k off the 16/32/64 grid and over several
 * 64-byte blocks, n = 1), through the back end with 1, 2 and 3 threads (which
 * must agree bit for bit), and the per-row int8 quantization (util/quant.h)
 * shared by weights and activations. Integer products must equal the
 * reference exactly; bf16 ones agree to float32 rounding of the sums. Kernels
 * the CPU cannot run are listed as skipped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_features.h"
#include "model/model.h"
#include "nn/nn.h"
#include "test.h"
#include "util/quant.h"

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static const size_t MS[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 70 };
static const size_t KS[] = { 1, 7, 31, 33, 64, 100, 130, 200 };
static const size_t NS[] = { 1, 3, 17, 40, 150 };
#define LEN(a) (sizeof(a) / sizeof *(a))

/* x [m, k] with a zero row (row 1) and a row of one large value. */
static float *make_x(size_t m, size_t k, uint64_t *s)
{
    float *x = malloc(m * k * sizeof *x);
    for (size_t i = 0; i < m * k; i++) x[i] = frand(s) * (1.0f + (float)(i % 7));
    if (m > 2) for (size_t c = 0; c < k; c++) x[1 * k + c] = 0.0f;
    if (m > 3) x[3 * k + k / 2] = 50.0f;
    return x;
}

/* ---- quantization ------------------------------------------------------------- */

static void test_quantize_row(void)
{
    uint64_t s = 1;
    enum { K = 77 };
    float x[K];
    int8_t q[K];
    for (int t = 0; t < 20; t++) {
        float mag = t == 0 ? 1e-30f : (float)(t * t) * 0.37f;
        for (int i = 0; i < K; i++) x[i] = frand(&s) * mag;
        float sc = cw_quantize_row_i8(q, x, K);
        float amax = cw_absmax(x, K);
        CHECK_NEAR(sc, 127.0 / amax, 1e-6 * sc);
        int hit = 0;
        for (int i = 0; i < K; i++) {
            CHECK(q[i] >= -127 && q[i] <= 127);
            CHECK_MSG(fabs(x[i] - q[i] / sc) <= 0.5 / sc * (1 + 1e-5), "round trip %g vs %d/%g", x[i], q[i], sc);
            hit |= q[i] == 127 || q[i] == -127;
        }
        CHECK(hit); /* the largest element uses the whole range */
    }
    for (int i = 0; i < K; i++) x[i] = 0.0f;
    CHECK(cw_quantize_row_i8(q, x, K) == 1.0f);
    for (int i = 0; i < K; i++) CHECK(q[i] == 0);
    x[3] = 1e-40f; /* 127 / max overflows: a zero row */
    CHECK(cw_quantize_row_i8(q, x, K) == 1.0f);
    CHECK(q[3] == 0);
    x[3] = 0.5f, x[4] = -0.25f, x[5] = 0.25f / 127.0f * 1.0f; /* ties round to even */
    float sc = cw_quantize_row_i8(q, x, K);
    CHECK(sc == 254.0f);
    CHECK(q[3] == 127 && q[4] == -64 && q[5] == 0); /* 0.25/127*254 = 0.5 -> 0 */
}

/* 16-bit activations (cw_quantize_row_a16): the planes' range and their
 * join, the round trip within half a step, a zero row, ties to even. */
static void test_quantize_row_a16(void)
{
    uint64_t s = 3;
    enum { K = 77 };
    float x[K];
    int8_t hi[K], lo[K];
    for (int t = 0; t < 20; t++) {
        float mag = t == 0 ? 1e-30f : (float)(t * t) * 0.37f;
        for (int i = 0; i < K; i++) x[i] = frand(&s) * mag;
        if (t == 5) x[7] = -mag * 3.0f; /* the largest negative: q = -32385, hi = -127 */
        float sc = cw_quantize_row_a16(hi, lo, x, K);
        CHECK_NEAR(sc, (double)CW_A16_QMAX / cw_absmax(x, K), 1e-6 * sc);
        int hit = 0;
        for (int i = 0; i < K; i++) {
            CHECK(hi[i] >= -127 && hi[i] <= 127 && lo[i] >= -127 && lo[i] <= 127);
            int32_t q = 255 * hi[i] + lo[i];
            CHECK(q >= -CW_A16_QMAX && q <= CW_A16_QMAX);
            /* half a step, and the rounding of x * scale in float32 (|q| < 2^15) */
            CHECK_MSG(fabs(x[i] - q / sc) <= (0.5 + 0x1p-9) / sc, "a16 round trip %g vs %d/%g", x[i], q, sc);
            hit |= q == CW_A16_QMAX || q == -CW_A16_QMAX;
        }
        CHECK(hit);
    }
    for (int i = 0; i < K; i++) x[i] = 0.0f;
    CHECK(cw_quantize_row_a16(hi, lo, x, K) == 1.0f);
    for (int i = 0; i < K; i++) CHECK(hi[i] == 0 && lo[i] == 0);
    /* max 32385 / 2^15, so scale 2^15 and x * scale exact: 2.5 -> 2 (ties to
     * even), -128 -> -1 * 255 + 127 */
    x[0] = 32385.0f / 32768.0f, x[1] = 2.5f / 32768.0f, x[2] = -128.0f / 32768.0f, x[3] = 127.0f / 32768.0f;
    CHECK(cw_quantize_row_a16(hi, lo, x, K) == 32768.0f);
    CHECK(hi[0] == 127 && lo[0] == 0);
    CHECK(hi[1] == 0 && lo[1] == 2);
    CHECK(hi[2] == -1 && lo[2] == 127);
    CHECK(hi[3] == 0 && lo[3] == 127);
}

/* The 16-bit activation product is the float32 product of x and the int8 W
 * to within the activations' step (half of max|x| / 32385 per element). */
static void check_a16_near(const float *c, const float *x, const int8_t *wq, const float *ws, const float *bias,
                           size_t m, size_t n, size_t k)
{
    for (size_t i = 0; i < m; i++) {
        double step = cw_absmax(x + i * k, k) / CW_A16_QMAX;
        for (size_t j = 0; j < n; j++) {
            double y = bias ? bias[j] : 0.0, wsum = 0.0;
            for (size_t p = 0; p < k; p++) {
                y += (double)x[i * k + p] * wq[j * k + p] / ws[j];
                wsum += fabs(wq[j * k + p] / ws[j]);
            }
            double b = bias ? fabs(bias[j]) : 0.0;
            CHECK_MSG(fabs(c[i * n + j] - y) <= 0.5 * step * wsum * (1 + 1e-3) + 1e-6 * (fabs(y) + b) + 1e-30,
                      "a16 m %zu n %zu k %zu [%zu,%zu]: %g vs float %g", m, n, k, i, j, c[i * n + j], y);
        }
    }
}

typedef struct {
    const char *name;
    cw_quant_rows_fn quant;
    cw_bf16_round_fn round;
    cw_gemm_i8_fn i8;
    void (*bf16)(const cw_gemm *, size_t, size_t, size_t, size_t, float *);
    size_t (*bf16_scratch)(const cw_gemm *);
    /* W packed once first (cw_i8_gemm.bp), for i8 */
    size_t (*pack_bytes)(const cw_i8_gemm *);
    void (*pack)(const cw_i8_gemm *, size_t, size_t, int8_t *);
    /* W made once first (cw_i8_gemm.wp), for i8 */
    size_t (*prepack_bytes)(size_t, size_t);
    void (*prepack)(const int8_t *, size_t, size_t, size_t, size_t, size_t, uint8_t *);
    /* W packed and A converted once first (cw_gemm.bp, .a16), for bf16 */
    size_t (*pack16_bytes)(const cw_gemm *);
    void (*pack16)(const cw_gemm *, size_t, size_t, void *);
    void (*rows16)(uint16_t *, size_t, const float *, size_t, size_t, size_t);
} variant;

/* The kernels this CPU runs; the others are printed as skipped. */
static size_t variants(variant *v)
{
    size_t n = 0;
    v[n++] = (variant){ "ref", cw_ref_quant_rows, cw_ref_bf16_round, cw_ref_gemm_i8, cw_ref_gemm,
                        cw_ref_gemm_scratch_floats, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    int avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    if (f.avx2 && f.fma && f.f16c)
        v[n++] = (variant){ "avx2", cw_avx2_quant_rows, cw_avx2_bf16_round, cw_avx2_gemm_i8, cw_avx2_gemm,
                            cw_avx2_gemm_scratch_floats, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    else printf("  skipped: avx2 lowp kernels (no AVX2+FMA+F16C)\n");
    if (avx512) v[n++] = (variant){ "avx512", cw_avx512_quant_rows, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    else printf("  skipped: avx512 quant_rows (no AVX-512)\n");
    if (avx512 && f.avx512_vnni) {
        v[n++] = (variant){ "avx512-vnni", NULL, NULL, cw_avx512_gemm_i8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
        v[n++] = (variant){ "avx512-vnni prepacked", NULL, NULL, cw_avx512_gemm_i8, NULL, NULL, NULL, NULL,
                            cw_avx512_prepack_i8_bytes, cw_avx512_prepack_i8, NULL, NULL, NULL };
    } else printf("  skipped: avx512-vnni int8 kernel (no AVX512-VNNI)\n");
    if (avx512 && f.avx512_bf16)
        v[n++] = (variant){ "avx512-bf16", NULL, NULL, NULL, cw_avx512_gemm_bf16, cw_avx512_gemm_bf16_scratch_floats, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    else printf("  skipped: avx512-bf16 kernel (no AVX512-BF16)\n");
#ifdef CW_HAVE_AMX
    /* tested wherever the CPU has AMX, whether or not CW_AMX=1 enables it */
    if (avx512 && f.amx_tile && f.amx_int8 && f.avx512_vnni)
    {
        v[n++] = (variant){ "amx-int8", NULL, NULL, cw_amx_gemm_i8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
        v[n++] = (variant){ "amx-int8 packed", NULL, NULL, cw_amx_gemm_i8, NULL, NULL, cw_amx_pack_i8_bytes,
                            cw_amx_pack_i8, NULL, NULL, NULL, NULL, NULL };
        v[n++] = (variant){ "amx-int8 prepacked", NULL, NULL, cw_amx_gemm_i8, NULL, NULL, NULL, NULL,
                            cw_avx512_prepack_i8_bytes, cw_avx512_prepack_i8, NULL, NULL, NULL };
    }
    else printf("  skipped: amx-int8 kernel (no AMX-INT8 granted)\n");
    if (avx512 && f.amx_tile && f.amx_bf16 && f.avx512_bf16)
    {
        v[n++] = (variant){ "amx-bf16", NULL, NULL, NULL, cw_amx_gemm_bf16, cw_avx512_gemm_bf16_scratch_floats, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
        v[n++] = (variant){ "amx-bf16 packed", NULL, NULL, NULL, cw_amx_gemm_bf16, cw_avx512_gemm_bf16_scratch_floats,
                            NULL, NULL, NULL, NULL, cw_amx_pack_bf16_bytes, cw_amx_pack_bf16, cw_amx_bf16_rows };
    }
    else printf("  skipped: amx-bf16 kernel (no AMX-BF16 granted)\n");
#endif
#else
    printf("  skipped: every SIMD lowp kernel (not x86)\n");
#endif
    return n;
}

static void test_prep_kernels(void)
{
    variant v[16];
    size_t nv = variants(v);
    uint64_t s = 7;
    for (size_t vi = 1; vi < nv; vi++) {
        if (!v[vi].quant) continue;
        for (size_t mi = 0; mi < LEN(MS); mi++)
            for (size_t ki = 0; ki < LEN(KS); ki++) {
                size_t m = MS[mi], k = KS[ki], ld = (k + 63) / 64 * 64;
                float *x = make_x(m, k, &s);
                int8_t *q0 = malloc(m * ld), *q1 = malloc(m * ld);
                float *s0 = malloc(m * sizeof *s0), *s1 = malloc(m * sizeof *s1);
                memset(q1, 0x55, m * ld);
                cw_ref_quant_rows(q0, s0, x, m, k, ld);
                v[vi].quant(q1, s1, x, m, k, ld);
                CHECK_MSG(memcmp(q0, q1, m * ld) == 0 && memcmp(s0, s1, m * sizeof *s0) == 0,
                          "%s quant_rows m %zu k %zu differs from the reference", v[vi].name, m, k);
                free(q0), free(q1), free(s0), free(s1);
                if (!v[vi].round) {
                    free(x);
                    continue;
                }
                float *r0 = malloc(m * k * sizeof *r0), *r1 = malloc(m * k * sizeof *r1);
                cw_ref_bf16_round(r0, x, m * k);
                v[vi].round(r1, x, m * k);
                CHECK_MSG(memcmp(r0, r1, m * k * sizeof *r0) == 0, "%s bf16_round k %zu differs", v[vi].name, k);
                free(x), free(r0), free(r1);
            }
    }
}

/* Every kernel on every shape, whole and in slices, against the reference. */
static void test_gemm_kernels(void)
{
    variant v[16];
    size_t nv = variants(v);
    uint64_t s = 11;
    for (size_t mi = 0; mi < LEN(MS); mi++)
        for (size_t ki = 0; ki < LEN(KS); ki++)
            for (size_t ni = 0; ni < LEN(NS); ni++) {
                size_t m = MS[mi], k = KS[ki], n = NS[ni], ld = (k + 63) / 64 * 64;
                float *x = make_x(m, k, &s), *xr = malloc(m * k * sizeof *xr);
                float *wf = malloc(n * k * sizeof *wf), *ws = malloc(n * sizeof *ws), *bias = malloc(n * sizeof *bias);
                int8_t *wq = malloc(n * k), *aq = malloc(m * ld), *aq16 = malloc(2 * m * ld);
                uint16_t *wb = malloc(n * k * sizeof *wb);
                float *as = malloc(m * sizeof *as), *as16 = malloc(m * sizeof *as16);
                for (size_t i = 0; i < n * k; i++) wf[i] = frand(&s);
                if (n > 2) for (size_t c = 0; c < k; c++) wf[2 * k + c] = 0.0f; /* a zero weight row */
                for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, wf + j * k, k), bias[j] = frand(&s);
                for (size_t i = 0; i < n * k; i++) wb[i] = cw_f32_to_bf16(wf[i]);
                cw_ref_quant_rows(aq, as, x, m, k, ld);
                cw_ref_bf16_round(xr, x, m * k);
                cw_ref_quant_rows_a16(aq16, as16, x, m, k, ld);
                cw_i8_gemm qg = { m, n, k, aq, ld, as, wq, k, ws, (n & 1) ? bias : NULL, NULL, n, 0, NULL, NULL, NULL, 0 };
                cw_i8_gemm qa = qg; /* the 16-bit activations of few-row products */
                qa.a = aq16, qa.ascale = as16, qa.a16 = 1;
                cw_gemm bg = { .m = m, .n = n, .k = k, .a = xr, .lda = k, .b = wb, .ldb = k, .bt = CW_DTYPE_BF16,
                               .bias = (n & 1) ? bias : NULL, .ldc = n };
                float *c0 = calloc(m * n, sizeof *c0), *b0 = calloc(m * n, sizeof *b0);
                float *c1 = malloc(m * n * sizeof *c1), *c0a = calloc(m * n, sizeof *c0a);
                qg.c = c0;
                cw_ref_gemm_i8(&qg, 0, m, 0, n);
                qa.c = c0a;
                cw_ref_gemm_i8(&qa, 0, m, 0, n);
                check_a16_near(c0a, x, wq, ws, qa.bias, m, n, k);
                bg.c = b0;
                cw_ref_gemm(&bg, 0, m, 0, n, NULL);
                for (size_t vi = 1; vi < nv; vi++) {
                    int8_t *bp = NULL;
                    if (v[vi].pack) { /* in two uneven parts, as by two threads */
                        size_t nb = (n + CW_AMX_PACK_COLS - 1) / CW_AMX_PACK_COLS;
                        bp = malloc(v[vi].pack_bytes(&qg));
                        v[vi].pack(&qg, 0, nb / 3, bp);
                        v[vi].pack(&qg, nb / 3, nb, bp);
                        qg.bp = bp;
                    }
                    uint8_t *wp = NULL;
                    if (v[vi].prepack) { /* in two uneven parts, as by two threads */
                        size_t nb = (n + 31) / 32;
                        wp = malloc(v[vi].prepack_bytes(n, k));
                        v[vi].prepack(wq, k, n, k, 0, nb / 3, wp);
                        v[vi].prepack(wq, k, n, k, nb / 3, nb, wp);
                        qg.wp = qa.wp = wp;
                    }
                    if (v[vi].pack16 && m <= CW_AMX_GEMV_MAX_M) continue; /* never packed: AVX-512 reads a */
                    if (v[vi].pack16) { /* both in uneven parts; A with 32 rows of garbage after it */
                        size_t nb = (n + CW_AMX_PACK_COLS - 1) / CW_AMX_PACK_COLS, l16 = (k + 31) / 32 * 32;
                        uint16_t *a16 = malloc((m + 32) * l16 * sizeof *a16);
                        bp = malloc(v[vi].pack16_bytes(&bg) + (m + 32) * l16 * sizeof *a16);
                        memset(a16, 0x7f, (m + 32) * l16 * sizeof *a16);
                        v[vi].rows16(a16, l16, x, 0, m / 3, k);
                        v[vi].rows16(a16, l16, x + m / 3 * k, m / 3, m - m / 3, k);
                        for (size_t i = 0; i < m; i++)
                            for (size_t p = 0; p < l16; p++) {
                                uint32_t u = 0;
                                if (p < k) memcpy(&u, &xr[i * k + p], sizeof u);
                                CHECK_MSG(a16[cw_a16_at(i, p, l16)] == (p < k ? u >> 16 : 0), "%s rows m %zu k %zu [%zu][%zu]",
                                          v[vi].name, m, k, i, p);
                            }
                        v[vi].pack16(&bg, 0, nb / 3, bp);
                        v[vi].pack16(&bg, nb / 3, nb, bp);
                        memcpy((char *)bp + v[vi].pack16_bytes(&bg), a16, (m + 32) * l16 * sizeof *a16);
                        free(a16);
                        bg.bp = bp, bg.a16 = (const uint16_t *)(const void *)((char *)bp + v[vi].pack16_bytes(&bg));
                        bg.lda16 = l16, bg.a = NULL;
                    }
                    /* whole, then in 4 uneven slices (rows, then columns) */
                    size_t cuts[3][4] = { { 0, m, 0, n }, { 0, m / 3, 0, n }, { 0, m, 0, n / 2 } };
                    if (wp) cuts[2][3] = n / 2 / 32 * 32; /* slices of the prepacked W start on its blocks */
                    for (int cut = 0; cut < 3; cut++) {
                        for (int a16 = 0; a16 < 2 && v[vi].i8; a16++) {
                            cw_i8_gemm *q = a16 ? &qa : &qg;
                            if (a16 && v[vi].pack) continue; /* packed W: products of more than 8 rows only */
                            memset(c1, 0xff, m * n * sizeof *c1);
                            q->c = c1;
                            if (cut == 0) v[vi].i8(q, 0, m, 0, n);
                            else if (cut == 1) { v[vi].i8(q, 0, cuts[1][1], 0, n); v[vi].i8(q, cuts[1][1], m, 0, n); }
                            else { v[vi].i8(q, 0, m, 0, cuts[2][3]); v[vi].i8(q, 0, m, cuts[2][3], n); }
                            CHECK_MSG(memcmp(a16 ? c0a : c0, c1, m * n * sizeof *c0) == 0,
                                      "%s %s m %zu n %zu k %zu cut %d differs from the reference", v[vi].name,
                                      a16 ? "int8 x 16-bit" : "int8", m, n, k, cut);
                        }
                        if (v[vi].bf16) {
                            float *scr = malloc((v[vi].bf16_scratch(&bg) + 32) * sizeof *scr);
                            float *al = (float *)(((uintptr_t)scr + 63) & ~(uintptr_t)63);
                            memset(c1, 0xff, m * n * sizeof *c1);
                            bg.c = c1;
                            if (cut == 0) v[vi].bf16(&bg, 0, m, 0, n, al);
                            else if (cut == 1) { v[vi].bf16(&bg, 0, cuts[1][1], 0, n, al); v[vi].bf16(&bg, cuts[1][1], m, 0, n, al); }
                            else { v[vi].bf16(&bg, 0, m, 0, cuts[2][3], al); v[vi].bf16(&bg, 0, m, cuts[2][3], n, al); }
                            for (size_t i = 0; i < m; i++)
                                for (size_t j = 0; j < n; j++) {
                                    double mag = fabs(bg.bias ? bias[j] : 0);
                                    for (size_t p = 0; p < k; p++) mag += fabs((double)xr[i * k + p] * cw_bf16_to_f32(wb[j * k + p]));
                                    CHECK_MSG(fabs(c1[i * n + j] - b0[i * n + j]) <= 1e-6 * (double)k * mag + 1e-30,
                                              "%s bf16 m %zu n %zu k %zu [%zu,%zu]: %g vs %g", v[vi].name, m, n, k, i, j,
                                              c1[i * n + j], b0[i * n + j]);
                                }
                            free(scr);
                        }
                    }
                    qg.bp = NULL, qg.wp = qa.wp = NULL, bg.bp = NULL, bg.a16 = NULL, bg.a = xr;
                    free(bp);
                    free(wp);
                }
                free(x), free(xr), free(wf), free(ws), free(bias), free(wq), free(aq), free(wb), free(as);
                free(c0), free(b0), free(c1), free(c0a), free(aq16), free(as16);
            }
}

/* ---- through the back end ----------------------------------------------------------- */

static cw_buf *up(cw_backend *be, const void *x, size_t bytes)
{
    cw_buf *b = NULL;
    CHECK(be->ops->buf_alloc(be, bytes, &b) == CW_OK);
    CHECK(be->ops->upload(be, b, 0, x, bytes) == CW_OK);
    return b;
}

/* y = linear(x, w) on be (lowp as created), downloaded into out [m, n];
 * gelu: 1 for linear then gelu, 2 for linear_gelu; prep: W through the
 * back end's prepare_weight first (returns whether it made a copy). */
static int run_linear_prep(cw_backend *be, const float *x, size_t m, size_t k, const void *w, cw_dtype dt,
                           const float *scale, size_t n, const float *bias, float *out, int gelu, int prep)
{
    cw_buf *bx = up(be, x, m * k * sizeof(float)), *bw = up(be, w, n * k * cw_dtype_size(dt));
    cw_buf *bs = scale ? up(be, scale, n * sizeof(float)) : NULL, *bb = bias ? up(be, bias, n * sizeof(float)) : NULL;
    cw_buf *by = NULL;
    CHECK(be->ops->buf_alloc(be, m * n * sizeof(float), &by) == CW_OK);
    cw_weight wt = { .dtype = dt, .rows = n, .cols = k, .data = bw, .scale = bs };
    cw_buf *bp = NULL;
    if (prep && be->ops->prepare_weight) CHECK(be->ops->prepare_weight(be, &wt, &bp) == CW_OK);
    wt.packed = bp;
    cw_ref rb = bias ? cw_ref_at(bb, 0) : cw_ref_none();
    if (gelu == 2) {
        CHECK(be->ops->linear_gelu(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, rb, m, 0) == CW_OK);
    } else {
        CHECK(be->ops->linear(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, rb, m) == CW_OK);
        if (gelu) CHECK(be->ops->gelu(be, cw_ref_at(by, 0), m * n) == CW_OK);
    }
    CHECK(be->ops->download(be, out, by, 0, m * n * sizeof(float)) == CW_OK);
    be->ops->buf_free(be, bx), be->ops->buf_free(be, bw), be->ops->buf_free(be, bs);
    be->ops->buf_free(be, bb), be->ops->buf_free(be, by), be->ops->buf_free(be, bp);
    return bp != NULL;
}

static void run_linear_act(cw_backend *be, const float *x, size_t m, size_t k, const void *w, cw_dtype dt,
                           const float *scale, size_t n, const float *bias, float *out, int gelu)
{
    run_linear_prep(be, x, m, k, w, dt, scale, n, bias, out, gelu, 0);
}

static void run_linear(cw_backend *be, const float *x, size_t m, size_t k, const void *w, cw_dtype dt,
                       const float *scale, size_t n, const float *bias, float *out)
{
    run_linear_act(be, x, m, k, w, dt, scale, n, bias, out, 0);
}

/* linear_gelu gives linear-then-gelu's bits on every ISA, mode, dtype and
 * thread count: GELU applied by each kernel to its tiles (cw_gemm.post),
 * subnormals flushed as cpu_gelu flushes them (wide outputs reach x < -13). */
static void test_linear_gelu(void)
{
    cw_isa isas[] = { CW_ISA_REF, CW_ISA_AVX2, CW_ISA_AUTO };
    size_t shapes[][3] = { { 1, 64, 100 }, { 5, 100, 51 }, { 9, 64, 17 }, { 70, 200, 40 }, { 47, 400, 130 } };
    cw_dtype dts[] = { CW_DTYPE_F32, CW_DTYPE_F16, CW_DTYPE_I8, CW_DTYPE_BF16 };
    uint64_t s = 11;
    for (size_t si = 0; si < LEN(shapes); si++) {
        size_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
        float *x = make_x(m, k, &s), *wf = malloc(n * k * sizeof *wf), *ws = malloc(n * sizeof *ws);
        float *bias = malloc(n * sizeof *bias), *y0 = malloc(m * n * sizeof *y0), *y1 = malloc(m * n * sizeof *y1);
        int8_t *wq = malloc(n * k);
        uint16_t *wb = malloc(n * k * sizeof *wb), *wh = malloc(n * k * sizeof *wh);
        for (size_t i = 0; i < n * k; i++) wf[i] = frand(&s) * 0.3f;
        for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, wf + j * k, k), bias[j] = frand(&s) * 20.0f;
        for (size_t i = 0; i < n * k; i++) wb[i] = cw_f32_to_bf16(wf[i]), wh[i] = cw_f32_to_f16(wf[i]);
        const void *ws_of[] = { wf, wh, wq, wb };
        size_t tiny = 0;
        for (int a = 0; a < 3; a++)
            for (int lowp = 0; lowp < 2; lowp++)
                for (int t = 1; t <= 2; t++) {
                    cw_backend_params p = cw_backend_default_params();
                    p.isa = isas[a], p.lowp = lowp, p.n_threads = t;
                    cw_backend *be = NULL;
                    if (cw_backend_create(&p, &be) != CW_OK) continue;
                    CHECK(be->ops->linear_gelu != NULL);
                    for (size_t d = 0; d < LEN(dts); d++) {
                        if (!lowp && (dts[d] == CW_DTYPE_I8 || dts[d] == CW_DTYPE_BF16)) continue;
                        const float *sc = dts[d] == CW_DTYPE_I8 ? ws : NULL;
                        run_linear_act(be, x, m, k, ws_of[d], dts[d], sc, n, bias, y0, 1);
                        run_linear_act(be, x, m, k, ws_of[d], dts[d], sc, n, bias, y1, 2);
                        CHECK_MSG(memcmp(y0, y1, m * n * sizeof *y0) == 0, "linear_gelu %s lowp %d %d threads dtype %d "
                                  "m %zu k %zu n %zu", be->desc, lowp, t, (int)dts[d], m, k, n);
                        for (size_t i = 0; i < m * n; i++) tiny += y0[i] == 0.0f;
                    }
                    cw_backend_free(be);
                }
        CHECK(tiny > 0); /* some outputs were far enough below zero to flush */
        free(x), free(wf), free(ws), free(bias), free(y0), free(y1), free(wq), free(wb), free(wh);
    }
}

static void test_backend_threads(void)
{
    cw_isa isas[] = { CW_ISA_REF, CW_ISA_AVX2, CW_ISA_AUTO };
    cw_backend *be[3][3] = { { 0 } }, *exact = NULL;
    cw_backend_params p = cw_backend_default_params();
    p.lowp = 1;
    for (int a = 0; a < 3; a++)
        for (int t = 0; t < 3; t++) {
            p.isa = isas[a];
            p.n_threads = t + 1;
            if (cw_backend_create(&p, &be[a][t]) != CW_OK) be[a][t] = NULL;
        }
    CHECK(be[0][0] && be[2][0]);
    printf("  lowp kernels here: int8 %s, bf16 %s\n", be[2][0]->lowp_i8_desc, be[2][0]->lowp_bf16_desc);
    p.lowp = 0, p.isa = CW_ISA_AUTO, p.n_threads = 2;
    CHECK(cw_backend_create(&p, &exact) == CW_OK);
    CHECK(exact->lowp_i8_desc == NULL);
    uint64_t s = 5;
    size_t shapes[][3] = { { 1, 384, 1536 }, { 5, 100, 51 }, { 9, 64, 17 }, { 70, 200, 40 }, { 150, 33, 1 },
                           { 3, 130, 300 }, { 2, 7, 33 } };
    size_t prepared = 0;
    for (size_t si = 0; si < LEN(shapes); si++) {
        size_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
        float *x = make_x(m, k, &s), *wf = malloc(n * k * sizeof *wf), *ws = malloc(n * sizeof *ws);
        float *bias = malloc(n * sizeof *bias), *y0 = malloc(m * n * sizeof *y0), *y1 = malloc(m * n * sizeof *y1);
        float *yf = malloc(m * n * sizeof *yf);
        int8_t *wq = malloc(n * k);
        uint16_t *wb = malloc(n * k * sizeof *wb), *wh = malloc(n * k * sizeof *wh);
        for (size_t i = 0; i < n * k; i++) wf[i] = frand(&s) * 0.1f;
        for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, wf + j * k, k), bias[j] = frand(&s);
        for (size_t i = 0; i < n * k; i++) wb[i] = cw_f32_to_bf16(wf[i]), wh[i] = cw_f32_to_f16(wf[i]);
        run_linear(exact, x, m, k, wf, CW_DTYPE_F32, NULL, n, bias, yf);
        /* int8: every ISA and thread count gives the reference's bits, products
         * of up to 8 rows (decoder steps) with 16-bit activations (lowp.h) */
        run_linear(be[0][0], x, m, k, wq, CW_DTYPE_I8, ws, n, bias, y0);
        for (int a = 0; a < 3; a++)
            for (int t = 0; t < 3; t++) {
                if (!be[a][t]) continue;
                run_linear(be[a][t], x, m, k, wq, CW_DTYPE_I8, ws, n, bias, y1);
                CHECK_MSG(memcmp(y0, y1, m * n * sizeof *y0) == 0, "int8 %s, %d threads, m %zu k %zu n %zu",
                          be[a][t]->lowp_i8_desc, t + 1, m, k, n);
                /* with W prepared (a decoder weight), where the back end has a layout for it */
                memset(y1, 0xff, m * n * sizeof *y1);
                prepared += (size_t)run_linear_prep(be[a][t], x, m, k, wq, CW_DTYPE_I8, ws, n, bias, y1, 0, 1);
                CHECK_MSG(memcmp(y0, y1, m * n * sizeof *y0) == 0,
                          "int8 prepared %s, %d threads, m %zu k %zu n %zu", be[a][t]->lowp_i8_desc, t + 1, m, k, n);
            }
        if (m <= 8) { /* 16-bit activations: the exact mode's product of the int8 W, to 1e-4 of sum |x w| */
            float *y8 = malloc(m * n * sizeof *y8);
            run_linear(exact, x, m, k, wq, CW_DTYPE_I8, ws, n, bias, y8);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    double mag = fabs(bias[j]);
                    for (size_t q = 0; q < k; q++) mag += fabs((double)x[i * k + q] * wq[j * k + q] / ws[j]);
                    CHECK_NEAR(y0[i * n + j], y8[i * n + j], 1e-4 * mag + 1e-6);
                }
            free(y8);
        }
        /* and stays close to the float32 product: within 2% of sum |x w| */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double mag = 0;
                for (size_t q = 0; q < k; q++) mag += fabs((double)x[i * k + q] * wf[j * k + q]);
                CHECK_NEAR(y0[i * n + j], yf[i * n + j], 2e-2 * mag + 1e-6);
            }
        /* bf16: each ISA's thread counts agree bit for bit, and every ISA with the reference */
        run_linear(be[0][0], x, m, k, wb, CW_DTYPE_BF16, NULL, n, bias, y0);
        for (int a = 0; a < 3; a++) {
            float *yt = malloc(m * n * sizeof *yt);
            for (int t = 0; t < 3; t++) {
                if (!be[a][t]) continue;
                run_linear(be[a][t], x, m, k, wb, CW_DTYPE_BF16, NULL, n, bias, t ? y1 : yt);
                if (t) CHECK_MSG(memcmp(yt, y1, m * n * sizeof *yt) == 0, "bf16 %s: %d threads differ from 1",
                                 be[a][t]->lowp_bf16_desc, t + 1);
            }
            if (be[a][0])
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        double mag = fabs(bias[j]); /* rounding errors scale with sum |x w| */
                        for (size_t q = 0; q < k; q++) mag += fabs((double)x[i * k + q] * wf[j * k + q]);
                        CHECK_NEAR(yt[i * n + j], y0[i * n + j], 1e-5 * mag);
                        CHECK_NEAR(yt[i * n + j], yf[i * n + j], 1e-2 * mag);
                    }
            free(yt);
        }
        /* F16 weights in a lowp back end: exactly the exact mode's product */
        run_linear(exact, x, m, k, wh, CW_DTYPE_F16, NULL, n, bias, y0);
        run_linear(be[2][1], x, m, k, wh, CW_DTYPE_F16, NULL, n, bias, y1);
        CHECK(memcmp(y0, y1, m * n * sizeof *y0) == 0);
        /* BF16 products of up to 8 rows (decoder steps): the exact mode's,
         * activations unrounded (few_rows) */
        if (m <= 8) {
            run_linear(exact, x, m, k, wb, CW_DTYPE_BF16, NULL, n, bias, y0);
            run_linear(be[2][1], x, m, k, wb, CW_DTYPE_BF16, NULL, n, bias, y1);
            CHECK_MSG(memcmp(y0, y1, m * n * sizeof *y0) == 0, "bf16 m %zu: not the float32 product", m);
        }
        free(x), free(wf), free(ws), free(bias), free(y0), free(y1), free(yf), free(wq), free(wb), free(wh);
    }
    printf("  int8 products with W prepared: %zu (kernels with a layout of their own: %s)\n", prepared,
           prepared ? "tested" : "none on this CPU, skipped");
    for (int a = 0; a < 3; a++)
        for (int t = 0; t < 3; t++) cw_backend_free(be[a][t]);
    cw_backend_free(exact);
}

/* The conv stem with int8 / bf16 weights in lowp mode: the product of its
 * im2col columns as a lowp linear op, so every ISA and thread count gives
 * the reference linear op's bits on the same columns. */
static void test_conv_lowp(void)
{
    enum { CI = 5, TI = 41, CO = 7, K = CI * 3 };
    uint64_t s = 11;
    float x[CI * TI], wf[CO * K], ws[CO], bias[CO];
    int8_t wq[CO * K];
    uint16_t wb[CO * K];
    for (size_t i = 0; i < CI * TI; i++) x[i] = frand(&s);
    for (size_t i = 0; i < CO * K; i++) wf[i] = 0.2f * frand(&s), wb[i] = cw_f32_to_bf16(wf[i]);
    for (size_t o = 0; o < CO; o++) ws[o] = cw_quantize_row_i8(wq + o * K, wf + o * K, K), bias[o] = frand(&s);
    cw_backend_params p = cw_backend_default_params();
    p.lowp = 1;
    p.isa = CW_ISA_REF;
    cw_backend *ref = NULL;
    CHECK(cw_backend_create(&p, &ref) == CW_OK);
    for (size_t stride = 1; stride <= 2; stride++) {
        size_t to = (TI - 1) / stride + 1;
        float *col = calloc(to * K, sizeof *col), *z = malloc(to * CO * sizeof *z), *y = malloc(to * CO * sizeof *y);
        for (size_t t = 0; t < to; t++) /* col [t, c*3 + kk] = x [c, t*stride + kk - 1], zero padded */
            for (size_t c = 0; c < CI; c++)
                for (size_t kk = 0; kk < 3; kk++) {
                    long ti = (long)(t * stride + kk) - 1;
                    if (ti >= 0 && ti < TI) col[t * K + c * 3 + kk] = x[c * TI + (size_t)ti];
                }
        for (int dt = 0; dt < 2; dt++) {
            const void *w = dt ? (const void *)wb : (const void *)wq;
            cw_dtype d = dt ? CW_DTYPE_BF16 : CW_DTYPE_I8;
            run_linear(ref, col, to, K, w, d, dt ? NULL : ws, CO, bias, z);
            for (int isa = 0; isa < 3; isa++)
                for (int t = 1; t <= 2; t++) {
                    cw_backend *be = NULL;
                    p.isa = isa == 0 ? CW_ISA_REF : isa == 1 ? CW_ISA_AVX2 : CW_ISA_AUTO;
                    p.n_threads = t;
                    if (cw_backend_create(&p, &be) != CW_OK) continue;
                    cw_buf *bx = up(be, x, sizeof x), *bw = up(be, w, CO * K * cw_dtype_size(d));
                    cw_buf *bs = dt ? NULL : up(be, ws, sizeof ws), *bb = up(be, bias, sizeof bias), *by = NULL;
                    CHECK(be->ops->buf_alloc(be, to * CO * sizeof(float), &by) == CW_OK);
                    cw_weight wt = { .dtype = d, .rows = CO, .cols = K, .data = bw, .scale = bs };
                    CHECK(be->ops->conv1d(be, cw_ref_at(by, 0), cw_ref_at(bx, 0), &wt, cw_ref_at(bb, 0), CI, TI,
                                          stride) == CW_OK);
                    CHECK(be->ops->download(be, y, by, 0, to * CO * sizeof(float)) == CW_OK);
                    /* y [CO, to] is z [to, CO] transposed; int8 gives the reference's bits, bf16 sums in
                     * another order per ISA, so it agrees within rounding of sum |x w| */
                    int same = 1;
                    for (size_t o = 0; o < CO; o++)
                        for (size_t q = 0; q < to; q++) {
                            float a = y[o * to + q], b = z[q * CO + o];
                            double mag = fabs(bias[o]);
                            for (size_t kk = 0; kk < K; kk++) mag += fabs((double)col[q * K + kk] * wf[o * K + kk]);
                            same &= dt ? fabs((double)a - b) <= 1e-5 * mag : memcmp(&a, &b, sizeof a) == 0;
                        }
                    CHECK_MSG(same, "conv1d %s stride %zu, %s, %d threads", dt ? "bf16" : "int8", stride, be->desc, t);
                    be->ops->buf_free(be, bx), be->ops->buf_free(be, bw), be->ops->buf_free(be, bs);
                    be->ops->buf_free(be, bb), be->ops->buf_free(be, by);
                    cw_backend_free(be);
                }
        }
        free(col), free(z), free(y);
    }
    cw_backend_free(ref);
}

/* ---- weights at load and the public knob (tiny.en) ------------------------------------- */

static void test_weights_dtype(void)
{
    cw_model *model = NULL;
    cw_model_params mp = cw_model_default_params();
    if (cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), &mp, &model) != CW_OK) {
        printf("  skipped: no models/tiny.en (%s)\n", cw_last_error());
        return;
    }
    const cw_tensor *emb = cw_model_tensor(model, "decoder.token_embedding.weight");
    CHECK(emb && emb->dtype == CW_DTYPE_F16);
    cw_backend_params bp = cw_backend_default_params();
    bp.n_threads = 1;
    cw_backend *be = NULL;
    CHECK(cw_backend_create(&bp, &be) == CW_OK);
    const cw_tensor *mlp = cw_model_tensor(model, "encoder.blocks.0.mlp.0.weight");
    CHECK(mlp && mlp->dtype == CW_DTYPE_F16);
    /* int8: the token embedding in bf16 (its rows are read for ~1,700 logits a step) */
    static const struct { cw_compute_dtype d; cw_dtype lin, conv, emb; } cases[] = {
        { CW_COMPUTE_FP32, CW_DTYPE_F16, CW_DTYPE_F16, CW_DTYPE_F16 },
        { CW_COMPUTE_FP16, CW_DTYPE_F16, CW_DTYPE_F16, CW_DTYPE_F16 },
        { CW_COMPUTE_BF16, CW_DTYPE_BF16, CW_DTYPE_BF16, CW_DTYPE_BF16 },
        { CW_COMPUTE_INT8, CW_DTYPE_I8, CW_DTYPE_I8, CW_DTYPE_BF16 },
    };
    for (size_t c = 0; c < LEN(cases); c++) {
        cw_nn_weights *w = NULL;
        CHECK(cw_nn_weights_create_dtype(be, model, cases[c].d, &w) == CW_OK);
        if (!w) continue;
        CHECK_EQ_INT(w->tok_emb.dtype, cases[c].emb);
        CHECK_EQ_INT(w->enc[0].mlp0.w.dtype, cases[c].lin);
        CHECK_EQ_INT(w->dec[0].cross.k.dtype, cases[c].lin);
        CHECK_EQ_INT(w->conv1.w.dtype, cases[c].conv);
        CHECK(w->tok_emb.rows == emb->shape[0] && w->tok_emb.cols == emb->shape[1]);
        if (cases[c].lin == CW_DTYPE_I8 && mlp) { /* row 3 of a Linear weight: quantized from the fp16 values */
            size_t d = w->enc[0].mlp0.w.cols;
            int8_t *q = malloc(d);
            float sc, *x = malloc(d * sizeof *x);
            for (size_t i = 0; i < d; i++) x[i] = cw_f16_to_f32(((const uint16_t *)mlp->data)[3 * d + i]);
            CHECK(be->ops->download(be, q, w->enc[0].mlp0.w.data, 3 * d, d) == CW_OK);
            CHECK(be->ops->download(be, &sc, w->enc[0].mlp0.w.scale, 3 * sizeof(float), sizeof sc) == CW_OK);
            for (size_t i = 0; i < d; i++) CHECK(fabsf(x[i] - q[i] / sc) <= 0.5f / sc * 1.0001f);
            free(q), free(x);
        }
        cw_nn_weights_free(w);
    }
    CHECK(emb->dtype == CW_DTYPE_F16); /* the model is untouched */
    cw_backend_free(be);

    /* int8 in lowp mode: every decoder matrix prepared where the back end
     * has a layout for it (which a small weight shows), nothing else */
    bp.lowp = 1;
    CHECK(cw_backend_create(&bp, &be) == CW_OK);
    int8_t w8[64 * 8] = { 0 };
    float s8[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    cw_buf *wb8 = up(be, w8, sizeof w8), *sb8 = up(be, s8, sizeof s8), *pb8 = NULL;
    cw_weight probe = { .dtype = CW_DTYPE_I8, .rows = 8, .cols = 64, .data = wb8, .scale = sb8 };
    CHECK(be->ops->prepare_weight && be->ops->prepare_weight(be, &probe, &pb8) == CW_OK);
    int has = pb8 != NULL;
    be->ops->buf_free(be, pb8), be->ops->buf_free(be, wb8), be->ops->buf_free(be, sb8);
    for (int d = 0; d < 2; d++) {
        cw_nn_weights *w = NULL;
        CHECK(cw_nn_weights_create_dtype(be, model, d ? CW_COMPUTE_INT8 : CW_COMPUTE_BF16, &w) == CW_OK);
        if (!w) continue;
        int want = d && has;
        for (size_t l = 0; l < (size_t)w->dims.n_text_layer; l++) {
            const cw_nn_block *b = &w->dec[l];
            const cw_weight *x[] = { &b->attn.q, &b->attn.k, &b->attn.v, &b->attn.o, &b->cross.q,
                                     &b->cross.k, &b->cross.v, &b->cross.o, &b->mlp0.w, &b->mlp2.w };
            for (size_t i = 0; i < LEN(x); i++) CHECK_EQ_INT(x[i]->packed != NULL, want);
        }
        CHECK(!w->enc[0].mlp0.w.packed && !w->tok_emb.packed && !w->conv1.w.packed);
        cw_nn_weights_free(w);
    }
    printf("  decoder weights prepared for int8: %s\n", has ? "yes" : "no (no layout of its own here)");
    cw_backend_free(be);

    /* the public knob: names, a bad value, the description */
    CHECK_EQ_INT(cw_compute_dtype_from_name("int8"), CW_COMPUTE_INT8);
    CHECK_EQ_INT(cw_compute_dtype_from_name("int4"), -1);
    CHECK(cw_compute_dtype_name((cw_compute_dtype)9) == NULL);
    cw_context_params cp = cw_context_default_params();
    CHECK_EQ_INT(cp.dtype, CW_COMPUTE_FP32);
    cw_context *ctx = NULL;
    cp.n_threads = 1;
    cp.dtype = (cw_compute_dtype)9;
    CHECK_FAILS(cw_context_create(model, &cp, &ctx), CW_ERR_INVALID_ARG, "dtype");
    CHECK(ctx == NULL);
    /* int8 attention: refused with fp32 and fp16 (by the check and by create), taken with int8 and bf16 */
    cp.int8_attention = 1;
    for (int d = CW_COMPUTE_FP32; d <= CW_COMPUTE_INT8; d++) {
        cp.dtype = (cw_compute_dtype)d;
        int low = d == CW_COMPUTE_INT8 || d == CW_COMPUTE_BF16;
        if (low) {
            CHECK(cw_context_params_check(&cp) == CW_OK);
        } else {
            CHECK_FAILS(cw_context_params_check(&cp), CW_ERR_INVALID_ARG, "int8 attention needs dtype int8 or bf16");
            CHECK_FAILS(cw_context_create(model, &cp, &ctx), CW_ERR_INVALID_ARG, "int8 attention");
            CHECK(ctx == NULL);
        }
    }
    cp.int8_attention = 0;
    cp.device = (cw_device)7;
    CHECK_FAILS(cw_context_params_check(&cp), CW_ERR_INVALID_ARG, "device 7");
    cp.device = CW_DEVICE_CPU;
    cp.dtype = CW_COMPUTE_INT8;
    CHECK(cw_context_create(model, &cp, &ctx) == CW_OK);
    char desc[512];
    size_t n = cw_context_describe(ctx, desc, sizeof desc);
    CHECK(n == strlen(desc) && strstr(desc, "dtype int8") && strstr(desc, "int8 GEMM: "));
    CHECK(cw_context_describe(ctx, desc, 8) == n && strlen(desc) == 7);
    printf("  %s\n", (cw_context_describe(ctx, desc, sizeof desc), desc));
    cw_context_free(ctx);
    cw_model_free(model);
}

/* ---- attention in bf16 ----------------------------------------------------------- */

typedef struct {
    size_t B, H, nq, nkv;
    int causal;
    size_t q_pos;
    int shared_kv; /* K/V batch stride 0 (cross-attention of beams) */
} lattn_case;

/* O through be's attention op (Q, O rows padded by 64 floats, batch strides
 * padded too), as [B, nq, ld] floats. */
static const lattn_case lattn_cases[] = {
    { 1, 1, 1, 1, 0, 0, 0 },       { 1, 3, 1, 448, 1, 447, 0 },  { 2, 2, 7, 33, 1, 26, 0 },
    { 1, 2, 8, 8, 1, 0, 0 },       { 2, 1, 113, 1500, 0, 0, 0 }, { 1, 2, 130, 1501, 0, 0, 0 },
    { 1, 2, 130, 130, 1, 0, 0 },   { 3, 2, 9, 1501, 0, 0, 1 },   { 1, 1, 120, 200, 1, 80, 0 },
    { 2, 2, 12, 2, 1, 0, 0 },       { 1, 1, 79, 90, 1, 11, 0 },   { 1, 2, 80, 81, 0, 0, 0 },
    { 2, 1, 96, 3, 1, 0, 0 },       { 1, 1, 17, 17, 1, 0, 0 },    { 1, 2, 33, 47, 0, 0, 0 },
    { 1, 1, 112, 1500, 0, 0, 0 },  { 2, 2, 70, 5, 0, 0, 1 },     { 1, 1, 64, 31, 0, 0, 0 },
};

/* Case c's operands, random (state s), in padded strided layouts: Q and O
 * [B][nq][H*64 + 64] (+64 a sequence), K and V [B or 1][nkv][H*64] (+64). */
static cw_attn lattn_make(const lattn_case *c, uint64_t *s, float **q, float **k, float **v, size_t *nq_f,
                          size_t *kv_f)
{
    size_t hd = c->H * 64, ld = hd + 64, qbs = c->nq * ld + 64, kvbs = c->nkv * hd + 64;
    *nq_f = c->B * qbs, *kv_f = (c->shared_kv ? 1 : c->B) * kvbs;
    *q = malloc(*nq_f * 4), *k = malloc(*kv_f * 4), *v = malloc(*kv_f * 4);
    for (size_t i = 0; i < *nq_f; i++) (*q)[i] = frand(s) * 3.0f;
    for (size_t i = 0; i < *kv_f; i++) (*k)[i] = frand(s), (*v)[i] = frand(s);
    return (cw_attn){ .n_batch = c->B, .n_head = c->H, .nq = c->nq, .nkv = c->nkv, .o_ld = ld, .o_bstride = qbs,
                      .q_ld = ld, .q_bstride = qbs, .k_ld = hd, .k_bstride = c->shared_kv ? 0 : kvbs, .v_ld = hd,
                      .v_bstride = c->shared_kv ? 0 : kvbs, .scale = 0.125f, .causal = c->causal, .q_pos = c->q_pos };
}

static float *run_lattn(cw_backend *be, const cw_attn *a0, const float *q, const float *k, const float *v,
                        size_t nq_f, size_t kv_f)
{
    cw_buf *bq = up(be, q, nq_f * 4), *bk = up(be, k, kv_f * 4), *bv = up(be, v, kv_f * 4), *bo = NULL;
    float *o = calloc(nq_f, 4);
    bo = up(be, o, nq_f * 4);
    cw_attn a = *a0;
    a.o = cw_ref_at(bo, 0), a.q = cw_ref_at(bq, 0), a.k = cw_ref_at(bk, 0), a.v = cw_ref_at(bv, 0);
    CHECK(be->ops->attention(be, &a) == CW_OK);
    CHECK(be->ops->download(be, o, bo, 0, nq_f * 4) == CW_OK);
    be->ops->buf_free(be, bq), be->ops->buf_free(be, bk), be->ops->buf_free(be, bv), be->ops->buf_free(be, bo);
    return o;
}

/* The AVX512-BF16 attention kernel against the lowp reference (blocks of
 * cw_avx512_attn_lowp_min_rows query rows or more) or the float32 one (smaller
 * blocks, which stay float32),
 * and through the back end (lowp) with 1, 2 and 3 threads: the same bits. */
/* The AVX-512 GELU is avx2's lane for lane: the same bits, tails included,
 * so fp32 transcripts do not depend on which of the two the CPU runs. */
static void test_gelu_avx512_bits(void)
{
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) {
        printf("  skipped: avx512 gelu (no AVX-512)\n");
        return;
    }
    uint64_t s = 3;
    for (size_t n = 1; n < 70; n += 3) {
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        for (size_t i = 0; i < n; i++) a[i] = b[i] = frand(&s) * 14.0f;
        if (n > 3) a[0] = b[0] = -0.0f, a[1] = b[1] = -40.0f, a[2] = b[2] = 1e-9f;
        cw_avx2_gelu(a, n);
        cw_avx512_gelu(b, n);
        CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "avx512 gelu differs from avx2 at n %zu", n);
        free(a), free(b);
    }
#endif
}

/* The AVX-512 softmax gives avx2's bits too: every length's tail, masks
 * (causal rows of a prompt), rows with no key kept. */
static void test_softmax_avx512_bits(void)
{
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) {
        printf("  skipped: avx512 softmax (no AVX-512)\n");
        return;
    }
    uint64_t s = 5;
    enum { R = 5 };
    for (size_t cols = 1; cols < 80; cols++)
        for (int causal = 0; causal < 2; causal++) {
            float *x = malloc(R * cols * sizeof *x), *a = malloc(R * cols * sizeof *a), *b = malloc(R * cols * sizeof *b);
            for (size_t i = 0; i < R * cols; i++) x[i] = frand(&s) * 30.0f;
            cw_mask m = { causal, cols > 3 ? cols - 3 : 0, 0 };
            cw_avx2_softmax(a, x, 0, R, cols, 0.125f, causal ? &m : NULL);
            cw_avx512_softmax(b, x, 0, R, cols, 0.125f, causal ? &m : NULL);
            CHECK_MSG(memcmp(a, b, R * cols * sizeof *a) == 0, "avx512 softmax differs from avx2 at cols %zu causal %d",
                      cols, causal);
            free(x), free(a), free(b);
        }
#endif
}

typedef struct {
    const char *name;
    void (*run)(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
    size_t (*scratch_floats)(const cw_attn *a);
    /* LATTN_BF16: bf16 attention; LATTN_I8: int8 for blocks of 16+ rows
     * without a mask, bf16 for the rest; LATTN_I8_F32: the rest float32 */
    int mode;
} lattn_kernel;

enum { LATTN_BF16, LATTN_I8, LATTN_I8_F32, LATTN_MODES };

/* The lowp attention kernels this CPU has: AVX512-BF16, AMX-BF16, and the
 * int8 ones (AVX512-VNNI, with the bf16 or the float32 kernel for the rest);
 * names as the back end's description gives them. */
static size_t lattn_kernels(lattn_kernel *kk)
{
    size_t n = 0;
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) {
        printf("  skipped: AVX-512 attention kernels (no AVX-512 F/BW/VL/DQ)\n");
        return 0;
    }
    if (f.avx512_bf16) {
        kk[n++] = (lattn_kernel){ "avx512-bf16", cw_avx512_attention_bf16, cw_avx512_attn_bf16_scratch_floats, LATTN_BF16 };
#ifdef CW_HAVE_AMX
        if (f.amx_tile && f.amx_bf16)
            kk[n++] = (lattn_kernel){ "amx-bf16", cw_amx_attention_bf16, cw_amx_attn_bf16_scratch_floats, LATTN_BF16 };
        else printf("  skipped: amx-bf16 attention kernel (no AMX-BF16 granted)\n");
#endif
    } else printf("  skipped: bf16 attention kernels (no AVX512-BF16)\n");
    if (f.avx512_vnni) {
        if (f.avx512_bf16)
            kk[n++] = (lattn_kernel){ CW_ATTN_I8_BF16_NAME, cw_avx512_attention_i8, cw_avx512_attn_i8_scratch_floats,
                                      LATTN_I8 };
        kk[n++] = (lattn_kernel){ CW_ATTN_I8_F32_NAME, cw_avx512_attention_i8_f32, cw_avx512_attn_i8_f32_scratch_floats,
                                  LATTN_I8_F32 };
    } else printf("  skipped: int8 attention kernels (no AVX512-VNNI)\n");
#else
    printf("  skipped: AVX-512 attention kernels (not x86)\n");
#endif
    return n;
}

/* |O - ref| <= 1e-3 max|V column|: the orders of the float32 sums, or
 * probabilities rounded to their other bf16 neighbour (2e-4 passes here;
 * the float32 attention misses by more). */
static int lattn_off(const lattn_case *c, const float *o, const float *r, const float *v, size_t ci, const char *name)
{
    size_t hd = c->H * 64, ld = hd + 64, qbs = c->nq * ld + 64, kvbs = c->nkv * hd + 64;
    int bad = 0;
    for (size_t b = 0; b < c->B; b++)
        for (size_t hh = 0; hh < c->H; hh++) {
            const float *vb = v + (c->shared_kv ? 0 : b * kvbs) + hh * 64;
            for (size_t i = 0; i < c->nq; i++)
                for (size_t d = 0; d < 64; d++) {
                    double vm = 0;
                    for (size_t j = 0; j < c->nkv; j++) vm = fmax(vm, fabs(vb[j * hd + d]));
                    size_t at = b * qbs + i * ld + hh * 64 + d;
                    if (!(fabs(o[at] - r[at]) <= 1e-3 * vm) && bad++ < 5)
                        CHECK_MSG(0, "%s case %zu b %zu h %zu i %zu d %zu: %g vs %g", name, ci, b, hh, i, d, o[at], r[at]);
                }
        }
    return bad;
}

/* The reference of a block in a kernel's mode: int8 for the int8 kernels'
 * own blocks, else the bf16 one (16+ rows) or the float32 one (fewer rows,
 * which stay float32, and every other block of LATTN_I8_F32). */
static void lattn_ref(const cw_attn_ptrs *pr, size_t bh, size_t i0, size_t i1, int mode, float *rs)
{
    if (i1 - i0 < cw_avx512_attn_lowp_min_rows) cw_ref_attention(pr, bh, i0, i1, rs);
    else if (mode != LATTN_BF16 && !pr->a->causal) cw_ref_attention_i8(pr, bh, i0, i1, rs);
    else if (mode == LATTN_I8_F32) cw_ref_attention(pr, bh, i0, i1, rs);
    else cw_ref_attention_lowp(pr, bh, i0, i1, rs);
}

static void test_attention_lowp(void)
{
    lattn_kernel kk[4];
    size_t nk = lattn_kernels(kk);
    if (!nk) return;
    /* [i8][threads - 1]: back ends with bf16 and with int8 attention */
    cw_backend *be[2][3] = { { 0 } };
    cw_backend_params bp = cw_backend_default_params();
    bp.lowp = 1, bp.isa = CW_ISA_AUTO;
    for (int i8 = 0; i8 < 2; i8++)
        for (int t = 0; t < 3; t++) {
            bp.n_threads = t + 1, bp.attn_i8 = i8;
            CHECK(cw_backend_create(&bp, &be[i8][t]) == CW_OK);
        }
    const char *desc[2] = { be[0][0]->lowp_attn_desc, be[1][0]->lowp_attn_desc };
    printf("  lowp attention here: %s; with attn_i8: %s\n", desc[0] ? desc[0] : "float32",
           desc[1] ? desc[1] : "float32");
    uint64_t s = 21;
    for (size_t ci = 0; ci < LEN(lattn_cases); ci++) {
        const lattn_case *c = &lattn_cases[ci];
        size_t nq_f, kv_f;
        float *q, *k, *v;
        cw_attn a = lattn_make(c, &s, &q, &k, &v, &nq_f, &kv_f);
        float *r[LATTN_MODES], *rs = malloc((cw_ref_attn_scratch_floats(&a) + 1) * 4);
        size_t blk = cw_avx512_attn_block;
        for (int mode = 0; mode < LATTN_MODES; mode++) {
            r[mode] = calloc(nq_f, 4);
            cw_attn_ptrs pr = { .a = &a, .o = r[mode], .q = q, .k = k, .v = v, .call_id = 0 };
            for (size_t bh = 0; bh < c->B * c->H; bh++)
                for (size_t i0 = 0; i0 < c->nq; i0 += blk)
                    lattn_ref(&pr, bh, i0, i0 + blk < c->nq ? i0 + blk : c->nq, mode, rs);
        }
        float *o[4] = { NULL, NULL, NULL, NULL };
        for (size_t ki = 0; ki < nk; ki++) {
            o[ki] = calloc(nq_f, 4);
            float *scr = malloc((kk[ki].scratch_floats(&a) + 32) * 4);
            float *al = (float *)(((uintptr_t)scr + 63) & ~(uintptr_t)63);
            cw_attn_ptrs p = { .a = &a, .o = o[ki], .q = q, .k = k, .v = v, .call_id = 0 }; /* 0: nothing kept between items */
            for (size_t bh = 0; bh < c->B * c->H; bh++)
                for (size_t i0 = 0; i0 < c->nq; i0 += blk)
                    kk[ki].run(&p, bh, i0, i0 + blk < c->nq ? i0 + blk : c->nq, al);
            int bad = lattn_off(c, o[ki], r[kk[ki].mode], v, ci, kk[ki].name);
            CHECK_MSG(bad == 0, "%s case %zu: %d outputs off the reference", kk[ki].name, ci, bad);
            for (size_t i = 0; i < nq_f; i++) /* padding untouched */
                if ((i % a.q_bstride) >= c->nq * a.q_ld || (i % a.q_bstride) % a.q_ld >= c->H * 64) CHECK(o[ki][i] == 0.0f);
            free(scr);
        }
        /* the backends run the kernel the dispatch chose, in work items of their own */
        for (int i8 = 0; i8 < 2; i8++) {
            if (!desc[i8]) continue;
            size_t chosen = 0;
            for (size_t ki = 0; ki < nk; ki++)
                if (strncmp(desc[i8], kk[ki].name, strlen(kk[ki].name)) == 0) chosen = ki;
            CHECK_MSG(strncmp(desc[i8], kk[chosen].name, strlen(kk[chosen].name)) == 0, "no kernel named %s", desc[i8]);
            for (int t = 0; t < 3; t++) {
                float *ot = run_lattn(be[i8][t], &a, q, k, v, nq_f, kv_f);
                CHECK_MSG(memcmp(ot, o[chosen], nq_f * 4) == 0, "case %zu: %d threads differ from %s", ci, t + 1,
                          kk[chosen].name);
                free(ot);
            }
        }
        for (int mode = 0; mode < LATTN_MODES; mode++) free(r[mode]);
        for (size_t ki = 0; ki < nk; ki++) free(o[ki]);
        free(q), free(k), free(v), free(rs);
    }
    for (int i8 = 0; i8 < 2; i8++)
        for (int t = 0; t < 3; t++) cw_backend_free(be[i8][t]);
}

/* The AVX2 int8 attention kernel (avx2_attn_i8.c) in the AVX2 table's blocks
 * (cw_avx2_attention's 64 rows) against the int8 reference (blocks of 16+
 * rows without a mask) or the float32 one (the rest, which it leaves to the
 * float32 kernel), and through a back end with the AVX2 table, lowp and
 * attn_i8, on 1, 2 and 3 threads: the kernel's bits. */
static void test_attention_i8_avx2(void)
{
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx2 && f.fma && f.f16c)) {
        printf("  skipped: AVX2 int8 attention kernel (no AVX2+FMA+F16C)\n");
        return;
    }
    cw_backend *be[3];
    cw_backend_params bp = cw_backend_default_params();
    bp.lowp = 1, bp.attn_i8 = 1, bp.isa = CW_ISA_AVX2;
    for (int t = 0; t < 3; t++) {
        bp.n_threads = t + 1;
        CHECK(cw_backend_create(&bp, &be[t]) == CW_OK);
    }
    const char *desc = be[0]->lowp_attn_desc;
    CHECK_MSG(desc && strncmp(desc, "avx2 int8", 9) == 0, "AVX2 table with attn_i8: attention %s", desc ? desc : "float32");
    const size_t blk = 64; /* the AVX2 table's attn_block */
    uint64_t s = 23;
    for (size_t ci = 0; ci < LEN(lattn_cases); ci++) {
        const lattn_case *c = &lattn_cases[ci];
        size_t nq_f, kv_f;
        float *q, *k, *v;
        cw_attn a = lattn_make(c, &s, &q, &k, &v, &nq_f, &kv_f);
        float *r = calloc(nq_f, 4), *o = calloc(nq_f, 4), *rs = malloc((cw_ref_attn_scratch_floats(&a) + 1) * 4);
        float *scr = malloc((cw_avx2_attn_i8_scratch_floats(&a) + 32) * 4);
        float *al = (float *)(((uintptr_t)scr + 63) & ~(uintptr_t)63);
        cw_attn_ptrs pr = { .a = &a, .o = r, .q = q, .k = k, .v = v, .call_id = 0 };
        cw_attn_ptrs p = { .a = &a, .o = o, .q = q, .k = k, .v = v, .call_id = 0 };
        for (size_t bh = 0; bh < c->B * c->H; bh++)
            for (size_t i0 = 0; i0 < c->nq; i0 += blk) {
                size_t i1 = i0 + blk < c->nq ? i0 + blk : c->nq;
                if (c->causal || i1 - i0 < 16) cw_ref_attention(&pr, bh, i0, i1, rs);
                else cw_ref_attention_i8(&pr, bh, i0, i1, rs);
                cw_avx2_attention_i8(&p, bh, i0, i1, al);
            }
        int bad = lattn_off(c, o, r, v, ci, "avx2 int8");
        CHECK_MSG(bad == 0, "avx2 int8 case %zu: %d outputs off the reference", ci, bad);
        for (size_t i = 0; i < nq_f; i++) /* padding untouched */
            if ((i % a.q_bstride) >= c->nq * a.q_ld || (i % a.q_bstride) % a.q_ld >= c->H * 64) CHECK(o[i] == 0.0f);
        for (int t = 0; t < 3; t++) {
            float *ot = run_lattn(be[t], &a, q, k, v, nq_f, kv_f);
            CHECK_MSG(memcmp(ot, o, nq_f * 4) == 0, "case %zu: %d threads differ from the AVX2 int8 kernel", ci, t + 1);
            free(ot);
        }
        free(q), free(k), free(v), free(r), free(o), free(rs), free(scr);
    }
    for (int t = 0; t < 3; t++) cw_backend_free(be[t]);
#else
    printf("  skipped: AVX2 int8 attention kernel (not x86)\n");
#endif
}

int main(void)
{
    RUN(test_quantize_row);
    RUN(test_quantize_row_a16);
    RUN(test_prep_kernels);
    RUN(test_gemm_kernels);
    RUN(test_backend_threads);
    RUN(test_linear_gelu);
    RUN(test_conv_lowp);
    RUN(test_weights_dtype);
    RUN(test_attention_lowp);
    RUN(test_attention_i8_avx2);
    RUN(test_gelu_avx512_bits);
    RUN(test_softmax_avx512_bits);
    return test_summary();
}
