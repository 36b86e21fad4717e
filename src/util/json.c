/* Recursive-descent JSON parser with a depth cap; see json.h. */
#include "util/json.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t len, pos;
    const char *name;
    cw_status st; /* first failure, CW_OK while parsing goes well */
} parser;

static void *fail(parser *p, const char *reason)
{
    if (p->st) return NULL;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') line++, col = 1;
        else col++;
    }
    p->st = cw_error(CW_ERR_FORMAT, "%s: invalid JSON at line %zu, column %zu: %s", p->name,
                     line, col, reason);
    return NULL;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static cw_json *new_node(parser *p, cw_json_type t)
{
    cw_json *n = calloc(1, sizeof *n);
    if (!n) {
        p->st = cw_error(CW_ERR_NOMEM, "%s: out of memory parsing JSON", p->name);
        return NULL;
    }
    n->type = t;
    return n;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads one escape after the backslash; writes UTF-8 to o, returns bytes or -1. */
static int read_escape(parser *p, char *o)
{
    if (p->pos >= p->len) return -1;
    char c = p->s[p->pos++];
    switch (c) {
    case '"': *o = '"'; return 1;
    case '\\': *o = '\\'; return 1;
    case '/': *o = '/'; return 1;
    case 'b': *o = '\b'; return 1;
    case 'f': *o = '\f'; return 1;
    case 'n': *o = '\n'; return 1;
    case 'r': *o = '\r'; return 1;
    case 't': *o = '\t'; return 1;
    case 'u': break;
    default: return -1;
    }
    unsigned cp;
    if (hex4(p, &cp)) return -1;
    if (cp >= 0xD800 && cp < 0xDC00) {
        unsigned lo;
        if (p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
            size_t save = p->pos;
            p->pos += 2;
            if (hex4(p, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                p->pos = save;
                cp = 0xFFFD; /* unpaired surrogate */
            }
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp < 0xE000) {
        cp = 0xFFFD;
    }
    return (int)put_utf8(o, cp);
}

/* Parses a string at p->pos (on the opening quote) into a malloc'ed buffer. */
static char *parse_string_raw(parser *p, size_t *out_len)
{
    p->pos++; /* opening quote */
    size_t start = p->pos;
    /* Output is never longer than the input span (escapes shrink or keep size:
     * \uXXXX is 6 bytes in and at most 3 out, a pair 12 in and 4 out). */
    size_t end = start;
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\') end++;
        end++;
    }
    if (end >= p->len) {
        p->pos = p->len;
        return fail(p, "unterminated string");
    }
    char *buf = malloc(end - start + 1);
    if (!buf) {
        p->st = cw_error(CW_ERR_NOMEM, "%s: out of memory parsing JSON", p->name);
        return NULL;
    }
    size_t n = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '\\') {
            p->pos++;
            int k = read_escape(p, buf + n);
            if (k < 0) {
                free(buf);
                return fail(p, "bad escape in string");
            }
            n += (size_t)k;
        } else if (c < 0x20) {
            free(buf);
            return fail(p, "control character in string");
        } else {
            buf[n++] = (char)c;
            p->pos++;
        }
    }
    p->pos = end + 1;
    buf[n] = '\0';
    *out_len = n;
    return buf;
}

static cw_json *parse_value(parser *p, int depth);

static int add_child(parser *p, cw_json *parent, cw_json *child, size_t *cap)
{
    if (parent->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        cw_json **it = realloc(parent->items, nc * sizeof *it);
        if (!it) {
            p->st = cw_error(CW_ERR_NOMEM, "%s: out of memory parsing JSON", p->name);
            return -1;
        }
        parent->items = it;
        *cap = nc;
    }
    parent->items[parent->n++] = child;
    return 0;
}

static cw_json *parse_container(parser *p, int depth, int is_object)
{
    cw_json *node = new_node(p, is_object ? CW_JSON_OBJECT : CW_JSON_ARRAY);
    if (!node) return NULL;
    size_t cap = 0;
    char close = is_object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return node;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        skip_ws(p);
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') goto bad_key;
            key = parse_string_raw(p, &key_len);
            if (!key) goto error;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                fail(p, "expected ':' after object key");
                goto error;
            }
            p->pos++;
        }
        cw_json *child = parse_value(p, depth + 1);
        if (!child) {
            free(key);
            goto error;
        }
        child->key = key;
        child->key_len = key_len;
        if (add_child(p, node, child, &cap)) {
            cw_json_free(child);
            goto error;
        }
        skip_ws(p);
        if (p->pos >= p->len) {
            fail(p, is_object ? "unterminated object" : "unterminated array");
            goto error;
        }
        char c = p->s[p->pos++];
        if (c == close) return node;
        if (c != ',') {
            p->pos--;
            fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
            goto error;
        }
    }
bad_key:
    fail(p, "expected a string key");
error:
    cw_json_free(node);
    return NULL;
}

static cw_json *parse_number(parser *p)
{
    size_t start = p->pos;
    const char *s = p->s;
    size_t i = p->pos;
    if (i < p->len && s[i] == '-') i++;
    if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return fail(p, "bad number");
    if (s[i] == '0') i++;
    else while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return fail(p, "bad number");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return fail(p, "bad number");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    char buf[64];
    size_t n = i - start;
    if (n >= sizeof buf) n = sizeof buf - 1; /* absurdly long numbers lose digits */
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    cw_json *node = new_node(p, CW_JSON_NUMBER);
    if (!node) return NULL;
    node->number = strtod(buf, NULL);
    p->pos = i;
    return node;
}

static cw_json *parse_literal(parser *p, const char *word, cw_json_type t)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    p->pos += n;
    return new_node(p, t);
}

static cw_json *parse_value(parser *p, int depth)
{
    if (depth > CW_JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, depth, 1);
    case '[': return parse_container(p, depth, 0);
    case '"': {
        size_t n;
        char *str = parse_string_raw(p, &n);
        if (!str) return NULL;
        cw_json *node = new_node(p, CW_JSON_STRING);
        if (!node) {
            free(str);
            return NULL;
        }
        node->str = str;
        node->str_len = n;
        return node;
    }
    case 't': return parse_literal(p, "true", CW_JSON_TRUE);
    case 'f': return parse_literal(p, "false", CW_JSON_FALSE);
    case 'n': return parse_literal(p, "null", CW_JSON_NULL);
    default: return parse_number(p);
    }
}

cw_status cw_json_parse(const char *text, size_t len, const char *name, cw_json **out)
{
    parser p = {text, len, 0, name ? name : "json", CW_OK};
    *out = NULL;
    /* A UTF-8 byte-order mark is tolerated, as Python's json does not but many
     * editors write one. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    cw_json *root = parse_value(&p, 0);
    if (!root) return p.st ? p.st : cw_error(CW_ERR_FORMAT, "%s: invalid JSON", p.name);
    skip_ws(&p);
    if (p.pos != p.len) {
        cw_json_free(root);
        fail(&p, "trailing characters after the document");
        return p.st;
    }
    *out = root;
    return CW_OK;
}

void cw_json_free(cw_json *node)
{
    if (!node) return;
    for (size_t i = 0; i < node->n; i++) cw_json_free(node->items[i]);
    free(node->items);
    free(node->str);
    free(node->key);
    free(node);
}

const cw_json *cw_json_get(const cw_json *obj, const char *key)
{
    if (!obj || obj->type != CW_JSON_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++) {
        const cw_json *c = obj->items[i];
        if (c->key_len == kl && memcmp(c->key, key, kl) == 0) return c;
    }
    return NULL;
}

int cw_json_get_number(const cw_json *obj, const char *key, double *out)
{
    const cw_json *v = cw_json_get(obj, key);
    if (!v || v->type != CW_JSON_NUMBER) return -1;
    *out = v->number;
    return 0;
}

int cw_json_get_int(const cw_json *obj, const char *key, long *out)
{
    double d;
    if (cw_json_get_number(obj, key, &d)) return -1;
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d)) return -1;
    *out = (long)d;
    return 0;
}

const char *cw_json_get_string(const cw_json *obj, const char *key)
{
    const cw_json *v = cw_json_get(obj, key);
    return v && v->type == CW_JSON_STRING ? v->str : NULL;
}
