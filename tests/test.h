/* A minimal test harness: CHECK-style assertions that count and report
 * failures with file and line, and a runner that prints "N passed, N failed".
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_NEAR(a, b, 1e-5); }
 *   int main(void) { RUN(test_x); return test_summary(); }
 */
#ifndef CW_TEST_H
#define CW_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern int cw_test_failures_in_case;

void cw_test_fail(const char *file, int line, const char *fmt, ...);
void cw_test_run(const char *name, void (*fn)(void));
int test_summary(void);

/* Environment helpers: CW_SHARED_DIR, CW_FIXTURES_DIR, ... set by CTest.
 * test_path(env, rel) returns a static buffer "<$env>/<rel>" (one of 8 rotating). */
const char *test_path(const char *env, const char *rel);
/* A fresh empty temporary directory for this test process. */
const char *test_tmpdir(void);
/* Writes len bytes to tmpdir/name and returns the full path (rotating buffer). */
const char *test_write_file(const char *name, const void *data, size_t len);

#define RUN(fn) cw_test_run(#fn, fn)
#define CHECK(cond) \
    do { if (!(cond)) cw_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define CHECK_MSG(cond, ...) \
    do { if (!(cond)) cw_test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CHECK_EQ_INT(a, b) \
    do { long long _a = (long long)(a), _b = (long long)(b); \
         if (_a != _b) cw_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define CHECK_EQ_STR(a, b) \
    do { const char *_a = (a), *_b = (b); \
         if (!_a || !_b || strcmp(_a, _b) != 0) \
             cw_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define CHECK_NEAR(a, b, tol) \
    do { double _a = (double)(a), _b = (double)(b); \
         if (!(fabs(_a - _b) <= (tol))) cw_test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, _a, _b, (double)(tol)); } while (0)
/* A call that must fail with the given status and an error message containing
 * the substring `needle` (e.g. the file name). */
#define CHECK_FAILS(expr, status, needle) \
    do { cw_status _s = (expr); const char *_m = cw_last_error(); \
         if (_s != (status)) cw_test_fail(__FILE__, __LINE__, "%s: status %d, expected %d (%s)", #expr, (int)_s, (int)(status), _m); \
         else if (!strstr(_m, (needle))) cw_test_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", #expr, _m, (needle)); \
         else if (strchr(_m, '\n')) cw_test_fail(__FILE__, __LINE__, "%s: message has a newline: \"%s\"", #expr, _m); } while (0)

#endif
