/* Whisper's byte-level BPE tokenizer: vocabulary files to token ids and back,
 * special and timestamp tokens per model kind, the language table.
 * Reads CTranslate2 vocabulary.json / vocabulary.txt, Hugging Face
 * tokenizer.json or vocab.json (+ merges.txt). Encoding follows tiktoken
 * (the reference): GPT-2 pre-tokenizer regex, then rank-ordered BPE merges. */
#ifndef CW_TOKENIZER_H
#define CW_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "cwhisper.h"

typedef struct cw_tokenizer cw_tokenizer;

/* Special token ids (see whisper-reference.md §4). */
typedef struct {
    int32_t eot, sot, translate, transcribe, startoflm, startofprev, nospeech, notimestamps;
    int32_t timestamp_begin;  /* <|0.00|> */
    int32_t lang_begin;       /* id of the first language token (<|en|>) */
    int32_t n_languages;      /* 99, or 100 for large-v3 */
    int32_t n_vocab;          /* text tokens + specials + 1501 timestamps */
    int32_t n_text;           /* ids below this are plain BPE tokens (50256 or 50257) */
    int multilingual;
} cw_special_tokens;

/* Loads the tokenizer from a model directory: the first of vocabulary.json,
 * vocabulary.txt, tokenizer.json, vocab.json that exists. n_vocab is the
 * model's logit count (51864, 51865 or 51866); it decides the model kind and
 * the special ids. Errors name the file and the problem. */
cw_status cw_tokenizer_load_dir(const char *dir, int n_vocab, cw_tokenizer **out);
void cw_tokenizer_free(cw_tokenizer *tok);

const cw_special_tokens *cw_tokenizer_specials(const cw_tokenizer *tok);
/* Number of plain BPE tokens read from the file (50256 / 50257). */
size_t cw_tokenizer_n_text(const cw_tokenizer *tok);

/* Bytes of one token (not NUL-terminated): plain tokens give their raw bytes;
 * specials and timestamps give their text form ("<|endoftext|>", "<|1.24|>").
 * Returns NULL for an id out of range. */
const char *cw_tokenizer_token_bytes(const cw_tokenizer *tok, int32_t id, size_t *len);

/* Concatenates the bytes of the plain tokens among ids (specials and
 * timestamps skipped, as openai-whisper's decode()) into a malloc'ed,
 * NUL-terminated buffer. Invalid UTF-8 is replaced by U+FFFD as Python's
 * bytes.decode(errors="replace") does. */
cw_status cw_tokenizer_decode(const cw_tokenizer *tok, const int32_t *ids, size_t n, char **text);

/* Encodes UTF-8 text (no specials) to ids, exactly as tiktoken's
 * encode_ordinary. *ids is malloc'ed. */
cw_status cw_tokenizer_encode(const cw_tokenizer *tok, const char *text, size_t len,
                              int32_t **ids, size_t *n_ids);

/* Language table: code ("en") to index (0-based, in token order), -1 if unknown.
 * Full names ("english") and the reference's aliases are accepted too. */
int cw_language_index(const char *code_or_name);
const char *cw_language_code(int index);   /* NULL past the table */
const char *cw_language_name(int index);
int cw_language_count_table(void);         /* 100 */

/* ------------------------------------------------------------------------ */
/* Additions beyond the first contract.                                     */

/* The vocabulary file formats cw_tokenizer_load_dir looks for. */
typedef enum {
    CW_VOCAB_JSON_ARRAY,    /* CTranslate2 vocabulary.json: ["!", "\"", ...] */
    CW_VOCAB_TXT,           /* CTranslate2 vocabulary.txt: one token per line */
    CW_VOCAB_HF_TOKENIZER,  /* Hugging Face tokenizer.json: model.vocab + added_tokens */
    CW_VOCAB_HF_VOCAB       /* Hugging Face vocab.json: {"token": id, ...} */
} cw_vocab_format;

/* Loads from a file of the given format / from memory (data[0..len), need not
 * be NUL-terminated; name is used in error messages). Same rules as
 * cw_tokenizer_load_dir. */
cw_status cw_tokenizer_load_file(const char *path, cw_vocab_format format, int n_vocab,
                                 cw_tokenizer **out);
cw_status cw_tokenizer_load_buffer(cw_vocab_format format, const char *data, size_t len,
                                   const char *name, int n_vocab, cw_tokenizer **out);

/* As cw_tokenizer_decode, but keeps specials and timestamps as their text
 * ("<|0.00|> Hello<|1.24|>"), as openai-whisper's decode_with_timestamps(). */
cw_status cw_tokenizer_decode_with_timestamps(const cw_tokenizer *tok, const int32_t *ids,
                                              size_t n, char **text);

/* Exactly openai-whisper's Tokenizer.decode(): drops only timestamps and
 * writes the other specials as text ("<|en|> hi"). DecodingResult.text is
 * made this way, so a sampled language token shows up there. */
cw_status cw_tokenizer_decode_reference(const cw_tokenizer *tok, const int32_t *ids, size_t n, char **text);

/* Id of the plain token whose bytes are exactly s[0..len), or -1. */
int32_t cw_tokenizer_lookup(const cw_tokenizer *tok, const char *s, size_t len);

/* Id of the language token for a language index (cw_language_index), or -1
 * when the model has no such language (yue on pre-v3 models). */
int32_t cw_tokenizer_language_token(const cw_tokenizer *tok, int lang_index);

/* openai-whisper's Tokenizer.non_speech_tokens: the ids suppressed by
 * suppress_tokens="-1" (before the specials are added), sorted ascending,
 * computed with this tokenizer's encoder. *ids is malloc'ed. */
cw_status cw_tokenizer_non_speech_tokens(const cw_tokenizer *tok, int32_t **ids, size_t *n);

#endif
