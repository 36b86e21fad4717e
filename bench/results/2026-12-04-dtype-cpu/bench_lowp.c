/* Linear-op GFLOP/s of the lowp kernels against exact mode (f16 weights), one
 * thread, best of R runs in process CPU time (less disturbed by other load on
 * a shared machine), on tiny.en's encoder and decoder shapes. Build from the
 * repository root after `make`:
 *   cc -O2 -Isrc -Iinclude bench/results/2026-12-04-dtype-cpu/bench_lowp.c build/libcwhisper.a \
 *      $(pkg-config --libs libavformat libavcodec libswresample libavutil) -lz -lm -lpthread -o /tmp/bench_lowp */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "util/quant.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* best seconds of one linear op */
static double run(cw_isa isa, int lowp, cw_dtype dt, const void *w, const float *ws, const float *x, float *y,
                  size_t m, size_t k, size_t n, int reps)
{
    cw_backend_params p = cw_backend_default_params();
    p.isa = isa, p.n_threads = 1, p.lowp = lowp;
    cw_backend *be;
    if (cw_backend_create(&p, &be)) return 1e9;
    cw_buf *wb, *xb, *yb, *sb = NULL;
    be->ops->buf_wrap(be, w, n * k * cw_dtype_size(dt), &wb);
    be->ops->buf_wrap(be, x, m * k * 4, &xb);
    be->ops->buf_wrap(be, y, m * n * 4, &yb);
    if (ws) be->ops->buf_wrap(be, ws, n * 4, &sb);
    cw_weight W = { .dtype = dt, .rows = n, .cols = k, .data = wb, .scale = sb };
    double best = 1e9;
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        be->ops->linear(be, cw_ref_at(yb, 0), cw_ref_at(xb, 0), &W, cw_ref_none(), m);
        double t = now() - t0;
        if (r >= 0 && t < best) best = t;
    }
    be->ops->buf_free(be, wb), be->ops->buf_free(be, xb), be->ops->buf_free(be, yb), be->ops->buf_free(be, sb);
    cw_backend_free(be);
    return best;
}

int main(void)
{
    static const size_t sh[][3] = { { 1500, 384, 1536 }, { 1500, 1536, 384 }, { 1, 384, 1536 },
                                    { 5, 384, 1536 },    { 1, 384, 51864 },   { 5, 384, 51864 } };
    printf("| M | K | N | exact f16 W | bf16 auto | bf16 avx2 | int8 auto | int8 avx2 |\n|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < 6; s++) {
        size_t m = sh[s][0], k = sh[s][1], n = sh[s][2];
        float *x = malloc(m * k * 4), *wf = malloc(n * k * 4), *ws = malloc(n * 4), *y = malloc(m * n * 4);
        uint16_t *wh = malloc(n * k * 2), *wb = malloc(n * k * 2);
        int8_t *wq = malloc(n * k);
        for (size_t i = 0; i < m * k; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t i = 0; i < n * k; i++) {
            wf[i] = (float)rand() / RAND_MAX - 0.5f;
            wh[i] = cw_f32_to_f16(wf[i]), wb[i] = cw_f32_to_bf16(wf[i]);
        }
        for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, wf + j * k, k);
        int reps = m > 100 ? 3 : 20;
        double gf = 2.0 * (double)(m * n * k) * 1e-9;
        printf("| %zu | %zu | %zu | %.1f | %.1f | %.1f | %.1f | %.1f |\n", m, k, n,
               gf / run(CW_ISA_AUTO, 0, CW_DTYPE_F16, wh, NULL, x, y, m, k, n, reps),
               gf / run(CW_ISA_AUTO, 1, CW_DTYPE_BF16, wb, NULL, x, y, m, k, n, reps),
               gf / run(CW_ISA_AVX2, 1, CW_DTYPE_BF16, wb, NULL, x, y, m, k, n, reps),
               gf / run(CW_ISA_AUTO, 1, CW_DTYPE_I8, wq, ws, x, y, m, k, n, reps),
               gf / run(CW_ISA_AVX2, 1, CW_DTYPE_I8, wq, ws, x, y, m, k, n, reps));
        free(x), free(wf), free(ws), free(y), free(wh), free(wb), free(wq);
    }
    return 0;
}
