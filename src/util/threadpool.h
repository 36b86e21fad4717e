/* A persistent thread pool owned by whoever creates it (a context, a call):
 * cw_threadpool_run(pool, fn, arg) calls fn(ith, nth, arg) once for every
 * ith in [0, nth) — part 0 on the caller's thread, the others on the pool's
 * workers — and returns when all parts have run. Work is split by the callee
 * (e.g. rows [ith*n/nth, (ith+1)*n/nth)), as in ggml. Dispatch is a short spin
 * on an atomic generation counter, then a condition-variable sleep, so the
 * back-to-back runs of a matrix-product loop stay cheap and an idle pool costs
 * no CPU. One run at a time per pool: the pool is not re-entrant and must not
 * be run from two threads at once. */
#ifndef CW_UTIL_THREADPOOL_H
#define CW_UTIL_THREADPOOL_H

#include "cwhisper.h"

typedef struct cw_threadpool cw_threadpool;

/* fn's part of the work: ith in [0, nth). */
typedef void (*cw_threadpool_fn)(int ith, int nth, void *arg);

/* n_threads counts the caller: n_threads <= 1 gives a pool without workers
 * whose runs happen on the calling thread. Returns NULL (error set) on failure. */
cw_threadpool *cw_threadpool_create(int n_threads);

/* Runs fn(ith, nth, arg) for ith = 0..nth-1, nth = cw_threadpool_size(pool),
 * blocking until all parts are done. pool may be NULL: then fn(0, 1, arg). */
void cw_threadpool_run(cw_threadpool *pool, cw_threadpool_fn fn, void *arg);

/* nth of every run (1 for NULL). */
int cw_threadpool_size(const cw_threadpool *pool);

/* Joins the workers; NULL is fine. */
void cw_threadpool_free(cw_threadpool *pool);

/* Number of online CPUs (at least 1): a default for n_threads. */
int cw_cpu_count(void);

#endif
