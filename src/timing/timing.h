/* Word timestamps, as openai/whisper timing.py: the alignment heads'
 * cross-attention turned into a token-by-frame matrix (softmax, per-head
 * standardisation over tokens, median filter, mean over heads), dynamic
 * time warping through it, the jumps of the path as word boundaries
 * (find_alignment); the tokenizer's split of tokens into words
 * (split_to_word_tokens) and merge_punctuations. Knows nothing of files or
 * segments: longform/words.c applies the result to a window's segments. */
#ifndef CW_TIMING_H
#define CW_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include "cwhisper.h"
#include "decode/decode.h"
#include "tokenizer/tokenizer.h"

/* timing.py median_filter along rows: x [rows, n] in place, width odd,
 * reflect padding; rows of n <= width / 2 are left as they are. */
cw_status cw_median_filter(float *x, size_t rows, size_t n, size_t width);

/* timing.py dtw_cpu + backtrace on cost x [N, M] (float32 cost table as
 * the reference keeps): the path from (0, 0) to (N-1, M-1) as index pairs
 * text [*len], time [*len] (malloc'ed, -1 possible as in the reference). */
cw_status cw_dtw(const double *x, size_t N, size_t M, long **text, long **time, size_t *len);

/* find_alignment's matrix from the raw scores qk [H, n_tok, M] (M =
 * num_frames / 2 audio positions): softmax over frames (qk_scale 1),
 * standardised over all n_tok rows per head and frame, median filter of
 * width medfilt, mean over heads, rows [row0, row0 + n_rows) into out
 * [n_rows, M]. qk is overwritten. */
cw_status cw_alignment_matrix(float *qk, size_t H, size_t n_tok, size_t M, size_t medfilt, size_t row0,
                              size_t n_rows, float *out);

/* One word of an alignment (timing.py WordTiming; tokens only counted). */
typedef struct {
    char *word;        /* malloc'ed UTF-8; "" once merged away */
    size_t n_tokens;
    double start, end; /* seconds from the window start */
    double probability;
} cw_word_timing;

void cw_word_timings_free(cw_word_timing *w, size_t n);

/* Tokenizer.split_to_word_tokens on tokens [n] (text tokens, eot last):
 * *words [*n_words] with n_tokens set (times zero, probability zero).
 * by_unicode: split_tokens_on_unicode (zh, ja, th, lo, my, yue), else
 * split_tokens_on_spaces. Strings come from codec->decode_all (or decode). */
cw_status cw_split_word_tokens(const cw_text_codec *codec, int32_t eot, const int32_t *tokens, size_t n,
                               int by_unicode, cw_word_timing **words, size_t *n_words);

/* Languages split at unicode points rather than spaces. */
int cw_timing_splits_on_unicode(const char *language_code);

/* timing.py merge_punctuations, in place (merged words become ""). */
cw_status cw_merge_punctuations(cw_word_timing *w, size_t n, const char *prepended, const char *appended);

/* find_alignment for one window whose encoder output the net listens to:
 * sot_seq [n_sot] (sot, language, task as the tokenizer's sot_sequence),
 * text tokens [n_text], num_frames content frames of the window. *out
 * [*n_out] is empty (NULL, 0) when there is at most one word (eot). */
cw_status cw_find_alignment(const cw_decoder_net *net, const cw_text_codec *codec, const cw_special_tokens *sp,
                            const char *language_code, const int32_t *sot_seq, size_t n_sot,
                            const int32_t *text, size_t n_text, size_t num_frames, cw_word_timing **out,
                            size_t *n_out);

/* Python's round(x, 2) on a double (correctly rounded, ties to even on the
 * exact binary value). */
double cw_round2(double x);

/* Python's `needle in haystack` for strings: a substring test ("" is in
 * every string). */
int cw_str_in(const char *needle, const char *haystack);

#endif
