/* Shared pieces of the writers: the checked sink, and the text and time
 * helpers that reproduce what openai-whisper's whisper/utils.py does with
 * Python built-ins (str.strip, str.replace, round, format_timestamp), so the
 * txt/srt/vtt/tsv files come out byte for byte the same. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "output/output.h"

static void out_fail(cw_out *o)
{
    if (!o->failed) o->err = errno;
    o->failed = 1;
}

void cw_out_bytes(cw_out *o, const char *p, size_t n)
{
    if (o->failed || n == 0) return;
    errno = 0;
    if (fwrite(p, 1, n, o->fp) != n) out_fail(o);
}

void cw_out_str(cw_out *o, const char *s)
{
    cw_out_bytes(o, s, strlen(s));
}

void cw_out_printf(cw_out *o, const char *fmt, ...)
{
    if (o->failed) return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    if (vfprintf(o->fp, fmt, ap) < 0) out_fail(o);
    va_end(ap);
}

size_t cw_out_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
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
    /* Lead bytes and second-byte ranges from Unicode table 3-7: this rejects
     * overlong forms, surrogates and code points above U+10FFFF. */
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

/* The code points for which Python's str.isspace() is true. */
static int py_space(uint32_t c)
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
    size_t used = cw_out_utf8_decode(s + n - k, k, &cp);
    return used == k && cp != CW_UTF8_INVALID && py_space(cp) ? k : 0;
}

cw_out_span cw_out_strip(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), b = 0;
    while (b < n) {
        uint32_t cp;
        size_t used = cw_out_utf8_decode(u + b, n - b, &cp);
        if (cp == CW_UTF8_INVALID || !py_space(cp)) break;
        b += used;
    }
    size_t e = n, k;
    while (e > b && (k = trailing_space(u + b, e - b)) > 0) e -= k;
    cw_out_span sp = { s + b, e - b };
    return sp;
}

void cw_out_replace(cw_out *o, cw_out_span s, const char *from, const char *to)
{
    size_t fn = strlen(from), run = 0, i = 0;
    while (i < s.n) {
        if (fn > 0 && s.n - i >= fn && memcmp(s.p + i, from, fn) == 0) {
            cw_out_bytes(o, s.p + i - run, run); /* the bytes before the match */
            cw_out_str(o, to);
            run = 0;
            i += fn;
        } else {
            run++;
            i++;
        }
    }
    cw_out_bytes(o, s.p + s.n - run, run);
}

long long cw_out_round_ms(double seconds)
{
    double x = seconds * 1000.0; /* the same rounded product Python computes */
    double f = floor(x);
    double d = x - f; /* exact: x and f are within one unit of each other */
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0)) f += 1.0; /* half to even */
    return (long long)f;
}

void cw_out_timestamp(char *buf, size_t cap, double seconds, int always_hours, char marker)
{
    long long ms = cw_out_round_ms(seconds);
    long long h = ms / 3600000;
    ms -= h * 3600000;
    long long m = ms / 60000;
    ms -= m * 60000;
    long long s = ms / 1000;
    ms -= s * 1000;
    if (always_hours || h > 0)
        snprintf(buf, cap, "%02lld:%02lld:%02lld%c%03lld", h, m, s, marker, ms);
    else
        snprintf(buf, cap, "%02lld:%02lld%c%03lld", m, s, marker, ms);
}
