/* Lookups over the generated Unicode tables, code-point strings, UTF-8
 * conversion, str.lower() and NFKD/NFKC (Unicode normalisation forms: full
 * decomposition, canonical reordering, canonical composition incl. Hangul). */
#include "eval/ucd.h"

#include <stdlib.h>
#include <string.h>

enum { S0 = 0xAC00, L0 = 0x1100, V0 = 0x1161, T0 = 0x11A7, LN = 19, VN = 21, TN = 28, SN = 11172 };

/* ---- code-point strings ---- */

static int u32_reserve(cw_u32str *b, size_t extra)
{
    if (b->oom) return 0;
    if (b->len + extra <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 16;
    while (cap < b->len + extra) {
        if (cap > ((size_t)-1) / (2 * sizeof(uint32_t))) { b->oom = 1; return 0; }
        cap *= 2;
    }
    uint32_t *s = realloc(b->s, cap * sizeof(uint32_t));
    if (!s) { b->oom = 1; return 0; }
    b->s = s;
    b->cap = cap;
    return 1;
}

void cw_u32_push(cw_u32str *b, uint32_t cp)
{
    if (u32_reserve(b, 1)) b->s[b->len++] = cp;
}

void cw_u32_append(cw_u32str *b, const uint32_t *cps, size_t n)
{
    if (n && u32_reserve(b, n)) {
        memcpy(b->s + b->len, cps, n * sizeof(uint32_t));
        b->len += n;
    }
}

void cw_u32_append_ascii(cw_u32str *b, const char *ascii)
{
    for (; *ascii; ascii++) cw_u32_push(b, (unsigned char)*ascii);
}

void cw_u32_free(cw_u32str *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}

/* One UTF-8 sequence at s[0..n): sets *cp and returns its length, or 0 if invalid. */
static size_t utf8_decode1(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : s[0] >= 0xE0 && s[0] < 0xF0 ? 3
               : s[0] >= 0xF0 && s[0] < 0xF5 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t c = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

void cw_u32_from_utf8(cw_u32str *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t len = utf8_decode1(p + i, n - i, &cp);
        cw_u32_push(b, len ? cp : 0xFFFD);
        i += len ? len : 1;
    }
}

char *cw_u32_to_utf8(const uint32_t *cps, size_t n)
{
    if (n > ((size_t)-1 - 1) / 4) return NULL;
    char *out = malloc(n * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cps[i];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (c < 0x800) {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xE0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (c >> 18));
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- lookups ---- */

static int in_ranges(const cw_uc_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int cw_uc_is_word(uint32_t cp)
{
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    return in_ranges(cw_uc_word, cw_uc_word_n, cp);
}

int cw_uc_is_space(uint32_t cp) { return in_ranges(cw_uc_space, cw_uc_space_n, cp); }

int cw_uc_digit_value(uint32_t cp)
{
    size_t lo = 0, hi = cw_uc_digit_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < cw_uc_digit[mid].lo) hi = mid;
        else if (cp > cw_uc_digit[mid].hi) lo = mid + 1;
        else return (int)(cw_uc_digit[mid].value + (cp - cw_uc_digit[mid].lo));
    }
    return -1;
}

int cw_uc_is_digit(uint32_t cp) { return cw_uc_digit_value(cp) >= 0; }

int cw_uc_symbol_class(uint32_t cp)
{
    size_t lo = 0, hi = cw_uc_class_n; /* last run with start <= cp */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (cw_uc_class[mid].lo <= cp) lo = mid;
        else hi = mid;
    }
    return cw_uc_class[lo].cls;
}

static const cw_uc_map *map_find(const cw_uc_map *m, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < m[mid].cp) hi = mid;
        else if (cp > m[mid].cp) lo = mid + 1;
        else return &m[mid];
    }
    return NULL;
}

static int ccc_of(uint32_t cp)
{
    size_t lo = 0, hi = cw_uc_ccc_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < cw_uc_ccc[mid].lo) hi = mid;
        else if (cp > cw_uc_ccc[mid].hi) lo = mid + 1;
        else return cw_uc_ccc[mid].ccc;
    }
    return 0;
}

/* ---- case mapping ---- */

/* Python's handle_capital_sigma: final form when a cased letter precedes
 * (skipping case-ignorables) and none follows. */
static uint32_t sigma_form(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && in_ranges(cw_uc_sigma_ignorable, cw_uc_sigma_ignorable_n, s[j - 1])) j--;
    if (j == 0 || !in_ranges(cw_uc_sigma_cased, cw_uc_sigma_cased_n, s[j - 1])) return 0x3C3;
    for (j = i + 1; j < n && in_ranges(cw_uc_sigma_ignorable, cw_uc_sigma_ignorable_n, s[j]); j++) {}
    return (j == n || !in_ranges(cw_uc_sigma_cased, cw_uc_sigma_cased_n, s[j])) ? 0x3C2 : 0x3C3;
}

void cw_uc_lower_str(cw_u32str *out, const uint32_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c < 0x80) {
            cw_u32_push(out, (c >= 'A' && c <= 'Z') ? c + 32 : c);
            continue;
        }
        if (c == 0x3A3) {
            cw_u32_push(out, sigma_form(in, n, i));
            continue;
        }
        const cw_uc_map *m = map_find(cw_uc_lower, cw_uc_lower_n, c);
        if (m) cw_u32_append(out, cw_uc_lower_data + m->off, m->len);
        else cw_u32_push(out, c);
    }
}

/* ---- normalisation ---- */

/* Stable sort of each run of non-starters by combining class. */
static void canonical_reorder(uint32_t *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int cc = ccc_of(s[i]);
        if (cc == 0) continue;
        size_t j = i;
        uint32_t c = s[i];
        while (j > 0) {
            int pc = ccc_of(s[j - 1]);
            if (pc == 0 || pc <= cc) break;
            s[j] = s[j - 1];
            j--;
        }
        s[j] = c;
    }
}

void cw_uc_nfkd_str(cw_u32str *out, const uint32_t *in, size_t n)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= S0 && c < S0 + SN) {
            uint32_t si = c - S0;
            cw_u32_push(out, L0 + si / (VN * TN));
            cw_u32_push(out, V0 + (si % (VN * TN)) / TN);
            if (si % TN) cw_u32_push(out, T0 + si % TN);
            continue;
        }
        const cw_uc_map *m = c < 0xA0 ? NULL : map_find(cw_uc_nfkd, cw_uc_nfkd_n, c);
        if (m) cw_u32_append(out, cw_uc_nfkd_data + m->off, m->len);
        else cw_u32_push(out, c);
    }
    if (!out->oom) canonical_reorder(out->s + start, out->len - start);
}

/* The primary composite of a + b, or 0. */
static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a >= L0 && a < L0 + LN && b >= V0 && b < V0 + VN)
        return S0 + ((a - L0) * VN + (b - V0)) * TN;
    if (a >= S0 && a < S0 + SN && (a - S0) % TN == 0 && b > T0 && b < T0 + TN)
        return a + (b - T0);
    size_t lo = 0, hi = cw_uc_compose_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const cw_uc_pair *p = &cw_uc_compose[mid];
        if (a < p->a || (a == p->a && b < p->b)) hi = mid;
        else if (a > p->a || b > p->b) lo = mid + 1;
        else return p->c;
    }
    return 0;
}

void cw_uc_nfkc_str(cw_u32str *out, const uint32_t *in, size_t n)
{
    cw_u32str d = {0};
    cw_uc_nfkd_str(&d, in, n);
    if (d.oom) {
        out->oom = 1;
        cw_u32_free(&d);
        return;
    }
    size_t starter = (size_t)-1;
    int last_cc = 0;
    for (size_t i = 0; i < d.len; i++) {
        uint32_t c = d.s[i];
        int cc = ccc_of(c);
        if (starter != (size_t)-1 && !out->oom) {
            int adjacent = out->len - 1 == starter;
            uint32_t comp = (adjacent || last_cc < cc) ? compose_pair(out->s[starter], c) : 0;
            if (comp) {
                out->s[starter] = comp;
                continue;
            }
        }
        if (cc == 0) starter = out->len;
        cw_u32_push(out, c);
        last_cc = cc;
    }
    cw_u32_free(&d);
}
