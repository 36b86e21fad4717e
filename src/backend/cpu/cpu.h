/* Internals of the CPU back end: the buffer struct, the kernel table that ISA
 * dispatch fills (one per backend handle, no globals), and the kernels'
 * declarations. Every kernel works on a slice (rows, columns or heads) and is
 * single-threaded; cpu_backend.c splits ops over the thread pool, so the
 * result of every kernel is the same whatever the thread count. */
#ifndef CW_BACKEND_CPU_H
#define CW_BACKEND_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/cpu/lowp.h"
#include "util/half.h"

struct cw_buf {
    void *data;
    size_t size;  /* bytes */
    int owned;    /* 0: wraps caller memory (buf_wrap) */
};

/* One matrix product C [m, n] = A [m, k] . B (+ bias [n]) where B is either
 * W^T with W [n, k] of any dtype (b_kn == 0, a Linear layer, Q.K^T), or a
 * float32 [k, n] matrix (b_kn == 1, P.V in attention). */
typedef struct {
    size_t m, n, k;
    const float *a; size_t lda;  /* [m, k] */
    const void *b; size_t ldb;   /* [n, k] of bt, or [k, n] f32 */
    cw_dtype bt;
    int b_kn;
    const float *scale;          /* I8: [n], w = q / scale */
    const float *bias;           /* [n] or NULL */
    float *c; size_t ldc;        /* [m, n] */
    /* Rows that choose the kernel's shape (0: m): every row of C is what a
     * product of m_class rows gives it, however many rows m holds, so rows
     * of several decodings batched together keep the bits they have alone
     * (cw_backend_ops.linear_rows). */
    size_t m_class;
    /* NULL, or an elementwise function (the kernel table's gelu_block)
     * every kernel applies in place to each value of C once it is final,
     * while its tile is still in cache: linear_gelu, bit for bit a product
     * and then cpu_gelu over C. */
    cw_post_fn post;
    /* BF16 with the kernel table's pack_bf16 (NULL: none): W packed whole by
     * it, and A's rows as bf16 by pack_bf16_rows in a16, blocks of 32 rows
     * laid out as tiles (cw_a16_at; rows up to m rounded up to 32 readable,
     * any values past m); the kernel reads these, not a. */
    const void *bp;
    const uint16_t *a16; size_t lda16;
    /* I8: W as the kernel table's prepack_i8 made it once (cw_i8_gemm.wp), or NULL */
    const uint8_t *wp;
} cw_gemm;

static inline size_t cw_gemm_class(const cw_gemm *g) { return g->m_class ? g->m_class : g->m; }

/* Element (i, p) of cw_gemm.a16 (lda: k rounded up to 32): blocks of 32
 * rows, each [lda / 32][2][16][32], so that every 16 x 32 tile the AMX
 * kernel loads is 1 KiB in one piece. Rows strided by lda put the 16 rows of
 * a tile a power of two apart, on few cache sets, and the tile loads missed
 * L1 for it. */
static inline size_t cw_a16_at(size_t i, size_t p, size_t lda)
{
    return (i / 32) * 32 * lda + (p / 32) * 1024 + (i % 32 / 16) * 512 + (i % 16) * 32 + p % 32;
}

/* Attention work item: one (batch, head) pair and query rows [i0, i1). */
typedef struct {
    const cw_attn *a;
    float *o; const float *q, *k, *v; /* resolved base pointers */
    /* kv_dtype BF16: k and v are NULL and these hold K and V (element
     * strides as the cw_attn says); only a kernel with attn_kv16 gets them */
    const uint16_t *k16, *v16;
    /* kv_dtype I8: k and v are NULL and these hold K, V and their steps
     * (strides as the cw_attn says); only a kernel with attn_kv8_rows gets them */
    const int8_t *k8, *v8;
    const float *ks, *vs;
    /* unique per op call, or 0: lets a kernel keep per-head work (the bf16
     * K and V) in its thread's scratch from one item to the next */
    size_t call_id;
} cw_attn_ptrs;

typedef struct {
    const char *name;
    /* C [m0:m1, n0:n1] of g. scratch: cw_gemm_scratch_floats() floats. */
    void (*gemm)(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
    size_t (*gemm_scratch_floats)(const cw_gemm *g);
    /* the gemm's register tile: thread slices are whole mr-row strips or
     * nr-column panels (0: 6 and 16) */
    size_t gemm_mr, gemm_nr;
    /* rows of y [rows, cols] */
    void (*layernorm)(float *y, const float *x, const float *gamma, const float *beta,
                      size_t rows, size_t cols, float eps);
    /* rows [r0, r1) of the softmax op; y and x point at row r0 (the row
     * index itself matters for the causal mask) */
    void (*softmax)(float *y, const float *x, size_t r0, size_t r1, size_t cols,
                    float scale, const cw_mask *mask);
    void (*gelu)(float *x, size_t n);
    cw_post_fn gelu_block; /* gelu on a strided block, subnormals flushed as cpu_gelu */
    /* y [n] = float32 of x [n] of dtype dt (I8 rows need scale: w = q / scale) */
    void (*to_f32)(float *y, const void *x, cw_dtype dt, float scale, size_t n);
    /* head bh = b*H + h, query rows [i0, i1); scratch: attn_scratch_floats() */
    void (*attention)(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
    size_t (*attn_scratch_floats)(const cw_attn *a);
    size_t attn_block; /* query rows per work item */
    /* blocks of at most this many query rows the attention kernel takes with
     * bf16 K/V (cw_attn_ptrs.k16) itself; others get K/V widened to float32
     * first (0: always widened) */
    size_t attn_kv16_rows;
    /* the same for int8 K/V in the head-major layout (cw_attn_ptrs.k8) */
    size_t attn_kv8_rows;
    /* lowp mode (lowp.h), filled by cw_cpu_select_lowp; names for logs */
    cw_quant_rows_fn quant_rows;
    cw_bf16_round_fn bf16_round;
    cw_gemm_i8_fn gemm_i8;
    const char *gemm_i8_name;
    /* Optional (NULL): W packed once per product of more than pack_i8_min_m
     * rows (m_class), for gemm_i8 to read from cw_i8_gemm.bp; bytes, and
     * column blocks [b0, b1) of pack_i8_cols (any split of the blocks). */
    size_t (*pack_i8_bytes)(const cw_i8_gemm *g);
    void (*pack_i8)(const cw_i8_gemm *g, size_t b0, size_t b1, int8_t *bp);
    size_t pack_i8_cols, pack_i8_min_m;
    /* Optional (NULL): W made once, at load (cw_backend_ops.prepare_weight),
     * for gemm_i8 to read from cw_i8_gemm.wp in products of any rows; bytes
     * for W [n, k], and its column blocks [b0, b1) of prepack_i8_cols. */
    size_t (*prepack_i8_bytes)(size_t n, size_t k);
    void (*prepack_i8)(const int8_t *w, size_t ldw, size_t n, size_t k, size_t b0, size_t b1, uint8_t *wp);
    size_t prepack_i8_cols;
    /* Optional (NULL), as pack_i8 for the BF16 product of more than
     * pack_bf16_min_m rows: W packed once (cw_gemm.bp; column blocks of
     * pack_bf16_cols) and A's rows converted once (cw_gemm.a16, rows of k
     * rounded up to 32 elements) for every thread's slice. */
    size_t (*pack_bf16_bytes)(const cw_gemm *g);
    void (*pack_bf16)(const cw_gemm *g, size_t b0, size_t b1, void *bp);
    void (*pack_bf16_rows)(uint16_t *a16, size_t lda, const float *x, size_t r0, size_t rows, size_t k);
    size_t pack_bf16_cols, pack_bf16_min_m;
    /* the BF16 product on rounded activations (a cw_gemm with bt BF16) */
    void (*gemm_bf16)(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
    size_t (*gemm_bf16_scratch_floats)(const cw_gemm *g);
    const char *gemm_bf16_name;
    /* attention in bf16 (lowp.h), or NULL: attention stays float32. Its work
     * items are attn_block query rows, as attention's. */
    void (*attention_lowp)(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
    size_t (*attn_lowp_scratch_floats)(const cw_attn *a);
    const char *attention_lowp_name;
    /* the int4 screen of the logits op (lowp.h), or NULL: logits as linear */
    cw_screen_i4_fn screen_i4;
    const char *screen_i4_name;
} cw_cpu_kernels;

/* The logits op's screen (logits.c): the 4-bit copy of the int8 rows it was
 * last asked for, rebuilt when the weight changes. */
typedef struct {
    const void *wdata; /* the int8 or bf16 rows it was made from */
    uint8_t *q;
    uint16_t *d;
    cw_i4_screen s;
} cw_cpu_screen;

/* sc = the screen of w [n, k] (w = q / wscale); frees what sc held. */
cw_status cw_cpu_screen_build(cw_cpu_screen *sc, const int8_t *w, const float *wscale, size_t n, size_t k);
/* sc = the screen of a BF16 w [n, k], its rows quantized to int8 first. */
cw_status cw_cpu_screen_build_bf16(cw_cpu_screen *sc, const uint16_t *w, size_t n, size_t k);
void cw_cpu_screen_free(cw_cpu_screen *sc);
/* The same in parts, for threads: sc's buffers for the n rows of k of w (int8
 * or bf16; frees what sc held), then rows [r0, r1) of it, each the bytes the
 * whole build gives them (wscale: the int8 w's scales, NULL for bf16, which
 * uses f [k] and q [k] as scratch). */
cw_status cw_cpu_screen_alloc(cw_cpu_screen *sc, const void *w, size_t n, size_t k);
void cw_cpu_screen_rows(cw_cpu_screen *sc, const float *wscale, size_t r0, size_t r1, float *f, int8_t *q);
/* idx [keep], val [keep] = the min(keep, n) largest entries of y [n] and
 * their indices, in no order; returns how many. */
size_t cw_cpu_top(const float *y, size_t n, size_t keep, uint32_t *idx, float *val);

/* Fills k for isa (CW_ISA_AUTO: the best this CPU supports). Returns
 * CW_ERR_UNSUPPORTED if the CPU lacks the requested ISA. */
cw_status cw_cpu_select_kernels(cw_isa isa, cw_cpu_kernels *k);

/* Fills k's lowp slots for isa (after cw_cpu_select_kernels); CW_ISA_AUTO:
 * the best lowp kernels this CPU has (AMX off with CW_AMX=0 in the
 * environment), CW_ISA_AVX2: the AVX2 ones. attn_i8: attention in int8
 * (cw_backend_params.attn_i8) where this CPU has a kernel for it. */
void cw_cpu_select_lowp(cw_isa isa, int attn_i8, cw_cpu_kernels *k);

/* Reference kernels (ref.c): plain loops, double accumulation. */
void cw_ref_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
size_t cw_ref_gemm_scratch_floats(const cw_gemm *g);
void cw_ref_layernorm(float *y, const float *x, const float *gamma, const float *beta,
                      size_t rows, size_t cols, float eps);
void cw_ref_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols,
                    float scale, const cw_mask *mask);
void cw_ref_gelu(float *x, size_t n);
void cw_ref_gelu_block(float *c, size_t ldc, size_t rows, size_t cols);
void cw_ref_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n);
void cw_ref_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
/* cw_ref_attention with every product input passed through rnd (a rounding
 * to a narrower type, for the lowp reference). */
void cw_ref_attention_rounded(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch,
                              double (*rnd)(float));
size_t cw_ref_attn_scratch_floats(const cw_attn *a);
/* Attention in bf16 (lowp.h, lowp_ref.c); scratch: cw_ref_attn_scratch_floats. */
void cw_ref_attention_lowp(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
/* int8 attention (lowp.h) of any block, the mask honoured; scratch: nkv floats. */
void cw_ref_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);

/* Scalar conversions shared by the kernels. */

/* Is column j of row i masked out? */
static inline int cw_mask_hides(const cw_mask *m, size_t i, size_t j)
{
    if (!m) return 0;
    if (m->n_valid && j >= m->n_valid) return 1;
    return m->causal && j > i + m->offset;
}

/* Columns [0, n) of row i that the mask keeps form a prefix: its length. */
static inline size_t cw_mask_keep(const cw_mask *m, size_t i, size_t cols)
{
    size_t n = cols;
    if (!m) return n;
    if (m->n_valid && m->n_valid < n) n = m->n_valid;
    if (m->causal && i + m->offset + 1 < n) n = i + m->offset + 1;
    return n;
}

/* Rows [r0, r1) of a softmax op (cw_backend_ops.softmax) through a kernel's
 * row function, which writes y [cols] from the kept prefix x [keep] (keep
 * > 0) and zeros; rows with nothing kept are zeros. */
typedef void (*cw_softmax_row_fn)(float *y, const float *x, size_t keep, size_t cols, float scale);
static inline void cw_softmax_rows(float *y, const float *x, size_t r0, size_t r1, size_t cols, float scale,
                                   const cw_mask *mask, cw_softmax_row_fn row)
{
    for (size_t r = r0; r < r1; r++) {
        float *yr = y + (r - r0) * cols;
        size_t keep = cw_mask_keep(mask, r, cols);
        if (keep == 0) {
            for (size_t c = 0; c < cols; c++) yr[c] = 0.0f;
            continue;
        }
        row(yr, x + (r - r0) * cols, keep, cols, scale);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define CW_HAVE_X86 1
/* AVX2 + FMA + F16C kernels (avx2_gemm.c, avx2_vec.c). */
void cw_avx2_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
size_t cw_avx2_gemm_scratch_floats(const cw_gemm *g);
void cw_avx2_layernorm(float *y, const float *x, const float *gamma, const float *beta,
                       size_t rows, size_t cols, float eps);
void cw_avx2_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols,
                     float scale, const cw_mask *mask);
void cw_avx2_gelu(float *x, size_t n);
void cw_avx2_gelu_block(float *c, size_t ldc, size_t rows, size_t cols);
void cw_avx2_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n);
void cw_avx2_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx2_attn_scratch_floats(const cw_attn *a);
/* blocks of up to this many query rows: dot products reading K/V in place,
 * float32, bf16 or int8 (attn_kv16_rows, attn_kv8_rows) */
extern const size_t cw_avx2_attn_few;
/* Attention in int8 (lowp.h) with AVX2 alone (avx2_attn_i8.c: vpmaddubsw
 * and vpmaddwd); blocks it does not take (causal ones, fewer than 16 rows,
 * bf16 or int8 K/V) go to cw_avx2_attention. Same attn_block. */
void cw_avx2_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx2_attn_i8_scratch_floats(const cw_attn *a);
/* AVX-512 F/BW/VL/DQ kernels (avx512_gemm.c, avx512_vec.c): the products,
 * attention on them, to_f32 and GELU; the AVX2 layernorm and softmax serve
 * the avx512 table too (a few % of the encoder profile: not rewritten). */
extern const size_t cw_avx512_gemm_mr, cw_avx512_gemm_nr, cw_avx512_gemv_max_m;
size_t cw_avx512_k_block(size_t k); /* the GEMM's k block for depth k */
void cw_avx512_gemm(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
size_t cw_avx512_gemm_scratch_floats(const cw_gemm *g);
void cw_avx512_to_f32(float *y, const void *x, cw_dtype dt, float scale, size_t n);
void cw_avx512_attention(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx512_attn_scratch_floats(const cw_attn *a);
void cw_avx512_gelu(float *x, size_t n); /* lane for lane cw_avx2_gelu's bits */
void cw_avx512_gelu_block(float *c, size_t ldc, size_t rows, size_t cols);
/* cw_avx2_softmax's bits, 16 lanes at a time */
void cw_avx512_softmax(float *y, const float *x, size_t r0, size_t r1, size_t cols, float scale, const cw_mask *mask);
extern const size_t cw_avx512_attn_block;
/* blocks of up to this many query rows: dot products read K/V in place,
 * float32, bf16 or int8 (attn_kv16_rows, attn_kv8_rows) */
extern const size_t cw_avx512_attn_few;
/* The lowp BF16 product with vdpbf16ps (avx512_lowp.c; AVX512-BF16). */
void cw_avx512_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
size_t cw_avx512_gemm_bf16_scratch_floats(const cw_gemm *g);
/* Attention in bf16 (lowp.h) on that product; blocks under
 * cw_avx512_attn_lowp_min_rows query rows fall back to cw_avx512_attention.
 * Same attn_block as cw_avx512_attention. */
extern const size_t cw_avx512_attn_lowp_min_rows;
void cw_avx512_attention_bf16(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx512_attn_bf16_scratch_floats(const cw_attn *a);
/* Its pieces that the AMX attention shares: d [64] = bf16 (nearest even) of
 * x [64]; P [2 tp] = bf16 of softmax(scale x [keep]) then zeros (x is
 * overwritten with the exponentials). */
void cw_avx512_bf16_row64(uint16_t *d, const float *x);
void cw_avx512_softmax_bf16(uint16_t *p, float *x, size_t keep, size_t tp, float scale);
/* Attention in int8 (lowp.h) with vpdpbusd (avx512_attn_i8.c; AVX512-VNNI,
 * and AVX512-BF16 for the blocks it leaves to cw_avx512_attention_bf16:
 * causal ones, fewer than cw_avx512_attn_lowp_min_rows rows, bf16 or int8 K/V).
 * Same attn_block. */
void cw_avx512_attention_i8(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx512_attn_i8_scratch_floats(const cw_attn *a);
/* Their names in the back end's description (--verbose), which the tests
 * match to tell which of the two the dispatch chose. */
#define CW_ATTN_I8_BF16_NAME "avx512-vnni int8 (16+ rows, no mask), avx512-bf16"
#define CW_ATTN_I8_F32_NAME "avx512-vnni int8 (16+ rows, no mask), float32"
/* The same with the float32 cw_avx512_attention for the other blocks: AVX512-
 * VNNI without AVX512-BF16 (Cascade Lake). */
void cw_avx512_attention_i8_f32(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_avx512_attn_i8_f32_scratch_floats(const cw_attn *a);
#endif
#ifdef CW_HAVE_AMX
/* The lowp BF16 product with AMX-BF16 for m > 8 (amx_gemm.c), AVX-512 below. */
void cw_amx_gemm_bf16(const cw_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1, float *scratch);
/* Its operands made once per product (cw_gemm.bp, .a16): the bytes of the
 * packed W and its column blocks [b0, b1) of CW_AMX_PACK_COLS columns; rows
 * [r0, r0 + rows) of a16 (cw_a16_at; lda: k rounded up to 32, zeros past k)
 * from x [rows, k] as bf16. */
size_t cw_amx_pack_bf16_bytes(const cw_gemm *g);
void cw_amx_pack_bf16(const cw_gemm *g, size_t b0, size_t b1, void *bp);
void cw_amx_bf16_rows(uint16_t *a16, size_t lda, const float *x, size_t r0, size_t rows, size_t k);
/* bf16 attention with AMX-BF16 (amx_attn.c): cw_avx512_attention_bf16's
 * rounding and work items; blocks of fewer than 16 rows go to it. */
void cw_amx_attention_bf16(const cw_attn_ptrs *p, size_t bh, size_t i0, size_t i1, float *scratch);
size_t cw_amx_attn_bf16_scratch_floats(const cw_attn *a);
#endif

#endif
