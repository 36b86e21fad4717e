/* Runtime ISA dispatch for the CPU back end, the only place that asks the CPU
 * what it supports. The answer is written into the backend handle's kernel
 * table (no process-global state), so two handles may even run different
 * kernels side by side, which is how the tests compare them. */
#include "backend/cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_features.h"
#include "util/error.h"

static void use_ref(cw_cpu_kernels *k)
{
    *k = (cw_cpu_kernels){
        .name = "cpu/ref",
        .gemm = cw_ref_gemm,
        .gemm_scratch_floats = cw_ref_gemm_scratch_floats,
        .layernorm = cw_ref_layernorm,
        .softmax = cw_ref_softmax,
        .gelu = cw_ref_gelu,
        .to_f32 = cw_ref_to_f32,
        .attention = cw_ref_attention,
        .attn_scratch_floats = cw_ref_attn_scratch_floats,
        .attn_block = 16,
    };
}

#ifdef CW_HAVE_X86
static int cpu_has_avx2(void)
{
    cw_cpu_features f;
    cw_cpu_detect(&f);
    return f.avx2 && f.fma && f.f16c;
}

static void use_avx2(cw_cpu_kernels *k)
{
    *k = (cw_cpu_kernels){
        .name = "cpu/avx2",
        .gemm = cw_avx2_gemm,
        .gemm_scratch_floats = cw_avx2_gemm_scratch_floats,
        .layernorm = cw_avx2_layernorm,
        .softmax = cw_avx2_softmax,
        .gelu = cw_avx2_gelu,
        .to_f32 = cw_avx2_to_f32,
        .attention = cw_avx2_attention,
        .attn_scratch_floats = cw_avx2_attn_scratch_floats,
        .attn_block = 64,
    };
}
#endif

cw_status cw_cpu_select_kernels(cw_isa isa, cw_cpu_kernels *k)
{
    use_ref(k);
    if (isa == CW_ISA_REF) return CW_OK;
#ifdef CW_HAVE_X86
    /* TODO(avx512): Sapphire Rapids targets want AVX-512 (16-wide FMA, a
     * 14 x 32 tile) and AMX-BF16 for the f16/bf16 weights; add them here,
     * after avx512f/avx512bw/amx-tile checks, once CI has such a machine to
     * test them on. Until then those machines run the AVX2 kernels. */
    if (cpu_has_avx2()) {
        use_avx2(k);
        return CW_OK;
    }
#endif
    if (isa == CW_ISA_AUTO) return CW_OK; /* no SIMD kernels: reference */
    return cw_error(CW_ERR_UNSUPPORTED, "this CPU lacks the requested instruction set (AVX2+FMA+F16C)");
}

/* ---- lowp mode (lowp.h) ---------------------------------------------------------- */

/* Separate from cw_cpu_select_kernels: the lowp kernels depend on their own
 * instructions (VNNI, BF16) more than on the float32 table chosen above. */
void cw_cpu_select_lowp(cw_isa isa, cw_cpu_kernels *k)
{
    k->quant_rows = cw_ref_quant_rows;
    k->bf16_round = cw_ref_bf16_round;
    k->gemm_i8 = cw_ref_gemm_i8;
    k->gemm_i8_name = "ref";
    k->gemm_bf16 = cw_ref_gemm;
    k->gemm_bf16_scratch_floats = cw_ref_gemm_scratch_floats;
    k->gemm_bf16_name = "ref";
    if (isa == CW_ISA_REF) return;
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx2 && f.fma && f.f16c)) return;
    k->quant_rows = cw_avx2_quant_rows;
    k->bf16_round = cw_avx2_bf16_round;
    k->gemm_i8 = cw_avx2_gemm_i8;
    k->gemm_i8_name = "avx2 (maddubs)";
    k->gemm_bf16 = cw_avx2_gemm;
    k->gemm_bf16_scratch_floats = cw_avx2_gemm_scratch_floats;
    k->gemm_bf16_name = "avx2 (bf16 -> f32, fma)";
    if (isa == CW_ISA_AVX2) return;
    int avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    if (avx512 && f.avx512_vnni) {
        k->gemm_i8 = cw_avx512_gemm_i8;
        k->gemm_i8_name = "avx512-vnni";
    }
    if (avx512 && f.avx512_bf16) {
        k->gemm_bf16 = cw_avx512_gemm_bf16;
        k->gemm_bf16_scratch_floats = cw_avx512_gemm_bf16_scratch_floats;
        k->gemm_bf16_name = "avx512-bf16";
    }
#ifdef CW_HAVE_AMX
    /* AMX (amx_gemm.c) was written without a machine to run it on: off unless
     * CW_AMX=1, until test_lowp has passed on a Sapphire Rapids-class CPU. */
    const char *amx = getenv("CW_AMX");
    if (amx && strcmp(amx, "1") == 0 && avx512 && f.amx_tile) {
        if (f.amx_int8 && f.avx512_vnni) {
            k->gemm_i8 = cw_amx_gemm_i8;
            k->gemm_i8_name = "amx-int8 (m > 8), avx512-vnni";
        }
        if (f.amx_bf16 && f.avx512_bf16) {
            k->gemm_bf16 = cw_amx_gemm_bf16;
            k->gemm_bf16_name = "amx-bf16 (m > 8), avx512-bf16";
        }
    }
#endif
#endif
}
