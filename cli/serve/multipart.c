/* multipart/form-data parsing (RFC 7578 over RFC 2046's multipart syntax):
 *
 *   preamble CRLF? "--" boundary padding CRLF
 *     headers CRLF CRLF data
 *   CRLF "--" boundary padding CRLF
 *     ...
 *   CRLF "--" boundary "--" epilogue
 *
 * Every read is bounded by the body's end; lines end in CRLF (every client
 * sends CRLF, and a bare LF inside a part's data must stay data). */
#include "multipart.h"

#include <ctype.h>
#include <string.h>

#define MAX_HEADERS 32 /* header lines per part */

/* [a, a + n) equals the literal, ASCII case-insensitively. */
static int ieq_n(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)lit[i])) return 0;
    return 1;
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* Finds needle[nlen] in [p, e); NULL if absent. (memmem without relying on
 * its availability.) */
static const char *find(const char *p, const char *e, const char *needle, size_t nlen)
{
    if (nlen == 0 || (size_t)(e - p) < nlen) return NULL;
    const char *last = e - nlen;
    while (p <= last) {
        const char *q = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!q) return NULL;
        if (memcmp(q, needle, nlen) == 0) return q;
        p = q + 1;
    }
    return NULL;
}

/* Reads a parameter value at *pp (a quoted-string with backslash escapes, or
 * a token ending at ';' or white space), stopping at e; copies up to cap - 1
 * bytes of it to out, NUL-terminated. Returns the value's full length, or -1
 * for an unterminated quote or a NUL byte. */
static long read_value(const char **pp, const char *e, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;
    if (p < e && *p == '"') {
        p++;
        for (;;) {
            if (p >= e) return -1;
            char c = *p++;
            if (c == '"') break;
            if (c == '\\') {
                if (p >= e) return -1;
                c = *p++;
            }
            if (c == '\0') return -1;
            if (n + 1 < cap) out[n] = c;
            n++;
        }
    } else {
        while (p < e && *p != ';' && *p != ' ' && *p != '\t') {
            if (*p == '\0') return -1;
            if (n + 1 < cap) out[n] = *p;
            n++, p++;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
    *pp = p;
    return (long)n;
}

int mp_boundary(const char *ct, char boundary[MP_BOUNDARY_MAX + 1], const char **err)
{
    static const char type[] = "multipart/form-data";
    if (!ct) {
        *err = "the request has no Content-Type; send multipart/form-data";
        return -1;
    }
    const char *e = ct + strlen(ct);
    const char *p = skip_ws(ct, e);
    size_t tl = sizeof type - 1;
    if ((size_t)(e - p) < tl || !ieq_n(p, tl, type) || (p + tl < e && p[tl] != ';' && p[tl] != ' ')) {
        *err = "Content-Type is not multipart/form-data";
        return -1;
    }
    p += tl;
    while (p < e) {
        p = skip_ws(p, e);
        if (p < e && *p == ';') { p++; continue; }
        const char *k = p;
        while (p < e && *p != '=' && *p != ';') p++;
        if (p >= e || *p == ';') continue; /* a parameter without a value */
        const char *ke = p++;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        p = skip_ws(p, e);
        char val[MP_BOUNDARY_MAX + 2];
        long n = read_value(&p, e, val, sizeof val);
        if (n < 0) break;
        if (ieq_n(k, (size_t)(ke - k), "boundary")) {
            if (n < 1 || n > MP_BOUNDARY_MAX) {
                *err = "the multipart boundary is empty or longer than 70 characters";
                return -1;
            }
            memcpy(boundary, val, (size_t)n + 1);
            return 0;
        }
    }
    *err = "Content-Type multipart/form-data has no boundary parameter";
    return -1;
}

/* Parses a Content-Disposition value [p, e) into part's name and filename.
 * Returns 0, or -1 with *err set. */
static int parse_disposition(const char *p, const char *e, mp_part *part, const char **err)
{
    p = skip_ws(p, e);
    const char *t = p;
    while (p < e && *p != ';' && *p != ' ' && *p != '\t') p++;
    if (!ieq_n(t, (size_t)(p - t), "form-data")) {
        *err = "a part's Content-Disposition is not form-data";
        return -1;
    }
    while (p < e) {
        p = skip_ws(p, e);
        if (p < e && *p == ';') { p++; continue; }
        const char *k = p;
        while (p < e && *p != '=' && *p != ';') p++;
        if (p >= e || *p == ';') continue;
        const char *ke = p++;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        p = skip_ws(p, e);
        char scratch[8];
        long n;
        if (ieq_n(k, (size_t)(ke - k), "name")) {
            n = read_value(&p, e, part->name, sizeof part->name);
            if (n >= (long)sizeof part->name) {
                *err = "a part's field name is longer than 63 bytes";
                return -1;
            }
        } else if (ieq_n(k, (size_t)(ke - k), "filename")) {
            n = read_value(&p, e, part->filename, sizeof part->filename);
            part->has_filename = 1;
        } else {
            n = read_value(&p, e, scratch, sizeof scratch); /* filename*, ...: skipped */
        }
        if (n < 0) {
            *err = "a part's Content-Disposition has an unterminated quoted string or a NUL byte";
            return -1;
        }
    }
    return 0;
}

/* Parses one header line [p, e) into part. */
static int parse_header(const char *p, const char *e, mp_part *part, const char **err)
{
    const char *colon = memchr(p, ':', (size_t)(e - p));
    if (!colon) {
        *err = "a part header line has no ':'";
        return -1;
    }
    const char *ke = colon;
    while (ke > p && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
    const char *v = skip_ws(colon + 1, e), *ve = e;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (ieq_n(p, (size_t)(ke - p), "content-disposition")) return parse_disposition(v, ve, part, err);
    if (ieq_n(p, (size_t)(ke - p), "content-type")) {
        size_t n = (size_t)(ve - v);
        if (n >= sizeof part->content_type) n = sizeof part->content_type - 1;
        memcpy(part->content_type, v, n);
        part->content_type[n] = '\0';
        if (memchr(part->content_type, '\0', n)) part->content_type[0] = '\0';
    }
    return 0;
}

int mp_parse(const char *body, size_t len, const char *boundary, mp_part *parts, size_t max_parts,
             size_t *n_parts, const char **err)
{
    *n_parts = 0;
    size_t bl = boundary ? strlen(boundary) : 0;
    if (bl < 1 || bl > MP_BOUNDARY_MAX) {
        *err = "bad multipart boundary";
        return -1;
    }
    if (!body) len = 0;
    /* delim = CRLF "--" boundary; the first one may sit at the very start. */
    char delim[MP_BOUNDARY_MAX + 4];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, bl);
    size_t dl = bl + 4;
    const char *e = body + len, *p;
    if (len >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0) {
        p = body + dl - 2;
    } else {
        const char *q = len ? find(body, e, delim, dl) : NULL;
        if (!q) {
            *err = len ? "the multipart body does not contain its boundary" : "the request body is empty";
            return -1;
        }
        p = q + dl;
    }
    for (;;) {
        /* p is just past a delimiter. */
        if (e - p >= 2 && p[0] == '-' && p[1] == '-') return 0;
        p = skip_ws(p, e);
        if (e - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *err = p >= e ? "the multipart body is truncated (no closing boundary)"
                          : "a multipart boundary line is malformed";
            return -1;
        }
        p += 2;
        if (*n_parts == max_parts) {
            *err = "the multipart body has too many parts";
            return -1;
        }
        mp_part *part = &parts[*n_parts];
        memset(part, 0, sizeof *part);
        for (int h = 0;; h++) {
            const char *eol = find(p, e, "\r\n", 2);
            if (!eol) {
                *err = "the multipart body is truncated inside a part's headers";
                return -1;
            }
            if (eol == p) {
                p += 2;
                break;
            }
            if (h == MAX_HEADERS) {
                *err = "a multipart part has too many header lines";
                return -1;
            }
            if (parse_header(p, eol, part, err)) return -1;
            p = eol + 2;
        }
        if (!part->name[0]) {
            *err = "a multipart part has no Content-Disposition name";
            return -1;
        }
        const char *q = find(p, e, delim, dl);
        if (!q) {
            *err = "the multipart body is truncated (no closing boundary)";
            return -1;
        }
        part->data = p;
        part->len = (size_t)(q - p);
        ++*n_parts;
        p = q + dl;
    }
}

const mp_part *mp_find(const mp_part *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0) return &parts[i];
    return NULL;
}
