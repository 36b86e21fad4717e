/* The audio encoder (openai/whisper model.py AudioEncoder) over a batch of
 * windows: conv1 + GELU, conv2 (stride 2) + GELU, positional embedding, pre-LN
 * residual blocks, ln_post. */
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

struct cw_encoder {
    const cw_nn_weights *w;
    size_t max_batch;
    size_t n_ctx, d;         /* 1500, n_state */
    cw_buf *mel;             /* [max_batch, n_mels, 3000] */
    cw_buf *c1;              /* [d, 3000]: conv1 output of one window */
    cw_buf *c2;              /* [d, n_ctx]: conv2 output of one window */
    cw_buf *x;               /* [max_batch * n_ctx, d]: the residual stream, then the output */
    cw_buf *h;               /* [max_batch * n_ctx, d] */
    cw_buf *q, *k, *v, *a;   /* [max_batch * n_ctx, d] */
    cw_buf *f;               /* [max_batch * n_ctx, 4d] */
};

#define TRY(x) do { cw_status s_ = (x); if (s_ != CW_OK) return s_; } while (0)

static cw_status alloc(cw_backend *be, size_t n_floats, cw_buf **out)
{
    return be->ops->buf_alloc(be, n_floats * sizeof(float), out);
}

cw_status cw_encoder_create(const cw_nn_weights *w, size_t max_batch, cw_encoder **out)
{
    *out = NULL;
    cw_encoder *e = cw_calloc(1, sizeof *e);
    if (!e) return CW_ERR_NOMEM;
    cw_backend *be = w->be;
    e->w = w;
    e->max_batch = max_batch ? max_batch : 1;
    e->n_ctx = (size_t)w->dims.n_audio_ctx;
    e->d = (size_t)w->dims.n_audio_state;
    size_t n_frames = 2 * e->n_ctx, rows = e->max_batch * e->n_ctx;
    cw_status s = alloc(be, e->max_batch * (size_t)w->dims.n_mels * n_frames, &e->mel);
    if (!s) s = alloc(be, e->d * n_frames, &e->c1);
    if (!s) s = alloc(be, e->d * e->n_ctx, &e->c2);
    if (!s) s = alloc(be, rows * e->d, &e->x);
    if (!s) s = alloc(be, rows * e->d, &e->h);
    if (!s) s = alloc(be, rows * e->d, &e->q);
    if (!s) s = alloc(be, rows * e->d, &e->k);
    if (!s) s = alloc(be, rows * e->d, &e->v);
    if (!s) s = alloc(be, rows * e->d, &e->a);
    if (!s) s = alloc(be, rows * 4 * e->d, &e->f);
    if (s) {
        cw_encoder_free(e);
        return s;
    }
    *out = e;
    return CW_OK;
}

void cw_encoder_free(cw_encoder *e)
{
    if (!e) return;
    cw_backend *be = e->w->be;
    cw_buf *bufs[] = {e->mel, e->c1, e->c2, e->x, e->h, e->q, e->k, e->v, e->a, e->f};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->buf_free(be, bufs[i]);
    free(e);
}

cw_buf *cw_encoder_output(const cw_encoder *e) { return e->x; }

/* conv1 -> GELU -> conv2 -> GELU -> transpose, for window b:
 * mel [n_mels, 3000] -> x rows [b*n_ctx, (b+1)*n_ctx) of [., d]. */
static cw_status stem(cw_encoder *e, size_t b)
{
    const cw_nn_weights *w = e->w;
    const cw_backend_ops *op = w->be->ops;
    cw_backend *be = w->be;
    size_t n_mels = (size_t)w->dims.n_mels, n_frames = 2 * e->n_ctx;
    cw_ref mel = cw_ref_at(e->mel, b * n_mels * n_frames);
    TRY(op->conv1d(be, cw_ref_at(e->c1, 0), mel, &w->conv1.w, cw_ref_at(w->conv1.b, 0), n_mels,
                   n_frames, 1));
    TRY(op->gelu(be, cw_ref_at(e->c1, 0), e->d * n_frames));
    TRY(op->conv1d(be, cw_ref_at(e->c2, 0), cw_ref_at(e->c1, 0), &w->conv2.w,
                   cw_ref_at(w->conv2.b, 0), e->d, n_frames, 2));
    TRY(op->gelu(be, cw_ref_at(e->c2, 0), e->d * e->n_ctx));
    return op->transpose(be, cw_ref_at(e->x, b * e->n_ctx * e->d), cw_ref_at(e->c2, 0), e->d,
                         e->n_ctx);
}

/* x += attn(LN(x)) over n_batch windows of n_ctx rows; no mask. */
static cw_status self_attention(cw_encoder *e, const cw_nn_block *blk, size_t n_batch)
{
    cw_backend *be = e->w->be;
    const cw_backend_ops *op = be->ops;
    size_t rows = n_batch * e->n_ctx, d = e->d;
    TRY(op->layernorm(be, cw_ref_at(e->h, 0), cw_ref_at(e->x, 0), cw_ref_at(blk->attn_ln.gamma, 0),
                      cw_ref_at(blk->attn_ln.beta, 0), rows, d, 1e-5f));
    TRY(op->linear(be, cw_ref_at(e->q, 0), cw_ref_at(e->h, 0), &blk->attn.q, cw_ref_at(blk->attn.bq, 0), rows));
    TRY(op->linear(be, cw_ref_at(e->k, 0), cw_ref_at(e->h, 0), &blk->attn.k, cw_ref_none(), rows));
    TRY(op->linear(be, cw_ref_at(e->v, 0), cw_ref_at(e->h, 0), &blk->attn.v, cw_ref_at(blk->attn.bv, 0), rows));
    size_t bstride = e->n_ctx * d;
    cw_attn a = {
        .n_batch = n_batch, .n_head = (size_t)e->w->dims.n_audio_head, .nq = e->n_ctx, .nkv = e->n_ctx,
        .o = cw_ref_at(e->a, 0), .o_ld = d, .o_bstride = bstride,
        .q = cw_ref_at(e->q, 0), .q_ld = d, .q_bstride = bstride,
        .k = cw_ref_at(e->k, 0), .k_ld = d, .k_bstride = bstride,
        .v = cw_ref_at(e->v, 0), .v_ld = d, .v_bstride = bstride,
        .scale = 0.125f, .causal = 0, .q_pos = 0,
    };
    TRY(op->attention(be, &a));
    TRY(op->linear(be, cw_ref_at(e->h, 0), cw_ref_at(e->a, 0), &blk->attn.o, cw_ref_at(blk->attn.bo, 0), rows));
    return op->add(be, cw_ref_at(e->x, 0), cw_ref_at(e->x, 0), cw_ref_at(e->h, 0), rows * d);
}

/* x += mlp(LN(x)). */
static cw_status mlp(cw_encoder *e, const cw_nn_block *blk, size_t rows)
{
    cw_backend *be = e->w->be;
    const cw_backend_ops *op = be->ops;
    size_t d = e->d;
    TRY(op->layernorm(be, cw_ref_at(e->h, 0), cw_ref_at(e->x, 0), cw_ref_at(blk->mlp_ln.gamma, 0),
                      cw_ref_at(blk->mlp_ln.beta, 0), rows, d, 1e-5f));
    TRY(cw_backend_linear_gelu(be, cw_ref_at(e->f, 0), cw_ref_at(e->h, 0), &blk->mlp0.w, cw_ref_at(blk->mlp0.b, 0),
                               rows, 0));
    TRY(op->linear(be, cw_ref_at(e->h, 0), cw_ref_at(e->f, 0), &blk->mlp2.w, cw_ref_at(blk->mlp2.b, 0), rows));
    return op->add(be, cw_ref_at(e->x, 0), cw_ref_at(e->x, 0), cw_ref_at(e->h, 0), rows * d);
}

cw_status cw_encoder_run(cw_encoder *e, const float *mel, size_t n_batch)
{
    const cw_nn_weights *w = e->w;
    cw_backend *be = w->be;
    const cw_backend_ops *op = be->ops;
    if (n_batch == 0 || n_batch > e->max_batch)
        return cw_error(CW_ERR_INVALID_ARG, "encoder: batch of %zu windows, at most %zu", n_batch,
                        e->max_batch);
    size_t mel_floats = n_batch * (size_t)w->dims.n_mels * 2 * e->n_ctx;
    TRY(op->upload(be, e->mel, 0, mel, mel_floats * sizeof(float)));
    for (size_t b = 0; b < n_batch; b++) TRY(stem(e, b));
    size_t rows = n_batch * e->n_ctx;
    TRY(op->add_bcast(be, cw_ref_at(e->x, 0), cw_ref_at(e->x, 0), cw_ref_at(w->enc_pos, 0), n_batch,
                      e->n_ctx * e->d));
    for (size_t l = 0; l < (size_t)w->dims.n_audio_layer; l++) {
        TRY(self_attention(e, &w->enc[l], n_batch));
        TRY(mlp(e, &w->enc[l], rows));
    }
    return op->layernorm(be, cw_ref_at(e->x, 0), cw_ref_at(e->x, 0), cw_ref_at(w->ln_post.gamma, 0),
                         cw_ref_at(w->ln_post.beta, 0), rows, e->d, 1e-5f);
}
