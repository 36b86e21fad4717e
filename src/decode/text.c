/* Text helpers of the decoding result: Python's str.strip() on UTF-8, the
 * compression ratio of openai/whisper utils.py (zlib compress() at the
 * default level, zlib format). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "decode/decode.h"
#include "util/error.h"
#include "util/utf8.h"

double cw_compression_ratio(const char *text, size_t len)
{
    uLongf cap = compressBound((uLong)len);
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return 0.0; /* cannot happen in practice; 0 never triggers a fallback */
    if (compress(buf, &cap, (const Bytef *)text, (uLong)len) != Z_OK) cap = 0;
    free(buf);
    return cap ? (double)len / (double)cap : 0.0;
}

/* Python's str.strip(), in place. */
char *cw_strip_inplace(char *text)
{
    size_t b, n;
    cw_py_strip_span(text, strlen(text), &b, &n);
    memmove(text, text + b, n);
    text[n] = '\0';
    return text;
}
