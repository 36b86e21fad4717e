/* What the CPU and the operating system let us run, read with cpuid and
 * xgetbv (and, for AMX, the Linux permission request), the same way with gcc
 * and clang: __builtin_cpu_supports() knows different feature names in each
 * compiler version (clang 14 rejects "f16c"), so we ask the CPU ourselves. */
#ifndef CW_BACKEND_CPU_FEATURES_H
#define CW_BACKEND_CPU_FEATURES_H

typedef struct {
    /* each flag: the CPU has it AND the OS saves the registers it uses */
    int avx2, fma, f16c;                         /* the AVX2 kernels */
    int avx512f, avx512bw, avx512vl, avx512dq;   /* the AVX-512 kernels */
    int avx512_bf16, avx512_vnni, avx512_fp16;   /* bf16 dot, int8 dot, fp16 arithmetic */
    int avx_vnni;                                /* 256-bit int8 dot (Alder Lake, Zen 5) */
    int amx_tile, amx_bf16, amx_int8;            /* AMX, after the OS granted it */
    char vendor[13];                             /* "GenuineIntel", "AuthenticAMD" */
    char brand[49];                              /* "AMD EPYC 9R14 ..." */
} cw_cpu_features;

/* Reads the features (cheap; the result does not change while running).
 * AMX is reported only once Linux granted this process the tile state
 * (arch_prctl ARCH_REQ_XCOMP_PERM), which this call requests. */
void cw_cpu_detect(cw_cpu_features *f);

/* "avx2 fma f16c avx512f ..." for logs and results; returns buf. */
const char *cw_cpu_features_string(const cw_cpu_features *f, char *buf, unsigned long cap);

#endif
