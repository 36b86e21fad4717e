/* The network seen through src/decode/'s interfaces (cw_encoder_net,
 * cw_decoder_net): thin adapters from the search's calls to the encoder and
 * the decoder step. Encoder states stay in back-end memory; the pointer the
 * search carries between encode() and set_audio() is only a token. */
#include "nn/net.h"

#include <stdlib.h>

#include "util/error.h"

static cw_status net_encode(void *ctx, const float *mel, size_t n_audio, const float **states)
{
    cw_net *n = ctx;
    cw_status s = cw_encoder_run(n->enc, mel, n_audio);
    /* The states live in cw_encoder_output(n->enc); hand out a token that
     * set_audio recognises. */
    *states = s == CW_OK ? (const float *)(const void *)n : NULL;
    return s;
}

static cw_status net_set_audio(void *ctx, const float *states, size_t n_audio)
{
    cw_net *n = ctx;
    if (states != (const float *)(const void *)n)
        return cw_error(CW_ERR_INTERNAL, "decoder: states did not come from this encoder");
    return cw_decoder_set_audio(n->dec, cw_encoder_output(n->enc), n_audio);
}

static cw_status net_reset(void *ctx, size_t n_seq, size_t n_group)
{
    cw_net *n = ctx;
    if (n_group == 0) return cw_error(CW_ERR_INVALID_ARG, "decoder: group of 0 sequences");
    if (n_seq > n->max_seq)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu sequences, at most %zu", n_seq, n->max_seq);
    for (size_t i = 0; i < n_seq; i++) n->seq_audio[i] = i / n_group;
    return cw_decoder_reset(n->dec, n_seq, n->seq_audio);
}

static cw_status net_forward(void *ctx, const int32_t *tokens, size_t n_seq, size_t k,
                             float *logits, size_t extra_pos, float *extra_logits)
{
    cw_net *n = ctx;
    long pos = extra_pos == CW_NO_POS ? -1 : (long)extra_pos;
    return cw_decoder_forward(n->dec, tokens, n_seq, k, logits, pos, extra_logits);
}

static cw_status net_reorder(void *ctx, const size_t *source, size_t n_seq)
{
    cw_net *n = ctx;
    return cw_decoder_reorder(n->dec, source, n_seq);
}

/* One sequence over window 0 with the alignment heads' scores captured,
 * then the wanted tokens' probabilities from the same forward's rows. */
static cw_status net_align(void *ctx, const int32_t *tokens, size_t n_tok, size_t n_frames, float *qk,
                           const int32_t *want, size_t n_soft, float *probs)
{
    cw_net *n = ctx;
    float *last = cw_malloc(n->decoder.n_vocab * sizeof *last);
    if (!last) return CW_ERR_NOMEM;
    cw_decoder_capture cap = { n->align_heads, n->decoder.n_align_heads, n_frames, qk };
    cw_status s = cw_decoder_reset(n->dec, 1, NULL);
    if (!s) s = cw_decoder_forward_capture(n->dec, tokens, n_tok, &cap, last);
    if (!s) s = cw_decoder_row_probs(n->dec, n_tok, want, n_soft, probs);
    free(last);
    return s;
}

cw_status cw_net_create(cw_backend *be, const cw_model *model, size_t max_audio, size_t max_seq,
                        cw_net **out)
{
    return cw_net_create_dtype(be, model, CW_COMPUTE_FP32, max_audio, max_seq, out);
}

cw_status cw_net_create_dtype(cw_backend *be, const cw_model *model, cw_compute_dtype dtype,
                              size_t max_audio, size_t max_seq, cw_net **out)
{
    *out = NULL;
    cw_net *n = cw_calloc(1, sizeof *n);
    if (!n) return CW_ERR_NOMEM;
    n->max_seq = max_seq ? max_seq : 1;
    n->seq_audio = cw_calloc(n->max_seq, sizeof *n->seq_audio);
    cw_status s = n->seq_audio ? cw_nn_weights_create_dtype(be, model, dtype, &n->weights) : CW_ERR_NOMEM;
    if (!s) s = cw_encoder_create(n->weights, max_audio, &n->enc);
    if (!s) s = cw_decoder_create(n->weights, n->max_seq, max_audio, &n->dec);
    if (s) {
        cw_net_free(n);
        return s;
    }
    n->encoder = (cw_encoder_net){ .ctx = n, .n_mels = (size_t)model->dims.n_mels, .encode = net_encode };
    n->decoder = (cw_decoder_net){
        .ctx = n, .n_vocab = (size_t)model->dims.n_vocab, .set_audio = net_set_audio,
        .reset = net_reset, .forward = net_forward, .reorder = net_reorder,
        .n_align_heads = model->extras.n_alignment_heads, .align = net_align,
    };
    n->align_heads = model->extras.alignment_heads;
    *out = n;
    return CW_OK;
}

cw_status cw_net_resize(cw_net *n, size_t max_audio, size_t max_seq)
{
    max_seq = max_seq ? max_seq : 1;
    size_t *seq_audio = cw_calloc(max_seq, sizeof *seq_audio);
    if (!seq_audio) return CW_ERR_NOMEM;
    cw_decoder_free(n->dec);
    cw_encoder_free(n->enc);
    n->dec = NULL;
    n->enc = NULL;
    free(n->seq_audio);
    n->seq_audio = seq_audio;
    n->max_seq = max_seq;
    cw_status s = cw_encoder_create(n->weights, max_audio, &n->enc);
    return s ? s : cw_decoder_create(n->weights, max_seq, max_audio, &n->dec);
}

/* ---- lockstep: slots and the side decoder ---- */

static cw_status side_set_audio(void *ctx, const float *states, size_t n_audio)
{
    cw_net *n = ctx;
    if (states != (const float *)(const void *)n)
        return cw_error(CW_ERR_INTERNAL, "decoder: states did not come from this encoder");
    return cw_decoder_set_audio(n->side, cw_encoder_output(n->enc), n_audio);
}

static cw_status side_reset(void *ctx, size_t n_seq, size_t n_group)
{
    cw_net *n = ctx;
    if (n_group == 0 || n_seq > n->side_seq || n_seq != n_group)
        return cw_error(CW_ERR_INVALID_ARG, "side decoder: %zu sequences in groups of %zu, one window of %zu",
                        n_seq, n_group, n->side_seq);
    return cw_decoder_reset(n->side, n_seq, n->side_seq_audio);
}

static cw_status side_forward(void *ctx, const int32_t *tokens, size_t n_seq, size_t k, float *logits,
                              size_t extra_pos, float *extra_logits)
{
    cw_net *n = ctx;
    long pos = extra_pos == CW_NO_POS ? -1 : (long)extra_pos;
    return cw_decoder_forward(n->side, tokens, n_seq, k, logits, pos, extra_logits);
}

static cw_status side_reorder(void *ctx, const size_t *source, size_t n_seq)
{
    cw_net *n = ctx;
    return cw_decoder_reorder(n->side, source, n_seq);
}

static cw_status slots_set_audio_at(void *ctx, const float *states, size_t index, size_t audio)
{
    cw_net *n = ctx;
    if (states != (const float *)(const void *)n)
        return cw_error(CW_ERR_INTERNAL, "decoder: states did not come from this encoder");
    return cw_decoder_set_audio_at(n->dec, audio, cw_encoder_output(n->enc), index);
}

static cw_status slots_forward(void *ctx, const cw_slot_item *items, size_t n_items, float *logits, float *extra)
{
    cw_net *n = ctx;
    if (n_items > n->max_seq)
        return cw_error(CW_ERR_INVALID_ARG, "decoder: %zu items, at most %zu", n_items, n->max_seq);
    for (size_t i = 0; i < n_items; i++)
        n->items[i] = (cw_decoder_item){ items[i].slot, items[i].audio, items[i].pos, items[i].tokens,
                                         items[i].n_new,
                                         items[i].extra_pos == CW_NO_POS ? -1 : (long)items[i].extra_pos };
    return cw_decoder_forward_items(n->dec, n->items, n_items, logits, extra);
}

static cw_status slots_move(void *ctx, size_t first, const size_t *source, size_t count, size_t len)
{
    cw_net *n = ctx;
    return cw_decoder_move_slots(n->dec, first, source, count, len);
}

static cw_status slots_side_audio(void *ctx, size_t audio)
{
    cw_net *n = ctx;
    return cw_decoder_copy_audio(n->side, 0, n->dec, audio);
}

cw_status cw_net_enable_slots(cw_net *n, size_t side_seq)
{
    side_seq = side_seq ? side_seq : 1;
    if (!n->dec || !n->enc) return cw_error(CW_ERR_INVALID_ARG, "net: no decoder");
    if (!n->side || n->side_seq < side_seq) {
        cw_decoder_free(n->side);
        free(n->side_seq_audio);
        n->side = NULL;
        n->side_seq = 0;
        n->side_seq_audio = cw_calloc(side_seq, sizeof *n->side_seq_audio);
        if (!n->side_seq_audio) return CW_ERR_NOMEM;
        cw_status s = cw_decoder_create(n->weights, side_seq, 1, &n->side);
        if (s) return s;
        n->side_seq = side_seq;
    }
    free(n->items);
    n->items = cw_calloc(n->max_seq, sizeof *n->items);
    if (!n->items) return CW_ERR_NOMEM;
    n->side_net = (cw_decoder_net){
        .ctx = n, .n_vocab = n->decoder.n_vocab, .set_audio = side_set_audio,
        .reset = side_reset, .forward = side_forward, .reorder = side_reorder,
    };
    n->slots = (cw_slot_net){
        .ctx = n, .n_vocab = n->decoder.n_vocab, .n_slots = n->max_seq, .set_audio_at = slots_set_audio_at,
        .forward = slots_forward, .move = slots_move, .side_audio = slots_side_audio, .side = &n->side_net,
    };
    return CW_OK;
}

void cw_net_free(cw_net *n)
{
    if (!n) return;
    cw_decoder_free(n->side);
    free(n->side_seq_audio);
    free(n->items);
    cw_decoder_free(n->dec);
    cw_encoder_free(n->enc);
    cw_nn_weights_free(n->weights);
    free(n->seq_audio);
    free(n);
}
