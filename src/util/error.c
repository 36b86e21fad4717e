/* Per-thread last-error message and checked allocation. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CW_ERROR_CAP 1024

static _Thread_local char g_last_error[CW_ERROR_CAP];

cw_status cw_error(cw_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return st;
}

cw_status cw_error_prefix(cw_status st, const char *prefix)
{
    /* Built piecewise so a long prefix truncates the message, not the prefix. */
    char tmp[CW_ERROR_CAP];
    size_t n = strlen(prefix);
    if (n > CW_ERROR_CAP - 3) n = CW_ERROR_CAP - 3;
    memcpy(tmp, prefix, n);
    tmp[n++] = ':';
    tmp[n++] = ' ';
    size_t m = strlen(g_last_error);
    if (m > CW_ERROR_CAP - 1 - n) m = CW_ERROR_CAP - 1 - n;
    memcpy(tmp + n, g_last_error, m);
    tmp[n + m] = '\0';
    memcpy(g_last_error, tmp, n + m + 1);
    return st;
}

void cw_error_clear(void) { g_last_error[0] = '\0'; }

const char *cw_last_error(void)
{
    return g_last_error[0] ? g_last_error : "no error";
}

const char *cw_status_string(cw_status st)
{
    switch (st) {
    case CW_OK: return "ok";
    case CW_ERR_INVALID_ARG: return "invalid argument";
    case CW_ERR_IO: return "i/o error";
    case CW_ERR_FORMAT: return "format error";
    case CW_ERR_UNSUPPORTED: return "unsupported";
    case CW_ERR_NOMEM: return "out of memory";
    case CW_ERR_AUDIO: return "audio error";
    case CW_ERR_INTERNAL: return "internal error";
    case CW_ERR_LIMIT: return "over a limit";
    case CW_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *cw_version(void) { return CW_VERSION_STRING; }

void *cw_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) cw_error(CW_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *cw_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) cw_error(CW_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *cw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) cw_error(CW_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

char *cw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cw_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int cw_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return -1;
    *out = a * b;
    return 0;
}
