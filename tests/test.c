/* Test harness implementation; see test.h. */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int cw_test_failures_in_case;
static int n_passed, n_failed;
static const char *current;

void cw_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s (%s:%d): ", current ? current : "?", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cw_test_failures_in_case++;
}

void cw_test_run(const char *name, void (*fn)(void))
{
    current = name;
    cw_test_failures_in_case = 0;
    fn();
    if (cw_test_failures_in_case) n_failed++;
    else n_passed++;
    fprintf(stderr, "%s %s\n", cw_test_failures_in_case ? "FAILED" : "ok    ", name);
    current = NULL;
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}

const char *test_path(const char *env, const char *rel)
{
    static char bufs[8][4096];
    static int k;
    const char *base = getenv(env);
    if (!base) {
        fprintf(stderr, "test: environment variable %s is not set (run through ctest)\n", env);
        exit(2);
    }
    char *b = bufs[k++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
    return b;
}

const char *test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/cwtest.XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

const char *test_write_file(const char *name, const void *data, size_t len)
{
    static char bufs[8][4096];
    static int k;
    char *p = bufs[k++ & 7];
    snprintf(p, sizeof bufs[0], "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len)) {
        perror(p);
        exit(2);
    }
    fclose(f);
    return p;
}
