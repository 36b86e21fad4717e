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
        .gelu_block = cw_ref_gelu_block,
        .to_f32 = cw_ref_to_f32,
        .attention = cw_ref_attention,
        .attn_scratch_floats = cw_ref_attn_scratch_floats,
        .attn_block = 16,
    };
}

#ifdef CW_HAVE_X86
static int has_avx2(const cw_cpu_features *f) { return f->avx2 && f->fma && f->f16c; }

static int has_avx512(const cw_cpu_features *f)
{
    return has_avx2(f) && f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq;
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
        .gelu_block = cw_avx2_gelu_block,
        .to_f32 = cw_avx2_to_f32,
        .attention = cw_avx2_attention,
        .attn_scratch_floats = cw_avx2_attn_scratch_floats,
        .attn_block = 64,
        .attn_kv16_rows = cw_avx2_attn_few,
        .attn_kv8_rows = cw_avx2_attn_few,
    };
}

/* The AVX-512 products (and attention, to_f32 built on them), GELU (7.6%
 * of a 1-thread int8 profile with the AVX2 one) and softmax (both with
 * avx2's bits); layernorm stays AVX2, a few percent of the profile. */
static void use_avx512(cw_cpu_kernels *k)
{
    use_avx2(k);
    k->name = "cpu/avx512";
    k->gemm = cw_avx512_gemm;
    k->gemm_scratch_floats = cw_avx512_gemm_scratch_floats;
    k->gemm_mr = cw_avx512_gemm_mr;
    k->gemm_nr = cw_avx512_gemm_nr;
    k->to_f32 = cw_avx512_to_f32;
    k->gelu = cw_avx512_gelu;
    k->gelu_block = cw_avx512_gelu_block;
    k->softmax = cw_avx512_softmax;
    k->attention = cw_avx512_attention;
    k->attn_scratch_floats = cw_avx512_attn_scratch_floats;
    k->attn_block = cw_avx512_attn_block;
    k->attn_kv16_rows = cw_avx512_attn_few;
    k->attn_kv8_rows = cw_avx512_attn_few;
}
#endif

static const char *isa_name(cw_isa isa)
{
    switch (isa) {
    case CW_ISA_AVX2: return "AVX2+FMA+F16C";
    case CW_ISA_AVX512: return "AVX-512 F/BW/VL/DQ + AVX2+FMA+F16C";
    default: return "?";
    }
}

cw_status cw_cpu_select_kernels(cw_isa isa, cw_cpu_kernels *k)
{
    use_ref(k);
    if (isa == CW_ISA_REF) return CW_OK;
    if (isa != CW_ISA_AUTO && isa != CW_ISA_AVX2 && isa != CW_ISA_AVX512)
        return cw_error(CW_ERR_INVALID_ARG, "unknown instruction set %d", (int)isa);
#ifdef CW_HAVE_X86
    /* AMX serves the lowp table only (cw_cpu_select_lowp below): this one is
     * the fp32 mode's, whose products must stay float32 FMA chains. */
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if ((isa == CW_ISA_AUTO || isa == CW_ISA_AVX512) && has_avx512(&f)) {
        use_avx512(k);
        return CW_OK;
    }
    if ((isa == CW_ISA_AUTO || isa == CW_ISA_AVX2) && has_avx2(&f)) {
        use_avx2(k);
        return CW_OK;
    }
#endif
    if (isa == CW_ISA_AUTO) return CW_OK; /* no SIMD kernels: reference */
    return cw_error(CW_ERR_UNSUPPORTED, "this CPU lacks the requested instruction set (%s)", isa_name(isa));
}

/* ---- lowp mode (lowp.h) ---------------------------------------------------------- */

/* Separate from cw_cpu_select_kernels: the lowp kernels depend on their own
 * instructions (VNNI, BF16) more than on the float32 table chosen above. */
void cw_cpu_select_lowp(cw_isa isa, int attn_i8, cw_cpu_kernels *k)
{
    k->quant_rows = cw_ref_quant_rows;
    k->bf16_round = cw_ref_bf16_round;
    k->gemm_i8 = cw_ref_gemm_i8;
    k->gemm_i8_name = "ref";
    k->pack_i8_bytes = NULL;
    k->pack_i8 = NULL;
    k->pack_i8_cols = k->pack_i8_min_m = 0;
    k->prepack_i8_bytes = NULL;
    k->prepack_i8 = NULL;
    k->prepack_i8_cols = 0;
    k->pack_bf16_bytes = NULL;
    k->pack_bf16 = NULL;
    k->pack_bf16_rows = NULL;
    k->pack_bf16_cols = k->pack_bf16_min_m = 0;
    k->gemm_bf16 = cw_ref_gemm;
    k->gemm_bf16_scratch_floats = cw_ref_gemm_scratch_floats;
    k->gemm_bf16_name = "ref";
    k->attention_lowp = NULL; /* attention stays float32 without a bf16 kernel */
    k->attn_lowp_scratch_floats = NULL;
    k->attention_lowp_name = NULL;
    k->screen_i4 = cw_ref_screen_i4;
    k->screen_i4_name = "ref";
    if (isa == CW_ISA_REF) return;
#ifdef CW_HAVE_X86
    cw_cpu_features f;
    cw_cpu_detect(&f);
    if (!(f.avx2 && f.fma && f.f16c)) return;
    k->quant_rows = cw_avx2_quant_rows;
    k->bf16_round = cw_avx2_bf16_round;
    k->gemm_i8 = cw_avx2_gemm_i8;
    k->gemm_i8_name = "avx2 (maddubs)";
    k->screen_i4 = cw_avx2_screen_i4;
    k->screen_i4_name = "avx2 (maddubs)";
    k->gemm_bf16 = cw_avx2_gemm;
    k->gemm_bf16_scratch_floats = cw_avx2_gemm_scratch_floats;
    k->gemm_bf16_name = "avx2 (bf16 -> f32, fma)";
    /* int8 attention on request, where the float32 attention is AVX2's (the
     * AVX-512 table's blocks differ); the VNNI kernel below replaces it */
    if (attn_i8 && k->attention == cw_avx2_attention) {
        k->attention_lowp = cw_avx2_attention_i8;
        k->attn_lowp_scratch_floats = cw_avx2_attn_i8_scratch_floats;
        k->attention_lowp_name = "avx2 int8 (maddubs, madd; 16+ rows, no mask), float32";
    }
    if (isa == CW_ISA_AVX2) return;
    int avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    if (avx512) k->quant_rows = cw_avx512_quant_rows;
    if (avx512 && f.avx512_vnni) {
        k->gemm_i8 = cw_avx512_gemm_i8;
        k->gemm_i8_name = "avx512-vnni";
        k->prepack_i8_bytes = cw_avx512_prepack_i8_bytes;
        k->prepack_i8 = cw_avx512_prepack_i8;
        k->prepack_i8_cols = 32;
        k->screen_i4 = cw_avx512_screen_i4;
        k->screen_i4_name = "avx512-vnni";
    }
    if (avx512 && f.avx512_bf16) {
        k->gemm_bf16 = cw_avx512_gemm_bf16;
        k->gemm_bf16_scratch_floats = cw_avx512_gemm_bf16_scratch_floats;
        k->gemm_bf16_name = "avx512-bf16";
        if (k->attention == cw_avx512_attention) { /* same work items (attn_block) */
            k->attention_lowp = cw_avx512_attention_bf16;
            k->attn_lowp_scratch_floats = cw_avx512_attn_bf16_scratch_floats;
            k->attention_lowp_name = "avx512-bf16";
        }
    }
#ifdef CW_HAVE_AMX
    /* AMX (amx_gemm.c, amx_attn.c), tested by test_lowp on a Sapphire
     * Rapids-class Xeon (2026-12-05); CW_AMX=0 turns it off (to compare). */
    const char *amx = getenv("CW_AMX");
    if (!(amx && strcmp(amx, "0") == 0) && avx512 && f.amx_tile) {
        if (f.amx_int8 && f.avx512_vnni) {
            k->gemm_i8 = cw_amx_gemm_i8;
            k->gemm_i8_name = "amx-int8 (m > 8), avx512-vnni";
            k->pack_i8_bytes = cw_amx_pack_i8_bytes;
            k->pack_i8 = cw_amx_pack_i8;
            k->pack_i8_cols = CW_AMX_PACK_COLS;
            k->pack_i8_min_m = CW_AMX_GEMV_MAX_M + 1;
        }
        if (f.amx_bf16 && f.avx512_bf16) {
            k->gemm_bf16 = cw_amx_gemm_bf16;
            k->gemm_bf16_name = "amx-bf16 (m > 8), avx512-bf16";
            k->pack_bf16_bytes = cw_amx_pack_bf16_bytes;
            k->pack_bf16 = cw_amx_pack_bf16;
            k->pack_bf16_rows = cw_amx_bf16_rows;
            k->pack_bf16_cols = CW_AMX_PACK_COLS;
            k->pack_bf16_min_m = CW_AMX_GEMV_MAX_M + 1;
            if (k->attention_lowp == cw_avx512_attention_bf16) {
                k->attention_lowp = cw_amx_attention_bf16;
                k->attn_lowp_scratch_floats = cw_amx_attn_bf16_scratch_floats;
                k->attention_lowp_name = "amx-bf16 (16+ rows), avx512-bf16";
            }
        }
    }
#endif
    /* int8 attention on request: the VNNI kernel leaves what it does not
     * take (causal blocks, decoder rows) to the AVX512-BF16 one, or without
     * AVX512-BF16 to the float32 one */
    if (attn_i8 && avx512 && f.avx512_vnni && k->attention == cw_avx512_attention) {
        if (f.avx512_bf16) {
            k->attention_lowp = cw_avx512_attention_i8;
            k->attn_lowp_scratch_floats = cw_avx512_attn_i8_scratch_floats;
            k->attention_lowp_name = CW_ATTN_I8_BF16_NAME;
        } else { /* Cascade Lake: no bf16 attention, the rest stays float32 */
            k->attention_lowp = cw_avx512_attention_i8_f32;
            k->attn_lowp_scratch_floats = cw_avx512_attn_i8_f32_scratch_floats;
            k->attention_lowp_name = CW_ATTN_I8_F32_NAME;
        }
    }
#endif
}
