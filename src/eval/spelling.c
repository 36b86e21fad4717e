/* EnglishSpellingNormalizer lookup: binary search over the generated map. */
#include "eval/spelling.h"

#include <string.h>

const char *cw_spelling_lookup(const char *word)
{
    size_t lo = 0, hi = cw_spelling_table_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(word, cw_spelling_table[mid].from);
        if (c == 0) return cw_spelling_table[mid].to;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}
