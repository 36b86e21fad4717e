/* Runs the CUDA back end's kernels (src/backend/cuda/kernels.h) on the host,
 * for tests on machines without a GPU: a launch runs the grid's blocks one
 * after another, each block's threads as real host threads (pthreads), with
 *   - blockIdx / threadIdx thread-local, blockDim / gridDim the launch's;
 *   - cw_sync() (__syncthreads) a barrier over the block's threads;
 *   - cw_shfl_xor() (__shfl_xor_sync over a full warp) through a slot per
 *     lane and a barrier per warp of 32 threads, so a warp's lanes exchange
 *     values in lockstep as on the GPU;
 *   - CW_SHARED arrays one per block (each thread's n-th CW_SHARED gets the
 *     block's n-th array).
 * What it checks: the kernels' index arithmetic, bounds, masks and
 * reductions, run by as many threads in the same shapes as on the GPU. What
 * it cannot: GPU timing, memory ordering beyond the barriers, the device's
 * float operations (expf, erff and division may round differently). Include
 * it once, in the test's .c file, before kernels.h. */
#ifndef CW_TEST_CUDA_SHIM_H
#define CW_TEST_CUDA_SHIM_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/half.h"

typedef struct { unsigned x, y, z; } cw_dim3;

static _Thread_local cw_dim3 cw_shim_bidx, cw_shim_tidx;
static _Thread_local size_t cw_shim_shared_used;
static cw_dim3 cw_shim_bdim, cw_shim_gdim;

#define blockIdx cw_shim_bidx
#define threadIdx cw_shim_tidx
#define blockDim cw_shim_bdim
#define gridDim cw_shim_gdim

#define CW_KERNEL static void
#define CW_DEV static inline

enum { CW_SHIM_MAX_THREADS = 1024, CW_SHIM_SHARED = 48 * 1024 };

typedef struct {
    pthread_barrier_t block;
    pthread_barrier_t warp[CW_SHIM_MAX_THREADS / 32];
    float slot[CW_SHIM_MAX_THREADS];
    _Alignas(16) unsigned char shared[CW_SHIM_SHARED];
} cw_shim_block;

static cw_shim_block *cw_shim_cur; /* the block being run */
static _Thread_local unsigned cw_shim_lin; /* the thread's linear index in its block */

static void cw_shim_sync(void) { pthread_barrier_wait(&cw_shim_cur->block); }

static float cw_shim_shfl_xor(float v, int m)
{
    unsigned lane = cw_shim_lin % 32, w = cw_shim_lin / 32;
    cw_shim_cur->slot[cw_shim_lin] = v;
    pthread_barrier_wait(&cw_shim_cur->warp[w]);
    float r = cw_shim_cur->slot[w * 32 + (lane ^ (unsigned)m)];
    pthread_barrier_wait(&cw_shim_cur->warp[w]);
    return r;
}

static void *cw_shim_shared(size_t bytes)
{
    size_t at = cw_shim_shared_used;
    cw_shim_shared_used += (bytes + 15) / 16 * 16;
    if (cw_shim_shared_used > CW_SHIM_SHARED) {
        fprintf(stderr, "cuda_shim: more than %d bytes of shared memory\n", CW_SHIM_SHARED);
        abort();
    }
    return cw_shim_cur->shared + at;
}

#define cw_sync() cw_shim_sync()
#define cw_shfl_xor(v, m) cw_shim_shfl_xor((v), (m))
#define CW_SHARED(type, name, n) type *name = (type *)cw_shim_shared(sizeof(type) * (n))
#define cw_f32_to_f16_bits(x) cw_f32_to_f16(x)

typedef struct {
    void (*body)(void *);
    void *arg;
    cw_dim3 bidx, tidx;
    unsigned lin;
} cw_shim_thread;

static void *cw_shim_thread_main(void *p)
{
    cw_shim_thread *t = p;
    cw_shim_bidx = t->bidx;
    cw_shim_tidx = t->tidx;
    cw_shim_lin = t->lin;
    cw_shim_shared_used = 0;
    t->body(t->arg);
    return NULL;
}

/* Runs body(arg) (a call of one kernel) as the grid `grid` of blocks `block`;
 * block.x * block.y a multiple of 32, at most 1024. */
static void cw_shim_launch(cw_dim3 grid, cw_dim3 block, void (*body)(void *), void *arg)
{
    unsigned nt = block.x * block.y * (block.z ? block.z : 1);
    if (nt == 0 || nt > CW_SHIM_MAX_THREADS || nt % 32) {
        fprintf(stderr, "cuda_shim: block of %u threads\n", nt);
        abort();
    }
    cw_shim_block *blk = calloc(1, sizeof *blk);
    cw_shim_thread *ts = calloc(nt, sizeof *ts);
    pthread_t *th = calloc(nt, sizeof *th);
    if (!blk || !ts || !th) abort();
    cw_shim_bdim = block;
    cw_shim_gdim = grid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (unsigned bz = 0; bz < (grid.z ? grid.z : 1); bz++)
        for (unsigned by = 0; by < (grid.y ? grid.y : 1); by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                memset(blk->shared, 0xff, sizeof blk->shared); /* NaNs: reads before writes show */
                pthread_barrier_init(&blk->block, NULL, nt);
                for (unsigned w = 0; w < nt / 32; w++) pthread_barrier_init(&blk->warp[w], NULL, 32);
                cw_shim_cur = blk;
                for (unsigned i = 0; i < nt; i++) {
                    ts[i] = (cw_shim_thread){ body, arg, { bx, by, bz },
                                              { i % block.x, i / block.x % block.y, i / (block.x * block.y) }, i };
                    if (pthread_create(&th[i], &attr, cw_shim_thread_main, &ts[i]) != 0) abort();
                }
                for (unsigned i = 0; i < nt; i++) pthread_join(th[i], NULL);
                pthread_barrier_destroy(&blk->block);
                for (unsigned w = 0; w < nt / 32; w++) pthread_barrier_destroy(&blk->warp[w]);
            }
    pthread_attr_destroy(&attr);
    free(th);
    free(ts);
    free(blk);
}

#endif
