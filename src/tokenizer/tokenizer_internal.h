/* The tokenizer's private state and the hooks between its files:
 * vocab_load.c parses files into token strings, tokenizer.c validates them
 * and builds this struct, encode.c runs the pre-tokenizer and BPE on it. */
#ifndef CW_TOKENIZER_INTERNAL_H
#define CW_TOKENIZER_INTERNAL_H

#include "tokenizer.h"

struct cw_tokenizer {
    cw_special_tokens sp;
    size_t n_tokens;     /* = sp.n_vocab */
    size_t *offs;        /* [n_tokens + 1] token id -> its bytes pool[offs[id]..offs[id+1]) */
    char *pool;          /* raw bytes of plain tokens, text of specials/timestamps */
    int32_t *slots;      /* [mask + 1] open-addressing table of plain token ids, -1 empty */
    size_t mask;
};

/* Token strings as they appear in a file (byte-level unicode for plain
 * tokens), indexed by id; str[id] == NULL where the file has no such id. */
typedef struct {
    const char **str;    /* [n_vocab] */
    size_t *len;         /* [n_vocab] */
    size_t n_vocab;
} cw_vocab_strings;

/* Validates the strings against the model kind of n_vocab and builds the
 * tokenizer. name: the file, for error messages. */
cw_status cw_tokenizer_build(const cw_vocab_strings *v, const char *name, cw_tokenizer **out);

/* Fills the special ids for a model with n_vocab logits; -1 if unknown. */
int cw_special_tokens_for(int n_vocab, cw_special_tokens *sp);

#endif
