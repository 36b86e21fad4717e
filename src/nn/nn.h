/* The Whisper network, written once against the back-end op table
 * (backend/backend.h): the conv stem and encoder over a batch of 30 s
 * windows, and a decoder step over a batch of token sequences with a
 * self-attention KV cache that grows per token and cross-attention keys and
 * values computed once per window. No SIMD, no #ifdef: the back end does the
 * arithmetic. Shapes are written [rows, cols], d = n_state. */
#ifndef CW_NN_H
#define CW_NN_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "model/model.h"

/* Model tensors bound to back-end buffers: matrices as cw_weight in their
 * stored dtype, vectors (biases, LayerNorm, positional embeddings) as float32. */
typedef struct {
    cw_weight q, k, v, o;   /* [d, d] each; k has no bias */
    cw_buf *bq, *bv, *bo;   /* [d] */
} cw_nn_attn;

typedef struct {
    cw_weight w;            /* [rows, cols] */
    cw_buf *b;              /* [rows] or NULL */
} cw_nn_linear;

typedef struct {
    cw_buf *gamma, *beta;   /* [d] */
} cw_nn_ln;

typedef struct {
    cw_nn_ln attn_ln, cross_ln, mlp_ln;
    cw_nn_attn attn, cross;  /* cross unused in the encoder */
    cw_nn_linear mlp0, mlp2; /* [4d, d], [d, 4d] */
} cw_nn_block;

typedef struct {
    cw_backend *be;          /* not owned */
    cw_model_dims dims;
    cw_nn_linear conv1, conv2;  /* conv weights as [d, C_in*3] */
    cw_buf *enc_pos;            /* [n_audio_ctx, d] */
    cw_nn_block *enc;           /* [n_audio_layer] */
    cw_nn_ln ln_post;
    cw_weight tok_emb;          /* [n_vocab, d], also the logits projection */
    cw_buf *dec_pos;            /* [n_text_ctx, d] */
    cw_nn_block *dec;           /* [n_text_layer] */
    cw_nn_ln dec_ln;
    cw_compute_dtype dtype;     /* what the matrices were converted to */
    cw_buf **owned;             /* every buffer made here, for freeing */
    size_t n_owned, cap_owned;
} cw_nn_weights;

/* Binds every tensor of model to be. Matrices are wrapped without a copy on
 * the CPU (the model must outlive the weights); vectors held in another dtype
 * are converted to float32 once. */
cw_status cw_nn_weights_create(cw_backend *be, const cw_model *model, cw_nn_weights **out);
/* The same, with the matrices in a compute dtype (cwhisper.h): FP32 binds them
 * as stored (as above); FP16 converts the non-fp16 ones to fp16 (conv weights
 * too); BF16 and INT8 convert every Linear and conv weight and the token
 * embedding to bf16 / per-row int8 (INT8: the token embedding to bf16; stored
 * int8 kept as is; a conv weight's
 * row is its [C_in*3] filter; the stem was 6% of a batched int8 run in
 * float32). Converted copies
 * are buffers of these weights, freed with them; vectors stay float32. The
 * back end needs .lowp for BF16/INT8 weights to compute in that type. */
cw_status cw_nn_weights_create_dtype(cw_backend *be, const cw_model *model, cw_compute_dtype dtype,
                                     cw_nn_weights **out);
void cw_nn_weights_free(cw_nn_weights *w);

/* ---- encoder ---- */

typedef struct cw_encoder cw_encoder;

/* Scratch for batches of up to max_batch windows. */
cw_status cw_encoder_create(const cw_nn_weights *w, size_t max_batch, cw_encoder **out);
void cw_encoder_free(cw_encoder *enc);

/* mel: host memory [n_batch, n_mels, 3000]. The encoder states stay on the back
 * end: cw_encoder_output() gives the buffer [n_batch, n_audio_ctx, d]. */
cw_status cw_encoder_run(cw_encoder *enc, const float *mel, size_t n_batch);
cw_buf *cw_encoder_output(const cw_encoder *enc);

/* ---- decoder ---- */

typedef struct cw_decoder cw_decoder;

/* KV caches for up to max_seq sequences of up to n_text_ctx tokens, and cross
 * keys/values for up to max_audio windows. */
cw_status cw_decoder_create(const cw_nn_weights *w, size_t max_seq, size_t max_audio,
                            cw_decoder **out);
void cw_decoder_free(cw_decoder *dec);

/* Computes cross-attention keys and values of n_audio windows from encoder
 * states enc_out [n_audio, n_audio_ctx, d] (a back-end buffer). */
cw_status cw_decoder_set_audio(cw_decoder *dec, cw_buf *enc_out, size_t n_audio);

/* Empties the self-attention caches of sequences [0, n_seq) and says which
 * window each sequence listens to: seq_audio [n_seq] (NULL: all window 0). */
cw_status cw_decoder_reset(cw_decoder *dec, size_t n_seq, const size_t *seq_audio);

/* Feeds n_new tokens to each of n_seq sequences: tokens [n_seq, n_new] (host).
 * Every sequence has the same cache length before the call (decoding moves in
 * lock step), which grows by n_new. Writes the logits of the last new position
 * of each sequence to logits [n_seq, n_vocab] (host). If extra_pos >= 0 (a
 * position among the new tokens) also writes the logits at that position to
 * extra_logits [n_seq, n_vocab]: the no-speech probability reads them at the
 * start-of-transcript token of the first pass. */
cw_status cw_decoder_forward(cw_decoder *dec, const int32_t *tokens, size_t n_seq, size_t n_new,
                             float *logits, long extra_pos, float *extra_logits);

/* Word timestamps (openai/whisper timing.py find_alignment): one forward
 * of a single fresh sequence (reset to one sequence, nothing cached) that
 * also captures the cross-attention scores of chosen heads. */
typedef struct {
    const int32_t *heads; /* [n_heads * 2]: (layer, head) pairs */
    size_t n_heads;
    size_t n_frames;      /* audio positions kept, <= n_audio_ctx */
    float *qk;            /* [n_heads, n_new, n_frames] host: q . k^T / sqrt(head dim) */
} cw_decoder_capture;

/* tokens [n_new] through the decoder as cw_decoder_forward (logits of the
 * last row into logits [n_vocab]), filling cap->qk. */
cw_status cw_decoder_forward_capture(cw_decoder *dec, const int32_t *tokens, size_t n_new,
                                     const cw_decoder_capture *cap, float *logits);

/* After a one-sequence forward from an empty cache: for rows [0, n_rows) of
 * it, probs[i] = softmax(logits_i[0:n_soft])[want[i]] (0 where want[i] is
 * negative or >= n_soft). */
cw_status cw_decoder_row_probs(cw_decoder *dec, size_t n_rows, const int32_t *want, size_t n_soft, float *probs);

/* Beam search: new sequence i continues old sequence source[i] (i < n_seq):
 * copies the self-attention caches accordingly. n_seq may be smaller than
 * the live count: sequences no source names are dropped (finished rows of
 * a greedy batch). */
cw_status cw_decoder_reorder(cw_decoder *dec, const size_t *source, size_t n_seq);

/* Tokens held in the caches (the same for every sequence). */
size_t cw_decoder_length(const cw_decoder *dec);

/* ---- sequences at different points of their decodings (lockstep) ---- */

/* One sequence's part of cw_decoder_forward_items: n_new tokens appended to
 * the self-attention cache of `slot` after its first `pos` positions (0:
 * a new sequence), listening to cross-attention window `audio`. */
typedef struct {
    size_t slot, audio, pos;
    const int32_t *tokens; /* [n_new], host */
    size_t n_new;
    long extra_pos;        /* >= 0: also the logits at that new position */
} cw_decoder_item;

/* Cross-attention keys and values of window `audio` from encoder output
 * `index` of enc_out [n, n_audio_ctx, d]. */
cw_status cw_decoder_set_audio_at(cw_decoder *dec, size_t audio, cw_buf *enc_out, size_t index);

/* Window src_audio of src's cross K/V copied to window dst_audio of dst
 * (decoders of the same weights). */
cw_status cw_decoder_copy_audio(cw_decoder *dst, size_t dst_audio, const cw_decoder *src, size_t src_audio);

/* Feeds n items (distinct slots) in one pass: every weight is read once for
 * all of them, yet each item's logits have exactly the bits a one-sequence
 * cw_decoder_forward of the same history gives (its rows are computed with
 * its own row count: backend linear_rows; attention with per-sequence
 * lengths). logits [n, n_vocab]: each item's last new position;
 * extra_logits [n, n_vocab]: row i written when items[i].extra_pos >= 0.
 * Does not touch the state cw_decoder_reset / forward keep. */
cw_status cw_decoder_forward_items(cw_decoder *dec, const cw_decoder_item *items, size_t n, float *logits,
                                   float *extra_logits);

/* Beam search in lockstep: slot first + i takes the first len cached
 * positions of slot first + source[i] (i < n), all read before any is
 * written (a permutation is fine). */
cw_status cw_decoder_move_slots(cw_decoder *dec, size_t first, const size_t *source, size_t n, size_t len);

#endif
