/* The back-end op table: every computation the network (src/nn/) performs goes
 * through a cw_backend, chosen once per context. The CPU back end
 * (src/backend/cpu/) implements it now; a CUDA back end will implement the same
 * table later, so nothing here may assume host memory:
 *
 *   - memory lives in opaque cw_buf objects; nn/ creates, fills and reads them
 *     only through buf_alloc / buf_wrap / upload / download;
 *   - an op argument is a cw_ref, a buffer plus an offset counted in float32
 *     elements (activations are always float32), so nn/ can address a row or a
 *     KV-cache position without ever holding a pointer into the buffer;
 *   - weights are described by a cw_weight (dtype, [rows, cols], buffer, scales).
 *
 * Every op but buf_free / buf_size / destroy returns a cw_status (CW_OK,
 * CW_ERR_NOMEM when memory or scratch could not grow, CW_ERR_INVALID_ARG when
 * a view or weight does not fit its buffer), with cw_last_error() set. On the
 * CPU ops are synchronous; a CUDA back end may queue them until a download.
 * Outputs come first; all sizes are size_t; shapes are row-major, written as
 * [rows, cols]. Unless an op says so, outputs must not overlap inputs.
 * Nothing in this layer knows about Whisper.
 *
 * What a pre-LN self-attention block looks like from nn/ (d = H*64, n rows):
 *
 *   const cw_backend_ops *op = be->ops;
 *   op->layernorm(be, h, x, ln_g, ln_b, n, d, 1e-5f);      // h [n, d]
 *   op->linear(be, q, h, &wq, bq, n);                       // q [n, d]
 *   op->linear(be, kc, h, &wk, cw_ref_none(), n);           // rows of the K cache
 *   op->linear(be, vc, h, &wv, bv, n);
 *   op->attention(be, &(cw_attn){ .n_batch = 1, .n_head = H, .nq = n, .nkv = n,
 *       .o = a, .o_ld = d, .q = q, .q_ld = d, .k = kc, .k_ld = d, .v = vc, .v_ld = d,
 *       .scale = 0.125f });
 *   op->linear(be, h, a, &wo, bo, n);
 *   op->add(be, x, x, h, n * d);                            // residual
 */
#ifndef CW_BACKEND_H
#define CW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cwhisper.h"
#include "util/dtype.h"
#include "util/threadpool.h"

/* Weight element types: util/dtype.h. The back ends take F32, F16, BF16 and
 * I8 (with per-row float32 scales) weights. */

/* Memory owned by a back end (host memory on the CPU, device memory on CUDA). */
typedef struct cw_buf cw_buf;

/* A float32 view: element `off` of `buf` onwards. buf == NULL means "absent"
 * (an optional bias, gamma or beta). */
typedef struct {
    cw_buf *buf;
    size_t off; /* in float32 elements */
} cw_ref;

static inline cw_ref cw_ref_at(cw_buf *buf, size_t off) { return (cw_ref){ buf, off }; }
static inline cw_ref cw_ref_none(void) { return (cw_ref){ NULL, 0 }; }

/* A weight matrix [rows, cols], row-major, in any cw_dtype. A Linear layer's
 * W is [N = out, K = in]; a Conv1d weight [C_out, C_in, 3] is the matrix
 * [C_out, C_in * 3]; an embedding table is [n_vocab, d]. */
typedef struct {
    cw_dtype dtype;
    size_t rows, cols;
    const cw_buf *data;  /* [rows, cols] of dtype, from byte `offset` on */
    const cw_buf *scale; /* CW_DTYPE_I8 only: [rows] float32, from byte 0 */
    size_t offset;       /* bytes, a multiple of the dtype's size: many tensors
                            may share one buffer (one device allocation) */
    /* NULL, or what the back end's prepare_weight made of it: W again in a
     * layout of the back end's own kernels, which its linear ops may read
     * instead of data (the other ops read data) */
    const cw_buf *packed;
} cw_weight;

/* Softmax masks. Masked entries get probability exactly 0; a row whose
 * entries are all masked becomes all zeros (not NaN). */
typedef struct {
    int causal;     /* non-zero: row i keeps columns j <= i + offset */
    size_t offset;  /* causal: position of row 0 among the columns */
    size_t n_valid; /* columns >= n_valid are masked; 0 means all valid */
} cw_mask;

/* Multi-head attention for B sequences of H heads of dimension 64:
 *   O[b, i, h] = softmax_j(scale * Q[b, i, h] . K[b, j, h] + mask) V[b, j, h]
 * for i < nq, j < nkv. Each of Q, K, V, O is addressed as
 *   X[b, t, h] = x + b * x_bstride + t * x_ld + h * 64   (64 floats)
 * i.e. rows of all heads side by side, exactly the [n, H*64] output of a
 * Linear layer. That makes the KV cache layout:
 *
 *   K cache, V cache: [B, n_ctx_max, H*64]   (ld = H*64, bstride = n_ctx_max*ld)
 *
 * Self-attention grows it by writing the new tokens' rows at position nkv
 * (a linear op into cw_ref_at(cache, b*bstride + pos*ld), or copy2d); cross-
 * attention K/V are the [n_audio_ctx, H*64] products of the encoder output,
 * computed once per window and read with nkv = n_audio_ctx; with
 * k_bstride = v_bstride = 0 all B sequences (beams of one window) share them. */
typedef struct {
    size_t n_batch, n_head; /* B, H */
    size_t nq, nkv;         /* query rows and key/value rows per sequence */
    cw_ref o; size_t o_ld, o_bstride; /* [B, nq, H*64] (strided) */
    cw_ref q; size_t q_ld, q_bstride; /* [B, nq, H*64] */
    cw_ref k; size_t k_ld, k_bstride; /* [B, nkv, H*64] */
    cw_ref v; size_t v_ld, v_bstride; /* [B, nkv, H*64] */
    float scale;   /* usually 1/sqrt(64) */
    int causal;    /* non-zero: query i sees keys j <= q_pos + i */
    size_t q_pos;  /* causal: kv position of query 0 (the cache length before it) */
    /* F32 (0, the default), BF16 or I8 (below). BF16: K and V hold bf16
     * values (made by the narrow op); their ld and bstride then count bf16
     * elements, while the refs' offsets count float32 slots as everywhere
     * (element 2 * off). The decoder keeps its cross-attention K/V so in the
     * low-precision modes: a decoder step reads them whole for every token. */
    cw_dtype kv_dtype;
    /* kv_dtype I8 (the quantize_heads op's layout, which halves the bf16
     * bytes again): K and V hold int8 values, addressed per head rather than
     * per row of all heads,
     *   K[b, t, h] = k + b * k_bstride + h * k_hstride + t * k_ld  (64 int8)
     * (strides in int8 elements; the refs' offsets count float32 slots,
     * element 4 * off), each row times its step, a float32 at
     *   k_step + b * s_bstride + h * s_hstride + t
     * (and the same for V with v_hstride, v_step; kv_item picks the slot of
     * the steps too). F32 and BF16 ignore these. */
    size_t k_hstride, v_hstride;
    cw_ref k_step, v_step;
    size_t s_bstride, s_hstride;
    /* Per-sequence fields (NULL: the scalars above for every sequence), so
     * that sequences at different points of their decoding share one op:
     * sequence b reads the K/V of slot kv_item[b] (at k + kv_item[b] *
     * k_bstride) instead of slot b, has b_nkv[b] keys (<= nkv, which sizes
     * the op) and its causal query 0 at b_q_pos[b]. Each sequence's output
     * is then exactly that of an op holding it alone. */
    const size_t *kv_item, *b_nkv, *b_q_pos;
} cw_attn;

#define CW_HEAD_DIM 64

typedef struct cw_backend cw_backend;

typedef struct cw_backend_ops {
    const char *name; /* "cpu", "cuda" */

    /* ---- memory ---- */
    cw_status (*buf_alloc)(cw_backend *be, size_t bytes, cw_buf **out);
    /* A buffer holding `bytes` of host memory. The CPU back end aliases it (no
     * copy: `host` must outlive the buffer, e.g. a memory-mapped weight file);
     * a device back end copies it. */
    cw_status (*buf_wrap)(cw_backend *be, const void *host, size_t bytes, cw_buf **out);
    void (*buf_free)(cw_backend *be, cw_buf *buf); /* NULL is fine */
    size_t (*buf_size)(const cw_buf *buf);         /* bytes */
    /* dst bytes [off, off+bytes) <- src; download blocks until earlier ops finish. */
    cw_status (*upload)(cw_backend *be, cw_buf *dst, size_t off, const void *src, size_t bytes);
    cw_status (*download)(cw_backend *be, void *dst, const cw_buf *src, size_t off, size_t bytes);

    /* ---- products ---- */
    /* y [m, N] = x [m, K] . W^T (+ bias [N]);  W = w->data [N, K] of any dtype. */
    cw_status (*linear)(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m);
    /* Optional (NULL: the back end has none, and ignores cw_attn's
     * per-sequence fields: lockstep decoding is then off).
     * linear, where every row of y is what a linear call of m_class rows
     * gives it (0: m): kernels choose their shape, and so their summation
     * order, by the row count, so rows of several decodings stacked into one
     * call pass the row count each has alone to keep its bits. */
    cw_status (*linear_rows)(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m,
                             size_t m_class);
    /* Optional (NULL: linear_rows, or linear, then gelu). linear_rows and
     * then gelu over y, bit for bit, in one op: a back end may apply GELU
     * to each output while it is still in cache. */
    cw_status (*linear_gelu)(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m,
                             size_t m_class);
    /* Optional (NULL: use linear). A vocabulary projection y [m, N] = x [m, K] . W^T
     * for a search that reads exact values only among the largest of columns
     * [0, n_screen) and in columns [n_screen, N): a back end may rank columns
     * [0, n_screen) by a cheaper approximation and leave approximate values
     * there, provided the `keep` best of them by that ranking, and all columns
     * from n_screen on, hold what linear_rows with m_class 1 gives. Without a
     * cheaper way it computes them all exactly. */
    cw_status (*logits)(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, size_t m, size_t n_screen,
                        size_t keep);
    /* Optional (NULL: none). For a weight that linear ops will multiply
     * many times with few rows (the decoder's, once per token): *out = a
     * copy of W in a layout of the back end's own (cw_weight.packed), or
     * NULL where it has none for w's dtype and mode. The caller keeps the
     * buffer while w is used and frees it with buf_free; results are the
     * same bits with it as without. */
    cw_status (*prepare_weight)(cw_backend *be, const cw_weight *w, cw_buf **out);
    /* y [C_out, T_out] = conv1d(x [C_in, T_in]), kernel 3, zero padding 1,
     * stride 1 or 2, T_out = (T_in - 1) / stride + 1; w [C_out, C_in*3] (the
     * PyTorch [C_out, C_in, 3] weight), bias [C_out] optional. */
    cw_status (*conv1d)(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias,
                        size_t c_in, size_t t_in, size_t stride);
    cw_status (*attention)(cw_backend *be, const cw_attn *a);

    /* ---- row-wise ---- */
    /* y [rows, cols] = (x - mean) / sqrt(var + eps) * gamma [cols] + beta [cols];
     * gamma/beta optional; y may equal x. */
    cw_status (*layernorm)(cw_backend *be, cw_ref y, cw_ref x, cw_ref gamma, cw_ref beta,
                           size_t rows, size_t cols, float eps);
    /* y [rows, cols] = softmax over each row of (scale * x + mask); y may equal x. */
    cw_status (*softmax)(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols,
                         float scale, const cw_mask *mask);

    /* ---- elementwise ---- */
    /* x [n] = 0.5 x (1 + erf(x / sqrt 2)), in place (exact erf, as torch). */
    cw_status (*gelu)(cw_backend *be, cw_ref x, size_t n);
    /* y [n] = a [n] + b [n]; y may equal a or b (residual). */
    cw_status (*add)(cw_backend *be, cw_ref y, cw_ref a, cw_ref b, size_t n);
    /* y [outer, inner] = x [outer, inner] + r [inner] broadcast over outer
     * (a bias row, or positional embeddings [T, d] added to B windows with
     * inner = T*d); y may equal x. */
    cw_status (*add_bcast)(cw_backend *be, cw_ref y, cw_ref x, cw_ref r, size_t outer, size_t inner);

    /* ---- gathers and copies ---- */
    /* y [n, d] = table [ids[i], :]; table [n_rows, d] F32, F16, BF16 or I8;
     * ids is HOST memory (tokens come from the search on the CPU). */
    cw_status (*embedding)(cw_backend *be, cw_ref y, const cw_weight *table, const int32_t *ids, size_t n);
    /* y [rows, cols] (row stride y_ld) = x [rows, cols] (row stride x_ld):
     * writing rows into a KV cache, reordering beams. */
    cw_status (*copy2d)(cw_backend *be, cw_ref y, size_t y_ld, cw_ref x, size_t x_ld,
                        size_t rows, size_t cols);
    /* y [cols, rows] = x [rows, cols]^T (conv stem [d, T] -> [T, d]). */
    cw_status (*transpose)(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols);
    /* y [n] of dtype (BF16) = x [n] float32 rounded to nearest even; y's
     * offset counts float32 slots (element 2 * off). */
    cw_status (*narrow)(cw_backend *be, cw_ref y, cw_dtype dtype, cw_ref x, size_t n);
    /* Optional (NULL: the decoder keeps its cross K/V in bf16). Per head
     * and row, symmetric int8 as util/quant.h quantizes activations: the
     * segment x[t, h*64 .. h*64+63] of x [rows, H*64] becomes
     * y[h, t, 0..63] = cw_quantize_row_i8 of it, with step[h, t] = 1 / its
     * scale (x ~ y * step); y int8 [H, rows, 64] (element 4 * y.off on),
     * step float32 [H, rows]: the attention op's I8 layout with k_ld = 64,
     * k_hstride = rows * 64, s_hstride = rows. */
    cw_status (*quantize_heads)(cw_backend *be, cw_ref y, cw_ref step, cw_ref x, size_t rows, size_t n_head);

    void (*destroy)(cw_backend *be);
} cw_backend_ops;

typedef enum {
    CW_BACKEND_CPU = 0,
    CW_BACKEND_CUDA /* src/backend/cuda/, when built with CUDA (CW_HAVE_CUDA) */
} cw_backend_kind;

/* Which CPU kernels to use; CW_ISA_AUTO picks the best the machine runs. */
typedef enum {
    CW_ISA_AUTO = 0,
    CW_ISA_REF,   /* the plain C reference kernels */
    CW_ISA_AVX2,  /* AVX2 + FMA + F16C (x86-64) */
    CW_ISA_AVX512 /* AVX-512 F/BW/VL/DQ with AVX2 + FMA + F16C (Skylake-X, Zen 4) */
    /* AVX-512 VNNI/BF16 and AMX (Sapphire Rapids) are picked within these for
     * the lowp kernels, from the CPU's flags (CW_AMX=0 turns AMX off). */
} cw_isa;

typedef struct {
    cw_backend_kind kind;
    int n_threads; /* <= 0: cw_cpu_count() */
    cw_isa isa;
    /* Non-zero: "lowp" mode: linear ops with BF16 or I8 weights round their
     * activations to bf16 / quantize them per row to int8 and multiply in that
     * type (cpu/lowp.h says exactly how). 0: every product has float32
     * activations, whatever the weights' dtype (exact mode). */
    int lowp;
    /* lowp mode: attention of 16+ query rows without a causal mask (the
     * encoder's) in int8 (cpu/lowp.h) where the CPU back end has a kernel
     * for it (AVX512-VNNI with the AVX-512 table, or the AVX2 table);
     * elsewhere, and in the CUDA back end, as without */
    int attn_i8;
    int device; /* CUDA: the GPU's index (0: the first) */
} cw_backend_params;

cw_backend_params cw_backend_default_params(void);

/* CW_OK if a back end of this kind can be created here (CUDA: built with it,
 * a driver, GPU `device` with compute capability >= 8.0, cuBLAS found);
 * otherwise CW_ERR_UNSUPPORTED with a one-line reason in cw_last_error(). */
cw_status cw_backend_probe(cw_backend_kind kind, int device);

/* The handle: the op table plus what the ops share. One op runs at a time per
 * handle (the pool and scratch are reused); use one handle per thread. */
struct cw_backend {
    const cw_backend_ops *ops;
    cw_threadpool *pool;
    const char *desc; /* kernels in use, e.g. "cpu/avx2" (for logs) */
    /* lowp mode: the kernels of linear ops with I8 / BF16 weights, e.g.
     * "avx512-vnni"; NULL when lowp is off */
    const char *lowp_i8_desc, *lowp_bf16_desc;
    /* lowp mode: the bf16 attention kernel, or NULL (attention float32) */
    const char *lowp_attn_desc;
    /* the logits op's screen kernel, or NULL when logits are plain products */
    const char *logits_screen_desc;
    void *impl;       /* back-end private state (CPU: kernels, scratch) */
};

cw_status cw_backend_create(const cw_backend_params *params, cw_backend **out);
void cw_backend_free(cw_backend *be); /* NULL is fine */

/* y = gelu(x . W^T + bias), rows of class m_class (linear_rows; 0: m): the
 * back end's linear_gelu, or the ops it stands for where it has none. */
static inline cw_status cw_backend_linear_gelu(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias,
                                               size_t m, size_t m_class)
{
    const cw_backend_ops *op = be->ops;
    if (op->linear_gelu) return op->linear_gelu(be, y, x, w, bias, m, m_class);
    cw_status s = op->linear_rows && m_class ? op->linear_rows(be, y, x, w, bias, m, m_class)
                                             : op->linear(be, y, x, w, bias, m);
    return s != CW_OK ? s : op->gelu(be, y, m * w->rows);
}

#endif
