/* The persistent thread pool (threadpool.h). A run publishes fn/arg, bumps an
 * atomic generation counter and wakes the workers; each worker runs its part
 * and decrements `pending`; the caller runs part 0 and waits for pending == 0.
 * Both waits spin briefly first (a matrix-product loop dispatches thousands
 * of runs a second, and a futex wake-up costs tens of microseconds), then
 * sleep on a condition variable so an idle pool burns no CPU. */
#include "util/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/error.h"

/* Polls before sleeping: about 0.6 ms of pause on the Xeon measured (4096,
 * 40 us, let a worker fall asleep between two decoder steps, which the
 * serial work between them often outlasts). */
#define CW_POOL_SPIN 65536

#if defined(__x86_64__) || defined(__i386__)
#define cw_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cw_cpu_relax() __asm__ __volatile__("yield")
#else
#define cw_cpu_relax() ((void)0)
#endif

typedef struct {
    cw_threadpool *pool;
    int ith;
} cw_worker;

struct cw_threadpool {
    int n;               /* parts per run, the caller included */
    pthread_t *threads;  /* [n - 1] */
    cw_worker *workers;  /* [n - 1] */
    int n_started;       /* threads actually created */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* generation changed */
    pthread_cond_t done; /* pending reached 0 */
    atomic_uint gen;
    atomic_int pending;
    atomic_int stop;
    cw_threadpool_fn fn; /* published before gen is bumped (release) */
    void *arg;
};

int cw_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* Waits until the generation differs from seen; returns the new one. */
static unsigned wait_generation(cw_threadpool *p, unsigned seen)
{
    for (int i = 0; i < CW_POOL_SPIN; i++) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        cw_cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *v)
{
    cw_worker *w = v;
    cw_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        p->fn(w->ith, p->n, p->arg);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Bumps the generation under the lock, so a worker that checked it under the
 * lock and went to sleep is always woken. */
static void publish(cw_threadpool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

cw_threadpool *cw_threadpool_create(int n_threads)
{
    cw_threadpool *p = cw_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n == 1) return p;
    p->threads = cw_calloc((size_t)p->n - 1, sizeof *p->threads);
    p->workers = cw_calloc((size_t)p->n - 1, sizeof *p->workers);
    if (!p->threads || !p->workers) {
        cw_threadpool_free(p);
        return NULL;
    }
    for (int i = 0; i < p->n - 1; i++) {
        p->workers[i] = (cw_worker){ p, i + 1 };
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            cw_threadpool_free(p);
            cw_error(CW_ERR_INTERNAL, "cannot create thread %d of %d", i + 1, n_threads);
            return NULL;
        }
        p->n_started++;
    }
    return p;
}

void cw_threadpool_run(cw_threadpool *p, cw_threadpool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(0, 1, arg);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    publish(p);
    fn(0, p->n, arg);
    for (int i = 0; i < CW_POOL_SPIN; i++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
        cw_cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int cw_threadpool_size(const cw_threadpool *p) { return p ? p->n : 1; }

void cw_threadpool_free(cw_threadpool *p)
{
    if (!p) return;
    if (p->n_started > 0) {
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        publish(p);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->threads);
    free(p);
}
