/* A fixed set of contexts over one shared (read-only) model. Requests take
 * a ticket and are served in arrival order as contexts free up, so a burst
 * of requests queues instead of oversubscribing the CPUs, and none starves. */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>

struct serve_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cw_context **ctx; /* [n] */
    int *busy;        /* [n] */
    int n, n_busy;
    unsigned long next_ticket, serving; /* FIFO: a waiter goes when its ticket is `serving` */
    int stopping;
};

cw_status pool_create(const cw_model *model, const cw_context_params *cp, int n, serve_pool **out)
{
    *out = NULL;
    serve_pool *p = calloc(1, sizeof *p);
    if (!p) return CW_ERR_NOMEM;
    p->ctx = calloc((size_t)n, sizeof *p->ctx);
    p->busy = calloc((size_t)n, sizeof *p->busy);
    if (!p->ctx || !p->busy) {
        free(p->ctx), free(p->busy), free(p);
        return CW_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n = n;
    for (int i = 0; i < n; i++) {
        cw_status s = cw_context_create(model, cp, &p->ctx[i]);
        if (s) {
            pool_free(p);
            return s;
        }
    }
    *out = p;
    return CW_OK;
}

cw_context *pool_acquire(serve_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned long ticket = p->next_ticket++;
    while (!p->stopping && (ticket != p->serving || p->n_busy == p->n))
        pthread_cond_wait(&p->cv, &p->mu);
    cw_context *c = NULL;
    if (!p->stopping) {
        for (int i = 0; i < p->n; i++)
            if (!p->busy[i]) {
                p->busy[i] = 1;
                c = p->ctx[i];
                break;
            }
        p->n_busy++;
        p->serving++;
        /* The next ticket may go now if another context is free. */
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return c;
}

void pool_release(serve_pool *p, cw_context *ctx)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->ctx[i] == ctx && p->busy[i]) {
            p->busy[i] = 0;
            p->n_busy--;
        }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_stop(serve_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_stats(serve_pool *p, int *size, int *busy, int *waiting)
{
    pthread_mutex_lock(&p->mu);
    *size = p->n;
    *busy = p->n_busy;
    *waiting = (int)(p->next_ticket - p->serving);
    pthread_mutex_unlock(&p->mu);
}

void pool_free(serve_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) cw_context_free(p->ctx[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->ctx);
    free(p->busy);
    free(p);
}
