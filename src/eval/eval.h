/* Evaluation: openai-whisper's text normalisers (byte-exact ports of
 * whisper/normalizers) and word error rate. Strings are UTF-8; invalid bytes
 * are read as U+FFFD. Results are malloc'ed: free them with free(). */
#ifndef CW_EVAL_EVAL_H
#define CW_EVAL_EVAL_H

#include <stddef.h>
#include "cwhisper.h"

/* EnglishTextNormalizer()(in). */
cw_status cw_normalize_english(const char *in, char **out);
/* BasicTextNormalizer(remove_diacritics)(in) (split_letters is not supported). */
cw_status cw_normalize_basic(const char *in, int remove_diacritics, char **out);
/* The two sub-normalisers on their own, as openai-whisper's tests call them:
 * EnglishNumberNormalizer()(in) and EnglishSpellingNormalizer()(in). */
cw_status cw_normalize_english_numbers(const char *in, char **out);
cw_status cw_normalize_english_spelling(const char *in, char **out);

typedef enum { CW_NORM_NONE, CW_NORM_BASIC, CW_NORM_ENGLISH } cw_normalizer;
/* Dispatch on the normaliser kind; CW_NORM_NONE copies the text. */
cw_status cw_normalize(cw_normalizer kind, const char *in, char **out);

/* ---- word error rate ---- */

typedef struct {
    size_t sub, del, ins; /* edit operations of one minimal alignment */
    size_t hits;          /* reference words matched */
    size_t ref_words;     /* sub + del + hits */
} cw_wer_counts;

/* Aligns hyp to ref word by word (words split on Unicode whitespace) with
 * Levenshtein distance; among minimal alignments it picks the one
 * rapidfuzz's editops (jiwer) picks, so S/D/I match jiwer's split. */
cw_status cw_wer_align(const char *ref, const char *hyp, cw_wer_counts *out);
void cw_wer_add(cw_wer_counts *total, const cw_wer_counts *c);
/* (S + D + I) / N, or -1 when N is 0. */
double cw_wer_rate(const cw_wer_counts *c);

/* ---- transcript files: "<file-id> <text>" per line ---- */

typedef struct {
    char *id, *text; /* text may be empty */
} cw_transcript;

typedef struct {
    cw_transcript *items; /* [n], in file order */
    size_t n;
} cw_transcripts;

/* Reads a transcript file. Blank lines are skipped; a line that starts with
 * whitespace (no id) or repeats an id is a format error naming the file and
 * line. An empty file is accepted here (callers decide). */
cw_status cw_transcripts_read(const char *path, cw_transcripts *out);
void cw_transcripts_free(cw_transcripts *t);
/* The entry with this id, or NULL. */
const cw_transcript *cw_transcripts_find(const cw_transcripts *t, const char *id);

#endif
