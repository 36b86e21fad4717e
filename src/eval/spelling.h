/* openai-whisper's EnglishSpellingNormalizer map (english.json), generated
 * into spelling_table.c by gen_tables.py. */
#ifndef CW_EVAL_SPELLING_H
#define CW_EVAL_SPELLING_H

#include <stddef.h>

typedef struct { const char *from, *to; } cw_spelling_entry;

extern const cw_spelling_entry cw_spelling_table[]; /* sorted by strcmp(from) */
extern const size_t cw_spelling_table_n;

/* The replacement for a word, or NULL when the map has none. */
const char *cw_spelling_lookup(const char *word);

#endif
