/* util/vmath.c against plain double-precision loops, on logit-like rows
 * with masked (-inf) entries and lengths around the 16-lane blocks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "util/vmath.h"

static float frand(uint64_t *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 40) / (double)(1ULL << 23) - 1.0);
}

static float *row(size_t n, uint64_t *s)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = frand(s) * 30.0f;
    for (size_t i = 0; i < n; i += 3) x[i] = -INFINITY; /* suppressed tokens */
    return x;
}

static void test_max_argmax(void)
{
    uint64_t s = 7;
    CHECK(cw_vmax(NULL, 0) == -INFINITY);
    CHECK(cw_vargmax(NULL, 0) == 0);
    for (size_t n = 1; n < 100; n += 7) {
        float *x = row(n, &s);
        float mx = -INFINITY;
        size_t best = 0;
        for (size_t i = 0; i < n; i++)
            if (x[i] > mx) mx = x[i], best = i;
        CHECK(cw_vmax(x, n) == mx);
        CHECK(cw_vmax_c(x, n) == mx);
        CHECK_EQ_INT(cw_vargmax(x, n), best);
        if (n > 40) { /* ties: the first one, as PyTorch's argmax */
            if (best + 1 < n) x[best + 1] = mx;
            x[5] = mx;
            CHECK_EQ_INT(cw_vargmax(x, n), best < 5 ? best : 5);
        }
        free(x);
    }
    float all[20];
    for (int i = 0; i < 20; i++) all[i] = -INFINITY;
    CHECK(cw_vmax(all, 20) == -INFINITY);
    CHECK_EQ_INT(cw_vargmax(all, 20), 0);
}

static void test_sum_exp(void)
{
    uint64_t s = 11;
    for (size_t n = 1; n < 51865; n = n * 3 + 1) {
        float *x = row(n, &s);
        float a = 2.5f, b = -1.25f;
        double ref = 0;
        for (size_t i = 0; i < n; i++) ref += exp((double)((x[i] - a) - b));
        double got = cw_vsum_exp(x, n, a, b), got_c = cw_vsum_exp_c(x, n, a, b);
        CHECK_MSG(fabs(got - ref) <= 1e-6 * ref, "n %zu: %.9g vs %.9g", n, got, ref);
        CHECK_MSG(fabs(got_c - ref) <= 1e-6 * ref, "portable, n %zu: %.9g vs %.9g", n, got_c, ref);
        free(x);
    }
    float v[3] = { -INFINITY, -100.0f, 88.0f };
    CHECK(cw_vsum_exp(v, 2, 0.0f, 0.0f) == 0.0);
    CHECK(cw_vsum_exp_c(v, 2, 0.0f, 0.0f) == 0.0);
    CHECK_NEAR(cw_vsum_exp(v + 2, 1, 0.0f, 0.0f) / exp(88.0), 1.0, 1e-6);
    CHECK_NEAR(cw_vsum_exp(v + 2, 1, 88.0f, 0.0f), 1.0, 1e-7);
}

int main(void)
{
    RUN(test_max_argmax);
    RUN(test_sum_exp);
    return test_summary();
}
