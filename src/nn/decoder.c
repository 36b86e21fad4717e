/* The text decoder (openai/whisper model.py TextDecoder) as a step function
 * over a batch of sequences: token + positional embedding, pre-LN blocks of
 * causal self-attention (keys/values cached per position), cross-attention
 * on the window's encoder states (keys/values computed once per window), MLP;
 * final LayerNorm; logits against the token embedding (tied). */
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct cw_decoder {
    const cw_nn_weights *w;
    size_t max_seq, max_audio;
    size_t d, n_ctx, n_audio_ctx, n_vocab, n_layer;
    size_t n_seq, len;        /* live sequences, tokens in their caches */
    size_t *seq_audio;        /* [max_seq] window of each sequence */
    size_t *audio_tmp;        /* [max_seq] scratch for reordering seq_audio */
    size_t n_audio;
    cw_buf **k_self, **v_self;   /* [n_layer] of [max_seq, n_ctx, d] */
    cw_buf **k_cross, **v_cross; /* [n_layer] of [max_audio, n_audio_ctx, d] */
    /* cross K/V held in bf16 (the low-precision modes): a decoder step reads
     * all of them for every token, and in float32 they are as many bytes as
     * the int8 weights (base: 37 MB a step, 74 MB per 8 chunks' worth) */
    int kv16;
    cw_buf *x, *h, *q, *k, *v, *a; /* [max_seq * n_ctx, d] */
    cw_buf *f;                     /* [max_seq * n_ctx, 4d]; also reorder scratch */
    cw_buf *last;                  /* [max_seq, d] gathered rows */
    cw_buf *logits;                /* [max_seq, n_vocab] */
};

#define TRY(x) do { cw_status s_ = (x); if (s_ != CW_OK) return s_; } while (0)

static cw_status alloc(cw_backend *be, size_t n_floats, cw_buf **out)
{
    return be->ops->buf_alloc(be, n_floats * sizeof(float), out);
}

static cw_status alloc_caches(cw_decoder *dc)
{
    cw_backend *be = dc->w->be;
    dc->k_self = cw_calloc(dc->n_layer, sizeof *dc->k_self);
    dc->v_self = cw_calloc(dc->n_layer, sizeof *dc->v_self);
    dc->k_cross = cw_calloc(dc->n_layer, sizeof *dc->k_cross);
    dc->v_cross = cw_calloc(dc->n_layer, sizeof *dc->v_cross);
    if (!dc->k_self || !dc->v_self || !dc->k_cross || !dc->v_cross) return CW_ERR_NOMEM;
    size_t self = dc->max_seq * dc->n_ctx * dc->d, cross = dc->max_audio * dc->n_audio_ctx * dc->d;
    if (dc->kv16) cross = (cross + 1) / 2; /* float32 slots of bf16 elements */
    for (size_t l = 0; l < dc->n_layer; l++) {
        TRY(alloc(be, self, &dc->k_self[l]));
        TRY(alloc(be, self, &dc->v_self[l]));
        TRY(alloc(be, cross, &dc->k_cross[l]));
        TRY(alloc(be, cross, &dc->v_cross[l]));
    }
    return CW_OK;
}

static cw_status alloc_scratch(cw_decoder *dc)
{
    cw_backend *be = dc->w->be;
    size_t rows = dc->max_seq * dc->n_ctx;
    TRY(alloc(be, rows * dc->d, &dc->x));
    TRY(alloc(be, rows * dc->d, &dc->h));
    TRY(alloc(be, rows * dc->d, &dc->q));
    TRY(alloc(be, rows * dc->d, &dc->k));
    TRY(alloc(be, rows * dc->d, &dc->v));
    TRY(alloc(be, rows * dc->d, &dc->a));
    TRY(alloc(be, rows * 4 * dc->d, &dc->f));
    TRY(alloc(be, dc->max_seq * dc->d, &dc->last));
    return alloc(be, dc->max_seq * dc->n_vocab, &dc->logits);
}

cw_status cw_decoder_create(const cw_nn_weights *w, size_t max_seq, size_t max_audio,
                            cw_decoder **out)
{
    *out = NULL;
    cw_decoder *dc = cw_calloc(1, sizeof *dc);
    if (!dc) return CW_ERR_NOMEM;
    dc->w = w;
    dc->max_seq = max_seq ? max_seq : 1;
    dc->max_audio = max_audio ? max_audio : 1;
    dc->d = (size_t)w->dims.n_text_state;
    dc->n_ctx = (size_t)w->dims.n_text_ctx;
    dc->n_audio_ctx = (size_t)w->dims.n_audio_ctx;
    dc->n_vocab = (size_t)w->dims.n_vocab;
    dc->n_layer = (size_t)w->dims.n_text_layer;
    dc->kv16 = w->dtype == CW_COMPUTE_BF16 || w->dtype == CW_COMPUTE_INT8;
    dc->seq_audio = cw_calloc(dc->max_seq, sizeof *dc->seq_audio);
    dc->audio_tmp = cw_calloc(dc->max_seq, sizeof *dc->audio_tmp);
    cw_status s = dc->seq_audio && dc->audio_tmp ? alloc_caches(dc) : CW_ERR_NOMEM;
    if (!s) s = alloc_scratch(dc);
    if (s) {
        cw_decoder_free(dc);
        return s;
    }
    *out = dc;
    return CW_OK;
}

void cw_decoder_free(cw_decoder *dc)
{
    if (!dc) return;
    cw_backend *be = dc->w->be;
    for (size_t l = 0; l < dc->n_layer; l++) {
        if (dc->k_self) be->ops->buf_free(be, dc->k_self[l]);
        if (dc->v_self) be->ops->buf_free(be, dc->v_self[l]);
        if (dc->k_cross) be->ops->buf_free(be, dc->k_cross[l]);
        if (dc->v_cross) be->ops->buf_free(be, dc->v_cross[l]);
    }
    cw_buf *bufs[] = {dc->x, dc->h, dc->q, dc->k, dc->v, dc->a, dc->f, dc->last, dc->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->buf_free(be, bufs[i]);
    free(dc->k_self);
    free(dc->v_self);
    free(dc->k_cross);
    free(dc->v_cross);
    free(dc->seq_audio);
    free(dc->audio_tmp);
    free(dc);
}

size_t cw_decoder_length(const cw_decoder *dc) { return dc->len; }

/* Layer l's cross K/V of n_audio windows in bf16: each window's products
 * through f (float32 [n_audio_ctx, d], which f's 4 n_ctx rows hold), then
 * narrowed into the caches. */
static cw_status cross_kv16(cw_decoder *dc, size_t l, cw_buf *enc_out, size_t n_audio)
{
    cw_backend *be = dc->w->be;
    const cw_nn_attn *c = &dc->w->dec[l].cross;
    size_t n = dc->n_audio_ctx * dc->d;
    for (size_t a = 0; a < n_audio; a++) {
        TRY(be->ops->linear(be, cw_ref_at(dc->f, 0), cw_ref_at(enc_out, a * n), &c->k, cw_ref_none(), dc->n_audio_ctx));
        TRY(be->ops->narrow(be, cw_ref_at(dc->k_cross[l], a * n / 2), CW_DTYPE_BF16, cw_ref_at(dc->f, 0), n));
        TRY(be->ops->linear(be, cw_ref_at(dc->f, 0), cw_ref_at(enc_out, a * n), &c->v, cw_ref_at(c->bv, 0),
                            dc->n_audio_ctx));
        TRY(be->ops->narrow(be, cw_ref_at(dc->v_cross[l], a * n / 2), CW_DTYPE_BF16, cw_ref_at(dc->f, 0), n));
    }
    return CW_OK;
}

cw_status cw_decoder_set_audio(cw_decoder *dc, cw_buf *enc_out, size_t n_audio)
{
    if (n_audio == 0 || n_audio > dc->max_audio)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu windows, at most %zu", n_audio, dc->max_audio);
    cw_backend *be = dc->w->be;
    size_t rows = n_audio * dc->n_audio_ctx;
    for (size_t l = 0; l < dc->n_layer; l++) {
        const cw_nn_attn *c = &dc->w->dec[l].cross;
        if (dc->kv16) {
            TRY(cross_kv16(dc, l, enc_out, n_audio));
            continue;
        }
        TRY(be->ops->linear(be, cw_ref_at(dc->k_cross[l], 0), cw_ref_at(enc_out, 0), &c->k,
                            cw_ref_none(), rows));
        TRY(be->ops->linear(be, cw_ref_at(dc->v_cross[l], 0), cw_ref_at(enc_out, 0), &c->v,
                            cw_ref_at(c->bv, 0), rows));
    }
    dc->n_audio = n_audio;
    return CW_OK;
}

cw_status cw_decoder_reset(cw_decoder *dc, size_t n_seq, const size_t *seq_audio)
{
    if (n_seq == 0 || n_seq > dc->max_seq)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu sequences, at most %zu", n_seq, dc->max_seq);
    for (size_t i = 0; i < n_seq; i++) {
        size_t a = seq_audio ? seq_audio[i] : 0;
        if (a >= dc->max_audio)
            return cw_error(CW_ERR_INVALID_ARG, "decoder: sequence %zu listens to window %zu of %zu",
                            i, a, dc->max_audio);
        dc->seq_audio[i] = a;
    }
    dc->n_seq = n_seq;
    dc->len = 0;
    return CW_OK;
}

/* Causal self-attention of n_new new rows per sequence; appends their keys
 * and values to the layer's caches at position dc->len. h: LN(x) [rows, d]. */
static cw_status self_attn(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_attn *at = &dc->w->dec[l].attn;
    size_t d = dc->d, rows = dc->n_seq * n_new, cstride = dc->n_ctx * d;
    TRY(op->linear(be, cw_ref_at(dc->q, 0), cw_ref_at(dc->h, 0), &at->q, cw_ref_at(at->bq, 0), rows));
    TRY(op->linear(be, cw_ref_at(dc->k, 0), cw_ref_at(dc->h, 0), &at->k, cw_ref_none(), rows));
    TRY(op->linear(be, cw_ref_at(dc->v, 0), cw_ref_at(dc->h, 0), &at->v, cw_ref_at(at->bv, 0), rows));
    for (size_t s = 0; s < dc->n_seq; s++) {
        size_t dst = s * cstride + dc->len * d, src = s * n_new * d;
        TRY(op->copy2d(be, cw_ref_at(dc->k_self[l], dst), d, cw_ref_at(dc->k, src), d, n_new, d));
        TRY(op->copy2d(be, cw_ref_at(dc->v_self[l], dst), d, cw_ref_at(dc->v, src), d, n_new, d));
    }
    cw_attn a = {
        .n_batch = dc->n_seq, .n_head = (size_t)dc->w->dims.n_text_head, .nq = n_new,
        .nkv = dc->len + n_new,
        .o = cw_ref_at(dc->a, 0), .o_ld = d, .o_bstride = n_new * d,
        .q = cw_ref_at(dc->q, 0), .q_ld = d, .q_bstride = n_new * d,
        .k = cw_ref_at(dc->k_self[l], 0), .k_ld = d, .k_bstride = cstride,
        .v = cw_ref_at(dc->v_self[l], 0), .v_ld = d, .v_bstride = cstride,
        .scale = 0.125f, .causal = 1, .q_pos = dc->len,
    };
    TRY(op->attention(be, &a));
    TRY(op->linear(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->a, 0), &at->o, cw_ref_at(at->bo, 0), rows));
    return op->add(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0), cw_ref_at(dc->h, 0), rows * d);
}

/* Cross-attention: each run of consecutive sequences listening to the same
 * window shares that window's keys and values (batch stride 0). */
static cw_status cross_attn(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_attn *at = &dc->w->dec[l].cross;
    size_t d = dc->d, rows = dc->n_seq * n_new;
    TRY(op->linear(be, cw_ref_at(dc->q, 0), cw_ref_at(dc->h, 0), &at->q, cw_ref_at(at->bq, 0), rows));
    for (size_t s0 = 0; s0 < dc->n_seq;) {
        size_t s1 = s0 + 1, audio = dc->seq_audio[s0];
        while (s1 < dc->n_seq && dc->seq_audio[s1] == audio) s1++;
        size_t kv = audio * dc->n_audio_ctx * d;
        if (dc->kv16) kv /= 2; /* float32 slots; n_audio_ctx * d is even */
        cw_attn a = {
            .n_batch = s1 - s0, .n_head = (size_t)dc->w->dims.n_text_head, .nq = n_new,
            .nkv = dc->n_audio_ctx,
            .o = cw_ref_at(dc->a, s0 * n_new * d), .o_ld = d, .o_bstride = n_new * d,
            .q = cw_ref_at(dc->q, s0 * n_new * d), .q_ld = d, .q_bstride = n_new * d,
            .k = cw_ref_at(dc->k_cross[l], kv), .k_ld = d, .k_bstride = 0,
            .v = cw_ref_at(dc->v_cross[l], kv), .v_ld = d, .v_bstride = 0,
            .scale = 0.125f, .causal = 0, .q_pos = 0,
            .kv_dtype = dc->kv16 ? CW_DTYPE_BF16 : CW_DTYPE_F32,
        };
        TRY(op->attention(be, &a));
        s0 = s1;
    }
    TRY(op->linear(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->a, 0), &at->o, cw_ref_at(at->bo, 0), rows));
    return op->add(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0), cw_ref_at(dc->h, 0), rows * d);
}

static cw_status mlp(cw_decoder *dc, size_t l, size_t rows)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_block *b = &dc->w->dec[l];
    size_t d = dc->d;
    TRY(op->layernorm(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->x, 0), cw_ref_at(b->mlp_ln.gamma, 0),
                      cw_ref_at(b->mlp_ln.beta, 0), rows, d, 1e-5f));
    TRY(op->linear(be, cw_ref_at(dc->f, 0), cw_ref_at(dc->h, 0), &b->mlp0.w, cw_ref_at(b->mlp0.b, 0), rows));
    TRY(op->gelu(be, cw_ref_at(dc->f, 0), rows * 4 * d));
    TRY(op->linear(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->f, 0), &b->mlp2.w, cw_ref_at(b->mlp2.b, 0), rows));
    return op->add(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0), cw_ref_at(dc->h, 0), rows * d);
}

static cw_status layer(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_nn_block *b = &dc->w->dec[l];
    size_t rows = dc->n_seq * n_new;
    TRY(be->ops->layernorm(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->x, 0), cw_ref_at(b->attn_ln.gamma, 0),
                           cw_ref_at(b->attn_ln.beta, 0), rows, dc->d, 1e-5f));
    TRY(self_attn(dc, l, n_new));
    TRY(be->ops->layernorm(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->x, 0), cw_ref_at(b->cross_ln.gamma, 0),
                           cw_ref_at(b->cross_ln.beta, 0), rows, dc->d, 1e-5f));
    TRY(cross_attn(dc, l, n_new));
    return mlp(dc, l, rows);
}

/* Logits of row `pos` of every sequence: final LN, then x . E^T -> host out
 * [n_seq, n_vocab]. */
static cw_status logits_at(cw_decoder *dc, size_t n_new, size_t pos, float *out)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    size_t d = dc->d;
    TRY(op->copy2d(be, cw_ref_at(dc->last, 0), d, cw_ref_at(dc->x, pos * d), n_new * d, dc->n_seq, d));
    TRY(op->layernorm(be, cw_ref_at(dc->last, 0), cw_ref_at(dc->last, 0), cw_ref_at(dc->w->dec_ln.gamma, 0),
                      cw_ref_at(dc->w->dec_ln.beta, 0), dc->n_seq, d, 1e-5f));
    TRY(op->linear(be, cw_ref_at(dc->logits, 0), cw_ref_at(dc->last, 0), &dc->w->tok_emb, cw_ref_none(),
                   dc->n_seq));
    return op->download(be, out, dc->logits, 0, dc->n_seq * dc->n_vocab * sizeof(float));
}

cw_status cw_decoder_forward(cw_decoder *dc, const int32_t *tokens, size_t n_seq, size_t n_new,
                             float *logits, long extra_pos, float *extra_logits)
{
    cw_backend *be = dc->w->be;
    if (n_seq != dc->n_seq || n_new == 0)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu sequences of %zu new tokens, reset for %zu",
                        n_seq, n_new, dc->n_seq);
    if (dc->len + n_new > dc->n_ctx)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu tokens exceed the text context of %zu",
                        dc->len + n_new, dc->n_ctx);
    for (size_t i = 0; i < n_seq * n_new; i++)
        if (tokens[i] < 0 || (size_t)tokens[i] >= dc->n_vocab)
            return cw_error(CW_ERR_INVALID_ARG, "decoder: token id %d out of range", (int)tokens[i]);
    size_t d = dc->d;
    TRY(be->ops->embedding(be, cw_ref_at(dc->x, 0), &dc->w->tok_emb, tokens, n_seq * n_new));
    TRY(be->ops->add_bcast(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0),
                           cw_ref_at(dc->w->dec_pos, dc->len * d), n_seq, n_new * d));
    for (size_t l = 0; l < dc->n_layer; l++) TRY(layer(dc, l, n_new));
    dc->len += n_new;
    if (extra_pos >= 0 && extra_logits) {
        if ((size_t)extra_pos >= n_new)
            return cw_error(CW_ERR_INVALID_ARG, "decoder: extra position %ld of %zu", extra_pos, n_new);
        TRY(logits_at(dc, n_new, (size_t)extra_pos, extra_logits));
    }
    return logits_at(dc, n_new, n_new - 1, logits);
}

cw_status cw_decoder_reorder(cw_decoder *dc, const size_t *source, size_t n_seq)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    if (n_seq == 0 || n_seq > dc->n_seq)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: reorder into %zu sequences, %zu live", n_seq, dc->n_seq);
    size_t d = dc->d, cstride = dc->n_ctx * d, len = dc->len;
    int increasing = 1; /* dropping finished sequences: source[i] >= i, in order */
    for (size_t i = 0; i < n_seq; i++) {
        if (source[i] >= dc->n_seq)
            return cw_error(CW_ERR_INVALID_ARG, "decoder: reorder source %zu of %zu", source[i], dc->n_seq);
        if (i > 0 && source[i] <= source[i - 1]) increasing = 0;
    }
    for (size_t i = 0; i < n_seq; i++) dc->audio_tmp[i] = dc->seq_audio[source[i]];
    memcpy(dc->seq_audio, dc->audio_tmp, n_seq * sizeof *dc->seq_audio);
    dc->n_seq = n_seq;
    if (len == 0) return CW_OK;
    for (size_t l = 0; l < dc->n_layer; l++) {
        cw_buf *caches[2] = {dc->k_self[l], dc->v_self[l]};
        for (int c = 0; c < 2; c++) {
            if (increasing) { /* in place: each source lies at or after its destination */
                for (size_t i = 0; i < n_seq; i++)
                    if (source[i] != i)
                        TRY(op->copy2d(be, cw_ref_at(caches[c], i * cstride), d,
                                       cw_ref_at(caches[c], source[i] * cstride), d, len, d));
                continue;
            }
            /* Gather through the MLP scratch ([max_seq * n_ctx, 4d] holds
             * [n_seq, len, d] twice over), then copy back. */
            for (size_t i = 0; i < n_seq; i++)
                TRY(op->copy2d(be, cw_ref_at(dc->f, i * len * d), d,
                               cw_ref_at(caches[c], source[i] * cstride), d, len, d));
            for (size_t i = 0; i < n_seq; i++)
                TRY(op->copy2d(be, cw_ref_at(caches[c], i * cstride), d, cw_ref_at(dc->f, i * len * d),
                               d, len, d));
        }
    }
    return CW_OK;
}
