/* Growable buffer and JSON string/number formatting for response bodies. */
#include "sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(sbuf *b, size_t extra)
{
    if (b->failed) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > (size_t)-1 / 2) { b->failed = 1; return -1; }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) { b->failed = 1; return -1; }
    b->data = d;
    b->cap = cap;
    return 0;
}

void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if ((size_t)n < sizeof small) { sb_putn(b, small, (size_t)n); return; }
    if (reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        if (s[0] == 0xE0) lo = 0xA0;
        if (s[0] == 0xED) hi = 0x9F; /* no surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        if (s[0] == 0xF0) lo = 0x90;
        if (s[0] == 0xF4) hi = 0x8F;
    } else return 0;
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

void sb_json_str(sbuf *b, const char *s)
{
    if (!s) { sb_puts(b, "null"); return; }
    sb_putn(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') { sb_putn(b, "\\", 1); sb_putn(b, (const char *)&p[i], 1); i++; }
        else if (c == '\n') { sb_puts(b, "\\n"); i++; }
        else if (c == '\r') { sb_puts(b, "\\r"); i++; }
        else if (c == '\t') { sb_puts(b, "\\t"); i++; }
        else if (c < 0x20) { sb_printf(b, "\\u%04x", c); i++; }
        else if (c < 0x80) { sb_putn(b, (const char *)&p[i], 1); i++; }
        else {
            size_t k = utf8_len(p + i, n - i);
            if (k) { sb_putn(b, (const char *)&p[i], k); i += k; }
            else { sb_puts(b, "\\ufffd"); i++; }
        }
    }
    sb_putn(b, "\"", 1);
}

void sb_json_num(sbuf *b, double x)
{
    if (!isfinite(x)) { sb_puts(b, "null"); return; }
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, x);
        if (strtod(s, NULL) == x) break;
    }
    sb_puts(b, s);
    /* JSON clients that check types read 11 as an integer; OpenAI writes
     * floats such as duration as 11.0. */
    if (!strpbrk(s, ".eEn")) sb_puts(b, ".0");
}

void sb_free(sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
