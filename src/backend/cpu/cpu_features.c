/* CPU feature detection with cpuid/xgetbv (see cpuid.h for why not
 * __builtin_cpu_supports). Non-x86 builds report nothing, so dispatch picks
 * the reference kernels there. */
#include "backend/cpu/cpu_features.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* xgetbv(0): which register states the OS saves on a context switch. */
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* Linux gives AMX's 8 KiB tile state only to a process that asks for it. */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    unsigned long bits = 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, (unsigned long)XFEATURE_XTILEDATA) != 0) return 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) != 0) return 0;
    return (bits >> XFEATURE_XTILEDATA) & 1;
#else
    return 0;
#endif
}

static int bit(unsigned v, int b) { return (int)((v >> b) & 1u); }

void cw_cpu_detect(cw_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    unsigned r[4];
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    memcpy(f->vendor, &r[1], 4);
    memcpy(f->vendor + 4, &r[3], 4);
    memcpy(f->vendor + 8, &r[2], 4);
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(f->brand + 16 * i, r, 16);
        }
        f->brand[48] = 0;
    }
    if (max_leaf < 7) return;
    cpuid(1, 0, r);
    int osxsave = bit(r[2], 27);
    if (!osxsave) return;
    unsigned long long x = xcr0();
    int ymm = (x & 0x6) == 0x6;            /* SSE + AVX state */
    int zmm = ymm && (x & 0xe0) == 0xe0;   /* opmask + ZMM0-15 upper + ZMM16-31 */
    int tiles = (x & 0x60000ull) == 0x60000ull; /* XTILECFG + XTILEDATA */
    int fma = bit(r[2], 12), f16c = bit(r[2], 29);
    unsigned l7[4], l7_1[4];
    cpuid(7, 0, l7);
    cpuid(7, 1, l7_1);
    if (ymm) {
        f->avx2 = bit(l7[1], 5);
        f->fma = fma;
        f->f16c = f16c;
        f->avx_vnni = bit(l7_1[0], 4);
    }
    if (zmm) {
        f->avx512f = bit(l7[1], 16);
        f->avx512dq = bit(l7[1], 17);
        f->avx512bw = bit(l7[1], 30);
        f->avx512vl = bit(l7[1], 31);
        f->avx512_vnni = bit(l7[2], 11);
        f->avx512_fp16 = bit(l7[3], 23);
        f->avx512_bf16 = bit(l7_1[0], 5);
    }
    if (tiles && bit(l7[3], 24) && amx_permitted()) {
        f->amx_tile = 1;
        f->amx_bf16 = bit(l7[3], 22);
        f->amx_int8 = bit(l7[3], 25);
    }
}
#else
void cw_cpu_detect(cw_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif

const char *cw_cpu_features_string(const cw_cpu_features *f, char *buf, unsigned long cap)
{
    static const struct { const char *name; size_t off; } names[] = {
#define F(x) { #x, offsetof(cw_cpu_features, x) }
        F(avx2), F(fma), F(f16c), F(avx512f), F(avx512bw), F(avx512vl), F(avx512dq),
        F(avx512_bf16), F(avx512_vnni), F(avx512_fp16), F(avx_vnni), F(amx_tile), F(amx_bf16),
        F(amx_int8),
#undef F
    };
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!*(const int *)((const char *)f + names[i].off)) continue;
        int n = snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? " " : "", names[i].name);
        if (n > 0) len += (size_t)n;
    }
    if (len == 0 && cap) snprintf(buf, cap, "(none)");
    return buf;
}
