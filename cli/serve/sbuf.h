/* A growable byte buffer for building response bodies, with JSON helpers.
 * An allocation failure sets `failed` and turns later appends into no-ops,
 * so a caller checks once at the end. */
#ifndef CW_SERVE_SBUF_H
#define CW_SERVE_SBUF_H

#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated while len < cap */
    size_t len, cap;
    int failed;
} sbuf;

void sb_putn(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes included); NULL writes null. Bytes that
 * are not valid UTF-8 become U+FFFD so the output is always valid JSON. */
void sb_json_str(sbuf *b, const char *s);
/* A number that reads back to the same double; null if not finite. */
void sb_json_num(sbuf *b, double x);
void sb_free(sbuf *b);

#endif
