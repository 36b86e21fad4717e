/* The CPU back end's op table: host buffers, argument checks, scratch, and the
 * split of each op over the thread pool (rows, column panels or attention
 * heads, always on boundaries that do not change the arithmetic). The kernels
 * themselves come from the table that dispatch.c filled for this handle. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/fpenv.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

typedef struct {
    cw_cpu_kernels k;
    float *scratch;       /* 64-byte aligned, reused by every op */
    size_t scratch_floats;
    int lowp;             /* cw_backend_params.lowp */
    size_t attn_calls;    /* attention ops so far: cw_attn_ptrs.call_id */
    int screen_on;        /* lowp logits through the int4 screen (CW_LOGITS_SCREEN=0: off) */
    cw_cpu_screen screen; /* logits.c */
} cw_cpu_state;

static cw_cpu_state *state(cw_backend *be) { return be->impl; }

/* ---- buffers ----------------------------------------------------------------- */

static cw_status cpu_buf_alloc(cw_backend *be, size_t bytes, cw_buf **out)
{
    (void)be;
    *out = NULL;
    cw_buf *b = cw_calloc(1, sizeof *b);
    if (!b) return CW_ERR_NOMEM;
    /* 64-byte alignment: whole cache lines, aligned SIMD rows when d % 16 == 0.
     * posix_memalign keeps the exact size, so ASan sees any overread. */
    if (posix_memalign(&b->data, 64, bytes ? bytes : 1) != 0) {
        free(b);
        return cw_error(CW_ERR_NOMEM, "out of memory allocating a %zu-byte buffer", bytes);
    }
    b->size = bytes;
    b->owned = 1;
    *out = b;
    return CW_OK;
}

static cw_status cpu_buf_wrap(cw_backend *be, const void *host, size_t bytes, cw_buf **out)
{
    (void)be;
    *out = NULL;
    cw_buf *b = cw_calloc(1, sizeof *b);
    if (!b) return CW_ERR_NOMEM;
    b->data = (void *)host; /* the CPU ops never write through a weight */
    b->size = bytes;
    *out = b;
    return CW_OK;
}

static void cpu_buf_free(cw_backend *be, cw_buf *b)
{
    (void)be;
    if (!b) return;
    if (b->owned) free(b->data);
    free(b);
}

static size_t cpu_buf_size(const cw_buf *b) { return b ? b->size : 0; }

static cw_status cpu_upload(cw_backend *be, cw_buf *dst, size_t off, const void *src, size_t bytes)
{
    (void)be;
    if (!dst || off > dst->size || bytes > dst->size - off)
        return cw_error(CW_ERR_INVALID_ARG, "upload of %zu bytes at %zu outside the buffer", bytes, off);
    if (bytes) memcpy((char *)dst->data + off, src, bytes);
    return CW_OK;
}

static cw_status cpu_download(cw_backend *be, void *dst, const cw_buf *src, size_t off, size_t bytes)
{
    (void)be;
    if (!src || off > src->size || bytes > src->size - off)
        return cw_error(CW_ERR_INVALID_ARG, "download of %zu bytes at %zu outside the buffer", bytes, off);
    if (bytes) memcpy(dst, (const char *)src->data + off, bytes);
    return CW_OK;
}

/* ---- argument checks and scratch --------------------------------------------- */

/* a * b, or SIZE_MAX on overflow (which then fails the bounds check). */
static size_t mul(size_t a, size_t b)
{
    size_t r;
    return cw_mul_size(a, b, &r) ? SIZE_MAX : r;
}

/* The float pointer of r after checking that n floats from it lie in the
 * buffer; NULL (error set) if not. */
static float *ref_ptr(cw_ref r, size_t n, const char *what)
{
    if (!r.buf || r.off > r.buf->size / sizeof(float) || n > r.buf->size / sizeof(float) - r.off) {
        cw_error(CW_ERR_INVALID_ARG, "%s: %zu floats at %zu outside its buffer", what, n, r.off);
        return NULL;
    }
    return (float *)r.buf->data + r.off;
}

/* Like ref_ptr, but an absent ref (buf NULL) is fine and gives NULL with *ok set. */
static const float *opt_ptr(cw_ref r, size_t n, const char *what, int *ok)
{
    if (!r.buf) return NULL;
    const float *p = ref_ptr(r, n, what);
    if (!p) *ok = 0;
    return p;
}

static cw_status check_weight(const cw_weight *w)
{
    size_t bytes;
    if (!w || !w->data || cw_mul_size(w->rows, w->cols, &bytes) || cw_mul_size(bytes, cw_dtype_size(w->dtype), &bytes))
        return cw_error(CW_ERR_INVALID_ARG, "weight: missing or too large");
    if (w->offset % cw_dtype_size(w->dtype) != 0)
        return cw_error(CW_ERR_INVALID_ARG, "weight: byte offset %zu not a multiple of its %s elements", w->offset,
                        cw_dtype_name(w->dtype));
    if (w->offset > w->data->size || bytes > w->data->size - w->offset)
        return cw_error(CW_ERR_INVALID_ARG, "weight [%zu, %zu] %s at byte %zu: buffer holds %zu bytes", w->rows,
                        w->cols, cw_dtype_name(w->dtype), w->offset, w->data->size);
    if (w->dtype == CW_DTYPE_I8 && (!w->scale || w->scale->size / sizeof(float) < w->rows))
        return cw_error(CW_ERR_INVALID_ARG, "int8 weight [%zu, %zu] lacks its %zu scales", w->rows, w->cols, w->rows);
    return CW_OK;
}

/* The weight's first element. */
static const void *weight_ptr(const cw_weight *w) { return (const char *)w->data->data + w->offset; }

/* At least n floats of 64-byte aligned scratch, kept for the next op. */
static float *scratch_get(cw_cpu_state *st, size_t n)
{
    if (n <= st->scratch_floats) return st->scratch;
    size_t bytes;
    if (cw_mul_size(n, sizeof(float), &bytes)) {
        cw_error(CW_ERR_NOMEM, "scratch of %zu floats", n);
        return NULL;
    }
    void *s;
    if (posix_memalign(&s, 64, bytes) != 0) {
        cw_error(CW_ERR_NOMEM, "out of memory growing scratch to %zu bytes", bytes);
        return NULL;
    }
    free(st->scratch);
    st->scratch = s;
    st->scratch_floats = n;
    return s;
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* fn over the pool, or on the calling thread alone when `work` (elements
 * touched) is too little to pay for a dispatch: a decoder step's one-row
 * layernorm or activation quantization took less time than waking the
 * other threads and waiting for the slowest. Every worker here gives the
 * same bits for any thread count, so only the time changes. */
enum { POOL_MIN_WORK = 8192 };

static void pool_run(cw_backend *be, cw_threadpool_fn fn, void *arg, size_t work)
{
    if (work < POOL_MIN_WORK) fn(0, 1, arg);
    else cw_threadpool_run(be->pool, fn, arg);
}

/* ---- products ------------------------------------------------------------------ */

typedef struct {
    const cw_gemm *g;
    const cw_cpu_kernels *k;
    float *scratch; /* [nth][per] */
    size_t per;
    int split_n;
} gemm_job;

/* Slices are whole column panels or row strips of the kernel's tile, so each
 * thread runs the micro-kernel on full tiles wherever one thread would. */
static void gemm_worker(int ith, int nth, void *arg)
{
    const gemm_job *j = arg;
    const cw_gemm *g = j->g;
    float *s = j->scratch + (size_t)ith * j->per;
    size_t mr = j->k->gemm_mr ? j->k->gemm_mr : 6, nr = j->k->gemm_nr ? j->k->gemm_nr : 16;
    if (j->split_n) {
        size_t np = (g->n + nr - 1) / nr;
        size_t n0 = np * (size_t)ith / (size_t)nth * nr, n1 = np * (size_t)(ith + 1) / (size_t)nth * nr;
        if (n1 > g->n) n1 = g->n;
        if (n0 < n1) j->k->gemm(g, 0, g->m, n0, n1, s);
    } else {
        size_t nm = (g->m + mr - 1) / mr;
        size_t m0 = nm * (size_t)ith / (size_t)nth * mr, m1 = nm * (size_t)(ith + 1) / (size_t)nth * mr;
        if (m1 > g->m) m1 = g->m;
        if (m0 < m1) j->k->gemm(g, m0, m1, 0, g->n, s);
    }
}

/* g over the pool; scratch: gemm_scratch_need(be, g) floats. */
static void run_gemm(cw_backend *be, const cw_gemm *g, float *scratch)
{
    cw_cpu_state *st = state(be);
    gemm_job j = { g, &st->k, scratch, round16(st->k.gemm_scratch_floats(g)) + 16, 0 };
    /* Each thread packs the operand it does not split: splitting M repeats
     * the packing of B [n, k], splitting N that of A [m, k]; so split the
     * larger side. Few rows (the decoder): always N, so W is read once. */
    j.split_n = g->m <= 64 || g->n >= g->m;
    cw_threadpool_run(be->pool, gemm_worker, &j);
}

/* Scratch floats run_gemm needs. */
static size_t gemm_scratch_need(cw_backend *be, const cw_gemm *g)
{
    return (size_t)cw_threadpool_size(be->pool) * (round16(state(be)->k.gemm_scratch_floats(g)) + 16);
}

/* ---- lowp products (lowp.h) ---------------------------------------------------- */

static void rows_range(int ith, int nth, size_t rows, size_t *r0, size_t *r1);

typedef struct {
    const cw_gemm *g;       /* BF16: A holds rounded activations */
    const cw_i8_gemm *q;    /* I8 */
    const cw_cpu_kernels *k;
    float *scratch;         /* BF16: [nth][per] */
    size_t per;
    int split_n;
    /* the preparation of A, by rows (and of W, by column blocks, where packed) */
    const float *x;
    float *xr;              /* BF16: rounded copy of x */
    int8_t *aq; float *as;  /* I8: quantized rows (a16: 2 planes each) and scales */
    int8_t *bp;             /* I8: W packed by k->pack_i8, or NULL */
    cw_gemm *gp;            /* BF16 with k->pack_bf16: bp and a16 to fill, or NULL */
    size_t pack_cols;       /* columns of a packed W's blocks (0: none) */
} lowp_job;

static void lowp_prep_worker(int ith, int nth, void *arg)
{
    const lowp_job *j = arg;
    size_t m = j->q ? j->q->m : j->g->m, k = j->q ? j->q->k : j->g->k, r0, r1;
    if (j->pack_cols) {
        size_t nb = ((j->q ? j->q->n : j->g->n) + j->pack_cols - 1) / j->pack_cols;
        size_t b0 = nb * (size_t)ith / (size_t)nth, b1 = nb * (size_t)(ith + 1) / (size_t)nth;
        if (j->q) j->k->pack_i8(j->q, b0, b1, j->bp);
        else j->k->pack_bf16(j->gp, b0, b1, (void *)(uintptr_t)j->gp->bp);
    }
    rows_range(ith, nth, m, &r0, &r1);
    if (r0 >= r1) return;
    if (j->q && j->q->a16) cw_ref_quant_rows_a16(j->aq + 2 * r0 * j->q->lda, j->as + r0, j->x + r0 * k, r1 - r0, k, j->q->lda);
    else if (j->q) j->k->quant_rows(j->aq + r0 * j->q->lda, j->as + r0, j->x + r0 * k, r1 - r0, k, j->q->lda);
    else if (j->gp)
        j->k->pack_bf16_rows((uint16_t *)(uintptr_t)j->gp->a16, j->gp->lda16, j->x + r0 * k, r0, r1 - r0, k);
    else j->k->bf16_round(j->xr + r0 * k, j->x + r0 * k, (r1 - r0) * k);
}

/* As gemm_worker: 16-column panels (the packed W's blocks where there is
 * one) or 12-row strips (whole tiles of every lowp kernel; 32 where W is
 * packed, the AMX kernels' row blocks); the kernels give the same bits for
 * any slice anyway. */
static void lowp_worker(int ith, int nth, void *arg)
{
    const lowp_job *j = arg;
    size_t m = j->q ? j->q->m : j->g->m, n = j->q ? j->q->n : j->g->n;
    size_t m0 = 0, m1 = m, n0 = 0, n1 = n;
    if (j->split_n) {
        size_t w = j->pack_cols ? j->pack_cols : j->q && j->q->wp ? j->k->prepack_i8_cols : 16;
        size_t np = (n + w - 1) / w;
        n0 = np * (size_t)ith / (size_t)nth * w, n1 = np * (size_t)(ith + 1) / (size_t)nth * w;
        if (n1 > n) n1 = n;
    } else {
        size_t h = j->pack_cols ? 32 : 12, nm = (m + h - 1) / h;
        m0 = nm * (size_t)ith / (size_t)nth * h, m1 = nm * (size_t)(ith + 1) / (size_t)nth * h;
        if (m1 > m) m1 = m;
    }
    if (m0 >= m1 || n0 >= n1) return;
    if (j->q) j->k->gemm_i8(j->q, m0, m1, n0, n1);
    else j->k->gemm_bf16(j->g, m0, m1, n0, n1, j->scratch + (size_t)ith * j->per);
}

/* The I8 product of g on quantized rows aq [m, lda] with scales as [m]. */
static cw_i8_gemm lowp_i8(const cw_gemm *g, int8_t *aq, size_t lda, float *as)
{
    return (cw_i8_gemm){ .m = g->m, .n = g->n, .k = g->k, .a = aq, .lda = lda, .ascale = as, .w = g->b, .ldw = g->ldb,
                         .wscale = g->scale, .bias = g->bias, .c = g->c, .ldc = g->ldc, .m_class = g->m_class,
                         .post = g->post, .wp = g->wp };
}

/* Bytes of W packed once for the I8 kernel (0: it packs none, or not for
 * this few rows). */
static size_t lowp_pack_bytes(const cw_cpu_state *st, const cw_gemm *g, size_t lda)
{
    if (!st->k.pack_i8 || (g->m_class ? g->m_class : g->m) < st->k.pack_i8_min_m) return 0;
    cw_i8_gemm q = lowp_i8(g, NULL, lda, NULL);
    return st->k.pack_i8_bytes(&q);
}

/* Bytes of W packed once for the BF16 kernel (0: as lowp_pack_bytes), and
 * elements of a row of A as bf16 for it. */
static size_t lowp_pack_bf16_bytes(const cw_cpu_state *st, const cw_gemm *g)
{
    if (!st->k.pack_bf16 || cw_gemm_class(g) < st->k.pack_bf16_min_m) return 0;
    return st->k.pack_bf16_bytes(g);
}
static size_t lowp_bf16_lda(size_t k) { return (k + 31) / 32 * 32; }
enum { LOWP_A16_PAD = 32 }; /* rows past m a packed BF16 kernel may read */

/* Products of few rows (decoder steps; lowp.h): BF16 runs as in exact mode,
 * the float32 kernel widening W and keeping the activations unrounded. Those
 * products read every weight once per row group, so their time is mostly
 * W's bytes either way, and on AVX-512 the FMA route is the faster one
 * (vdpbf16ps does half the multiply-adds per cycle of FMA on the Xeon
 * measured; base, 5 min, bf16: 3.83 -> 3.72 s), besides the rounding it
 * drops. I8 takes 16-bit activations (a16): a decoder step's activations
 * quantized per row to int8 were most of int8 mode's divergence from
 * float32, as a few channels of the LayerNorms' outputs are far larger than
 * the rest (teacher-forced on 40 held-out files, mean KL of the next-token
 * distribution to float32's: base, token embedding bf16 in both: 0.0072 ->
 * 0.0009 with float32 activations, top-1 agreement 98.5% -> 99.5%; bf16
 * mode: 0.00006, 99.8%; bench/accuracy/divergence,
 * bench/results/2026-12-07-amd-epyc-2cpu-zen4-i8f32). 16-bit activations
 * keep that accuracy (base: KL 0.00053, 99.5%) as exact integer sums, the
 * same bits on every ISA, at 96-154 G ops/s for one row where the exact
 * mode's kernel widening int8 ran 42-49 (bench_gemm, one Zen 4 core,
 * bench/results/2026-12-07-amd-epyc-2cpu-zen4-a16). */
enum { LOWP_FEW_MAX_M = 8 };
static int few_rows(const cw_gemm *g) { return cw_gemm_class(g) <= LOWP_FEW_MAX_M; }

/* Whether g (BF16 or I8 weights, lowp mode) runs as a lowp product. */
static int lowp_runs(const cw_gemm *g) { return g->bt == CW_DTYPE_I8 || !few_rows(g); }

/* An I8 product's quantized rows: their stride for k, and rows of it per
 * row of A (2 planes of 16-bit activations for few rows, cw_i8_gemm.a16). */
static size_t lowp_i8_lda(size_t k) { return (k + CW_LOWP_ALIGN - 1) / CW_LOWP_ALIGN * CW_LOWP_ALIGN; }
static size_t lowp_i8_planes(const cw_gemm *g) { return few_rows(g) ? 2 : 1; }

/* Floats of scratch linear_lowp_run needs for g. */
static size_t lowp_scratch_need(const cw_cpu_state *st, const cw_gemm *g, size_t nth)
{
    if (g->bt == CW_DTYPE_I8) {
        size_t lda = lowp_i8_lda(g->k), qb = mul(mul(g->m, lowp_i8_planes(g)), lda);
        if (qb == SIZE_MAX) return SIZE_MAX;
        return round16(qb / sizeof(float) + 1) + round16(g->m) + round16(lowp_pack_bytes(st, g, lda) / sizeof(float) + 1);
    }
    size_t pb = lowp_pack_bf16_bytes(st, g);
    if (pb) {
        size_t ab = mul(mul(g->m + LOWP_A16_PAD, lowp_bf16_lda(g->k)), sizeof(uint16_t));
        if (ab == SIZE_MAX) return SIZE_MAX;
        return round16(ab / sizeof(float) + 1) + round16(pb / sizeof(float) + 1);
    }
    size_t per = round16(st->k.gemm_bf16_scratch_floats(g)) + 16;
    return round16(mul(g->m, g->k)) + nth * per;
}

/* g: the float32 product as cpu_linear built it, with I8 or BF16 weights;
 * scr: lowp_scratch_need() floats. */
static void linear_lowp_run(cw_backend *be, const cw_gemm *g, float *scr)
{
    cw_cpu_state *st = state(be);
    lowp_job j = { .k = &st->k, .x = g->a, .split_n = g->m <= 64 || g->n >= g->m };
    if (g->bt == CW_DTYPE_I8) {
        size_t lda = lowp_i8_lda(g->k), planes = lowp_i8_planes(g);
        j.aq = (int8_t *)scr;
        j.as = scr + round16(mul(mul(g->m, planes), lda) / sizeof(float) + 1);
        cw_i8_gemm q = lowp_i8(g, j.aq, lda, j.as);
        q.a16 = planes == 2;
        if (lowp_pack_bytes(st, g, lda)) {
            q.bp = j.bp = (int8_t *)(j.as + round16(g->m));
            j.pack_cols = st->k.pack_i8_cols;
        }
        j.q = &q;
        pool_run(be, lowp_prep_worker, &j, j.bp ? SIZE_MAX : mul(g->m, g->k));
        cw_threadpool_run(be->pool, lowp_worker, &j);
        return;
    }
    cw_gemm gb = *g;
    size_t pb = lowp_pack_bf16_bytes(st, g);
    if (pb) { /* A's bf16 rows, then W's tiles, made once for all threads */
        size_t lda16 = lowp_bf16_lda(g->k), ab = (g->m + LOWP_A16_PAD) * lda16 * sizeof(uint16_t);
        uint16_t *a16 = (uint16_t *)(void *)scr;
        if (g->m % 32) /* the rows past m of the last block of 32 (cw_a16_at) */
            memset(a16 + g->m / 32 * 32 * lda16, 0, 32 * lda16 * sizeof *a16);
        gb.a = NULL, gb.a16 = a16, gb.lda16 = lda16, gb.bp = scr + round16(ab / sizeof(float) + 1);
        j.g = j.gp = &gb;
        j.scratch = scr; /* unused: the packed kernel needs none */
        j.pack_cols = st->k.pack_bf16_cols;
        pool_run(be, lowp_prep_worker, &j, SIZE_MAX);
        cw_threadpool_run(be->pool, lowp_worker, &j);
        return;
    }
    size_t xf = round16(mul(g->m, g->k));
    j.per = round16(st->k.gemm_bf16_scratch_floats(g)) + 16;
    gb.a = j.xr = scr;
    j.g = &gb;
    j.scratch = scr + xf;
    pool_run(be, lowp_prep_worker, &j, mul(g->m, g->k));
    cw_threadpool_run(be->pool, lowp_worker, &j);
}

static cw_status linear_lowp(cw_backend *be, const cw_gemm *g)
{
    cw_cpu_state *st = state(be);
    size_t need = lowp_scratch_need(st, g, (size_t)cw_threadpool_size(be->pool));
    if (need == SIZE_MAX) return cw_error(CW_ERR_NOMEM, "linear: activations too large");
    float *scr = scratch_get(st, need);
    if (!scr) return CW_ERR_NOMEM;
    linear_lowp_run(be, g, scr);
    return CW_OK;
}

/* linear_rows, with post (NULL or the kernel table's gelu) applied by the
 * kernels to each output once final. */
static cw_status linear_post(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m,
                             size_t m_class, cw_post_fn post)
{
    cw_status s = check_weight(w);
    if (s != CW_OK) return cw_error_prefix(s, "linear");
    size_t n = w->rows, k = w->cols, mk, mn;
    if (cw_mul_size(m, k, &mk) || cw_mul_size(m, n, &mn)) return cw_error(CW_ERR_INVALID_ARG, "linear: too large");
    int ok = 1;
    float *py = ref_ptr(y, mn, "linear y");
    const float *px = ref_ptr(x, mk, "linear x");
    const float *pb = opt_ptr(bias, n, "linear bias", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    if (m == 0 || n == 0) return CW_OK;
    cw_gemm g = { .m = m, .n = n, .k = k, .a = px, .lda = k, .b = weight_ptr(w), .ldb = k,
                  .bt = w->dtype, .scale = w->dtype == CW_DTYPE_I8 ? w->scale->data : NULL,
                  .bias = pb, .c = py, .ldc = n, .m_class = m_class, .post = post,
                  .wp = w->packed && w->dtype == CW_DTYPE_I8 ? w->packed->data : NULL };
    if (state(be)->lowp && (w->dtype == CW_DTYPE_I8 || w->dtype == CW_DTYPE_BF16) && lowp_runs(&g))
        return linear_lowp(be, &g);
    float *scr = scratch_get(state(be), gemm_scratch_need(be, &g));
    if (!scr) return CW_ERR_NOMEM;
    run_gemm(be, &g, scr);
    return CW_OK;
}

static cw_status cpu_linear_rows(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m,
                                 size_t m_class)
{
    return linear_post(be, y, x, w, bias, m, m_class, NULL);
}

/* GELU inside the product, on tiles still in cache: the encoder's [T, 4d]
 * MLP activations are too large for it, and a separate pass read and wrote
 * them from memory once more (measured 2% of an int8 base run on 16 short
 * files, 0.5% of an fp32 one). */
static cw_status cpu_linear_gelu(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m,
                                 size_t m_class)
{
    return linear_post(be, y, x, w, bias, m, m_class, state(be)->k.gelu_block);
}

static cw_status cpu_linear(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m)
{
    return linear_post(be, y, x, w, bias, m, 0, NULL);
}

typedef struct {
    const cw_cpu_kernels *k;
    const int8_t *w;
    size_t n, k_dim, blocks;
    uint8_t *wp;
} prepack_job;

static void prepack_worker(int ith, int nth, void *arg)
{
    const prepack_job *j = arg;
    size_t b0, b1;
    rows_range(ith, nth, j->blocks, &b0, &b1);
    if (b0 < b1) j->k->prepack_i8(j->w, j->k_dim, j->n, j->k_dim, b0, b1, j->wp);
}

/* An I8 weight of lowp mode in the layout of the kernel table's prepack_i8
 * (cw_i8_gemm.wp), once: a decoder step's product then reads W as one stream
 * with no reduction per output, where the dot form reduced 16 lanes per
 * output and read 4 rows of W at once. bench_gemm, one Zen 4 core, base's
 * decoder shapes: 86-130 -> 166-180 G ops/s for one row, 124-154 -> 383-423
 * for five; the bits are the same (exact int32 sums). */
static cw_status cpu_prepare_weight(cw_backend *be, const cw_weight *w, cw_buf **out)
{
    cw_cpu_state *st = state(be);
    *out = NULL;
    if (!st->lowp || w->dtype != CW_DTYPE_I8 || !st->k.prepack_i8) return CW_OK;
    cw_status s = check_weight(w);
    if (s != CW_OK) return cw_error_prefix(s, "prepare_weight");
    if (w->rows == 0 || w->cols == 0) return CW_OK;
    cw_buf *b = NULL;
    s = cpu_buf_alloc(be, st->k.prepack_i8_bytes(w->rows, w->cols), &b);
    if (s != CW_OK) return s;
    prepack_job j = { .k = &st->k, .w = weight_ptr(w), .n = w->rows, .k_dim = w->cols, .wp = b->data,
                      .blocks = (w->rows + st->k.prepack_i8_cols - 1) / st->k.prepack_i8_cols };
    cw_threadpool_run(be->pool, prepack_worker, &j);
    *out = b;
    return CW_OK;
}

/* ---- logits (logits.c) ---------------------------------------------------------- */

#define TRY_S(x) do { cw_status s_ = (x); if (s_ != CW_OK) return s_; } while (0)

typedef struct {
    const cw_cpu_kernels *k;
    const cw_i4_screen *s;
    const cw_i8_gemm *q; /* the screen's quantized rows */
    const cw_gemm *g;    /* BF16: the exact product, float32 activations */
    const cw_i8_gemm *x16; /* I8: with 16-bit ones (a16), as linear_rows of class 1 */
    float *gscr;         /* its scratch, [nth + 1][gper] */
    size_t gper, n_screen;
} logits_job;

/* Columns [j0, j1) of every row, exactly as linear_rows of class 1 gives them. */
static void logits_exact(const logits_job *j, size_t i0, size_t i1, size_t j0, size_t j1, float *gscr)
{
    if (j->x16) j->k->gemm_i8(j->x16, i0, i1, j0, j1);
    else j->k->gemm(j->g, i0, i1, j0, j1, gscr);
}

/* Thread ith: its 16-row share of the screen, and of the exact columns from n_screen on. */
static void logits_worker(int ith, int nth, void *arg)
{
    const logits_job *j = arg;
    const cw_i8_gemm *q = j->q;
    size_t nb = (j->n_screen + 15) / 16, r0 = nb * (size_t)ith / (size_t)nth * 16,
           r1 = nb * (size_t)(ith + 1) / (size_t)nth * 16;
    if (r1 > j->n_screen) r1 = j->n_screen;
    if (r0 < r1) j->k->screen_i4(j->s, q->a, q->lda, q->ascale, q->m, q->c, q->ldc, r0, r1);
    size_t nt = q->n - j->n_screen, t0 = j->n_screen + nt * (size_t)ith / (size_t)nth,
           t1 = j->n_screen + nt * (size_t)(ith + 1) / (size_t)nth;
    if (t0 < t1) logits_exact(j, 0, q->m, t0, t1, j->gscr + (size_t)(ith + 1) * j->gper);
}

typedef struct {
    cw_cpu_screen *sc;
    const float *wscale;
    float *scratch; /* [nth][per]: the bf16 rows' f and q */
    size_t per;
} screen_job;

static void screen_worker(int ith, int nth, void *arg)
{
    const screen_job *j = arg;
    size_t r0, r1, k = j->sc->s.k;
    float *f = j->scratch + (size_t)ith * j->per;
    rows_range(ith, nth, j->sc->s.n, &r0, &r1);
    if (r0 < r1) cw_cpu_screen_rows(j->sc, j->wscale, r0, r1, f, (int8_t *)(f + round16(k)));
}

/* The screen of w (I8, or BF16 quantized to int8 for it), made once per
 * weight, over the pool (serial, it was a tenth of an int8 process's
 * set-up with base). */
static cw_status logits_screen(cw_backend *be, const cw_weight *w, size_t n_screen)
{
    cw_cpu_state *st = state(be);
    const void *wd = weight_ptr(w);
    size_t k = w->cols, nth = (size_t)cw_threadpool_size(be->pool);
    if (st->screen.wdata == wd && st->screen.s.n == n_screen && st->screen.s.k == k) return CW_OK;
    screen_job j = { .sc = &st->screen, .wscale = w->dtype == CW_DTYPE_BF16 ? NULL : w->scale->data,
                     .per = round16(k) + round16(k / sizeof(float) + 1) };
    j.scratch = scratch_get(st, mul(nth, j.per));
    if (!j.scratch) return CW_ERR_NOMEM;
    TRY_S(cw_cpu_screen_alloc(&st->screen, wd, n_screen, k));
    cw_threadpool_run(be->pool, screen_worker, &j);
    return CW_OK;
}

/* Rows of y [m, n] (m <= CW_SCREEN_MAX_M) through the screen. */
static cw_status logits_rows(cw_backend *be, float *py, const float *px, const cw_weight *w, size_t m, size_t n_screen,
                             size_t keep)
{
    cw_cpu_state *st = state(be);
    size_t n = w->rows, k = w->cols, nth = (size_t)cw_threadpool_size(be->pool);
    int bf16 = w->dtype == CW_DTYPE_BF16;
    TRY_S(logits_screen(be, w, n_screen));
    const float *wsc = bf16 ? NULL : w->scale->data;
    cw_i8_gemm q = { .m = m, .n = n, .k = k, .lda = st->screen.s.ld * 2, .w = weight_ptr(w), .ldw = k,
                     .wscale = wsc, .c = py, .ldc = n, .m_class = 1 };
    cw_gemm g = { .m = m, .n = n, .k = k, .a = px, .lda = k, .b = weight_ptr(w), .ldb = k, .bt = CW_DTYPE_BF16,
                  .c = py, .ldc = n, .m_class = 1 };
    size_t l16 = lowp_i8_lda(k);
    cw_i8_gemm x16 = { .m = m, .n = n, .k = k, .lda = l16, .w = weight_ptr(w), .ldw = k, .wscale = wsc, .c = py,
                       .ldc = n, .m_class = 1, .a16 = 1 };
    logits_job j = { .k = &st->k, .s = &st->screen.s, .q = &q, .g = &g, .x16 = bf16 ? NULL : &x16,
                     .n_screen = n_screen };
    /* scratch: the quantized rows [m, lda] bytes, their scales, keep indices and
     * values; BF16: the float32 kernel's scratch per thread */
    size_t qf = round16(m * q.lda / sizeof(float));
    j.gper = bf16 ? round16(st->k.gemm_scratch_floats(&g)) + 16 : 0;
    /* ... and the kept rows of W gathered [keep, k] (I8: with their scales) and
     * their products [keep]; I8: the 16-bit rows [2 m, l16] bytes and their scales */
    size_t rb = k * (bf16 ? 2 : 1), gf = round16(mul(keep, rb) / sizeof(float) + 1);
    size_t xf = bf16 ? 0 : round16(2 * m * l16 / sizeof(float)) + round16(m);
    size_t need = qf + 16 + 2 * round16(keep) + (nth + 1) * j.gper + gf + 2 * round16(keep) + xf;
    float *scr = need < SIZE_MAX / 2 ? scratch_get(st, need) : NULL;
    if (!scr) return CW_ERR_NOMEM;
    float *as = scr + qf, *val = as + 16 + round16(keep);
    uint32_t *idx = (uint32_t *)(as + 16);
    q.a = (int8_t *)scr, q.ascale = as;
    j.gscr = val + round16(keep);
    char *wk = (char *)(j.gscr + (nth + 1) * j.gper);
    float *wks = (float *)(void *)wk + gf, *yk = wks + round16(keep);
    if (!bf16) {
        int8_t *a16 = (int8_t *)(yk + round16(keep));
        float *s16 = yk + round16(keep) + round16(2 * m * l16 / sizeof(float));
        cw_ref_quant_rows_a16(a16, s16, px, m, k, l16);
        x16.a = a16, x16.ascale = s16;
    }
    st->k.quant_rows((int8_t *)scr, as, px, m, k, q.lda);
    cw_threadpool_run(be->pool, logits_worker, &j);
    const char *wd = weight_ptr(w);
    for (size_t i = 0; i < m; i++) {
        size_t nk = cw_cpu_top(py + i * n, n_screen, keep, idx, val);
        /* The kept rows are scattered over W: one product over them gathered,
         * instead of one per column, each waiting on its own misses (and the
         * kernels' per-call work): the same sums, each column's its own. */
        for (size_t t = 0; t < nk; t++)
            for (size_t o = 0; o < rb; o += 64) __builtin_prefetch(wd + idx[t] * rb + o);
        for (size_t t = 0; t < nk; t++) {
            memcpy(wk + t * rb, wd + idx[t] * rb, rb);
            if (!bf16) wks[t] = q.wscale[idx[t]];
        }
        if (bf16) {
            cw_gemm g1 = { .m = 1, .n = nk, .k = k, .a = px + i * k, .lda = k, .b = wk, .ldb = k,
                           .bt = CW_DTYPE_BF16, .c = yk, .ldc = nk, .m_class = 1 };
            st->k.gemm(&g1, 0, 1, 0, nk, j.gscr);
        } else {
            cw_i8_gemm q1 = { .m = 1, .n = nk, .k = k, .a = x16.a + 2 * i * l16, .lda = l16, .ascale = x16.ascale + i,
                              .w = (const int8_t *)wk, .ldw = k, .wscale = wks, .c = yk, .ldc = nk, .m_class = 1,
                              .a16 = 1 };
            st->k.gemm_i8(&q1, 0, 1, 0, nk);
        }
        for (size_t t = 0; t < nk; t++) py[i * n + idx[t]] = yk[t];
    }
    return CW_OK;
}

static cw_status cpu_logits(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, size_t m, size_t n_screen,
                            size_t keep)
{
    cw_cpu_state *st = state(be);
    if (!st->lowp || !st->screen_on || !st->k.screen_i4 || (w->dtype != CW_DTYPE_I8 && w->dtype != CW_DTYPE_BF16) ||
        n_screen > w->rows || keep == 0 || keep >= n_screen)
        return cpu_linear_rows(be, y, x, w, cw_ref_none(), m, 1);
    cw_status s = check_weight(w);
    if (s != CW_OK) return cw_error_prefix(s, "logits");
    size_t n = w->rows, k = w->cols, mk, mn;
    if (cw_mul_size(m, k, &mk) || cw_mul_size(m, n, &mn)) return cw_error(CW_ERR_INVALID_ARG, "logits: too large");
    float *py = ref_ptr(y, mn, "logits y");
    const float *px = ref_ptr(x, mk, "logits x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    /* groups of rows: each row gets what it gets alone */
    for (size_t i = 0; i < m; i += CW_SCREEN_MAX_M) {
        size_t r = m - i < CW_SCREEN_MAX_M ? m - i : CW_SCREEN_MAX_M;
        TRY_S(logits_rows(be, py + i * n, px + i * k, w, r, n_screen, keep));
    }
    return CW_OK;
}

/* cols [t_out, c_in*3]: cols[t, c*3 + j] = x[c, t*stride + j - 1], 0 outside;
 * rows [t0, t1). */
static void im2col3(float *cols, const float *x, size_t c_in, size_t t_in, size_t t0, size_t t1, size_t stride)
{
    for (size_t t = t0; t < t1; t++) {
        float *row = cols + t * c_in * 3;
        for (size_t c = 0; c < c_in; c++)
            for (size_t j = 0; j < 3; j++) {
                size_t pos = t * stride + j; /* position + 1 in x */
                row[c * 3 + j] = pos >= 1 && pos - 1 < t_in ? x[c * t_in + pos - 1] : 0.0f;
            }
    }
}

/* Rows [r_lo, r_hi) of the transpose below. */
static void transpose_rows(float *y, const float *x, size_t rows, size_t cols, size_t r_lo, size_t r_hi)
{
    enum { B = 32 }; /* tiles keep both sides in cache */
    for (size_t r0 = r_lo; r0 < r_hi; r0 += B)
        for (size_t c0 = 0; c0 < cols; c0 += B)
            for (size_t r = r0; r < r_hi && r < r0 + B; r++)
                for (size_t c = c0; c < cols && c < c0 + B; c++) y[c * rows + r] = x[r * cols + c];
}

/* The conv stem's im2col and transposes over the pool: serial, they were the
 * window's longest stretches without work for the other threads (about 5 M
 * floats moved per 30 s window). */
typedef struct {
    float *y;
    const float *x;
    size_t rows, cols;       /* transpose: x [rows, cols] */
    size_t c_in, t_in, stride; /* im2col (rows = t_out) */
    int im2col;
} move_job;

static void move_worker(int ith, int nth, void *arg)
{
    const move_job *j = arg;
    size_t nb = (j->rows + 31) / 32, r0 = nb * (size_t)ith / (size_t)nth * 32, r1 = nb * (size_t)(ith + 1) / (size_t)nth * 32;
    if (r1 > j->rows) r1 = j->rows;
    if (r0 >= r1) return;
    if (j->im2col) im2col3(j->y, j->x, j->c_in, j->t_in, r0, r1, j->stride);
    else transpose_rows(j->y, j->x, j->rows, j->cols, r0, r1);
}

static void transpose_plain(cw_backend *be, float *y, const float *x, size_t rows, size_t cols)
{
    move_job j = { .y = y, .x = x, .rows = rows, .cols = cols };
    pool_run(be, move_worker, &j, mul(rows, cols));
}

static cw_status cpu_conv1d(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias,
                            size_t c_in, size_t t_in, size_t stride)
{
    cw_status s = check_weight(w);
    if (s != CW_OK) return cw_error_prefix(s, "conv1d");
    if ((stride != 1 && stride != 2) || t_in == 0 || w->cols != c_in * 3)
        return cw_error(CW_ERR_INVALID_ARG, "conv1d: stride %zu, t_in %zu, weight cols %zu for c_in %zu",
                        stride, t_in, w->cols, c_in);
    size_t c_out = w->rows, t_out = (t_in - 1) / stride + 1, kk = c_in * 3;
    int ok = 1;
    float *py = ref_ptr(y, mul(c_out, t_out), "conv1d y");
    const float *px = ref_ptr(x, mul(c_in, t_in), "conv1d x");
    const float *pb = opt_ptr(bias, c_out, "conv1d bias", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    cw_gemm g = { .m = t_out, .n = c_out, .k = kk, .lda = kk, .b = weight_ptr(w), .ldb = kk,
                  .bt = w->dtype, .scale = w->dtype == CW_DTYPE_I8 ? w->scale->data : NULL,
                  .bias = pb, .ldc = c_out };
    size_t n_cols = round16(t_out * kk), n_z = round16(t_out * c_out);
    cw_cpu_state *st = state(be);
    /* lowp: the stem's product in int8 / bf16 as the Linear layers' */
    int lowp = st->lowp && (w->dtype == CW_DTYPE_I8 || w->dtype == CW_DTYPE_BF16);
    size_t need = lowp ? lowp_scratch_need(st, &g, (size_t)cw_threadpool_size(be->pool)) : gemm_scratch_need(be, &g);
    if (need == SIZE_MAX) return cw_error(CW_ERR_NOMEM, "conv1d: too large");
    float *scr = scratch_get(st, n_cols + n_z + need);
    if (!scr) return CW_ERR_NOMEM;
    move_job mj = { .y = scr, .x = px, .rows = t_out, .c_in = c_in, .t_in = t_in, .stride = stride, .im2col = 1 };
    pool_run(be, move_worker, &mj, mul(t_out, kk));
    g.a = scr;
    g.c = scr + n_cols; /* Z [t_out, c_out] */
    if (lowp) linear_lowp_run(be, &g, scr + n_cols + n_z);
    else run_gemm(be, &g, scr + n_cols + n_z);
    transpose_plain(be, py, g.c, t_out, c_out);
    return CW_OK;
}

typedef struct {
    const cw_attn_ptrs *p;
    const cw_cpu_kernels *k;
    void (*fn)(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
    float *scratch;
    size_t per, n_blocks, n_items;
    int flush;              /* the lowp kernels: subnormals flushed (fpenv.h) */
} attn_job;

/* With bf16 or int8 K/V, an item the kernel cannot take as such: head bh's keys and
 * values widened to float32 in scratch (the first 2 * nkv * 64 floats), and
 * the item run as one of a single-head, single-sequence float32 op. */
/* Row x [64] of int8 times its step (as the int8 kernels weigh it). */
static void widen_i8(float *y, const int8_t *x, float step)
{
    for (size_t i = 0; i < CW_HEAD_DIM; i++) y[i] = (float)x[i] * step;
}

static void attn_item_widened(const attn_job *j, const cw_attn_ptrs *pp, size_t bh, size_t i0, size_t i1,
                              float *scratch)
{
    const cw_attn *a = pp->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, nkv = a->nkv;
    float *k = scratch, *v = scratch + nkv * CW_HEAD_DIM;
    if (pp->k8) {
        const int8_t *k8 = pp->k8 + b * a->k_bstride + h * a->k_hstride, *v8 = pp->v8 + b * a->v_bstride + h * a->v_hstride;
        const float *ks = pp->ks + b * a->s_bstride + h * a->s_hstride, *vs = pp->vs + b * a->s_bstride + h * a->s_hstride;
        for (size_t t = 0; t < nkv; t++) {
            widen_i8(k + t * CW_HEAD_DIM, k8 + t * a->k_ld, ks[t]);
            widen_i8(v + t * CW_HEAD_DIM, v8 + t * a->v_ld, vs[t]);
        }
    } else {
        const uint16_t *k16 = pp->k16 + b * a->k_bstride + h * CW_HEAD_DIM;
        const uint16_t *v16 = pp->v16 + b * a->v_bstride + h * CW_HEAD_DIM;
        for (size_t t = 0; t < nkv; t++) {
            j->k->to_f32(k + t * CW_HEAD_DIM, k16 + t * a->k_ld, CW_DTYPE_BF16, 1.0f, CW_HEAD_DIM);
            j->k->to_f32(v + t * CW_HEAD_DIM, v16 + t * a->v_ld, CW_DTYPE_BF16, 1.0f, CW_HEAD_DIM);
        }
    }
    cw_attn one = *a;
    one.n_batch = 1;
    one.n_head = 1;
    one.k_ld = one.v_ld = CW_HEAD_DIM;
    one.k_bstride = one.v_bstride = 0;
    one.kv_dtype = CW_DTYPE_F32;
    cw_attn_ptrs p = { &one, pp->o + b * a->o_bstride + h * CW_HEAD_DIM,
                       pp->q + b * a->q_bstride + h * CW_HEAD_DIM, k, v, NULL, NULL, NULL, NULL, NULL, NULL, 0 };
    j->fn(&p, 0, i0, i1, scratch + 2 * nkv * CW_HEAD_DIM);
}

static void attn_item(const attn_job *j, const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch)
{
    if ((p->k16 && i1 - i0 > j->k->attn_kv16_rows) || (p->k8 && i1 - i0 > j->k->attn_kv8_rows))
        attn_item_widened(j, p, bh, i0, i1, scratch);
    else
        j->fn(p, bh, i0, i1, scratch);
}

/* An item of an op with per-sequence fields (kv_item, b_nkv, b_q_pos):
 * sequence b's head h as the only sequence of an op of its own, so every
 * kernel computes exactly what a call for that sequence alone computes. */
static void attn_item_own(const attn_job *j, size_t bh, size_t i0, size_t i1, float *scratch)
{
    const cw_attn *a = j->p->a;
    size_t b = bh / a->n_head, h = bh % a->n_head, kv = a->kv_item ? a->kv_item[b] : b;
    cw_attn one = *a;
    one.n_batch = 1;
    one.nkv = a->b_nkv ? a->b_nkv[b] : a->nkv;
    one.q_pos = a->b_q_pos ? a->b_q_pos[b] : a->q_pos;
    one.kv_item = one.b_nkv = one.b_q_pos = NULL;
    const cw_attn_ptrs *pa = j->p;
    /* call_id 0: a kernel keeping a head's K/V between items must not take
     * another sequence's for this one's */
    cw_attn_ptrs p = { &one, pa->o + b * a->o_bstride, pa->q + b * a->q_bstride,
                       pa->k ? pa->k + kv * a->k_bstride : NULL, pa->v ? pa->v + kv * a->v_bstride : NULL,
                       pa->k16 ? pa->k16 + kv * a->k_bstride : NULL, pa->v16 ? pa->v16 + kv * a->v_bstride : NULL,
                       pa->k8 ? pa->k8 + kv * a->k_bstride : NULL, pa->v8 ? pa->v8 + kv * a->v_bstride : NULL,
                       pa->ks ? pa->ks + kv * a->s_bstride : NULL, pa->vs ? pa->vs + kv * a->s_bstride : NULL, 0 };
    attn_item(j, &p, h, i0, i1, scratch);
}

/* Items (head, block of query rows) in fixed blocks, so the arithmetic does
 * not depend on the thread count; each thread takes a contiguous run of them,
 * so that a kernel keeping a head's K/V converted between items (the bf16
 * ones) converts each head once, not once per thread as round-robin did. */
static void attn_worker(int ith, int nth, void *arg)
{
    const attn_job *j = arg;
    const cw_attn *a = j->p->a;
    size_t blk = j->k->attn_block, nq = a->nq;
    int own = a->kv_item || a->b_nkv || a->b_q_pos;
    unsigned csr = j->flush ? cw_flush_subnormals_begin() : 0;
    size_t it0 = j->n_items * (size_t)ith / (size_t)nth, it1 = j->n_items * (size_t)(ith + 1) / (size_t)nth;
    for (size_t it = it0; it < it1; it++) {
        size_t bh = it / j->n_blocks, i0 = it % j->n_blocks * blk;
        size_t i1 = i0 + blk < nq ? i0 + blk : nq;
        float *scratch = j->scratch + (size_t)ith * j->per;
        if (own) attn_item_own(j, bh, i0, i1, scratch);
        else attn_item(j, j->p, bh, i0, i1, scratch);
    }
    if (j->flush) cw_flush_subnormals_end(csr);
}

/* Floats spanned by X[b, t, h] for b < nb, t < nt, h < H (strided view). */
static size_t attn_span(size_t nb, size_t nt, size_t ld, size_t bstride, size_t n_head)
{
    if (nb == 0 || nt == 0) return 0;
    return (nb - 1) * bstride + (nt - 1) * ld + n_head * CW_HEAD_DIM;
}

/* Elements spanned by the I8 layout's X[b, t, h] (or its steps, with ld 1
 * and 1 element a row). */
static size_t attn_span_i8(size_t nb, size_t nt, size_t ld, size_t hstride, size_t bstride, size_t n_head,
                           size_t row)
{
    if (nb == 0 || nt == 0 || n_head == 0) return 0;
    return (nb - 1) * bstride + (n_head - 1) * hstride + (nt - 1) * ld + row;
}

/* The I8 operands: K, V and their steps' pointers into p, or CW_ERR_INVALID_ARG. */
static cw_status attn_i8_ptrs(const cw_attn *a, size_t kv_b, cw_attn_ptrs *p)
{
    size_t H = a->n_head;
    if (a->k_ld < CW_HEAD_DIM || a->v_ld < CW_HEAD_DIM)
        return cw_error(CW_ERR_INVALID_ARG, "attention: an int8 K/V row stride is below 64");
    size_t k_n = attn_span_i8(kv_b, a->nkv, a->k_ld, a->k_hstride, a->k_bstride, H, CW_HEAD_DIM);
    size_t v_n = attn_span_i8(kv_b, a->nkv, a->v_ld, a->v_hstride, a->v_bstride, H, CW_HEAD_DIM);
    size_t s_n = attn_span_i8(kv_b, a->nkv, 1, a->s_hstride, a->s_bstride, H, 1);
    const float *k = ref_ptr(a->k, (k_n + 3) / 4, "attention k"), *v = ref_ptr(a->v, (v_n + 3) / 4, "attention v");
    const float *ks = ref_ptr(a->k_step, s_n, "attention k steps"), *vs = ref_ptr(a->v_step, s_n, "attention v steps");
    if (!k || !v || !ks || !vs) return CW_ERR_INVALID_ARG;
    p->k8 = (const int8_t *)(const void *)k, p->v8 = (const int8_t *)(const void *)v;
    p->ks = ks, p->vs = vs;
    return CW_OK;
}

static cw_status cpu_attention(cw_backend *be, const cw_attn *a)
{
    size_t B = a->n_batch, H = a->n_head, hd = H * CW_HEAD_DIM;
    int kv8 = a->kv_dtype == CW_DTYPE_I8;
    if (a->q_ld < hd || a->o_ld < hd || (!kv8 && (a->k_ld < hd || a->v_ld < hd)))
        return cw_error(CW_ERR_INVALID_ARG, "attention: a row stride is below H*64 = %zu", hd);
    if (a->kv_dtype != CW_DTYPE_F32 && a->kv_dtype != CW_DTYPE_BF16 && !kv8)
        return cw_error(CW_ERR_INVALID_ARG, "attention: K/V dtype %d is none of F32, BF16, I8", (int)a->kv_dtype);
    int kv16 = a->kv_dtype == CW_DTYPE_BF16;
    /* per-sequence fields: K/V reach slot max(kv_item), keys max(b_nkv) */
    size_t kv_b = B;
    if (a->kv_item) {
        kv_b = 0;
        for (size_t b = 0; b < B; b++) kv_b = a->kv_item[b] + 1 > kv_b ? a->kv_item[b] + 1 : kv_b;
    }
    for (size_t b = 0; a->b_nkv && b < B; b++)
        if (a->b_nkv[b] > a->nkv)
            return cw_error(CW_ERR_INVALID_ARG, "attention: sequence %zu has %zu keys, nkv %zu", b, a->b_nkv[b], a->nkv);
    float *o = ref_ptr(a->o, attn_span(B, a->nq, a->o_ld, a->o_bstride, H), "attention o");
    const float *q = ref_ptr(a->q, attn_span(B, a->nq, a->q_ld, a->q_bstride, H), "attention q");
    if (!o || !q) return CW_ERR_INVALID_ARG;
    cw_cpu_state *st = state(be);
    cw_attn_ptrs p = { a, o, q, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ++st->attn_calls };
    if (kv8) {
        if (attn_i8_ptrs(a, kv_b, &p)) return CW_ERR_INVALID_ARG;
    } else {
        /* bf16 K/V: elements 2 * off onwards, half a float32 slot each */
        size_t k_n = attn_span(kv_b, a->nkv, a->k_ld, a->k_bstride, H);
        size_t v_n = attn_span(kv_b, a->nkv, a->v_ld, a->v_bstride, H);
        const float *k = ref_ptr(a->k, kv16 ? (k_n + 1) / 2 : k_n, "attention k");
        const float *v = ref_ptr(a->v, kv16 ? (v_n + 1) / 2 : v_n, "attention v");
        if (!k || !v) return CW_ERR_INVALID_ARG;
        if (kv16) p.k16 = (const uint16_t *)(const void *)k, p.v16 = (const uint16_t *)(const void *)v;
        else p.k = k, p.v = v;
    }
    if (B == 0 || H == 0 || a->nq == 0) return CW_OK;
    /* lowp: attention in bf16 where a kernel exists (lowp.h) */
    int lowp = st->lowp && st->k.attention_lowp;
    size_t per = lowp ? st->k.attn_lowp_scratch_floats(a) : st->k.attn_scratch_floats(a);
    if (kv16 || kv8) per += 2 * a->nkv * CW_HEAD_DIM; /* attn_item_widened */
    /* the lowp kernels flush subnormals: exp of far-below-max scores underflows */
    attn_job j = { &p, &st->k, lowp ? st->k.attention_lowp : st->k.attention, NULL, round16(per) + 16, 0, 0, lowp };
    j.n_blocks = (a->nq + st->k.attn_block - 1) / st->k.attn_block;
    j.n_items = B * H * j.n_blocks;
    if (!(j.scratch = scratch_get(st, j.per * (size_t)cw_threadpool_size(be->pool)))) return CW_ERR_NOMEM;
    cw_threadpool_run(be->pool, attn_worker, &j);
    return CW_OK;
}

/* ---- row-wise ------------------------------------------------------------------ */

typedef struct {
    const cw_cpu_kernels *k;
    float *y;
    const float *x, *gamma, *beta;
    size_t rows, cols;
    float eps, scale;
    const cw_mask *mask;
    int flush;              /* subnormals flushed (fpenv.h) */
} rows_job;

static void rows_range(int ith, int nth, size_t rows, size_t *r0, size_t *r1)
{
    *r0 = rows * (size_t)ith / (size_t)nth;
    *r1 = rows * (size_t)(ith + 1) / (size_t)nth;
}

static void layernorm_worker(int ith, int nth, void *arg)
{
    const rows_job *j = arg;
    size_t r0, r1;
    rows_range(ith, nth, j->rows, &r0, &r1);
    if (r0 < r1)
        j->k->layernorm(j->y + r0 * j->cols, j->x + r0 * j->cols, j->gamma, j->beta, r1 - r0, j->cols, j->eps);
}

static cw_status cpu_layernorm(cw_backend *be, cw_ref y, cw_ref x, cw_ref gamma, cw_ref beta,
                               size_t rows, size_t cols, float eps)
{
    int ok = 1;
    rows_job j = { &state(be)->k, ref_ptr(y, mul(rows, cols), "layernorm y"), ref_ptr(x, mul(rows, cols), "layernorm x"),
                   opt_ptr(gamma, cols, "layernorm gamma", &ok), opt_ptr(beta, cols, "layernorm beta", &ok),
                   rows, cols, eps, 0, NULL, 0 };
    if (!j.y || !j.x || !ok) return CW_ERR_INVALID_ARG;
    if (rows && cols) pool_run(be, layernorm_worker, &j, mul(rows, cols));
    return CW_OK;
}

static void softmax_worker(int ith, int nth, void *arg)
{
    const rows_job *j = arg;
    size_t r0, r1;
    rows_range(ith, nth, j->rows, &r0, &r1);
    if (r0 < r1) j->k->softmax(j->y + r0 * j->cols, j->x + r0 * j->cols, r0, r1, j->cols, j->scale, j->mask);
}

static cw_status cpu_softmax(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols, float scale,
                             const cw_mask *mask)
{
    rows_job j = { &state(be)->k, ref_ptr(y, mul(rows, cols), "softmax y"), ref_ptr(x, mul(rows, cols), "softmax x"),
                   NULL, NULL, rows, cols, 0, scale, mask, 0 };
    if (!j.y || !j.x) return CW_ERR_INVALID_ARG;
    if (rows && cols) pool_run(be, softmax_worker, &j, mul(rows, cols));
    return CW_OK;
}

/* ---- elementwise ---------------------------------------------------------------- */

/* Thread ith's share [c0, c1) of n elements, in whole chunks of 64. */
static void chunks_range(int ith, int nth, size_t n, size_t *c0, size_t *c1)
{
    rows_range(ith, nth, (n + 63) / 64, c0, c1);
    *c0 *= 64;
    *c1 = *c1 * 64 < n ? *c1 * 64 : n;
}

static void gelu_worker(int ith, int nth, void *arg)
{
    const rows_job *j = arg; /* cols = n */
    size_t c0, c1;
    chunks_range(ith, nth, j->cols, &c0, &c1);
    if (c0 >= c1) return;
    unsigned csr = j->flush ? cw_flush_subnormals_begin() : 0;
    j->k->gelu(j->y + c0, c1 - c0);
    if (j->flush) cw_flush_subnormals_end(csr);
}

static cw_status cpu_gelu(cw_backend *be, cw_ref x, size_t n)
{
    /* subnormals flushed: 10x faster on the encoder's MLP (fpenv.h) */
    rows_job j = { &state(be)->k, ref_ptr(x, n, "gelu x"), NULL, NULL, NULL, 0, n, 0, 0, NULL, 1 };
    if (!j.y) return CW_ERR_INVALID_ARG;
    if (n) pool_run(be, gelu_worker, &j, n);
    return CW_OK;
}

/* Memory-bound loops the compiler vectorises; not worth SIMD code. The add
 * runs over the pool in chunks of 64: the encoder's residual adds ([1500, d]
 * each, two a layer) were a window's longest serial stretches; the others
 * stay on the calling thread. */
typedef struct {
    float *y;
    const float *a, *b;
    size_t n;
} add_job;

static void add_worker(int ith, int nth, void *arg)
{
    const add_job *j = arg;
    size_t c0, c1;
    chunks_range(ith, nth, j->n, &c0, &c1);
    for (size_t i = c0; i < c1; i++) j->y[i] = j->a[i] + j->b[i];
}

static cw_status cpu_add(cw_backend *be, cw_ref y, cw_ref a, cw_ref b, size_t n)
{
    add_job j = { ref_ptr(y, n, "add y"), ref_ptr(a, n, "add a"), ref_ptr(b, n, "add b"), n };
    if (!j.y || !j.a || !j.b) return CW_ERR_INVALID_ARG;
    if (n) pool_run(be, add_worker, &j, n);
    return CW_OK;
}

static cw_status cpu_add_bcast(cw_backend *be, cw_ref y, cw_ref x, cw_ref r, size_t outer, size_t inner)
{
    (void)be;
    float *py = ref_ptr(y, mul(outer, inner), "add_bcast y");
    const float *px = ref_ptr(x, mul(outer, inner), "add_bcast x"), *pr = ref_ptr(r, inner, "add_bcast r");
    if (!py || !px || !pr) return CW_ERR_INVALID_ARG;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) py[o * inner + i] = px[o * inner + i] + pr[i];
    return CW_OK;
}

/* ---- gathers and copies ------------------------------------------------------------ */

static cw_status cpu_embedding(cw_backend *be, cw_ref y, const cw_weight *t, const int32_t *ids, size_t n)
{
    cw_status s = check_weight(t);
    if (s != CW_OK) return cw_error_prefix(s, "embedding");
    size_t d = t->cols, es = cw_dtype_size(t->dtype);
    float *py = ref_ptr(y, mul(n, d), "embedding y");
    if (!py) return CW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->rows)
            return cw_error(CW_ERR_INVALID_ARG, "embedding: id %ld outside [0, %zu)", (long)ids[i], t->rows);
        size_t row = (size_t)ids[i];
        float sc = t->dtype == CW_DTYPE_I8 ? ((const float *)t->scale->data)[row] : 1.0f;
        state(be)->k.to_f32(py + i * d, (const char *)weight_ptr(t) + row * d * es, t->dtype, sc, d);
    }
    return CW_OK;
}

static cw_status cpu_copy2d(cw_backend *be, cw_ref y, size_t y_ld, cw_ref x, size_t x_ld, size_t rows, size_t cols)
{
    (void)be;
    if (rows == 0 || cols == 0) return CW_OK;
    if (y_ld < cols || x_ld < cols) return cw_error(CW_ERR_INVALID_ARG, "copy2d: row stride below %zu", cols);
    float *py = ref_ptr(y, (rows - 1) * y_ld + cols, "copy2d y");
    const float *px = ref_ptr(x, (rows - 1) * x_ld + cols, "copy2d x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    for (size_t r = 0; r < rows; r++) memmove(py + r * y_ld, px + r * x_ld, cols * sizeof *py);
    return CW_OK;
}

static cw_status cpu_transpose(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols)
{
    float *py = ref_ptr(y, mul(rows, cols), "transpose y");
    const float *px = ref_ptr(x, mul(rows, cols), "transpose x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    transpose_plain(be, py, px, rows, cols);
    return CW_OK;
}

static cw_status cpu_narrow(cw_backend *be, cw_ref y, cw_dtype dtype, cw_ref x, size_t n)
{
    (void)be;
    if (dtype != CW_DTYPE_BF16) return cw_error(CW_ERR_INVALID_ARG, "narrow: dtype %d is not BF16", (int)dtype);
    uint16_t *py = (uint16_t *)(void *)ref_ptr(y, (n + 1) / 2, "narrow y");
    const float *px = ref_ptr(x, n, "narrow x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) py[i] = cw_f32_to_bf16(px[i]);
    return CW_OK;
}

typedef struct {
    cw_quant_rows_fn quant;
    int8_t *y;
    float *step;
    const float *x;
    size_t rows, n_head;
} qheads_job;

/* Rows of x split between threads; each (row, head) segment through the
 * lowp row quantizer, so the integers are those of int8 activations. */
static void qheads_worker(int ith, int nth, void *arg)
{
    const qheads_job *j = arg;
    size_t r0, r1, H = j->n_head;
    rows_range(ith, nth, j->rows, &r0, &r1);
    for (size_t t = r0; t < r1; t++)
        for (size_t h = 0; h < H; h++) {
            float s;
            j->quant(j->y + (h * j->rows + t) * CW_HEAD_DIM, &s, j->x + (t * H + h) * CW_HEAD_DIM, 1, CW_HEAD_DIM,
                     CW_HEAD_DIM);
            j->step[h * j->rows + t] = 1.0f / s;
        }
}

static cw_status cpu_quantize_heads(cw_backend *be, cw_ref y, cw_ref step, cw_ref x, size_t rows, size_t n_head)
{
    size_t n = mul(rows, mul(n_head, CW_HEAD_DIM));
    float *py = ref_ptr(y, n / 4 + (n % 4 != 0), "quantize_heads y");
    float *ps = ref_ptr(step, mul(rows, n_head), "quantize_heads step");
    const float *px = ref_ptr(x, n, "quantize_heads x");
    if (!py || !ps || !px) return CW_ERR_INVALID_ARG;
    cw_cpu_state *st = state(be);
    qheads_job j = { st->k.quant_rows ? st->k.quant_rows : cw_ref_quant_rows, (int8_t *)(void *)py, ps, px, rows,
                     n_head };
    cw_threadpool_run(be->pool, qheads_worker, &j);
    return CW_OK;
}

/* ---- the handle ----------------------------------------------------------------- */

static void cpu_destroy(cw_backend *be)
{
    cw_cpu_state *st = state(be);
    if (st) {
        free(st->scratch);
        cw_cpu_screen_free(&st->screen);
    }
    free(st);
    cw_threadpool_free(be->pool);
    free(be);
}

static const cw_backend_ops cpu_ops = {
    .name = "cpu",
    .buf_alloc = cpu_buf_alloc, .buf_wrap = cpu_buf_wrap, .buf_free = cpu_buf_free,
    .buf_size = cpu_buf_size, .upload = cpu_upload, .download = cpu_download,
    .linear = cpu_linear, .linear_rows = cpu_linear_rows, .linear_gelu = cpu_linear_gelu, .logits = cpu_logits,
    .prepare_weight = cpu_prepare_weight, .conv1d = cpu_conv1d, .attention = cpu_attention,
    .layernorm = cpu_layernorm, .softmax = cpu_softmax,
    .gelu = cpu_gelu, .add = cpu_add, .add_bcast = cpu_add_bcast,
    .embedding = cpu_embedding, .copy2d = cpu_copy2d, .transpose = cpu_transpose,
    .narrow = cpu_narrow,
    .quantize_heads = cpu_quantize_heads,
    .destroy = cpu_destroy,
};

cw_status cw_cpu_backend_create(const cw_backend_params *params, cw_backend **out)
{
    cw_backend *be = cw_calloc(1, sizeof *be);
    cw_cpu_state *st = cw_calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return CW_ERR_NOMEM;
    }
    be->ops = &cpu_ops;
    be->impl = st;
    cw_isa isa = params->isa;
    /* CW_ISA=avx2 (or ref): the kernels a CPU without AVX-512 (or without
     * SIMD) runs, on one with it, to measure and test them there */
    const char *env = isa == CW_ISA_AUTO ? getenv("CW_ISA") : NULL;
    if (env && strcmp(env, "avx2") == 0) isa = CW_ISA_AVX2;
    else if (env && strcmp(env, "ref") == 0) isa = CW_ISA_REF;
    cw_status s = cw_cpu_select_kernels(isa, &st->k);
    if (s != CW_OK) {
        cpu_destroy(be);
        return s;
    }
    be->desc = st->k.name;
    st->lowp = params->lowp != 0;
    if (st->lowp) {
        cw_cpu_select_lowp(isa, params->attn_i8, &st->k);
        be->lowp_i8_desc = st->k.gemm_i8_name;
        be->lowp_bf16_desc = st->k.gemm_bf16_name;
        be->lowp_attn_desc = st->k.attention_lowp_name;
        /* CW_LOGITS_SCREEN=0: every logit exact (to compare) */
        const char *sc = getenv("CW_LOGITS_SCREEN");
        st->screen_on = !(sc && strcmp(sc, "0") == 0);
        if (st->screen_on) be->logits_screen_desc = st->k.screen_i4_name;
    }
    int n = params->n_threads > 0 ? params->n_threads : cw_cpu_count();
    if (n > 1 && !(be->pool = cw_threadpool_create(n))) {
        cpu_destroy(be);
        return CW_ERR_NOMEM;
    }
    *out = be;
    return CW_OK;
}
