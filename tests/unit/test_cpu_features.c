/* CPU feature detection (cpuid/xgetbv) against the kernel's own view in
 * /proc/cpuinfo: every flag we report must be one Linux lists, and every
 * listed flag we know must be reported (Linux lists only what the OS
 * enables, as we do). AMX also needs the per-process permission, which
 * cw_cpu_detect requests. Prints the flags so a log says which CPU ran. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_features.h"
#include "test.h"

/* The "flags" line of the first processor, space-padded, or NULL. */
static char *cpuinfo_flags(void)
{
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return NULL;
    char line[8192];
    char *out = NULL;
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        char *c = strchr(line, ':');
        if (!c) break;
        size_t n = strlen(c + 1);
        out = malloc(n + 3);
        if (!out) break;
        snprintf(out, n + 3, " %s", c + 1);
        char *nl = strchr(out, '\n');
        if (nl) strcpy(nl, " ");
        break;
    }
    fclose(fp);
    return out;
}

static int listed(const char *flags, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s ", name);
    return strstr(flags, pat) != NULL;
}

static void test_against_proc_cpuinfo(void)
{
    cw_cpu_features f;
    cw_cpu_detect(&f);
    char buf[512];
    printf("  cpu: %s (%s)\n  features: %s\n", f.brand, f.vendor, cw_cpu_features_string(&f, buf, sizeof buf));
    char *flags = cpuinfo_flags();
    if (!flags) {
        printf("  /proc/cpuinfo has no flags line here: nothing to compare\n");
        return;
    }
    const struct { const char *name; int ours; } t[] = {
        { "avx2", f.avx2 }, { "fma", f.fma }, { "f16c", f.f16c }, { "avx512f", f.avx512f },
        { "avx512bw", f.avx512bw }, { "avx512vl", f.avx512vl }, { "avx512dq", f.avx512dq },
        { "avx512_bf16", f.avx512_bf16 }, { "avx512_vnni", f.avx512_vnni },
        { "avx512_fp16", f.avx512_fp16 }, { "avx_vnni", f.avx_vnni }, { "amx_tile", f.amx_tile },
        { "amx_bf16", f.amx_bf16 }, { "amx_int8", f.amx_int8 },
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        CHECK_MSG(listed(flags, t[i].name) == t[i].ours, "%s: /proc/cpuinfo %d, cpuid %d", t[i].name,
                  listed(flags, t[i].name), t[i].ours);
    free(flags);
}

static void test_string(void)
{
    cw_cpu_features f;
    memset(&f, 0, sizeof f);
    char buf[64];
    CHECK_EQ_STR(cw_cpu_features_string(&f, buf, sizeof buf), "(none)");
    f.avx2 = f.avx512_bf16 = 1;
    CHECK_EQ_STR(cw_cpu_features_string(&f, buf, sizeof buf), "avx2 avx512_bf16");
    char small[6];
    cw_cpu_features_string(&f, small, sizeof small); /* truncated, still terminated */
    CHECK(strlen(small) == 5);
}

int main(void)
{
    RUN(test_against_proc_cpuinfo);
    RUN(test_string);
    return test_summary();
}
