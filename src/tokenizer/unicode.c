/* Code point classification (binary search over the generated ranges) and
 * the strict UTF-8 reader with Python's maximal-subpart error rule. */
#include "unicode.h"

cw_uclass cw_unicode_class(uint32_t cp)
{
    /* ASCII fast path: most text is ASCII and the regex only cares about
     * letters, digits and the six ASCII White_Space characters. */
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CW_UCLASS_LETTER;
        if (cp >= '0' && cp <= '9') return CW_UCLASS_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CW_UCLASS_SPACE;
        return CW_UCLASS_OTHER;
    }
    size_t lo = 0, hi = cw_unicode_n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < cw_unicode_ranges[mid].lo) hi = mid;
        else if (cp > cw_unicode_ranges[mid].hi) lo = mid + 1;
        else return cw_unicode_ranges[mid].cls;
    }
    return CW_UCLASS_OTHER;
}

size_t cw_utf8_next(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    unsigned lo2 = 0x80, hi2 = 0xBF; /* allowed range of the second byte */
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) { need = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3; v = c & 0x0F;
        if (c == 0xE0) lo2 = 0xA0;       /* no overlong forms */
        else if (c == 0xED) hi2 = 0x9F;  /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4; v = c & 0x07;
        if (c == 0xF0) lo2 = 0x90;
        else if (c == 0xF4) hi2 = 0x8F;  /* nothing above U+10FFFF */
    } else {
        *bad = 1;  /* a continuation byte or C0, C1, F5..FF: never a lead */
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        unsigned lo = i == 1 ? lo2 : 0x80, hi = i == 1 ? hi2 : 0xBF;
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;  /* the valid prefix is one replacement unit */
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return need;
}
