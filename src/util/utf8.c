/* Strict UTF-8 decoding and Python's whitespace rules; see utf8.h. */
#include "util/utf8.h"

size_t cw_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the next byte */
    *cp = CW_UTF8_INVALID;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) return i; /* maximal subpart */
        v = (v << 6) | (s[i] & 0x3F);
        lo = 0x80, hi = 0xBF;
    }
    *cp = v;
    return len;
}

int cw_py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Length of the whitespace character ending at s[n-1], or 0 if the last
 * character is not whitespace (or not valid UTF-8). */
static size_t trailing_space(const unsigned char *s, size_t n)
{
    size_t k = 1;
    while (k < 4 && k < n && (s[n - k] & 0xC0) == 0x80) k++; /* back to a lead byte */
    uint32_t cp;
    size_t used = cw_utf8_decode(s + n - k, k, &cp);
    return used == k && cp != CW_UTF8_INVALID && cw_py_isspace(cp) ? k : 0;
}

void cw_py_strip_span(const char *s, size_t n, size_t *begin, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t b = 0;
    while (b < n) {
        uint32_t cp;
        size_t used = cw_utf8_decode(u + b, n - b, &cp);
        if (cp == CW_UTF8_INVALID || !cw_py_isspace(cp)) break;
        b += used;
    }
    size_t e = n, k;
    while (e > b && (k = trailing_space(u + b, e - b)) > 0) e -= k;
    *begin = b;
    *len = e - b;
}
