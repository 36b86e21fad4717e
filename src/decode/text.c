/* Text helpers of the decoding result: Python's str.strip() on UTF-8, the
 * compression ratio of openai/whisper utils.py (zlib compress() at the
 * default level, zlib format). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "decode/decode.h"
#include "util/error.h"

double cw_compression_ratio(const char *text, size_t len)
{
    uLongf cap = compressBound((uLong)len);
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return 0.0; /* cannot happen in practice; 0 never triggers a fallback */
    if (compress(buf, &cap, (const Bytef *)text, (uLong)len) != Z_OK) cap = 0;
    free(buf);
    return cap ? (double)len / (double)cap : 0.0;
}

/* Decodes one UTF-8 code point at s (n bytes left); *adv = its length, or 1
 * for an invalid byte (returns 0xFFFFFFFF then). */
static uint32_t utf8_at(const unsigned char *s, size_t n, size_t *adv)
{
    *adv = 1;
    if (s[0] < 0x80) return s[0];
    size_t k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (k == 0 || k > n) return 0xFFFFFFFFu;
    uint32_t c = s[0] & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0xFFFFFFFFu;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *adv = k;
    return c;
}

/* Python's str.isspace() set (Unicode White_Space plus the ASCII separators). */
static int py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

char *cw_strip_inplace(char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), start = 0, end = 0, adv;
    /* first non-space, and the end of the last non-space code point */
    int seen = 0;
    for (size_t i = 0; i < n; i += adv) {
        uint32_t c = utf8_at(s + i, n - i, &adv);
        if (!py_space(c)) {
            if (!seen) start = i;
            seen = 1;
            end = i + adv;
        }
    }
    if (!seen) start = end = 0;
    memmove(text, text + start, end - start);
    text[end - start] = '\0';
    return text;
}
