/* The text decoder (openai/whisper model.py TextDecoder) as a step function
 * over a batch of sequences: token + positional embedding, pre-LN blocks of
 * causal self-attention (keys/values cached per position), cross-attention
 * on the window's encoder states (keys/values computed once per window), MLP;
 * final LayerNorm; logits against the token embedding (tied). */
#include "nn/nn.h"

#include <math.h>
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
    /* [n_layer] of [max_audio, n_audio_ctx, d] (F32, BF16), or of
     * [max_audio, H, n_audio_ctx, 64] int8 followed by the steps
     * [max_audio, H, n_audio_ctx] (I8: the quantize_heads op's layout) */
    cw_buf **k_cross, **v_cross;
    /* The cross K/V's type: a decoder step reads all of them for every token,
     * and in float32 they are as many bytes as the int8 weights (base: 37 MB
     * a step). F32 in the exact mode, I8 in the int8 and bf16 modes where the
     * back end has quantize_heads (head-major rows, which the prefetchers
     * follow, at a quarter of the bytes), BF16 otherwise. In the bf16 mode
     * the bf16 K/V were a fifth of a base step's time, and I8 took the
     * 30.5-minute recording from 26.1 to 22.0 s at the same WER within
     * 0.1 points (base 10.10 -> 10.16%, tiny.en 12.37 -> 12.28%). */
    cw_dtype kv_dt;
    cw_buf *x, *h, *q, *k, *v, *a; /* [max_seq * n_ctx, d] */
    cw_buf *f;                     /* [max_seq * n_ctx, 4d]; also reorder scratch */
    cw_buf *last;                  /* [max_seq, d] gathered rows */
    cw_buf *logits;                /* [max_seq, n_vocab] */
    /* forward_items: items in row order (sorted by n_new), their first
     * rows, and per-sequence attention fields, [max_seq] each; tokens
     * [max_seq * n_ctx] */
    size_t *it_ord, *it_row, *it_slot, *it_audio, *it_nkv, *it_pos;
    int32_t *it_tok;
    /* cw_decoder_forward_capture: the alignment heads' scores to fill
     * during the forward it runs, NULL otherwise */
    const cw_decoder_capture *cap;
};

#define TRY(x) do { cw_status s_ = (x); if (s_ != CW_OK) return s_; } while (0)

static cw_status alloc(cw_backend *be, size_t n_floats, cw_buf **out)
{
    return be->ops->buf_alloc(be, n_floats * sizeof(float), out);
}

static size_t n_head(const cw_decoder *dc) { return (size_t)dc->w->dims.n_text_head; }

/* float32 slots of one window's cross K (or V) values; n_audio_ctx * d is a
 * multiple of 4 (d of 64) */
static size_t win_slots(const cw_decoder *dc)
{
    size_t n = dc->n_audio_ctx * dc->d;
    return dc->kv_dt == CW_DTYPE_F32 ? n : dc->kv_dt == CW_DTYPE_BF16 ? n / 2 : n / 4;
}

/* I8: the steps of one window, and where the steps of window 0 start */
static size_t win_steps(const cw_decoder *dc) { return n_head(dc) * dc->n_audio_ctx; }
static size_t steps_at(const cw_decoder *dc) { return dc->max_audio * win_slots(dc); }

/* float32 slots of a layer's cross K (or V) cache */
static size_t cross_slots(const cw_decoder *dc)
{
    return dc->kv_dt == CW_DTYPE_I8 ? win_slots(dc) + win_steps(dc) : win_slots(dc);
}

static cw_status alloc_caches(cw_decoder *dc)
{
    cw_backend *be = dc->w->be;
    dc->k_self = cw_calloc(dc->n_layer, sizeof *dc->k_self);
    dc->v_self = cw_calloc(dc->n_layer, sizeof *dc->v_self);
    dc->k_cross = cw_calloc(dc->n_layer, sizeof *dc->k_cross);
    dc->v_cross = cw_calloc(dc->n_layer, sizeof *dc->v_cross);
    if (!dc->k_self || !dc->v_self || !dc->k_cross || !dc->v_cross) return CW_ERR_NOMEM;
    size_t self = dc->max_seq * dc->n_ctx * dc->d, cross = dc->max_audio * cross_slots(dc);
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
    int lowp = w->dtype == CW_COMPUTE_BF16 || w->dtype == CW_COMPUTE_INT8;
    dc->kv_dt = lowp && w->be->ops->quantize_heads ? CW_DTYPE_I8
                : lowp ? CW_DTYPE_BF16
                                                                             : CW_DTYPE_F32;
    dc->seq_audio = cw_calloc(dc->max_seq, sizeof *dc->seq_audio);
    dc->audio_tmp = cw_calloc(dc->max_seq, sizeof *dc->audio_tmp);
    size_t *its[6];
    for (int i = 0; i < 6; i++) its[i] = cw_calloc(dc->max_seq, sizeof(size_t));
    dc->it_ord = its[0], dc->it_row = its[1], dc->it_slot = its[2], dc->it_audio = its[3];
    dc->it_nkv = its[4], dc->it_pos = its[5];
    dc->it_tok = cw_calloc(dc->max_seq * dc->n_ctx, sizeof *dc->it_tok);
    int items_ok = dc->it_tok != NULL;
    for (int i = 0; i < 6; i++) items_ok = items_ok && its[i];
    cw_status s = dc->seq_audio && dc->audio_tmp && items_ok ? alloc_caches(dc) : CW_ERR_NOMEM;
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
    free(dc->it_ord); free(dc->it_row); free(dc->it_slot); free(dc->it_audio); free(dc->it_nkv);
    free(dc->it_pos); free(dc->it_tok);
    free(dc);
}

size_t cw_decoder_length(const cw_decoder *dc) { return dc->len; }

/* Layer l's cross K/V of window `index` of enc_out into window slot `slot`,
 * in bf16 or int8: the products through f (float32 [n_audio_ctx, d], which
 * f's 4 n_ctx rows hold), then narrowed or quantized into the caches. */
static cw_status window_kv(cw_decoder *dc, size_t l, cw_buf *enc_out, size_t index, size_t slot)
{
    cw_backend *be = dc->w->be;
    const cw_nn_attn *c = &dc->w->dec[l].cross;
    size_t n = dc->n_audio_ctx * dc->d;
    cw_buf *dst[2] = { dc->k_cross[l], dc->v_cross[l] };
    for (int i = 0; i < 2; i++) {
        TRY(be->ops->linear(be, cw_ref_at(dc->f, 0), cw_ref_at(enc_out, index * n), i ? &c->v : &c->k,
                            i ? cw_ref_at(c->bv, 0) : cw_ref_none(), dc->n_audio_ctx));
        if (dc->kv_dt == CW_DTYPE_BF16)
            TRY(be->ops->narrow(be, cw_ref_at(dst[i], slot * win_slots(dc)), CW_DTYPE_BF16, cw_ref_at(dc->f, 0), n));
        else
            TRY(be->ops->quantize_heads(be, cw_ref_at(dst[i], slot * win_slots(dc)),
                                        cw_ref_at(dst[i], steps_at(dc) + slot * win_steps(dc)), cw_ref_at(dc->f, 0),
                                        dc->n_audio_ctx, n_head(dc)));
    }
    return CW_OK;
}

/* The attention op's K/V fields for the cross caches of layer l, from window
 * slot `slot` on (bstride: one window, for per-sequence slots). */
static void cross_fields(const cw_decoder *dc, size_t l, size_t slot, cw_attn *a)
{
    size_t d = dc->d, at = slot * win_slots(dc);
    a->nkv = dc->n_audio_ctx;
    a->kv_dtype = dc->kv_dt;
    a->k = cw_ref_at(dc->k_cross[l], at), a->v = cw_ref_at(dc->v_cross[l], at);
    if (dc->kv_dt != CW_DTYPE_I8) { /* BF16: strides count bf16 elements */
        a->k_ld = a->v_ld = d;
        a->k_bstride = a->v_bstride = dc->n_audio_ctx * d;
        return;
    }
    a->k_ld = a->v_ld = CW_HEAD_DIM;
    a->k_hstride = a->v_hstride = dc->n_audio_ctx * CW_HEAD_DIM;
    a->k_bstride = a->v_bstride = dc->n_audio_ctx * d;
    a->k_step = cw_ref_at(dc->k_cross[l], steps_at(dc) + slot * win_steps(dc));
    a->v_step = cw_ref_at(dc->v_cross[l], steps_at(dc) + slot * win_steps(dc));
    a->s_hstride = dc->n_audio_ctx;
    a->s_bstride = win_steps(dc);
}

cw_status cw_decoder_set_audio(cw_decoder *dc, cw_buf *enc_out, size_t n_audio)
{
    if (n_audio == 0 || n_audio > dc->max_audio)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu windows, at most %zu", n_audio, dc->max_audio);
    cw_backend *be = dc->w->be;
    size_t rows = n_audio * dc->n_audio_ctx;
    for (size_t l = 0; l < dc->n_layer; l++) {
        const cw_nn_attn *c = &dc->w->dec[l].cross;
        if (dc->kv_dt != CW_DTYPE_F32) {
            for (size_t a = 0; a < n_audio; a++) TRY(window_kv(dc, l, enc_out, a, a));
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

/* y = x . W^T (+ b) over n_new rows of each sequence, every sequence's rows
 * as a pass of that sequence alone gives them (linear_rows of class n_new):
 * beams stepped here and beams stepped as lockstep items (one item per beam)
 * then agree bit for bit. */
static cw_status seq_linear(cw_decoder *dc, cw_buf *y, cw_buf *x, const cw_weight *w, cw_ref b, size_t n_new)
{
    cw_backend *be = dc->w->be;
    size_t rows = dc->n_seq * n_new;
    if (!be->ops->linear_rows) return be->ops->linear(be, cw_ref_at(y, 0), cw_ref_at(x, 0), w, b, rows);
    return be->ops->linear_rows(be, cw_ref_at(y, 0), cw_ref_at(x, 0), w, b, rows, n_new);
}

/* Causal self-attention of n_new new rows per sequence; appends their keys
 * and values to the layer's caches at position dc->len. h: LN(x) [rows, d]. */
static cw_status self_attn(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_attn *at = &dc->w->dec[l].attn;
    size_t d = dc->d, rows = dc->n_seq * n_new, cstride = dc->n_ctx * d;
    TRY(seq_linear(dc, dc->q, dc->h, &at->q, cw_ref_at(at->bq, 0), n_new));
    TRY(seq_linear(dc, dc->k, dc->h, &at->k, cw_ref_none(), n_new));
    TRY(seq_linear(dc, dc->v, dc->h, &at->v, cw_ref_at(at->bv, 0), n_new));
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
    TRY(seq_linear(dc, dc->h, dc->a, &at->o, cw_ref_at(at->bo, 0), n_new));
    return op->add(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0), cw_ref_at(dc->h, 0), rows * d);
}

/* k [nf, d] float32 = the first nf cross keys of window slot `slot` of
 * layer l, widened (bf16) or times their steps (int8) on the host. */
static cw_status cross_keys(cw_decoder *dc, size_t l, size_t slot, size_t nf, float *k)
{
    cw_backend *be = dc->w->be;
    size_t d = dc->d, at = slot * win_slots(dc) * sizeof(float); /* bytes */
    if (dc->kv_dt == CW_DTYPE_F32) return be->ops->download(be, k, dc->k_cross[l], at, nf * d * sizeof *k);
    if (dc->kv_dt == CW_DTYPE_BF16) { /* widened from the top of k's storage down */
        uint16_t *k16 = (uint16_t *)(void *)k;
        cw_status s = be->ops->download(be, k16, dc->k_cross[l], at, nf * d * 2);
        for (size_t i = nf * d; !s && i-- > 0;) {
            uint32_t bits = (uint32_t)k16[i] << 16;
            memcpy(&k[i], &bits, sizeof bits);
        }
        return s;
    }
    int8_t *k8 = cw_malloc(nf * CW_HEAD_DIM);
    float *st = cw_malloc(nf * sizeof *st);
    cw_status s = k8 && st ? CW_OK : CW_ERR_NOMEM;
    for (size_t h = 0; !s && h < n_head(dc); h++) { /* head h's rows are contiguous */
        s = be->ops->download(be, k8, dc->k_cross[l], at + h * dc->n_audio_ctx * CW_HEAD_DIM, nf * CW_HEAD_DIM);
        size_t s_at = (steps_at(dc) + slot * win_steps(dc) + h * dc->n_audio_ctx) * sizeof *st;
        if (!s) s = be->ops->download(be, st, dc->k_cross[l], s_at, nf * sizeof *st);
        for (size_t t = 0; !s && t < nf; t++)
            for (size_t i = 0; i < CW_HEAD_DIM; i++) k[t * d + h * CW_HEAD_DIM + i] = (float)k8[t * CW_HEAD_DIM + i] * st[t];
    }
    free(k8);
    free(st);
    return s;
}

/* The raw scores q . k^T / sqrt(64) of layer l's captured heads for the
 * n_new query rows of sequence 0 against the first cap->n_frames keys of its
 * window (model.py qkv_attention's qk), computed on the host in float32:
 * the fused attention op never materialises them. q: dc->q after the
 * cross-attention query projection. */
static cw_status capture_qk(cw_decoder *dc, size_t l, size_t n_new)
{
    const cw_decoder_capture *cap = dc->cap;
    cw_backend *be = dc->w->be;
    size_t d = dc->d, hd = d / (size_t)dc->w->dims.n_text_head, nf = cap->n_frames;
    int wanted = 0;
    for (size_t i = 0; i < cap->n_heads; i++) wanted |= (size_t)cap->heads[2 * i] == l;
    if (!wanted) return CW_OK;
    float *q = cw_malloc(n_new * d * sizeof *q), *k = cw_malloc(nf * d * sizeof *k);
    cw_status s = q && k ? CW_OK : CW_ERR_NOMEM;
    if (!s) s = be->ops->download(be, q, dc->q, 0, n_new * d * sizeof *q);
    if (!s) s = cross_keys(dc, l, dc->seq_audio[0], nf, k);
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t i = 0; !s && i < cap->n_heads; i++) {
        if ((size_t)cap->heads[2 * i] != l) continue;
        size_t h = (size_t)cap->heads[2 * i + 1];
        float *out = cap->qk + i * n_new * nf; /* [n_new, nf] */
        for (size_t t = 0; t < n_new; t++)
            for (size_t f = 0; f < nf; f++) {
                const float *qr = q + t * d + h * hd, *kr = k + f * d + h * hd;
                float acc = 0.0f;
                for (size_t c = 0; c < hd; c++) acc += qr[c] * kr[c];
                out[t * nf + f] = acc * scale;
            }
    }
    free(q);
    free(k);
    return s;
}

/* Cross-attention: each run of consecutive sequences listening to the same
 * window shares that window's keys and values (batch stride 0). */
static cw_status cross_attn(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_attn *at = &dc->w->dec[l].cross;
    size_t d = dc->d, rows = dc->n_seq * n_new;
    TRY(seq_linear(dc, dc->q, dc->h, &at->q, cw_ref_at(at->bq, 0), n_new));
    if (dc->cap) TRY(capture_qk(dc, l, n_new));
    for (size_t s0 = 0; s0 < dc->n_seq;) {
        size_t s1 = s0 + 1, audio = dc->seq_audio[s0];
        while (s1 < dc->n_seq && dc->seq_audio[s1] == audio) s1++;
        cw_attn a = {
            .n_batch = s1 - s0, .n_head = n_head(dc), .nq = n_new,
            .o = cw_ref_at(dc->a, s0 * n_new * d), .o_ld = d, .o_bstride = n_new * d,
            .q = cw_ref_at(dc->q, s0 * n_new * d), .q_ld = d, .q_bstride = n_new * d,
            .scale = 0.125f, .causal = 0, .q_pos = 0,
        };
        cross_fields(dc, l, audio, &a);
        a.k_bstride = a.v_bstride = a.s_bstride = 0; /* the sequences share the window */
        TRY(op->attention(be, &a));
        s0 = s1;
    }
    TRY(seq_linear(dc, dc->h, dc->a, &at->o, cw_ref_at(at->bo, 0), n_new));
    return op->add(be, cw_ref_at(dc->x, 0), cw_ref_at(dc->x, 0), cw_ref_at(dc->h, 0), rows * d);
}

static cw_status mlp(cw_decoder *dc, size_t l, size_t n_new)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_block *b = &dc->w->dec[l];
    size_t d = dc->d, rows = dc->n_seq * n_new;
    TRY(op->layernorm(be, cw_ref_at(dc->h, 0), cw_ref_at(dc->x, 0), cw_ref_at(b->mlp_ln.gamma, 0),
                      cw_ref_at(b->mlp_ln.beta, 0), rows, d, 1e-5f));
    TRY(cw_backend_linear_gelu(be, cw_ref_at(dc->f, 0), cw_ref_at(dc->h, 0), &b->mlp0.w, cw_ref_at(b->mlp0.b, 0),
                               rows, op->linear_rows ? n_new : 0));
    TRY(seq_linear(dc, dc->h, dc->f, &b->mlp2.w, cw_ref_at(b->mlp2.b, 0), n_new));
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
    return mlp(dc, l, n_new);
}

/* Ids below this are text tokens in every Whisper vocabulary (the specials
 * start at 50256 or 50257); the search reads their logits only near the top
 * (argmax, beams, the timestamp rule's max), so a back end's logits op may
 * rank them cheaply and compute the best LOGITS_KEEP of them, and every
 * special token, exactly. */
enum { LOGITS_TEXT = 50256, LOGITS_KEEP = 128 };

/* dc->logits [m, n_vocab] = dc->last [m, d] . E^T, each row as a one-row product. */
static cw_status vocab_product(cw_decoder *dc, size_t m)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    cw_ref y = cw_ref_at(dc->logits, 0), x = cw_ref_at(dc->last, 0);
    if (op->logits && dc->n_vocab > LOGITS_TEXT + LOGITS_KEEP)
        return op->logits(be, y, x, &dc->w->tok_emb, m, LOGITS_TEXT, LOGITS_KEEP);
    if (!op->linear_rows) return op->linear(be, y, x, &dc->w->tok_emb, cw_ref_none(), m);
    return op->linear_rows(be, y, x, &dc->w->tok_emb, cw_ref_none(), m, 1);
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
    /* every sequence's row as one sequence's (class 1), as lockstep items' */
    TRY(vocab_product(dc, dc->n_seq));
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

cw_status cw_decoder_forward_capture(cw_decoder *dc, const int32_t *tokens, size_t n_new,
                                     const cw_decoder_capture *cap, float *logits)
{
    if (dc->n_seq != 1 || dc->len != 0)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: capture needs one fresh sequence");
    for (size_t i = 0; i < cap->n_heads; i++)
        if (cap->heads[2 * i] < 0 || (size_t)cap->heads[2 * i] >= dc->n_layer || cap->heads[2 * i + 1] < 0 ||
            cap->heads[2 * i + 1] >= dc->w->dims.n_text_head)
            return cw_error(CW_ERR_INVALID_ARG, "decoder: no head [%d, %d]", (int)cap->heads[2 * i],
                            (int)cap->heads[2 * i + 1]);
    if (cap->n_frames > dc->n_audio_ctx)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu frames of %zu", cap->n_frames, dc->n_audio_ctx);
    dc->cap = cap;
    cw_status s = cw_decoder_forward(dc, tokens, 1, n_new, logits, -1, NULL);
    dc->cap = NULL;
    return s;
}

cw_status cw_decoder_row_probs(cw_decoder *dc, size_t n_rows, const int32_t *want, size_t n_soft, float *probs)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    size_t d = dc->d, nv = dc->n_vocab, chunk = 32;
    if (dc->n_seq != 1 || n_rows > dc->len || n_soft == 0 || n_soft > nv)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: probabilities of %zu rows of %zu", n_rows, dc->len);
    cw_buf *lg = NULL;
    float *host = cw_malloc(chunk * nv * sizeof *host);
    cw_status s = host ? be->ops->buf_alloc(be, chunk * nv * sizeof(float), &lg) : CW_ERR_NOMEM;
    /* rows [r0, r0 + n) of the last forward through the final LayerNorm
     * (into f, free after the forward) and the tied embedding */
    for (size_t r0 = 0; !s && r0 < n_rows; r0 += chunk) {
        size_t n = n_rows - r0 < chunk ? n_rows - r0 : chunk;
        s = op->layernorm(be, cw_ref_at(dc->f, 0), cw_ref_at(dc->x, r0 * d), cw_ref_at(dc->w->dec_ln.gamma, 0),
                          cw_ref_at(dc->w->dec_ln.beta, 0), n, d, 1e-5f);
        if (!s) s = op->linear(be, cw_ref_at(lg, 0), cw_ref_at(dc->f, 0), &dc->w->tok_emb, cw_ref_none(), n);
        if (!s) s = op->download(be, host, lg, 0, n * nv * sizeof *host);
        for (size_t i = 0; !s && i < n; i++) { /* softmax over [0, n_soft), in double */
            const float *row = host + i * nv;
            int32_t t = want[r0 + i];
            float mx = row[0];
            for (size_t v = 1; v < n_soft; v++) mx = row[v] > mx ? row[v] : mx;
            double sum = 0.0;
            for (size_t v = 0; v < n_soft; v++) sum += exp((double)(row[v] - mx));
            probs[r0 + i] = t >= 0 && (size_t)t < n_soft ? (float)(exp((double)(row[t] - mx)) / sum) : 0.0f;
        }
    }
    if (lg) be->ops->buf_free(be, lg);
    free(host);
    return s;
}

/* Slot first + i takes the first len cached positions of slot first +
 * source[i]: the moving rows through the MLP scratch ([max_seq * n_ctx, 4d]
 * holds [max_seq, n_ctx, d] twice over), all read before any is written. */
static cw_status move_rows(cw_decoder *dc, size_t first, const size_t *source, size_t n, size_t len)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    size_t d = dc->d, cstride = dc->n_ctx * d;
    for (size_t l = 0; l < dc->n_layer; l++) {
        cw_buf *caches[2] = {dc->k_self[l], dc->v_self[l]};
        for (int c = 0; c < 2; c++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (source[i] != i)
                    TRY(op->copy2d(be, cw_ref_at(dc->f, m++ * len * d), d,
                                   cw_ref_at(caches[c], (first + source[i]) * cstride), d, len, d));
            m = 0;
            for (size_t i = 0; i < n; i++)
                if (source[i] != i)
                    TRY(op->copy2d(be, cw_ref_at(caches[c], (first + i) * cstride), d,
                                   cw_ref_at(dc->f, m++ * len * d), d, len, d));
        }
    }
    return CW_OK;
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
    if (!increasing) return move_rows(dc, 0, source, n_seq, len);
    for (size_t l = 0; l < dc->n_layer; l++) { /* in place: each source lies at or after its destination */
        cw_buf *caches[2] = {dc->k_self[l], dc->v_self[l]};
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < n_seq; i++)
                if (source[i] != i)
                    TRY(op->copy2d(be, cw_ref_at(caches[c], i * cstride), d, cw_ref_at(caches[c], source[i] * cstride),
                                   d, len, d));
    }
    return CW_OK;
}

cw_status cw_decoder_move_slots(cw_decoder *dc, size_t first, const size_t *source, size_t n, size_t len)
{
    if (first + n > dc->max_seq || len > dc->n_ctx)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: move slots [%zu, %zu + %zu) of %zu", first, first, n, dc->max_seq);
    for (size_t i = 0; i < n; i++)
        if (source[i] >= n) return cw_error(CW_ERR_INVALID_ARG, "decoder: move source %zu of %zu", source[i], n);
    return len ? move_rows(dc, first, source, n, len) : CW_OK;
}

/* ---- lockstep: items at their own positions ------------------------------------- */

cw_status cw_decoder_set_audio_at(cw_decoder *dc, size_t audio, cw_buf *enc_out, size_t index)
{
    if (audio >= dc->max_audio)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: window slot %zu of %zu", audio, dc->max_audio);
    cw_backend *be = dc->w->be;
    size_t n = dc->n_audio_ctx * dc->d, src = index * n, dst = audio * n;
    for (size_t l = 0; l < dc->n_layer; l++) {
        const cw_nn_attn *c = &dc->w->dec[l].cross;
        if (dc->kv_dt != CW_DTYPE_F32) {
            TRY(window_kv(dc, l, enc_out, index, audio));
            continue;
        }
        TRY(be->ops->linear(be, cw_ref_at(dc->k_cross[l], dst), cw_ref_at(enc_out, src), &c->k, cw_ref_none(),
                            dc->n_audio_ctx));
        TRY(be->ops->linear(be, cw_ref_at(dc->v_cross[l], dst), cw_ref_at(enc_out, src), &c->v,
                            cw_ref_at(c->bv, 0), dc->n_audio_ctx));
    }
    return CW_OK;
}

cw_status cw_decoder_copy_audio(cw_decoder *dst, size_t dst_audio, const cw_decoder *src, size_t src_audio)
{
    if (dst_audio >= dst->max_audio || src_audio >= src->max_audio || dst->w != src->w || dst->kv_dt != src->kv_dt)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: cannot copy window %zu to %zu", src_audio, dst_audio);
    cw_backend *be = dst->w->be;
    size_t n = win_slots(dst), ns = win_steps(dst);
    for (size_t l = 0; l < dst->n_layer; l++) {
        cw_buf *to[2] = { dst->k_cross[l], dst->v_cross[l] }, *from[2] = { src->k_cross[l], src->v_cross[l] };
        for (int i = 0; i < 2; i++) {
            TRY(be->ops->copy2d(be, cw_ref_at(to[i], dst_audio * n), n, cw_ref_at(from[i], src_audio * n), n, 1, n));
            if (dst->kv_dt == CW_DTYPE_I8)
                TRY(be->ops->copy2d(be, cw_ref_at(to[i], steps_at(dst) + dst_audio * ns), ns,
                                    cw_ref_at(from[i], steps_at(src) + src_audio * ns), ns, 1, ns));
        }
    }
    return CW_OK;
}

/* The items' layout: dc->it_ord lists them by n_new (stable), so that items
 * of one row count are adjacent rows (one linear_rows call per count). */
typedef struct {
    const cw_decoder_item *items;
    size_t n, rows;
} items_plan;

/* y rows = x rows . W^T (+ b), then GELU if gelu, for every group of items
 * with one row count, each group computed as for one item of that count. */
static cw_status items_linear_act(cw_decoder *dc, const items_plan *pl, cw_buf *y, cw_buf *x, const cw_weight *w,
                                  cw_buf *bias, int gelu)
{
    cw_backend *be = dc->w->be;
    for (size_t g0 = 0; g0 < pl->n;) {
        size_t nn = pl->items[dc->it_ord[g0]].n_new, g1 = g0 + 1;
        while (g1 < pl->n && pl->items[dc->it_ord[g1]].n_new == nn) g1++;
        size_t r0 = dc->it_row[g0], rows = (g1 - g0) * nn;
        cw_ref yr = cw_ref_at(y, r0 * w->rows), xr = cw_ref_at(x, r0 * w->cols);
        cw_ref br = bias ? cw_ref_at(bias, 0) : cw_ref_none();
        TRY(gelu ? cw_backend_linear_gelu(be, yr, xr, w, br, rows, nn) : be->ops->linear_rows(be, yr, xr, w, br, rows, nn));
        g0 = g1;
    }
    return CW_OK;
}

static cw_status items_linear(cw_decoder *dc, const items_plan *pl, cw_buf *y, cw_buf *x, const cw_weight *w,
                              cw_buf *bias)
{
    return items_linear_act(dc, pl, y, x, w, bias, 0);
}

/* Attention of every group of equal row counts, sequence b of a group
 * reading its own cache slot (self: slot, cross: audio window). */
static cw_status items_attention(cw_decoder *dc, const items_plan *pl, size_t l, int self)
{
    cw_backend *be = dc->w->be;
    size_t d = dc->d;
    for (size_t g0 = 0; g0 < pl->n;) {
        size_t nn = pl->items[dc->it_ord[g0]].n_new, g1 = g0 + 1, mx = 0;
        while (g1 < pl->n && pl->items[dc->it_ord[g1]].n_new == nn) g1++;
        for (size_t i = g0; i < g1; i++) mx = dc->it_nkv[i] > mx ? dc->it_nkv[i] : mx;
        size_t r0 = dc->it_row[g0];
        cw_attn a = {
            .n_batch = g1 - g0, .n_head = (size_t)dc->w->dims.n_text_head, .nq = nn,
            .o = cw_ref_at(dc->a, r0 * d), .o_ld = d, .o_bstride = nn * d,
            .q = cw_ref_at(dc->q, r0 * d), .q_ld = d, .q_bstride = nn * d,
            .scale = 0.125f,
        };
        if (self) {
            a.nkv = mx;
            a.k = cw_ref_at(dc->k_self[l], 0), a.k_ld = d, a.k_bstride = dc->n_ctx * d;
            a.v = cw_ref_at(dc->v_self[l], 0), a.v_ld = d, a.v_bstride = dc->n_ctx * d;
            a.causal = 1;
            a.kv_item = dc->it_slot + g0, a.b_nkv = dc->it_nkv + g0, a.b_q_pos = dc->it_pos + g0;
        } else {
            cross_fields(dc, l, 0, &a);
            a.kv_item = dc->it_audio + g0;
        }
        TRY(be->ops->attention(be, &a));
        g0 = g1;
    }
    return CW_OK;
}

static cw_status items_layer(cw_decoder *dc, const items_plan *pl, size_t l)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    const cw_nn_block *b = &dc->w->dec[l];
    size_t d = dc->d, R = pl->rows;
    cw_ref x = cw_ref_at(dc->x, 0), h = cw_ref_at(dc->h, 0);
    /* self-attention */
    TRY(op->layernorm(be, h, x, cw_ref_at(b->attn_ln.gamma, 0), cw_ref_at(b->attn_ln.beta, 0), R, d, 1e-5f));
    TRY(items_linear(dc, pl, dc->q, dc->h, &b->attn.q, b->attn.bq));
    TRY(items_linear(dc, pl, dc->k, dc->h, &b->attn.k, NULL));
    TRY(items_linear(dc, pl, dc->v, dc->h, &b->attn.v, b->attn.bv));
    for (size_t i = 0; i < pl->n; i++) {
        const cw_decoder_item *it = &pl->items[dc->it_ord[i]];
        size_t dst = it->slot * dc->n_ctx * d + it->pos * d, src = dc->it_row[i] * d;
        TRY(op->copy2d(be, cw_ref_at(dc->k_self[l], dst), d, cw_ref_at(dc->k, src), d, it->n_new, d));
        TRY(op->copy2d(be, cw_ref_at(dc->v_self[l], dst), d, cw_ref_at(dc->v, src), d, it->n_new, d));
    }
    TRY(items_attention(dc, pl, l, 1));
    TRY(items_linear(dc, pl, dc->h, dc->a, &b->attn.o, b->attn.bo));
    TRY(op->add(be, x, x, h, R * d));
    /* cross-attention */
    TRY(op->layernorm(be, h, x, cw_ref_at(b->cross_ln.gamma, 0), cw_ref_at(b->cross_ln.beta, 0), R, d, 1e-5f));
    TRY(items_linear(dc, pl, dc->q, dc->h, &b->cross.q, b->cross.bq));
    TRY(items_attention(dc, pl, l, 0));
    TRY(items_linear(dc, pl, dc->h, dc->a, &b->cross.o, b->cross.bo));
    TRY(op->add(be, x, x, h, R * d));
    /* MLP */
    TRY(op->layernorm(be, h, x, cw_ref_at(b->mlp_ln.gamma, 0), cw_ref_at(b->mlp_ln.beta, 0), R, d, 1e-5f));
    TRY(items_linear_act(dc, pl, dc->f, dc->h, &b->mlp0.w, b->mlp0.b, 1));
    TRY(items_linear(dc, pl, dc->h, dc->f, &b->mlp2.w, b->mlp2.b));
    return op->add(be, x, x, h, R * d);
}

/* Logits of rows row[0..n) (sorted-layout row indices) into host out rows
 * dst[0..n): each as a one-sequence decoding's (one row: class 1). */
static cw_status items_logits(cw_decoder *dc, const size_t *row, size_t n, float *out, const size_t *dst)
{
    cw_backend *be = dc->w->be;
    const cw_backend_ops *op = be->ops;
    size_t d = dc->d, nv = dc->n_vocab;
    for (size_t i = 0; i < n; i++)
        TRY(op->copy2d(be, cw_ref_at(dc->last, i * d), d, cw_ref_at(dc->x, row[i] * d), d, 1, d));
    TRY(op->layernorm(be, cw_ref_at(dc->last, 0), cw_ref_at(dc->last, 0), cw_ref_at(dc->w->dec_ln.gamma, 0),
                      cw_ref_at(dc->w->dec_ln.beta, 0), n, d, 1e-5f));
    TRY(vocab_product(dc, n));
    for (size_t i = 0; i < n; i++)
        TRY(op->download(be, out + dst[i] * nv, dc->logits, i * nv * sizeof(float), nv * sizeof(float)));
    return CW_OK;
}

cw_status cw_decoder_forward_items(cw_decoder *dc, const cw_decoder_item *items, size_t n, float *logits,
                                   float *extra_logits)
{
    cw_backend *be = dc->w->be;
    if (n == 0 || n > dc->max_seq)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu items, at most %zu", n, dc->max_seq);
    if (!be->ops->linear_rows)
        return cw_error(CW_ERR_UNSUPPORTED, "decoder: the %s back end has no per-item ops", be->ops->name);
    for (size_t i = 0; i < n; i++) {
        const cw_decoder_item *it = &items[i];
        if (it->slot >= dc->max_seq || it->audio >= dc->max_audio || it->n_new == 0 ||
            it->pos + it->n_new > dc->n_ctx || (it->extra_pos >= 0 && (size_t)it->extra_pos >= it->n_new))
            return cw_error(CW_ERR_INVALID_ARG, "decoder: item %zu (slot %zu, window %zu, %zu + %zu tokens) invalid",
                            i, it->slot, it->audio, it->pos, it->n_new);
        for (size_t j = 0; j < i; j++)
            if (items[j].slot == it->slot) return cw_error(CW_ERR_INVALID_ARG, "decoder: slot %zu fed twice", it->slot);
        for (size_t t = 0; t < it->n_new; t++)
            if (it->tokens[t] < 0 || (size_t)it->tokens[t] >= dc->n_vocab)
                return cw_error(CW_ERR_INVALID_ARG, "decoder: token id %d out of range", (int)it->tokens[t]);
    }
    /* stable insertion sort by n_new */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && items[dc->it_ord[j - 1]].n_new > items[i].n_new) {
            dc->it_ord[j] = dc->it_ord[j - 1];
            j--;
        }
        dc->it_ord[j] = i;
    }
    items_plan pl = { items, n, 0 };
    size_t d = dc->d;
    for (size_t i = 0; i < n; i++) {
        const cw_decoder_item *it = &items[dc->it_ord[i]];
        dc->it_row[i] = pl.rows;
        dc->it_slot[i] = it->slot, dc->it_audio[i] = it->audio;
        dc->it_pos[i] = it->pos, dc->it_nkv[i] = it->pos + it->n_new;
        memcpy(dc->it_tok + pl.rows, it->tokens, it->n_new * sizeof *dc->it_tok);
        pl.rows += it->n_new;
    }
    TRY(be->ops->embedding(be, cw_ref_at(dc->x, 0), &dc->w->tok_emb, dc->it_tok, pl.rows));
    for (size_t i = 0; i < n; i++) {
        const cw_decoder_item *it = &items[dc->it_ord[i]];
        cw_ref xr = cw_ref_at(dc->x, dc->it_row[i] * d);
        TRY(be->ops->add_bcast(be, xr, xr, cw_ref_at(dc->w->dec_pos, it->pos * d), 1, it->n_new * d));
    }
    for (size_t l = 0; l < dc->n_layer; l++) TRY(items_layer(dc, &pl, l));
    /* row and destination of each item's logits; it_nkv/it_pos are free now */
    size_t *row = dc->it_nkv, *dst = dc->it_pos, ne = 0;
    for (size_t i = 0; extra_logits && i < n; i++) {
        const cw_decoder_item *it = &items[dc->it_ord[i]];
        if (it->extra_pos < 0) continue;
        row[ne] = dc->it_row[i] + (size_t)it->extra_pos;
        dst[ne++] = dc->it_ord[i];
    }
    if (ne) TRY(items_logits(dc, row, ne, extra_logits, dst));
    for (size_t i = 0; i < n; i++) {
        row[i] = dc->it_row[i] + items[dc->it_ord[i]].n_new - 1;
        dst[i] = dc->it_ord[i];
    }
    return items_logits(dc, row, n, logits, dst);
}
