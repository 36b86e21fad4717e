/* Shared pieces of the writers: the checked sink, and the text and time
 * helpers that reproduce what openai-whisper's whisper/utils.py does with
 * Python built-ins (str.strip, str.replace, round, format_timestamp), so the
 * txt/srt/vtt/tsv files come out byte for byte the same. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "output/output.h"
#include "util/utf8.h"

static void out_fail(cw_out *o)
{
    if (!o->failed) o->err = errno;
    o->failed = 1;
}

void cw_out_fail(cw_out *o, int err)
{
    if (!o->failed) o->err = err;
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

cw_out_span cw_out_strip(const char *s)
{
    size_t b, n;
    cw_py_strip_span(s, strlen(s), &b, &n);
    cw_out_span sp = { s + b, n };
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
