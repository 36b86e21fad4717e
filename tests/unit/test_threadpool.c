/* The thread pool: every part runs exactly once per run, on its own ith, the
 * caller included; many back-to-back runs (the dispatch race); results
 * identical with 1 and 2 threads; degenerate sizes and a NULL pool. Prints the
 * cost of one empty dispatch. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/threadpool.h"
#include "test.h"

typedef struct {
    atomic_int calls[16]; /* per ith */
    atomic_int bad_nth;
    int expect_nth;
} count_job;

static void count_part(int ith, int nth, void *arg)
{
    count_job *j = arg;
    if (nth != j->expect_nth || ith < 0 || ith >= nth) atomic_fetch_add(&j->bad_nth, 1);
    else atomic_fetch_add(&j->calls[ith], 1);
}

static void test_each_part_once(void)
{
    for (int n = -1; n <= 6; n++) {
        cw_threadpool *p = cw_threadpool_create(n);
        CHECK(p != NULL);
        int nth = cw_threadpool_size(p);
        CHECK_EQ_INT(nth, n < 1 ? 1 : n);
        count_job j = { .expect_nth = nth };
        int runs = nth <= 2 ? 2000 : 300; /* oversubscribed pools are slow on 2 cores */
        for (int r = 0; r < runs; r++) cw_threadpool_run(p, count_part, &j);
        CHECK_EQ_INT(atomic_load(&j.bad_nth), 0);
        for (int i = 0; i < nth; i++) CHECK_EQ_INT(atomic_load(&j.calls[i]), runs);
        cw_threadpool_free(p);
    }
    count_job j = { .expect_nth = 1 };
    cw_threadpool_run(NULL, count_part, &j); /* NULL pool: the caller alone */
    CHECK_EQ_INT(atomic_load(&j.calls[0]), 1);
    CHECK_EQ_INT(cw_threadpool_size(NULL), 1);
    cw_threadpool_free(NULL);
}

typedef struct {
    const double *x; /* [n] */
    double *y;       /* [n] */
    size_t n;
} map_job;

static void map_part(int ith, int nth, void *arg)
{
    map_job *j = arg;
    size_t lo = j->n * (size_t)ith / (size_t)nth, hi = j->n * (size_t)(ith + 1) / (size_t)nth;
    for (size_t i = lo; i < hi; i++) j->y[i] = sin(j->x[i]) * j->x[i] + 1.0 / (1.0 + j->x[i] * j->x[i]);
}

static void test_identical_with_1_and_2_threads(void)
{
    size_t n = 100003;
    double *x = malloc(n * sizeof *x), *y1 = malloc(n * sizeof *y1), *y2 = malloc(n * sizeof *y2);
    for (size_t i = 0; i < n; i++) x[i] = (double)i * 0.001 - 7.0;
    cw_threadpool *p1 = cw_threadpool_create(1), *p2 = cw_threadpool_create(2);
    map_job a = { x, y1, n }, b = { x, y2, n };
    cw_threadpool_run(p1, map_part, &a);
    for (int r = 0; r < 50; r++) { /* rerun: stale data would show */
        memset(y2, 0, n * sizeof *y2);
        cw_threadpool_run(p2, map_part, &b);
        CHECK(memcmp(y1, y2, n * sizeof *y1) == 0);
    }
    cw_threadpool_free(p1);
    cw_threadpool_free(p2);
    free(x), free(y1), free(y2);
}

static void nothing(int ith, int nth, void *arg) { (void)ith, (void)nth, (void)arg; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_dispatch_cost(void)
{
    cw_threadpool *p = cw_threadpool_create(2);
    int runs = 20000;
    double t0 = now();
    for (int r = 0; r < runs; r++) cw_threadpool_run(p, nothing, NULL);
    double us = (now() - t0) / runs * 1e6;
    printf("  empty dispatch on 2 threads: %.2f us per run\n", us);
    /* after a pause the workers sleep; the next run must still wake them */
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    count_job j = { .expect_nth = 2 };
    cw_threadpool_run(p, count_part, &j);
    CHECK_EQ_INT(atomic_load(&j.calls[1]), 1);
    cw_threadpool_free(p);
}

int main(void)
{
    RUN(test_each_part_once);
    RUN(test_identical_with_1_and_2_threads);
    RUN(test_dispatch_cost);
    return test_summary();
}
