/* Times Y[M,N] = X[M,K] . W[N,K]^T on Whisper's shapes for the reference
 * kernel, the AVX2 kernel (through the back end's linear op, thread pool
 * included) and OpenBLAS's cblas_sgemm (cblas_sgemv for M = 1), on 1 and 2 threads; prints a
 * markdown table of GFLOP/s (best of R runs after one warm-up) and the
 * largest difference between our result and OpenBLAS's. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"

typedef struct {
    const char *what;
    size_t m, k, n;
} shape;

/* Wall time by default; "cpu" as second argument times process CPU time,
 * which other processes' load disturbs far less (meaningful at 1 thread). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) / 16777216.0 - 0.5);
    }
}

typedef struct {
    cw_backend *be;
    cw_buf *x, *y;
    cw_weight w;
    size_t m;
} ours;

static void run_ours(ours *o) { o->be->ops->linear(o->be, cw_ref_at(o->y, 0), cw_ref_at(o->x, 0), &o->w, cw_ref_none(), o->m); }

/* best seconds of reps runs of our linear op (one warm-up first) */
static double time_ours(cw_isa isa, int nth, cw_dtype dt, const void *w, const float *x, float *y,
                        size_t m, size_t k, size_t n, int reps)
{
    cw_backend_params p = cw_backend_default_params();
    p.isa = isa;
    p.n_threads = nth;
    ours o = { 0 };
    if (cw_backend_create(&p, &o.be) != CW_OK) return NAN;
    /* wrap: the CPU back end aliases host memory, as it will for mmapped weights */
    cw_buf *wb;
    o.be->ops->buf_wrap(o.be, w, n * k * cw_dtype_size(dt), &wb);
    o.be->ops->buf_wrap(o.be, x, m * k * 4, &o.x);
    o.be->ops->buf_wrap(o.be, y, m * n * 4, &o.y);
    o.w = (cw_weight){ .dtype = dt, .rows = n, .cols = k, .data = wb };
    o.m = m;
    run_ours(&o);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        run_ours(&o);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    o.be->ops->buf_free(o.be, wb);
    o.be->ops->buf_free(o.be, o.x);
    o.be->ops->buf_free(o.be, o.y);
    cw_backend_free(o.be);
    return best;
}

static double time_blas(int nth, const float *w, const float *x, float *y, size_t m, size_t k, size_t n, int reps)
{
    openblas_set_num_threads(nth);
    double best = INFINITY;
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        if (m == 1) /* OpenBLAS's best call for one row: y = W x */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, w, (int)k, x, 1, 0.0f, y, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, x, (int)k, w,
                        (int)k, 0.0f, y, (int)n);
        double t = now() - t0;
        if (r >= 0) best = t < best ? t : best;
    }
    return best;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double mx = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)a[i] - b[i]));
    return mx / scale;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int max_thr = 2;
    if (argc > 2 && strcmp(argv[2], "cpu") == 0) {
        bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        max_thr = 1;
    }
    size_t ref_m = 60; /* the reference loop is ~100x slower: timed on the first ref_m rows only */
    static const shape shapes[] = {
        { "tiny qkv/out", 1500, 384, 384 },   { "tiny mlp up", 1500, 384, 1536 },
        { "tiny mlp down", 1500, 1536, 384 }, { "base qkv/out", 1500, 512, 512 },
        { "base mlp up", 1500, 512, 2048 },   { "base mlp down", 1500, 2048, 512 },
        { "logits m=1", 1, 512, 51865 },      { "logits m=5", 5, 512, 51865 },
    };
    printf("| shape | M | K | N | thr | ref | avx2 f32 | avx2 f16 W | OpenBLAS | max rel diff |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
        float *x = malloc(m * k * 4), *w = malloc(n * k * 4), *y = malloc(m * n * 4), *yb = malloc(m * n * 4);
        uint16_t *wh = malloc(n * k * 2);
        if (!x || !w || !y || !yb || !wh) return 1;
        fill(x, m * k, 1);
        fill(w, n * k, 2);
        for (size_t i = 0; i < n * k; i++) wh[i] = cw_f32_to_f16(w[i]);
        for (int nth = 1; nth <= max_thr; nth++) {
            double flop = 2.0 * (double)m * (double)n * (double)k;
            size_t rm = m < ref_m ? m : ref_m;
            double t_ref = time_ours(CW_ISA_REF, nth, CW_DTYPE_F32, w, x, y, rm, k, n, 1);
            double g_ref = 2.0 * (double)rm * (double)n * (double)k / t_ref * 1e-9;
            double t_f16 = time_ours(CW_ISA_AVX2, nth, CW_DTYPE_F16, wh, x, y, m, k, n, reps);
            double t_avx = time_ours(CW_ISA_AVX2, nth, CW_DTYPE_F32, w, x, y, m, k, n, reps);
            double t_blas = time_blas(nth, w, x, yb, m, k, n, reps);
            printf("| %s | %zu | %zu | %zu | %d | %.2f | %.1f | %.1f | %.1f | %.1e |\n", shapes[s].what, m, k, n, nth,
                   g_ref, flop / t_avx * 1e-9, flop / t_f16 * 1e-9, flop / t_blas * 1e-9, max_rel_diff(y, yb, m * n));
            fflush(stdout);
        }
        free(x); free(w); free(y); free(yb); free(wh);
    }
    return 0;
}
