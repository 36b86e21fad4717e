/* A small JSON reader (RFC 8259) for config and vocabulary files: parses a
 * whole document into a tree. Strings are decoded to UTF-8 (\uXXXX escapes and
 * surrogate pairs included), NUL-terminated, with their byte length (they may
 * hold U+0000). Depth is capped so hostile input cannot exhaust the stack. */
#ifndef CW_UTIL_JSON_H
#define CW_UTIL_JSON_H

#include <stddef.h>
#include "cwhisper.h"

typedef enum {
    CW_JSON_NULL,
    CW_JSON_FALSE,
    CW_JSON_TRUE,
    CW_JSON_NUMBER,
    CW_JSON_STRING,
    CW_JSON_ARRAY,
    CW_JSON_OBJECT
} cw_json_type;

typedef struct cw_json cw_json;
struct cw_json {
    cw_json_type type;
    double number;        /* CW_JSON_NUMBER */
    char *str;            /* CW_JSON_STRING: value; NULL otherwise */
    size_t str_len;
    char *key;            /* member name when the parent is an object, else NULL */
    size_t key_len;
    size_t n;             /* ARRAY/OBJECT: number of children */
    cw_json **items;      /* ARRAY/OBJECT: [n] children, in document order */
};

#define CW_JSON_MAX_DEPTH 256

/* Parses text[0..len). On failure returns CW_ERR_FORMAT with the message
 * "<name>: invalid JSON at line L, column C: <reason>". */
cw_status cw_json_parse(const char *text, size_t len, const char *name, cw_json **out);
void cw_json_free(cw_json *root);

/* Object member by key (first match), or NULL if absent or obj is not an object. */
const cw_json *cw_json_get(const cw_json *obj, const char *key);
/* Convenience readers: return 0 on success, -1 if absent or of another type. */
int cw_json_get_int(const cw_json *obj, const char *key, long *out);
int cw_json_get_number(const cw_json *obj, const char *key, double *out);
const char *cw_json_get_string(const cw_json *obj, const char *key);

#endif
