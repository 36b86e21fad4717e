/* The AMX kernels' packing and tiling (backend/cpu/amx_gemm.c), checked on
 * any x86-64 CPU: the file is compiled here with plain C versions of the tile
 * operations (the semantics of TDPBSSD / TDPBF16PS from Intel's manual) and
 * compared with the reference kernels for m > 8 (the rows AMX handles). The
 * real instructions are tested by test_lowp on a CPU that has them. */
#define CW_AMX_EMULATE 1

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/half.h"

typedef struct {
    unsigned char d[16][64];
} emu_tile;

static emu_tile tmm[8];
static int emu_configured;

static void emu_config(const void *cfg)
{
    const unsigned char *c = cfg;
    emu_configured = c[0] == 1; /* palette 1; every tile 16 rows x 64 bytes here */
    for (int t = 0; t < 8; t++)
        if (c[48 + t] != 16 || (c[16 + 2 * t] | c[17 + 2 * t] << 8) != 64) emu_configured = 0;
}
static void emu_load(int t, const void *p, size_t stride)
{
    for (int r = 0; r < 16; r++) memcpy(tmm[t].d[r], (const char *)p + r * stride, 64);
}
static void emu_store(int t, void *p, size_t stride)
{
    for (int r = 0; r < 16; r++) memcpy((char *)p + r * stride, tmm[t].d[r], 64);
}
static void emu_dpbssd(int c, int a, int b)
{
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            int32_t acc;
            memcpy(&acc, &tmm[c].d[m][4 * n], 4);
            for (int k = 0; k < 16; k++)
                for (int t = 0; t < 4; t++)
                    acc += (int32_t)(int8_t)tmm[a].d[m][4 * k + t] * (int32_t)(int8_t)tmm[b].d[k][4 * n + t];
            memcpy(&tmm[c].d[m][4 * n], &acc, 4);
        }
}
static float bf(const unsigned char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return cw_bf16_to_f32(h);
}
static void emu_dpbf16ps(int c, int a, int b)
{
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            float acc;
            memcpy(&acc, &tmm[c].d[m][4 * n], 4);
            for (int k = 0; k < 16; k++)
                for (int t = 0; t < 2; t++) acc += bf(&tmm[a].d[m][4 * k + 2 * t]) * bf(&tmm[b].d[k][4 * n + 2 * t]);
            memcpy(&tmm[c].d[m][4 * n], &acc, 4);
        }
}

#define TILE_CONFIG(cfg) emu_config(cfg)
#define TILE_RELEASE() ((void)0)
#define TILE_ZERO(t) memset(&tmm[t], 0, sizeof tmm[t])
#define TILE_LOAD(t, p, stride) emu_load(t, p, stride)
#define TILE_STORE(t, p, stride) emu_store(t, p, stride)
#define TILE_DPBSSD(c, a, b) emu_dpbssd(c, a, b)
#define TILE_DPBF16PS(c, a, b) emu_dpbf16ps(c, a, b)

#include "backend/cpu/amx_gemm.c"

#include "test.h"
#include "util/quant.h"

#ifdef CW_HAVE_AMX

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static void test_amx_emulated(void)
{
    static const size_t MS[] = { 9, 16, 17, 33, 70 }, KS[] = { 1, 31, 64, 65, 130 }, NS[] = { 1, 17, 40 };
    uint64_t s = 3;
    for (size_t mi = 0; mi < 5; mi++)
        for (size_t ki = 0; ki < 5; ki++)
            for (size_t ni = 0; ni < 3; ni++) {
                size_t m = MS[mi], k = KS[ki], n = NS[ni], ld = (k + 63) / 64 * 64;
                float *x = malloc(m * k * sizeof *x), *xr = malloc(m * k * sizeof *xr), *as = malloc(m * sizeof *as);
                float *wf = malloc(n * k * sizeof *wf), *ws = malloc(n * sizeof *ws), *bias = malloc(n * sizeof *bias);
                int8_t *aq = malloc(m * ld), *wq = malloc(n * k);
                uint16_t *wb = malloc(n * k * sizeof *wb);
                float *c0 = malloc(m * n * sizeof *c0), *c1 = malloc(m * n * sizeof *c1);
                for (size_t i = 0; i < m * k; i++) x[i] = frand(&s) * 3.0f;
                for (size_t i = 0; i < n * k; i++) wf[i] = frand(&s);
                for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, wf + j * k, k), bias[j] = frand(&s);
                for (size_t i = 0; i < n * k; i++) wb[i] = cw_f32_to_bf16(wf[i]);
                cw_ref_quant_rows(aq, as, x, m, k, ld);
                cw_ref_bf16_round(xr, x, m * k);
                cw_i8_gemm q = { m, n, k, aq, ld, as, wq, k, ws, bias, c0, n, 0, NULL, NULL, NULL, 0 };
                cw_ref_gemm_i8(&q, 0, m, 0, n);
                q.c = c1;
                emu_configured = 0;
                cw_emu_amx_gemm_i8(&q, 0, m / 2, 0, n); /* two row slices, as two threads */
                cw_emu_amx_gemm_i8(&q, m / 2, m, 0, n);
                CHECK(emu_configured);
                CHECK_MSG(memcmp(c0, c1, m * n * sizeof *c0) == 0, "int8 m %zu k %zu n %zu", m, k, n);
                /* W packed once (in two parts), then two column slices from inside a block */
                int8_t *bp = malloc(cw_emu_amx_pack_i8_bytes(&q));
                size_t nb = (n + CW_AMX_PACK_COLS - 1) / CW_AMX_PACK_COLS;
                cw_emu_amx_pack_i8(&q, 0, nb / 2, bp);
                cw_emu_amx_pack_i8(&q, nb / 2, nb, bp);
                q.bp = bp;
                memset(c1, 0xff, m * n * sizeof *c1);
                cw_emu_amx_gemm_i8(&q, 0, m, 0, n / 3);
                cw_emu_amx_gemm_i8(&q, 0, m, n / 3, n);
                CHECK_MSG(memcmp(c0, c1, m * n * sizeof *c0) == 0, "packed int8 m %zu k %zu n %zu", m, k, n);
                /* GELU applied by the kernel (linear_gelu): the same as after it */
                q.post = cw_ref_gelu_block;
                cw_emu_amx_gemm_i8(&q, 0, m / 2, 0, n);
                cw_emu_amx_gemm_i8(&q, m / 2, m, 0, n);
                cw_ref_gelu_block(c0, n, m, n);
                CHECK_MSG(memcmp(c0, c1, m * n * sizeof *c0) == 0, "int8 + gelu m %zu k %zu n %zu", m, k, n);
                q.post = NULL;
                free(bp);
                cw_gemm g = { .m = m, .n = n, .k = k, .a = xr, .lda = k, .b = wb, .ldb = k, .bt = CW_DTYPE_BF16,
                              .bias = bias, .c = c0, .ldc = n };
                cw_ref_gemm(&g, 0, m, 0, n, NULL);
                g.c = c1;
                cw_emu_amx_gemm_bf16(&g, 0, m, 0, n / 2, NULL); /* two column slices */
                cw_emu_amx_gemm_bf16(&g, 0, m, n / 2, n, NULL);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        double mag = fabs(bias[j]);
                        for (size_t p = 0; p < k; p++) mag += fabs((double)xr[i * k + p] * cw_bf16_to_f32(wb[j * k + p]));
                        CHECK_NEAR(c1[i * n + j], c0[i * n + j], 1e-6 * (double)k * mag + 1e-30);
                    }
                /* W packed and A converted once (in two parts each), then two column
                 * slices from inside a block: the same sums in the same order */
                size_t l16 = (k + 31) / 32 * 32, nb16 = (n + CW_AMX_PACK_COLS - 1) / CW_AMX_PACK_COLS;
                char *bp16 = malloc(cw_emu_amx_pack_bf16_bytes(&g));
                uint16_t *a16 = malloc((m + 32) * l16 * sizeof *a16);
                memset(a16, 0, (m + 32) * l16 * sizeof *a16);
                cw_emu_amx_bf16_rows(a16, l16, x, 0, m / 2, k);
                cw_emu_amx_bf16_rows(a16, l16, x, m / 2, m - m / 2, k); /* rows of x again: any values */
                cw_emu_amx_bf16_rows(a16, l16, x + m / 2 * k, m / 2, m - m / 2, k);
                cw_emu_amx_pack_bf16(&g, 0, nb16 / 2, bp16);
                cw_emu_amx_pack_bf16(&g, nb16 / 2, nb16, bp16);
                float *c2 = malloc(m * n * sizeof *c2);
                memcpy(c2, c1, m * n * sizeof *c2);
                cw_gemm gp = g;
                gp.a = NULL, gp.bp = bp16, gp.a16 = a16, gp.lda16 = l16;
                memset(c1, 0xff, m * n * sizeof *c1);
                cw_emu_amx_gemm_bf16(&gp, 0, m, 0, n / 3, NULL);
                cw_emu_amx_gemm_bf16(&gp, 0, m, n / 3, n, NULL);
                CHECK_MSG(memcmp(c1, c2, m * n * sizeof *c1) == 0, "packed bf16 m %zu k %zu n %zu", m, k, n);
                free(bp16), free(a16), free(c2);
                free(x), free(xr), free(as), free(wf), free(ws), free(bias), free(aq), free(wq), free(wb), free(c0), free(c1);
            }
}

int main(void)
{
    RUN(test_amx_emulated);
    return test_summary();
}

#else

int main(void)
{
    printf("skipped: the AMX kernels exist on x86-64 only\n");
    return test_summary();
}

#endif
