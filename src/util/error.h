/* Error reporting: internal functions return a cw_status and, on failure, set
 * a one-line message naming the file and the problem. The message lives in a
 * per-thread buffer (like errno), so no state is shared between threads. */
#ifndef CW_UTIL_ERROR_H
#define CW_UTIL_ERROR_H

#include "cwhisper.h"

#if defined(__GNUC__)
#define CW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CW_PRINTF(a, b)
#endif

/* Formats the message and returns st, so callers write
 *   return cw_error(CW_ERR_FORMAT, "%s: truncated", path); */
cw_status cw_error(cw_status st, const char *fmt, ...) CW_PRINTF(2, 3);

/* Prefixes the current message with "prefix: " (e.g. a file name added by an
 * outer layer). Returns st. */
cw_status cw_error_prefix(cw_status st, const char *prefix);

void cw_error_clear(void);

/* Allocation helpers: return NULL and set CW_ERR_NOMEM's message on failure. */
void *cw_malloc(size_t n);
void *cw_calloc(size_t count, size_t size);
void *cw_realloc(void *p, size_t n);
char *cw_strdup(const char *s);

/* Overflow-checked a*b; returns 0 and sets *out on success, -1 on overflow. */
int cw_mul_size(size_t a, size_t b, size_t *out);

#endif
