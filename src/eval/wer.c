/* Word error rate as jiwer / `evaluate` compute it: word-level Levenshtein
 * alignment, then (S + D + I) / N summed over a corpus. The alignment keeps
 * one delta byte per cell and two rows of costs, so a 3,000-word file needs
 * about 9 MB rather than a full cost matrix. */
#include "eval/eval.h"
#include "eval/ucd.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct { const uint32_t *s; size_t n; } wspan;

/* Splits on Unicode whitespace; returns a malloc'ed array (NULL if no words). */
static cw_status split(const cw_u32str *t, wspan **out, size_t *count)
{
    size_t k = 0, cap = 0;
    wspan *w = NULL;
    for (size_t i = 0; i < t->len;) {
        while (i < t->len && cw_uc_is_space(t->s[i])) i++;
        if (i == t->len) break;
        size_t b = i;
        while (i < t->len && !cw_uc_is_space(t->s[i])) i++;
        if (k == cap) {
            cap = cap ? cap * 2 : 64;
            wspan *nw = cw_realloc(w, cap * sizeof(wspan));
            if (!nw) {
                free(w);
                return CW_ERR_NOMEM;
            }
            w = nw;
        }
        w[k].s = t->s + b;
        w[k++].n = i - b;
    }
    *out = w;
    *count = k;
    return CW_OK;
}

static int same(const wspan *a, const wspan *b)
{
    return a->n == b->n && memcmp(a->s, b->s, a->n * sizeof(uint32_t)) == 0;
}

/* vd[j * n + (i - 1)] = D[i][j] - D[i - 1][j] for the Levenshtein table D
 * (i over the reference, j over the hypothesis), as -1, 0 or +1. */
static cw_status fill(const wspan *r, size_t n, const wspan *h, size_t m, signed char *vd)
{
    size_t *prev = cw_calloc(n + 1, sizeof(size_t)), *cur = cw_calloc(n + 1, sizeof(size_t));
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return CW_ERR_NOMEM;
    }
    for (size_t i = 0; i <= n; i++) prev[i] = i;
    for (size_t i = 1; i <= n; i++) vd[i - 1] = 1;
    for (size_t j = 1; j <= m; j++) {
        cur[0] = j;
        for (size_t i = 1; i <= n; i++) {
            size_t best = prev[i - 1] + (same(&r[i - 1], &h[j - 1]) ? 0 : 1);
            if (cur[i - 1] + 1 < best) best = cur[i - 1] + 1;
            if (prev[i] + 1 < best) best = prev[i] + 1;
            cur[i] = best;
            vd[j * n + i - 1] = (signed char)((long)best - (long)cur[i - 1]);
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    free(prev);
    free(cur);
    return CW_OK;
}

/* The backtrace of rapidfuzz's Levenshtein.editops (which jiwer uses), so
 * that ties split into substitutions, deletions and insertions the same way:
 * from the end, a deletion where the vertical delta is +1, else an insertion
 * where the delta one row up is -1, else a match or substitution. */
static void backtrace(const wspan *r, size_t n, const wspan *h, size_t m, const signed char *vd,
                      cw_wer_counts *c)
{
    size_t i = n, j = m;
    while (i > 0 && j > 0) {
        if (vd[j * n + i - 1] == 1) {
            c->del++;
            i--;
            continue;
        }
        j--;
        if (j > 0 && vd[j * n + i - 1] == -1) {
            c->ins++;
        } else {
            i--;
            if (!same(&r[i], &h[j])) c->sub++;
        }
    }
    c->del += i;
    c->ins += j;
}

/* Aligns after dropping the common prefix and suffix, as rapidfuzz does. */
static cw_status align_words(const wspan *r, size_t n, const wspan *h, size_t m, cw_wer_counts *out)
{
    size_t pre = 0, suf = 0;
    while (pre < n && pre < m && same(&r[pre], &h[pre])) pre++;
    while (suf < n - pre && suf < m - pre && same(&r[n - 1 - suf], &h[m - 1 - suf])) suf++;
    size_t rn = n - pre - suf, hm = m - pre - suf, cells;
    if (cw_mul_size(rn + 1, hm + 1, &cells) != 0)
        return cw_error(CW_ERR_NOMEM, "wer: alignment of %zu x %zu words is too large", n, m);
    signed char *vd = cw_malloc(cells);
    if (!vd) return CW_ERR_NOMEM;
    cw_status st = fill(r + pre, rn, h + pre, hm, vd);
    if (st == CW_OK) backtrace(r + pre, rn, h + pre, hm, vd, out);
    free(vd);
    out->ref_words = n;
    out->hits = n - out->sub - out->del;
    return st == CW_OK ? CW_OK : cw_error(st, "wer: out of memory");
}

cw_status cw_wer_align(const char *ref, const char *hyp, cw_wer_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (!ref || !hyp) return cw_error(CW_ERR_INVALID_ARG, "wer: NULL text");
    cw_u32str rt = {0}, ht = {0};
    cw_u32_from_utf8(&rt, ref, strlen(ref));
    cw_u32_from_utf8(&ht, hyp, strlen(hyp));
    wspan *rw = NULL, *hw = NULL;
    size_t n = 0, m = 0;
    cw_status st = (rt.oom || ht.oom) ? cw_error(CW_ERR_NOMEM, "wer: out of memory") : CW_OK;
    if (st == CW_OK) st = split(&rt, &rw, &n);
    if (st == CW_OK) st = split(&ht, &hw, &m);
    if (st == CW_OK) st = align_words(rw, n, hw, m, out);
    free(rw);
    free(hw);
    cw_u32_free(&rt);
    cw_u32_free(&ht);
    return st;
}

void cw_wer_add(cw_wer_counts *total, const cw_wer_counts *c)
{
    total->sub += c->sub;
    total->del += c->del;
    total->ins += c->ins;
    total->hits += c->hits;
    total->ref_words += c->ref_words;
}

double cw_wer_rate(const cw_wer_counts *c)
{
    if (c->ref_words == 0) return -1.0;
    return (double)(c->sub + c->del + c->ins) / (double)c->ref_words;
}
