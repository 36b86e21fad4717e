/* Low-precision products of the CPU back end ("lowp" mode, cw_backend_params
 * .lowp): a Linear layer whose weights are BF16 or I8 computes with
 * activations of the same kind instead of float32:
 *
 *   BF16: y = bf16(x) . W^T (+ b): each activation rounded to bfloat16 (nearest
 *         even), products (exact in float32) accumulated in float32. Kernels may
 *         sum in any fixed order: results agree to ~1e-2 relative, not bits.
 *   I8:   each activation row quantized symmetrically (util/quant.h: sa = 127 /
 *         max|row|, q = round(x * sa)), acc = sum q * w exactly in int32, then
 *         y = acc * ((1 / sa) * (1 / sw[n])) (+ b[n]) in float32, each
 *         reciprocal rounded to float32 (cw_i8_recip): every kernel gives the
 *         same bits as the reference. Reciprocals, not acc / (sa * sw[n]):
 *         a division per output cost the AMX kernel a fifth of its time.
 *   I8, products of at most 8 rows (m_class: decoder steps): 16-bit
 *         activations. Each row quantized symmetrically to q in [-32385,
 *         32385] (util/quant.h, cw_quantize_row_a16: sa = 32385 / max|x|),
 *         held as two int8 planes, q = 255 hi + lo with hi, lo in
 *         [-127, 127], so the int8 kernels take them as twice the rows;
 *         y = (float)(sum q * w, exact) * ((1 / sa) * (1 / sw[n])) (+ b[n]):
 *         again the reference's bits from every kernel (cw_a16_out).
 *   BF16, products of at most 8 rows: x stays float32, the exact mode's
 *         kernel on the BF16 W (cpu_backend.c, few_rows).
 *   The logits' exact columns (cw_backend_ops.logits) are those of the
 *         products of 8 rows above, for either kind.
 *   Attention (with a kernel for it, else float32): S = scale * bf16(Q) .
 *         bf16(K)^T accumulated in float32, softmax in float32, then
 *         O = bf16(P) . bf16(V) accumulated in float32, P the probabilities;
 *         results agree to ~1e-2 relative, as the BF16 product's. Kernels may
 *         keep small query blocks (decoder steps, prompts) in float32.
 *   Attention in int8 (cw_backend_params.attn_i8, with a kernel for it; the
 *         encoder's: blocks of 16+ query rows without a causal mask and with
 *         float32 K/V; other blocks as above): each row of Q and of K
 *         quantized as an activation row (util/quant.h), each column of V
 *         over all keys likewise; S = (float)(Qq . Kq, exact) * (rq * rk)
 *         (r = cw_i8_recip of the scale); softmax in float32 to
 *         e = exp(scale (S - max S)) in [0, 1] and P = round(255 e) (u8, no
 *         division), then O = (float)(P . Vq, exact) * (1 / (255 sum e) * rv).
 *         Results agree with the reference to the rounding of e and of the
 *         sum, not bits. Half the operations of the bf16 products with
 *         vpdpbusd.
 *
 * The reference kernels (lowp_ref.c) define these results; the SIMD kernels
 * (avx2_lowp.c, avx512_lowp.c) are tested against them. Without .lowp, BF16
 * and I8 weights are widened to float32 and multiply float32 activations
 * (exact mode), as before. */
#ifndef CW_BACKEND_CPU_LOWP_H
#define CW_BACKEND_CPU_LOWP_H

#include <stddef.h>
#include <stdint.h>

/* Quantized A rows are padded with zeros to a multiple of this many bytes, so
 * kernels read whole vectors of A without a tail. */
#define CW_LOWP_ALIGN 64

/* An elementwise function applied in place to a block c [rows, cols] of row
 * stride ldc (cw_gemm.post). */
typedef void (*cw_post_fn)(float *c, size_t ldc, size_t rows, size_t cols);

/* post over rows [m0, m1) x columns [n0, n1) of c, if any. */
static inline void cw_gemm_post(cw_post_fn post, float *c, size_t ldc, size_t m0, size_t m1, size_t n0, size_t n1)
{
    if (post && m0 < m1 && n0 < n1) post(c + m0 * ldc + n0, ldc, m1 - m0, n1 - n0);
}

/* C [m, n] = dequant(Aq [m, k] . W^T) (+ bias): the I8 product above. */
typedef struct {
    size_t m, n, k;
    const int8_t *a; size_t lda;  /* [m, lda] quantized rows, zero from k to lda */
    const float *ascale;          /* [m] */
    const int8_t *w; size_t ldw;  /* [n, k] weights, row stride ldw */
    const float *wscale;          /* [n]: w = q / scale */
    const float *bias;            /* [n] or NULL */
    float *c; size_t ldc;         /* [m, n] */
    size_t m_class;               /* as cw_gemm.m_class (0: m) */
    const int8_t *bp;             /* W packed whole by the kernel table's pack_i8
                                     for a kernel that reads it (NULL: none) */
    cw_post_fn post;              /* as cw_gemm.post */
    const uint8_t *wp;            /* W made once by the kernel table's prepack_i8
                                     (NULL: none): blocks of 32 rows of W, each
                                     [ceil(k/4)][32][4] bytes, byte e of quad q
                                     of row c being w[32 b + c][4 q + e] ^ 0x80
                                     (w + 128 as u8), 0x80 past k and past n:
                                     vpdpbusd's layout, read as one stream */
    int a16;                      /* A is 16-bit (above): rows 2 i and 2 i + 1
                                     of a are the hi and lo planes of row i,
                                     ascale[i] its scale; 0: int8 rows */
} cw_i8_gemm;

/* Rows of a that hold row i of the activations: 2 planes in a16 mode. */
static inline size_t cw_i8_planes(const cw_i8_gemm *g) { return g->a16 ? 2 : 1; }

/* The 4-bit screen of an I8 logits projection (cw_backend_ops.logits): rows
 * of W requantized to q in [-7, 7] in groups of 32 elements, w ~ q * d with
 * one fp16 step d per group, q stored as q + 8 in nibbles. Each row is
 * ld = 64 * ceil(k / 128) bytes; group g (elements 32 g ... 32 g + 31) is the
 * 16 bytes at 16 g, byte i holding element 32 g + i in its low nibble and
 * 32 g + 16 + i in its high one (q = 0 past k), so that in a vector of 64
 * bytes every 32-bit lane lies in one group, whichever nibble. Its steps are
 * d [n, ld / 16]. Half the bytes of the int8 rows (and an eighth more for the
 * steps), for a first pass that only ranks the vocabulary: per-row steps
 * ranked the true best token past 10 000th place on 4% of tiny.en's steps,
 * groups of 32 never past 8th (measured on 950 decoder steps). */
typedef struct {
    size_t n, k, ld;
    const uint8_t *q;  /* [n, ld] */
    const uint16_t *d; /* [n, ld / 16] fp16 */
} cw_i4_screen;

/* Row padding of the activations a screen kernel reads: whole 128-element chunks. */
#define CW_SCREEN_GROUP 128

/* Rows of activations a screen kernel takes at once (the rows of W it reads
 * stay in cache for all of them). */
#define CW_SCREEN_MAX_M 8

/* y [i, n0:n1] ~ a_i . W^T / ascale[i] for activation rows i < m (<=
 * CW_SCREEN_MAX_M), a [m, lda] quantized (cw_quantize_row_i8), zero from k up
 * to lda, a multiple of CW_SCREEN_GROUP; y [m, ldy]. Each group's sum of
 * q . a is exact in int32, the groups' sums weighted by their steps in
 * float32; a kernel gives each row the same bits whatever m and [n0, n1)
 * (both multiples of 16 or ending at n), and agrees with the reference to
 * rounding, not bit for bit. */
typedef void (*cw_screen_i4_fn)(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m,
                                float *y, size_t ldy, size_t n0, size_t n1);

/* An activation row a [k] (k a multiple of 32) split as the screen's nibbles
 * pair up: lo [k / 2] takes the elements that meet low nibbles (the first 16
 * of each group of 32), hi [k / 2] the rest, so byte b of either lies in the
 * group of byte b of a row of W. Shared by the SIMD screen kernels. */
static inline void cw_screen_split(const int8_t *a, size_t k, int8_t *lo, int8_t *hi)
{
    for (size_t b = 0; b < k / 2; b++) {
        lo[b] = a[32 * (b / 16) + b % 16];
        hi[b] = a[32 * (b / 16) + 16 + b % 16];
    }
}

/* Kernel types of the lowp slots of cw_cpu_kernels (cpu.h). */

/* q [rows, ldq] and scale [rows]: cw_quantize_row_i8 of each row of x [rows, k]
 * (ldq >= k, zeros past k). Every variant gives the reference's bits. */
typedef void (*cw_quant_rows_fn)(int8_t *q, float *scale, const float *x, size_t rows, size_t k,
                                 size_t ldq);
/* y [n] = x [n] rounded to bfloat16 (nearest even), as float32; y may be x.
 * Every variant gives the bits of cw_f32_to_bf16 (NaNs aside). */
typedef void (*cw_bf16_round_fn)(float *y, const float *x, size_t n);
/* C [m0:m1, n0:n1] of g; single-threaded, any slice gives the same bits. */
typedef void (*cw_gemm_i8_fn)(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1);

/* Reference kernels (lowp_ref.c). The BF16 product is cw_ref_gemm on rounded
 * activations (the exact sum of exact products, rounded once). */
void cw_ref_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq);
void cw_ref_bf16_round(float *y, const float *x, size_t n);
/* q [2 rows, ldq]: rows r of x [rows, k] as cw_quantize_row_a16's planes (hi
 * at row 2 r, lo at 2 r + 1, zeros past k), for cw_i8_gemm.a16. The one
 * variant: few rows, against a product that reads every weight. */
void cw_ref_quant_rows_a16(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq);
void cw_ref_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1);
void cw_ref_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m,
                      float *y, size_t ldy, size_t n0, size_t n1);

/* 1 / s in float32: the row and column factors of cw_i8_out. */
static inline float cw_i8_recip(float s)
{
    return 1.0f / s;
}

/* The float32 result of one int8 dot product: what every kernel stores. ra =
 * cw_i8_recip(ascale[i]), rw = cw_i8_recip(wscale[j]). */
static inline float cw_i8_out(int32_t acc, float ra, float rw, const float *bias, size_t j)
{
    float y = (float)acc * (ra * rw);
    return bias ? y + bias[j] : y;
}

/* The float32 result of one 16-bit activation dot product, hs and ls the
 * exact sums over the hi and lo planes (a16 mode): the total 255 hs + ls
 * (exact in int64) rounded once to float32, then as cw_i8_out. */
static inline float cw_a16_out(int32_t hs, int32_t ls, float ra, float rw, const float *bias, size_t j)
{
    float y = (float)((int64_t)hs * 255 + ls) * (ra * rw);
    return bias ? y + bias[j] : y;
}

#if defined(__x86_64__) || defined(__i386__)
/* AVX2 (avx2_lowp.c): maddubs with the sign trick; the BF16 product is
 * cw_avx2_gemm on rounded activations. */
void cw_avx2_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq);
void cw_avx2_bf16_round(float *y, const float *x, size_t n);
void cw_avx2_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1);
void cw_avx2_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m,
                       float *y, size_t ldy, size_t n0, size_t n1);
/* AVX-512 (avx512_lowp.c): vpdpbusd (AVX512-VNNI); the vdpbf16ps
 * (AVX512-BF16) product is declared in cpu.h, next to cw_gemm. */
void cw_avx512_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1);
/* cw_i8_gemm.wp for w [n, k] (row stride ldw): its bytes, and blocks [b0, b1) of it. */
size_t cw_avx512_prepack_i8_bytes(size_t n, size_t k);
void cw_avx512_prepack_i8(const int8_t *w, size_t ldw, size_t n, size_t k, size_t b0, size_t b1, uint8_t *wp);
void cw_avx512_quant_rows(int8_t *q, float *scale, const float *x, size_t rows, size_t k, size_t ldq);
void cw_avx512_screen_i4(const cw_i4_screen *s, const int8_t *a, size_t lda, const float *ascale, size_t m,
                         float *y, size_t ldy, size_t n0, size_t n1);
#endif
#if defined(__x86_64__)
/* AMX-INT8 (amx_gemm.c) for m > 8, the AVX-512 kernel below that; the
 * AMX-BF16 product is declared in cpu.h. */
#define CW_HAVE_AMX 1
void cw_amx_gemm_i8(const cw_i8_gemm *g, size_t m0, size_t m1, size_t n0, size_t n1);
/* Its B tiles made once per product and shared by the threads (cw_i8_gemm.bp)
 * instead of by every thread for its slice on every call: bytes of the whole
 * packed W, and its column blocks [b0, b1) of CW_AMX_PACK_COLS columns. */
#define CW_AMX_PACK_COLS 32
#define CW_AMX_GEMV_MAX_M 8 /* products of at most this many rows (m_class) go to AVX-512 */
size_t cw_amx_pack_i8_bytes(const cw_i8_gemm *g);
void cw_amx_pack_i8(const cw_i8_gemm *g, size_t b0, size_t b1, int8_t *bp);
#endif

#endif
