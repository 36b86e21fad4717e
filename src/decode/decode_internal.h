/* Internal pieces of src/decode/ shared between its files: the logit
 * filters, the sequence batch the search grows, the token choosers
 * (greedy/sampling, beam search) and small numeric helpers. */
#ifndef CW_DECODE_INTERNAL_H
#define CW_DECODE_INTERNAL_H

#include "decode/decode.h"

/* ---- logit filters (filters.c), as openai/whisper decoding.py ---------- */

typedef struct {
    const cw_special_tokens *sp;
    size_t n_vocab;
    size_t sample_begin;   /* index of the first sampled token in a row */
    int32_t *blank_ids;    /* SuppressBlank ids ([220, eot] or config), NULL = off */
    size_t n_blank;
    int32_t *suppress_ids; /* SuppressTokens ids, sorted, unique; NULL = off */
    size_t n_suppress;
    int timestamp_rules;   /* ApplyTimestampRules on */
    long max_initial_timestamp_index; /* -1 = None */
} cw_logit_filters;

cw_status cw_filters_init(cw_logit_filters *f, const cw_special_tokens *sp,
                          const cw_decode_options *o, size_t sample_begin, size_t n_vocab);
void cw_filters_free(cw_logit_filters *f);

/* All filters in the reference order on one row: logits [n_vocab], in place;
 * tokens [len] = the whole row so far (initial tokens included). */
void cw_filters_apply(const cw_logit_filters *f, float *logits, const int32_t *tokens, size_t len);

/* The single rules, exposed for tests. */
void cw_suppress_blank_apply(const cw_logit_filters *f, float *logits, size_t len);
void cw_suppress_tokens_apply(const cw_logit_filters *f, float *logits);
void cw_timestamp_rules_apply(const cw_logit_filters *f, float *logits,
                              const int32_t *tokens, size_t len);

/* The reference's non_speech_tokens for a vocabulary (82 multilingual, 84 gpt2). */
const int32_t *cw_non_speech_tokens(int multilingual, size_t *n);

/* ---- the batch of sequences the search grows ---------------------------- */

typedef struct {
    size_t n_audio, n_group, n_seq; /* n_seq = n_audio * n_group */
    size_t cap;                     /* row stride of tokens (n_text_ctx + 2) */
    size_t len;                     /* current length of every row */
    int32_t *tokens;                /* [n_seq, cap] */
    int32_t *scratch;               /* [n_seq, cap] for beam reordering */
    float *sum_logprobs;            /* [n_seq], float32 as the reference's tensor */
} cw_seqs;

/* One finished candidate of an audio (beam search or best_of group). */
typedef struct {
    int32_t *tokens;   /* [len] whole row, ending in eot */
    size_t len;
    float score;       /* sum of logprobs */
} cw_candidate;

typedef struct {
    cw_candidate *items;
    size_t n, cap;
} cw_candidate_set;

/* ---- token choice -------------------------------------------------------- */

/* log_softmax of one row (float32 result, double accumulation): out [n]. */
void cw_log_softmax(const float *x, size_t n, float *out);

/* GreedyDecoder.update: T == 0 argmax (first maximum), else Categorical(logits/T).
 * logits [n_rows, n_vocab] (filtered): row j belongs to sequence rows[j]
 * (rows NULL: n_rows == n_seq, row j is sequence j). Appends one token per
 * sequence, eot to those not in rows (they have finished and left the
 * batch); *completed when every sequence ends in eot. */
cw_status cw_greedy_update(cw_seqs *s, const float *logits, const size_t *rows, size_t n_rows, size_t n_vocab,
                           double temperature, int32_t eot, cw_rng *rng, int *completed);

typedef struct {
    size_t beam_size, max_candidates;
    cw_candidate_set *finished; /* [n_audio] */
} cw_beam_state;

cw_status cw_beam_init(cw_beam_state *b, size_t n_audio, size_t beam_size, double patience);
void cw_beam_free(cw_beam_state *b, size_t n_audio);

/* BeamSearchDecoder.update: logits [n_seq, n_vocab]; reorders s and the net's caches. */
cw_status cw_beam_update(cw_beam_state *b, cw_seqs *s, const float *logits, size_t n_vocab,
                         int32_t eot, const cw_decoder_net *net, int *completed);

/* BeamSearchDecoder.finalize: fills finished sets up to beam_size with live beams. */
cw_status cw_beam_finalize(cw_beam_state *b, const cw_seqs *s, int32_t eot);

/* MaximumLikelihoodRanker.rank for one group: index of the first best
 * sum_logprob / penalty, penalty = L (length_penalty NAN) or ((5 + L) / 6)^alpha,
 * L = tokens from sample_begin to the first eot. */
size_t cw_rank_candidates(const cw_candidate_set *set, size_t sample_begin, int32_t eot,
                          double length_penalty);

/* Appends a copy of a candidate to a set. */
cw_status cw_candidate_push(cw_candidate_set *set, const int32_t *tokens, size_t len, float score);
void cw_candidate_set_free(cw_candidate_set *set);

#endif
