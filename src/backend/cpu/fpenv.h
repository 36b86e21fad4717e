/* Flushing subnormals for the duration of a piece of work (MXCSR is the
 * calling thread's: set and restored around it, so the caller's
 * floating-point environment is left as it was).
 *
 * Why: a float operation with a subnormal input or result costs x86 a
 * microcode assist, ~100 cycles. GELU's erfc underflows to subnormals for
 * x below about -13, and in some layers about half of the encoder's MLP
 * activations of a Whisper window lie there: the GELU took 35 instead of 3
 * cycles per element (14% of a base int8 run on short files). Flushed, such
 * lanes give -0.0 where they gave a subnormal, which is what PyTorch's GELU
 * gives there (its 1 + erf(x / sqrt 2) is exactly 0 below x = -6): the
 * GELU flushes in every mode, the exact fp32 one included (base on the 132
 * short files: 103.7 -> 94.9 s with the fused GELU of linear_gelu, every
 * token the same; scores move by up to 3.3e-7).
 * cpu_attention flushes in the low-precision modes only. */
#ifndef CW_BACKEND_CPU_FPENV_H
#define CW_BACKEND_CPU_FPENV_H

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

static inline unsigned cw_flush_subnormals_begin(void)
{
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    return csr;
}

static inline void cw_flush_subnormals_end(unsigned csr) { _mm_setcsr(csr); }
#else
static inline unsigned cw_flush_subnormals_begin(void) { return 0; }
static inline void cw_flush_subnormals_end(unsigned csr) { (void)csr; }
#endif

/* f over each row of c [rows, cols] (row stride ldc), subnormals flushed:
 * the kernel tables' gelu_block (cw_gemm.post) from their gelu. */
static inline void cw_rows_flushed(void (*f)(float *, size_t), float *c, size_t ldc, size_t rows, size_t cols)
{
    unsigned csr = cw_flush_subnormals_begin();
    for (size_t r = 0; r < rows; r++) f(c + r * ldc, cols);
    cw_flush_subnormals_end(csr);
}

#endif
