/* A model's encoder and decoder on a back end of their own, as the bench
 * tools that drive the network directly (bench/gemm/bench_isa_model.c,
 * bench/accuracy/divergence.c) set them up: one window, max_seq sequences. */
#ifndef CW_BENCH_NET_H
#define CW_BENCH_NET_H

#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/error.h"

typedef struct {
    cw_backend *be;
    cw_nn_weights *w;
    cw_encoder *enc;
    cw_decoder *dec;
} bench_net;

/* 0, or -1 with the error printed (what is made so far is freed by bench_net_free). */
static inline int bench_net_create(bench_net *n, const cw_model *model, const cw_backend_params *bp,
                                   cw_compute_dtype dtype, size_t max_seq)
{
    memset(n, 0, sizeof *n);
    if (cw_backend_create(bp, &n->be) || cw_nn_weights_create_dtype(n->be, model, dtype, &n->w) ||
        cw_encoder_create(n->w, 1, &n->enc) || cw_decoder_create(n->w, max_seq, 1, &n->dec)) {
        fprintf(stderr, "setup: %s\n", cw_last_error());
        return -1;
    }
    return 0;
}

static inline void bench_net_free(bench_net *n)
{
    cw_decoder_free(n->dec);
    cw_encoder_free(n->enc);
    cw_nn_weights_free(n->w);
    cw_backend_free(n->be);
}

#endif
