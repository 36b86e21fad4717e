/* Flushing subnormals for the duration of a piece of work (MXCSR is the
 * calling thread's: set and restored around it, so the caller's
 * floating-point environment is left as it was).
 *
 * Why: a float operation with a subnormal input or result costs x86 a
 * microcode assist, ~100 cycles. GELU's erfc underflows to subnormals for
 * x below about -13, and in some layers about half of the encoder's MLP
 * activations of a Whisper window lie there: the GELU took 35 instead of 3
 * cycles per element (14% of a base int8 run on short files). Flushed, such
 * lanes give -0.0 where they gave a subnormal; yet the transcripts' scores
 * move in their 7th digit (tokens unchanged on the files tried), so the
 * exact fp32 mode does not flush: only the low-precision modes do, in
 * cpu_gelu and cpu_attention (the latter with no gain measured so far). */
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

#endif
