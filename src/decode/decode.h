/* Decoding one batch of 30 s windows into tokens, as openai/whisper decoding.py:
 * the network seen through two small interfaces (encoder, decoder step with KV
 * cache), the logit filters (SuppressBlank, SuppressTokens, ApplyTimestampRules),
 * greedy / sampling / best_of / beam search with MaximumLikelihoodRanker,
 * temperature fallback (transcribe.py decode_with_fallback) and language
 * detection (decoding.py detect_language).
 *
 * Nothing here knows tensors' storage or devices: src/nn/ implements
 * cw_encoder_net and cw_decoder_net; tests implement them with scripted logits. */
#ifndef CW_DECODE_H
#define CW_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "cwhisper.h"
#include "tokenizer/tokenizer.h"

/* ------------------------------------------------------------------------ */
/* The network, as the search sees it                                         */

/* Encoder: log-mel windows to encoder states.
 *   mel     [n_audio, n_mels, 3000] float32, row-major (frame index fastest)
 *   *states [n_audio, n_audio_ctx, n_audio_state], owned by the encoder and
 *           valid until its next encode call.
 * The states are opaque to src/decode/: they are handed unchanged to
 * cw_decoder_net.set_audio. */
typedef struct {
    void *ctx;
    size_t n_mels;
    cw_status (*encode)(void *ctx, const float *mel, size_t n_audio, const float **states);
} cw_encoder_net;

/* Position value for forward()'s extra_pos meaning "no extra logits". */
#define CW_NO_POS ((size_t)-1)

/* Decoder step with self-attention KV caches for a batch of sequences.
 * Contract (batch-first, every sequence in a batch has the same length):
 *
 * set_audio(states, n_audio): cross-attention input for the next reset,
 *   states [n_audio, n_audio_ctx, n_audio_state] as returned by the encoder;
 *   the pointer stays valid until the decoding that uses it has finished.
 *
 * reset(n_seq, n_group): forget all cached positions and start n_seq empty
 *   sequences; sequence s attends to audio s / n_group (n_seq = n_audio * n_group).
 *
 * forward(tokens, n_seq, k, logits, extra_pos, extra_logits): append k new
 *   tokens to each sequence (tokens [n_seq, k] int32) and run them.
 *   logits       [n_seq, n_vocab] float32: logits at the LAST new position.
 *   extra_logits [n_seq, n_vocab] float32: when extra_pos != CW_NO_POS, the logits
 *                at new position extra_pos (< k) too (no_speech_prob uses
 *                position sot_index of the first pass); unused otherwise.
 *   The search calls it first with the whole initial token list (k = its
 *   length), then with k = 1. Positions never exceed n_text_ctx (448).
 *
 * reorder(source, n_seq): afterwards sequence i continues the cache (and
 *   the audio) of old sequence source[i] (source [n_seq], entries may
 *   repeat). Beam search keeps n_seq (PyTorchInference.rearrange_kv_cache;
 *   not called for the identity); greedy decoding at T = 0 shrinks n_seq to
 *   drop finished rows (source then increasing), and later forwards pass
 *   the new n_seq.
 *
 * Every call returns CW_OK or an error (with cw_error's message), which the
 * search passes up unchanged. Language detection (cw_detect_language) uses the
 * same object: reset(n_audio, 1) then one forward of [sot]. */
typedef struct {
    void *ctx;
    size_t n_vocab;
    cw_status (*set_audio)(void *ctx, const float *states, size_t n_audio);
    cw_status (*reset)(void *ctx, size_t n_seq, size_t n_group);
    cw_status (*forward)(void *ctx, const int32_t *tokens, size_t n_seq, size_t k,
                         float *logits, size_t extra_pos, float *extra_logits);
    cw_status (*reorder)(void *ctx, const size_t *source, size_t n_seq);
    /* Optional (NULL where the network cannot): word timestamps' forward
     * (timing.py find_alignment). Resets to one sequence on audio 0 and
     * runs tokens [n] from an empty cache; fills
     *   qk    [n_align_heads, n, n_frames]: the raw cross-attention scores
     *         q . k^T / sqrt(head dim) of the model's alignment heads
     *         against the first n_frames audio positions;
     *   probs [n]: softmax(logits_i[0:n_soft])[want[i]] for row i (0 where
     *         want[i] < 0). */
    size_t n_align_heads;
    cw_status (*align)(void *ctx, const int32_t *tokens, size_t n, size_t n_frames, float *qk,
                       const int32_t *want, size_t n_soft, float *probs);
} cw_decoder_net;

/* Decoding many windows in lockstep (src/longform/lockstep.c): a decoder
 * whose sequences each have their own cache slot, window and length, so
 * that greedy decodings at different points share one decoder pass; plus a
 * plain cw_decoder_net of its own caches (side) for what does not step in
 * lockstep (language detection, temperature fallback, beam search). */
typedef struct {
    size_t slot;           /* self-attention cache slot, < n_slots */
    size_t audio;          /* cross-attention window slot, < n_slots */
    size_t pos;            /* tokens already fed to the slot (0: a new sequence) */
    const int32_t *tokens; /* [n_new] */
    size_t n_new;
    size_t extra_pos;      /* CW_NO_POS, or a new position whose logits are also wanted */
} cw_slot_item;

typedef struct {
    void *ctx;
    size_t n_vocab, n_slots;
    /* window slot `audio` <- encoder states[index] (states from encode) */
    cw_status (*set_audio_at)(void *ctx, const float *states, size_t index, size_t audio);
    /* items with distinct slots; logits [n, n_vocab] (last new position of
     * each), extra_logits [n, n_vocab] (rows of items with extra_pos). Each
     * item's logits are those a one-sequence forward of the same history gives. */
    cw_status (*forward)(void *ctx, const cw_slot_item *items, size_t n, float *logits, float *extra_logits);
    /* Optional (NULL: beam search runs on the side decoder): slot first + i
     * takes the first len cached positions of slot first + source[i], i < n
     * (a beam search task's reorder, cw_decode_task_moves). */
    cw_status (*move)(void *ctx, size_t first, const size_t *source, size_t n, size_t len);
    /* side listens to window slot `audio` (a copy of its cross-attention input) */
    cw_status (*side_audio)(void *ctx, size_t audio);
    const cw_decoder_net *side;
} cw_slot_net;

/* Text side of the tokenizer, as a callback pair so the search is testable
 * without vocabulary files. decode: plain-token bytes of ids (specials and
 * timestamps skipped), malloc'ed and NUL-terminated; encode: UTF-8 to ids
 * (encode_ordinary), *ids malloc'ed. cw_text_codec_tokenizer wraps a cw_tokenizer. */
typedef struct {
    void *ctx;
    cw_status (*decode)(void *ctx, const int32_t *ids, size_t n, char **text);
    cw_status (*encode)(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n_ids);
    /* Optional: decode_with_timestamps (specials and timestamps as text,
     * "<|endoftext|>"); NULL: decode is used (word splitting, timing.c). */
    cw_status (*decode_all)(void *ctx, const int32_t *ids, size_t n, char **text);
} cw_text_codec;

cw_text_codec cw_text_codec_tokenizer(const cw_tokenizer *tok);

/* ------------------------------------------------------------------------ */
/* Sampling PRNG: xoshiro256** seeded through splitmix64. Portable and
 * reproducible across platforms, but it cannot reproduce PyTorch's
 * Categorical sampling (different generator), so T > 0 never matches the
 * reference token for token. */
typedef struct {
    uint64_t s[4];
} cw_rng;

void cw_rng_seed(cw_rng *rng, uint64_t seed);
uint64_t cw_rng_next(cw_rng *rng);
double cw_rng_uniform(cw_rng *rng); /* [0, 1), 53 bits */

/* ------------------------------------------------------------------------ */
/* One decoding pass: DecodingOptions                                          */

typedef struct {
    int32_t language_token;  /* <|xx|> id (multilingual); -1: detect per window
                                as decode() does; ignored for .en models */
    int translate;           /* task "translate" instead of "transcribe" */
    double temperature;      /* 0: greedy / beam; > 0: sampling */
    size_t sample_len;       /* max new tokens; 0 = n_text_ctx / 2 (224) */
    size_t best_of;          /* 0 = None; T > 0 only */
    size_t beam_size;        /* 0 = None (greedy); T == 0 only */
    double patience;         /* <= 0 = None (1.0); needs beam_size */
    double length_penalty;   /* NAN = None (divide by length); else in [0, 1] */
    const int32_t *prompt;   /* previous-context tokens (may be NULL) */
    size_t n_prompt;
    const int32_t *prefix;   /* tokens forced after the SOT sequence (may be NULL) */
    size_t n_prefix;
    int suppress_blank;      /* SuppressBlank, default 1 */
    int suppress_non_speech; /* the "-1" entry of suppress_tokens, default 1 */
    const int32_t *suppress_tokens; /* further ids to suppress (may be NULL) */
    size_t n_suppress_tokens;
    /* Model config lists (CTranslate2 config.json suppress_ids / suppress_ids_begin);
     * NULL = the reference's lists: non_speech_tokens per vocabulary, [220, eot]. */
    const int32_t *config_suppress_ids;
    size_t n_config_suppress_ids;
    const int32_t *config_suppress_ids_begin;
    size_t n_config_suppress_ids_begin;
    int without_timestamps;       /* append <|notimestamps|>, no timestamp rules */
    double max_initial_timestamp; /* seconds; default 1.0; <= 0 or NAN = None */
    size_t n_text_ctx;            /* 448 */
    size_t n_audio_ctx;           /* 1500: timestamp precision = 30 / n_audio_ctx */
} cw_decode_options;

cw_decode_options cw_decode_default_options(void);

/* DecodingResult for one audio. */
typedef struct {
    int32_t *tokens;          /* [n_tokens] sampled tokens before the first eot */
    size_t n_tokens;
    char *text;               /* decode(tokens).strip(), UTF-8 */
    int32_t language_token;   /* -1 for .en models */
    double sum_logprob;
    double avg_logprob;       /* sum_logprob / (n_tokens + 1) */
    double no_speech_prob;    /* NAN when the vocabulary has no <|nospeech|> */
    double compression_ratio; /* len(utf8) / len(zlib.compress(utf8)) */
    double temperature;
} cw_decode_result;

void cw_decode_result_free(cw_decode_result *r);

/* What one decoding needs besides options; all pointers borrowed. */
typedef struct {
    const cw_decoder_net *net;
    const cw_special_tokens *sp;
    const cw_text_codec *codec;
    cw_rng *rng;              /* used only at T > 0; may be NULL otherwise */
} cw_decode_env;

/* DecodingTask.run for n_audio windows whose encoder states were already
 * given to env->net->set_audio. out [n_audio], filled on success (free each
 * with cw_decode_result_free). Checks the options as _verify_options does. */
cw_status cw_decode_run(const cw_decode_env *env, const cw_decode_options *o,
                        size_t n_audio, cw_decode_result *out);

/* One window's decoding at temperature 0, greedy or beam search (no
 * best_of), driven by the caller one decoder pass at a time, so that many
 * windows' passes share one decoder call (cw_slot_net); the result is
 * cw_decode_run's for that window. The language must be known
 * (o->language_token, multilingual). The task has cw_decode_task_rows rows
 * (1, or the beams), each in a cache slot of the caller's. Loop: for every
 * row, cw_decode_task_input (feed tokens [n_new] at cache position pos, extra
 * logits at extra_pos unless CW_NO_POS); then cw_decode_task_step with that
 * pass's logits [rows, n_vocab] (and the extra row [n_vocab]); then, where
 * cw_decode_task_moves names sources, row i's cache takes the first *len
 * positions of row source[i]'s (cw_slot_net.move); until *done; then
 * cw_decode_task_end (which frees the task, as cw_decode_task_free does). */
typedef struct cw_decode_task cw_decode_task;

cw_status cw_decode_task_begin(const cw_decode_env *env, const cw_decode_options *o, cw_decode_task **out);
size_t cw_decode_task_rows(const cw_decode_task *t);
void cw_decode_task_input(const cw_decode_task *t, size_t row, const int32_t **tokens, size_t *n_new, size_t *pos,
                          size_t *extra_pos);
cw_status cw_decode_task_step(cw_decode_task *t, const float *logits, const float *extra, int *done);
cw_status cw_decode_task_end(cw_decode_task *t, cw_decode_result *out);
/* After a step: the sources of the rows' reorder (NULL: none) and the cached positions to move. */
const size_t *cw_decode_task_moves(const cw_decode_task *t, size_t *len);
void cw_decode_task_free(cw_decode_task *t);

/* ------------------------------------------------------------------------ */
/* Temperature fallback (transcribe.py decode_with_fallback)                   */

typedef struct {
    const double *temperatures; /* NULL: generated from start/increment */
    size_t n_temperatures;
    double temperature_start;     /* 0.0 */
    double temperature_increment; /* 0.2 (as the CLI's np.arange(start, 1.0 + 1e-6, inc)) */
    int no_fallback;              /* decode once at temperature_start */
    double compression_ratio_threshold; /* 2.4; NAN = None */
    double logprob_threshold;           /* -1.0; NAN = None */
    double no_speech_threshold;         /* 0.6; NAN = None */
} cw_fallback_options;

/* Default: the Python API's literal tuple (0.0, 0.2, 0.4, 0.6, 0.8, 1.0). */
cw_fallback_options cw_fallback_default_options(void);

/* One window (n_audio = 1): decode at each temperature until the result
 * passes; keeps the last result when all fail. beam_size/patience are used
 * only at T = 0, best_of only at T > 0. */
cw_status cw_decode_with_fallback(const cw_decode_env *env, const cw_decode_options *o,
                                  const cw_fallback_options *fb, cw_decode_result *out);

/* cw_decode_with_fallback after the decoding at the schedule's first
 * temperature gave *out (done elsewhere, e.g. a decode task): the later
 * temperatures while *out needs them; *out is replaced by each new result. */
cw_status cw_decode_fallback_rest(const cw_decode_env *env, const cw_decode_options *o,
                                  const cw_fallback_options *fb, cw_decode_result *out);

/* needs_fallback of decode_with_fallback for one result. */
int cw_needs_fallback(const cw_decode_result *r, const cw_fallback_options *fb);

/* ------------------------------------------------------------------------ */
/* Language detection (decoding.py detect_language)                            */

/* One [sot] pass over n_audio windows (states already set on net).
 * lang_tokens [n_audio]: the detected <|xx|> id; probs [n_audio, sp->n_languages]
 * (may be NULL): softmax over the language tokens. Resets the net's caches. */
cw_status cw_detect_language(const cw_decoder_net *net, const cw_special_tokens *sp,
                             size_t n_audio, int32_t *lang_tokens, float *probs);

/* ------------------------------------------------------------------------ */
/* Text helpers (utils.py)                                                     */

/* zlib compress() at the default level: len(text) / len(compressed). */
double cw_compression_ratio(const char *text, size_t len);

/* Python str.strip() on UTF-8 (Unicode White_Space), in place; returns text. */
char *cw_strip_inplace(char *text);

#endif
