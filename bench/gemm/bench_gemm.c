/* Times Y[M,N] = X[M,K] . W[N,K]^T on Whisper's shapes for the reference
 * kernel, the AVX2 and AVX-512 kernels (through the back end's linear op,
 * thread pool included; f32 and f16 weights) and, when built with
 * OpenBLAS (make OPENBLAS=1, or automatically where cblas.h is found),
 * cblas_sgemm (cblas_sgemv for M = 1), on 1 and 2 threads; prints a
 * markdown table of GFLOP/s (best of R runs after one warm-up) and the
 * largest difference between the AVX-512 result and OpenBLAS's (or the
 * AVX2 one's). First it measures the fp32 FMA peak the instruction sets
 * allow: a register-only loop of independent FMAs, ymm and zmm, 1 and 2
 * threads, the ceiling the GEMM columns are to be read against. Last, the
 * encoder's attention op (float32, bf16, int8) on the same scale.
 *
 *   ./bench_gemm [reps [cpu [attention]]]  ("cpu": process CPU time, 1 thread;
 *                                          "attention": the attention table only) */
#ifdef CW_BENCH_OPENBLAS
#include <cblas.h>
#endif
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_features.h"
#include "util/half.h"
#include "util/quant.h"

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
    cw_buf *x, *y, *bias; /* bias: NULL, or n floats */
    cw_weight w;
    size_t m;
} ours;

static void run_ours(ours *o)
{
    o->be->ops->linear(o->be, cw_ref_at(o->y, 0), cw_ref_at(o->x, 0), &o->w,
                       o->bias ? cw_ref_at(o->bias, 0) : cw_ref_none(), o->m);
}

/* best seconds of reps runs of our linear op (one warm-up first); lowp: the
 * back end's lowp mode (int8 / bf16 weights through the lowp kernels), I8
 * weights with per-row scales wscale, and a bias added, as Whisper's
 * products have (all but the attention's K): the AMX kernels add it on
 * their way out of the tiles, a part of their cost. */
static double time_lowp(cw_isa isa, int nth, cw_dtype dt, const void *w, const float *wscale, const float *x,
                        float *y, size_t m, size_t k, size_t n, int reps, int lowp)
{
    cw_backend_params p = cw_backend_default_params();
    p.isa = isa;
    p.n_threads = nth;
    p.lowp = lowp;
    ours o = { 0 };
    if (cw_backend_create(&p, &o.be) != CW_OK) return NAN;
    /* wrap: the CPU back end aliases host memory, as it will for mmapped weights */
    cw_buf *wb, *sb = NULL;
    o.be->ops->buf_wrap(o.be, w, n * k * cw_dtype_size(dt), &wb);
    if (wscale) o.be->ops->buf_wrap(o.be, wscale, n * 4, &sb);
    o.be->ops->buf_wrap(o.be, x, m * k * 4, &o.x);
    o.be->ops->buf_wrap(o.be, y, m * n * 4, &o.y);
    o.w = (cw_weight){ .dtype = dt, .rows = n, .cols = k, .data = wb, .scale = sb };
    o.m = m;
    /* decoder-step shapes: W as the decoder's weights are, prepared at load
     * (not the vocabulary projection: the logits op reads it in place) */
    cw_buf *pb = NULL;
    if (lowp && m <= 8 && n < 8192 && o.be->ops->prepare_weight) o.be->ops->prepare_weight(o.be, &o.w, &pb);
    o.w.packed = pb;
    float *bias = lowp ? malloc(n * sizeof *bias) : NULL;
    for (size_t j = 0; bias && j < n; j++) bias[j] = 0.01f * (float)(j % 97);
    if (bias) o.be->ops->buf_wrap(o.be, bias, n * 4, &o.bias);
    run_ours(&o);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        run_ours(&o);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    o.be->ops->buf_free(o.be, wb);
    o.be->ops->buf_free(o.be, pb);
    if (sb) o.be->ops->buf_free(o.be, sb);
    if (o.bias) o.be->ops->buf_free(o.be, o.bias);
    free(bias);
    o.be->ops->buf_free(o.be, o.x);
    o.be->ops->buf_free(o.be, o.y);
    cw_backend_free(o.be);
    return best;
}

/* Best seconds of reps runs (one warm-up first) of the back end's attention
 * op on an encoder layer's shape: one window, H heads of 64, n queries
 * against n keys, no mask; lowp / attn_i8 as cw_backend_params says. */
static double time_attn(cw_isa isa, int nth, int lowp, int attn_i8, size_t H, size_t n, int reps)
{
    cw_backend_params p = cw_backend_default_params();
    p.isa = isa, p.n_threads = nth, p.lowp = lowp, p.attn_i8 = attn_i8;
    cw_backend *be;
    if (cw_backend_create(&p, &be) != CW_OK) return NAN;
    size_t hd = H * CW_HEAD_DIM, f = n * hd;
    float *q = malloc(f * 4), *k = malloc(f * 4), *v = malloc(f * 4), *o = malloc(f * 4);
    if (!q || !k || !v || !o) return NAN;
    fill(q, f, 3), fill(k, f, 4), fill(v, f, 5);
    cw_buf *bq, *bk, *bv, *bo;
    be->ops->buf_wrap(be, q, f * 4, &bq), be->ops->buf_wrap(be, k, f * 4, &bk);
    be->ops->buf_wrap(be, v, f * 4, &bv), be->ops->buf_wrap(be, o, f * 4, &bo);
    cw_attn a = { .n_batch = 1, .n_head = H, .nq = n, .nkv = n, .o = cw_ref_at(bo, 0), .o_ld = hd,
                  .q = cw_ref_at(bq, 0), .q_ld = hd, .k = cw_ref_at(bk, 0), .k_ld = hd, .v = cw_ref_at(bv, 0),
                  .v_ld = hd, .scale = 0.125f };
    be->ops->attention(be, &a);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        be->ops->attention(be, &a);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    be->ops->buf_free(be, bq), be->ops->buf_free(be, bk), be->ops->buf_free(be, bv), be->ops->buf_free(be, bo);
    cw_backend_free(be);
    free(q), free(k), free(v), free(o);
    return best;
}

/* The encoder's attention (two products, 4 n^2 64 H operations a layer) in
 * float32 (exact mode), bf16 and int8 (lowp mode, attn_i8), G ops/s, with the
 * kernels this CPU picks and, where that is not the AVX2 table, with the AVX2
 * one (what a CPU without AVX-512 runs: no bf16 attention there). */
static void attn_table(int max_thr, int reps)
{
    static const struct { const char *what; size_t heads; } sh[] = { { "tiny enc attention", 6 },
                                                                      { "base enc attention", 8 } };
    cw_cpu_features f;
    cw_cpu_detect(&f);
    int has512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq, has2 = f.avx2 && f.fma && f.f16c;
    printf("\n| shape | heads | queries = keys | kernels | thr | float32 (exact mode) | bf16 (lowp) | int8 (lowp, attn_i8) |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < 2; t++) {
        cw_isa isa = t == 0 ? CW_ISA_AUTO : CW_ISA_AVX2;
        if (t == 1 && !(has512 && has2)) break; /* AUTO was the AVX2 table already (or none) */
        for (size_t s = 0; s < sizeof sh / sizeof *sh; s++)
            for (int nth = 1; nth <= max_thr; nth++) {
                size_t n = 1500, H = sh[s].heads;
                double ops = 4.0 * (double)n * (double)n * CW_HEAD_DIM * (double)H;
                double t32 = time_attn(isa, nth, 0, 0, H, n, reps), tbf = time_attn(isa, nth, 1, 0, H, n, reps),
                       ti8 = time_attn(isa, nth, 1, 1, H, n, reps);
                printf("| %s | %zu | %zu | %s | %d | %.1f | ", sh[s].what, H, n, t == 0 ? "this CPU's" : "AVX2 table",
                       nth, ops / t32 * 1e-9);
                if (t == 1) printf("- | %.1f |\n", ops / ti8 * 1e-9); /* lowp attention on AVX2: int8 or float32 */
                else printf("%.1f | %.1f |\n", ops / tbf * 1e-9, ops / ti8 * 1e-9);
                fflush(stdout);
            }
    }
}

static double time_ours(cw_isa isa, int nth, cw_dtype dt, const void *w, const float *x, float *y,
                        size_t m, size_t k, size_t n, int reps)
{
    return time_lowp(isa, nth, dt, w, NULL, x, y, m, k, n, reps, 0);
}

#ifdef CW_BENCH_OPENBLAS
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
#endif

/* ---- the FMA peak ---------------------------------------------------------- */

enum { PEAK_CHAINS = 12 }; /* independent FMA chains: > latency x FMA ports on any x86 */
static const long peak_iters = 20000000;

/* a = a * x + y on 12 registers; returns the flops done (sum kept live). */
__attribute__((target("avx2,fma"))) static void *peak_ymm(void *out)
{
    __m256 a[PEAK_CHAINS], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
    for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < peak_iters; it++)
        for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
    __m256 s = a[0];
    for (int i = 1; i < PEAK_CHAINS; i++) s = _mm256_add_ps(s, a[i]);
    *(float *)out = _mm256_cvtss_f32(s);
    return NULL;
}

__attribute__((target("avx512f"))) static void *peak_zmm(void *out)
{
    __m512 a[PEAK_CHAINS], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
    for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < peak_iters; it++)
        for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < PEAK_CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    *(float *)out = _mm512_reduce_add_ps(s);
    return NULL;
}

/* acc += u8 . s8 (vpdpbusd, 64 multiply-adds) on 12 registers, named: with
 * an array GCC kept the accumulators in memory around the asm (half rate) */
__attribute__((target("avx512f,avx512vnni"))) static void *peak_vnni(void *out)
{
    __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2);
    __m512i a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5);
    __m512i a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8);
    __m512i a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
    for (long it = 0; it < peak_iters; it++) {
        /* volatile: GCC's intrinsic copies the accumulator (avx512_lowp.c) */
#define CW_DP(a) __asm__ volatile("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(x), "v"(y));
        CW_DP(a0) CW_DP(a1) CW_DP(a2) CW_DP(a3) CW_DP(a4) CW_DP(a5)
        CW_DP(a6) CW_DP(a7) CW_DP(a8) CW_DP(a9) CW_DP(a10) CW_DP(a11)
#undef CW_DP
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    *(float *)out = (float)_mm512_reduce_add_epi32(s);
    return NULL;
}

/* acc += bf16 pairs (vdpbf16ps, 32 multiply-adds) on 12 registers */
__attribute__((target("avx512f,avx512bf16"))) static void *peak_bf16(void *out)
{
    __m512 a[PEAK_CHAINS];
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3a83);
    for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < peak_iters; it++)
        for (int i = 0; i < PEAK_CHAINS; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < PEAK_CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    *(float *)out = _mm512_reduce_add_ps(s);
    return NULL;
}

#include "backend/cpu/amx_tiles.h"
#define CW_TARGET_AMXP __attribute__((target("amx-tile,amx-int8,amx-bf16")))
enum { AMX_PEAK_ITERS = 2000000 };

/* The tile multiplies alone, 4 independent accumulators (tmm0-3) from two A
 * and two B tiles: TDPBSSD does 16 x 16 x 64 multiply-adds, TDPBF16PS
 * 16 x 16 x 32. Zeroed tiles: the units' speed does not depend on values. */
CW_TARGET_AMXP static void *peak_amx_i8(void *out)
{
    cw_amx_tile_config cfg;
    cw_amx_config_16x64(&cfg);
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    for (long it = 0; it < AMX_PEAK_ITERS; it++) {
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
    }
    int32_t c[16 * 16];
    _tile_stored(0, c, 64);
    _tile_release();
    *(float *)out = (float)c[0];
    return NULL;
}

CW_TARGET_AMXP static void *peak_amx_bf16(void *out)
{
    cw_amx_tile_config cfg;
    cw_amx_config_16x64(&cfg);
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    for (long it = 0; it < AMX_PEAK_ITERS; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float c[16 * 16];
    _tile_stored(0, c, 64);
    _tile_release();
    *(float *)out = c[0];
    return NULL;
}

/* G ops/s (a multiply-add = 2) of nth threads running an AMX peak loop. */
static double peak_amx(void *(*fn)(void *), double macs_per_op, int nth)
{
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[2];
        float sink[2];
        double t0 = now();
        for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, fn, &sink[i]);
        for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return 2.0 * macs_per_op * 4.0 * AMX_PEAK_ITERS * nth / best * 1e-9;
}

/* GFLOP/s of nth threads running fn at once (bench_clock; best of 3). */
static double peak_gflops(void *(*fn)(void *), int lanes, int nth)
{
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[2];
        float sink[2];
        double t0 = now(); /* "cpu" runs 1 thread: its CPU time */
        for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, fn, &sink[i]);
        for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return 2.0 * lanes * PEAK_CHAINS * (double)peak_iters * nth / best * 1e-9;
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
    cw_cpu_features f;
    char flags[256];
    cw_cpu_detect(&f);
    int avx2 = f.avx2 && f.fma && f.f16c, avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    printf("CPU: %s\nflags: %s\n\n", f.brand, cw_cpu_features_string(&f, flags, sizeof flags));
    printf("fp32 FMA peak (register-only loop, GFLOP/s):\n\n| threads | ymm (AVX2) | zmm (AVX-512) |\n|---|---|---|\n");
    for (int nth = 1; nth <= max_thr; nth++)
        printf("| %d | %.1f | %s%.1f |\n", nth, avx2 ? peak_gflops(peak_ymm, 8, nth) : NAN, "",
               avx512 ? peak_gflops(peak_zmm, 16, nth) : NAN);
    printf("\n");
    if (avx512 && f.avx512_vnni && f.avx512_bf16) {
        /* lanes: multiply-adds per instruction / 2 (peak_gflops counts an FMA per lane as 2 flops) */
        printf("lowp peak (register-only loop, G ops/s, a multiply-add = 2):\n\n"
               "| threads | int8 vpdpbusd zmm | bf16 vdpbf16ps zmm |\n|---|---|---|\n");
        for (int nth = 1; nth <= max_thr; nth++)
            printf("| %d | %.1f | %.1f |\n", nth, peak_gflops(peak_vnni, 64, nth), peak_gflops(peak_bf16, 32, nth));
        printf("\n");
    }
    if (f.amx_tile && f.amx_int8 && f.amx_bf16) {
        printf("AMX peak (register-only tile multiplies, G ops/s, a multiply-add = 2):\n\n"
               "| threads | int8 tdpbssd | bf16 tdpbf16ps |\n|---|---|---|\n");
        for (int nth = 1; nth <= max_thr; nth++)
            printf("| %d | %.1f | %.1f |\n", nth, peak_amx(peak_amx_i8, 16.0 * 16 * 64, nth),
                   peak_amx(peak_amx_bf16, 16.0 * 16 * 32, nth));
        printf("\n");
    }
    fflush(stdout);
    if (argc > 3 && strcmp(argv[3], "attention") == 0) {
        attn_table(max_thr, reps);
        return 0;
    }

    size_t ref_m = 60; /* the reference loop is ~100x slower: timed on the first ref_m rows only */
    static const shape shapes[] = {
        { "tiny qkv/out", 1500, 384, 384 },   { "tiny mlp up", 1500, 384, 1536 },
        { "tiny mlp down", 1500, 1536, 384 }, { "base qkv/out", 1500, 512, 512 },
        { "base mlp up", 1500, 512, 2048 },   { "base mlp down", 1500, 2048, 512 },
        { "tiny dec qkv", 1, 384, 384 },      { "tiny dec mlp up", 1, 384, 1536 },
        { "tiny dec mlp down", 1, 1536, 384 }, { "base dec qkv", 1, 512, 512 },
        { "base dec mlp up", 1, 512, 2048 },  { "base dec mlp down", 1, 2048, 512 },
        { "base dec qkv m=5", 5, 512, 512 },  { "base dec mlp up m=5", 5, 512, 2048 },
        { "base dec mlp down m=5", 5, 2048, 512 },
        { "logits m=1", 1, 512, 51865 },      { "logits m=5", 5, 512, 51865 },
    };
    printf("| shape | M | K | N | thr | ref | avx2 f32 | avx2 f16 W | avx512 f32 | avx512 f16 W | OpenBLAS | max rel diff "
           "| lowp int8 (best ISA, + bias) | lowp bf16 (best ISA, + bias) |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
        float *x = malloc(m * k * 4), *w = malloc(n * k * 4), *y = malloc(m * n * 4), *yb = malloc(m * n * 4);
        float *ylp = malloc(m * n * 4); /* the lowp runs' (not compared: other arithmetic) */
        uint16_t *wh = malloc(n * k * 2), *wbf = malloc(n * k * 2);
        int8_t *wq = malloc(n * k);
        float *ws = malloc(n * 4);
        if (!x || !w || !y || !yb || !ylp || !wh || !wbf || !wq || !ws) return 1;
        fill(x, m * k, 1);
        fill(w, n * k, 2);
        for (size_t i = 0; i < n * k; i++) wh[i] = cw_f32_to_f16(w[i]), wbf[i] = cw_f32_to_bf16(w[i]);
        for (size_t j = 0; j < n; j++) ws[j] = cw_quantize_row_i8(wq + j * k, w + j * k, k);
        for (int nth = 1; nth <= max_thr; nth++) {
            double flop = 2.0 * (double)m * (double)n * (double)k;
            size_t rm = m < ref_m ? m : ref_m;
            double t_ref = time_ours(CW_ISA_REF, nth, CW_DTYPE_F32, w, x, y, rm, k, n, 1);
            double g_ref = 2.0 * (double)rm * (double)n * (double)k / t_ref * 1e-9;
            /* variants interleaved per shape, so a noisy neighbour hits them alike */
            double t_f16 = time_ours(CW_ISA_AVX2, nth, CW_DTYPE_F16, wh, x, y, m, k, n, reps);
            double t_avx = time_ours(CW_ISA_AVX2, nth, CW_DTYPE_F32, w, x, yb, m, k, n, reps);
            double t_f16z = time_ours(CW_ISA_AVX512, nth, CW_DTYPE_F16, wh, x, y, m, k, n, reps);
            double t_avxz = time_ours(CW_ISA_AVX512, nth, CW_DTYPE_F32, w, x, y, m, k, n, reps);
            double t_blas = NAN;
#ifdef CW_BENCH_OPENBLAS
            t_blas = time_blas(nth, w, x, yb, m, k, n, reps);
#endif
            double t_i8 = time_lowp(CW_ISA_AUTO, nth, CW_DTYPE_I8, wq, ws, x, ylp, m, k, n, reps, 1);
            double t_bf = time_lowp(CW_ISA_AUTO, nth, CW_DTYPE_BF16, wbf, NULL, x, ylp, m, k, n, reps, 1);
            printf("| %s | %zu | %zu | %zu | %d | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1e | %.1f | %.1f |\n",
                   shapes[s].what, m, k, n, nth, g_ref, flop / t_avx * 1e-9, flop / t_f16 * 1e-9,
                   flop / t_avxz * 1e-9, flop / t_f16z * 1e-9, flop / t_blas * 1e-9, max_rel_diff(y, yb, m * n),
                   flop / t_i8 * 1e-9, flop / t_bf * 1e-9);
            fflush(stdout);
        }
        free(x); free(w); free(y); free(yb); free(wh); free(wbf); free(wq); free(ws); free(ylp);
    }
    attn_table(max_thr, reps);
    return 0;
}
