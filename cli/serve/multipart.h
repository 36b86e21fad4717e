/* multipart/form-data (RFC 7578) parsing for the server: pure functions over
 * a body held in memory, no allocation, no I/O, so they can be fuzzed and
 * unit-tested on their own. Parts point into the body; nothing is copied
 * except the short header values (name, filename, content type), which are
 * NUL-terminated copies so the caller can use them as C strings. */
#ifndef CW_SERVE_MULTIPART_H
#define CW_SERVE_MULTIPART_H

#include <stddef.h>

#define MP_BOUNDARY_MAX 70 /* RFC 2046 */
#define MP_NAME_MAX 64     /* field names longer than this are refused */
#define MP_FILENAME_MAX 256 /* longer file names are truncated (used only in messages) */
#define MP_TYPE_MAX 128

typedef struct {
    char name[MP_NAME_MAX];          /* Content-Disposition name="..." */
    char filename[MP_FILENAME_MAX];  /* filename="..." (truncated), "" if none */
    int has_filename;                /* a filename parameter was present (a file upload) */
    char content_type[MP_TYPE_MAX];  /* the part's Content-Type, "" if none */
    const char *data;                /* points into the body */
    size_t len;
} mp_part;

/* Finds the boundary parameter of a Content-Type header value
 * ("multipart/form-data; boundary=xyz", the value possibly quoted) and copies
 * it to boundary (NUL-terminated, at most MP_BOUNDARY_MAX chars). Returns 0,
 * or -1 with *err set to a static message (not multipart/form-data, no or
 * bad boundary). content_type may be NULL. */
int mp_boundary(const char *content_type, char boundary[MP_BOUNDARY_MAX + 1], const char **err);

/* Splits body[len] into at most max_parts parts (in order), delimited by
 * boundary. Returns 0 with *n_parts set, or -1 with *err set to a static
 * message naming the problem (no opening or closing boundary, a part without
 * headers end or name, too many parts, ...). Never reads outside body. */
int mp_parse(const char *body, size_t len, const char *boundary, mp_part *parts, size_t max_parts,
             size_t *n_parts, const char **err);

/* The first part named name, or NULL. */
const mp_part *mp_find(const mp_part *parts, size_t n, const char *name);

#endif
