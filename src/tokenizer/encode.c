/* Encoding text to ids as tiktoken's encode_ordinary: the GPT-2 pre-tokenizer
 * regex written out by hand, then byte-level BPE by ranks on each piece.
 * Also openai-whisper's non_speech_tokens, which is defined by encodings. */
#include "tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"
#include "util/error.h"

#define NONE ((size_t)-1)

/* One candidate merge: the parts starting at l and ending at end. */
typedef struct {
    int32_t rank;
    size_t l, end;
} bpe_pair;

/* Scratch for the BPE of one piece, grown to the longest piece seen. */
typedef struct {
    size_t cap;
    size_t *nxt, *prv;   /* [cap] per part start: next part's start / previous part's start */
    unsigned char *alive;
    bpe_pair *heap;      /* [3 * cap]: m - 1 initial pairs + at most 2 per merge */
    size_t n_heap;
} bpe_scratch;

/* ---- pre-tokenizer ------------------------------------------------------ */

/* Class and length of the character at s[pos]; an ill-formed byte counts as
 * a one-byte "other" character (tiktoken only sees valid strings). */
static size_t char_at(const unsigned char *s, size_t n, size_t pos, cw_uclass *cls)
{
    uint32_t cp;
    size_t bad, k = cw_utf8_next(s + pos, n - pos, &cp, &bad);
    *cls = k ? cw_unicode_class(cp) : CW_UCLASS_OTHER;
    return k ? k : 1;
}

/* End of the run of characters of class c starting at pos. */
static size_t run_end(const unsigned char *s, size_t n, size_t pos, cw_uclass c)
{
    while (pos < n) {
        cw_uclass k;
        size_t len = char_at(s, n, pos, &k);
        if (k != c) break;
        pos += len;
    }
    return pos;
}

/* 's|'t|'re|'ve|'m|'ll|'d (ASCII apostrophe, lower case only): length or 0. */
static size_t contraction(const unsigned char *s, size_t n, size_t pos)
{
    if (s[pos] != '\'' || pos + 1 >= n) return 0;
    unsigned char a = s[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 < n && ((a == 'r' && s[pos + 2] == 'e') || (a == 'v' && s[pos + 2] == 'e') ||
                        (a == 'l' && s[pos + 2] == 'l')))
        return 3;
    return 0;
}

/* End of the regex match at pos (pos < n), trying the alternatives in order:
 * contractions | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+ */
static size_t next_piece(const unsigned char *s, size_t n, size_t pos)
{
    size_t k = contraction(s, n, pos);
    if (k) return pos + k;
    cw_uclass c0, c1;
    size_t len0 = char_at(s, n, pos, &c0);
    /* " ?X+": a single U+0020 joins a following letter/number/other run. */
    if (s[pos] == ' ' && pos + 1 < n) {
        char_at(s, n, pos + 1, &c1);
        if (c1 != CW_UCLASS_SPACE) return run_end(s, n, pos + 1, c1);
    }
    if (c0 != CW_UCLASS_SPACE) return run_end(s, n, pos, c0);
    /* A whitespace run: "\s+(?!\S)" backtracks one character so that the
     * last one can start the next word; at the end of text, or for a single
     * character before a non-space, the run is taken whole. */
    size_t last = pos, e = pos + len0;
    while (e < n) {
        cw_uclass c;
        size_t len = char_at(s, n, e, &c);
        if (c != CW_UCLASS_SPACE) break;
        last = e;
        e += len;
    }
    return (e < n && last > pos) ? last : e;
}

/* ---- BPE ---------------------------------------------------------------- */

static int pair_less(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->l < b->l); /* leftmost on ties */
}

static void heap_push(bpe_scratch *w, bpe_pair p)
{
    size_t i = w->n_heap++;
    while (i > 0 && pair_less(&p, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = p;
}

static bpe_pair heap_pop(bpe_scratch *w)
{
    bpe_pair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static cw_status scratch_reserve(bpe_scratch *w, size_t m)
{
    if (m <= w->cap) return CW_OK;
    size_t cap = m < 64 ? 64 : m, heap_n;
    if (cw_mul_size(cap, 3 * sizeof(bpe_pair), &heap_n) != 0) return cw_error(CW_ERR_NOMEM, "encode: text too long");
    free(w->nxt);
    free(w->prv);
    free(w->alive);
    free(w->heap);
    w->nxt = cw_malloc(cap * sizeof(size_t));
    w->prv = cw_malloc(cap * sizeof(size_t));
    w->alive = cw_malloc(cap);
    w->heap = cw_malloc(heap_n);
    w->cap = (w->nxt && w->prv && w->alive && w->heap) ? cap : 0;
    return w->cap ? CW_OK : CW_ERR_NOMEM;
}

static void push_if_ranked(const cw_tokenizer *tok, bpe_scratch *w, const unsigned char *p, size_t l, size_t end)
{
    int32_t r = cw_tokenizer_lookup(tok, (const char *)p + l, end - l);
    if (r >= 0) heap_push(w, (bpe_pair){r, l, end});
}

/* Merges the parts of piece p[0..m) as tiktoken's byte_pair_merge: always the
 * adjacent pair whose concatenation has the lowest rank, leftmost on ties.
 * A heap with lazy deletion makes it O(m log m) instead of O(m^2); a stale
 * entry is one whose parts no longer start at l and end at end. */
static void bpe_merge(const cw_tokenizer *tok, bpe_scratch *w, const unsigned char *p, size_t m)
{
    w->n_heap = 0;
    for (size_t i = 0; i < m; i++) {
        w->nxt[i] = i + 1;
        w->prv[i] = i ? i - 1 : NONE;
        w->alive[i] = 1;
    }
    for (size_t i = 0; i + 1 < m; i++) push_if_ranked(tok, w, p, i, i + 2);
    while (w->n_heap) {
        bpe_pair e = heap_pop(w);
        size_t l = e.l, r = w->nxt[l];
        if (!w->alive[l] || r >= m || w->nxt[r] != e.end) continue;
        w->nxt[l] = e.end;
        w->alive[r] = 0;
        if (e.end < m) w->prv[e.end] = l;
        if (w->prv[l] != NONE) push_if_ranked(tok, w, p, w->prv[l], e.end);
        if (e.end < m) push_if_ranked(tok, w, p, l, w->nxt[e.end]);
    }
}

/* Appends the ids of one piece to ids[*n_ids]. */
static cw_status encode_piece(const cw_tokenizer *tok, bpe_scratch *w, const unsigned char *p, size_t m,
                              int32_t *ids, size_t *n_ids)
{
    /* tiktoken takes a piece that is itself a token as is, without merging. */
    int32_t whole = cw_tokenizer_lookup(tok, (const char *)p, m);
    if (whole >= 0) {
        ids[(*n_ids)++] = whole;
        return CW_OK;
    }
    cw_status st = scratch_reserve(w, m);
    if (st != CW_OK) return st;
    bpe_merge(tok, w, p, m);
    for (size_t i = 0; i < m; i = w->nxt[i]) {
        /* Every part is a single byte or a looked-up merge; build_hash checked
         * that all 256 single bytes are tokens. */
        ids[(*n_ids)++] = cw_tokenizer_lookup(tok, (const char *)p + i, w->nxt[i] - i);
    }
    return CW_OK;
}

cw_status cw_tokenizer_encode(const cw_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *n_ids)
{
    *ids = NULL;
    *n_ids = 0;
    size_t bytes;
    if (cw_mul_size(len ? len : 1, sizeof(int32_t), &bytes) != 0) return cw_error(CW_ERR_NOMEM, "encode: text too long");
    int32_t *out = cw_malloc(bytes); /* every token covers at least one byte */
    if (!out) return CW_ERR_NOMEM;
    const unsigned char *s = (const unsigned char *)text;
    bpe_scratch w = {0};
    cw_status st = CW_OK;
    size_t n = 0;
    for (size_t pos = 0; pos < len && st == CW_OK;) {
        size_t end = next_piece(s, len, pos);
        st = encode_piece(tok, &w, s + pos, end - pos, out, &n);
        pos = end;
    }
    free(w.nxt);
    free(w.prv);
    free(w.alive);
    free(w.heap);
    if (st != CW_OK) {
        free(out);
        return st;
    }
    int32_t *shrunk = realloc(out, (n ? n : 1) * sizeof(int32_t));
    *ids = shrunk ? shrunk : out;
    *n_ids = n;
    return CW_OK;
}

/* ---- non-speech tokens (openai-whisper tokenizer.py) ------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Adds the first token of text's encoding to set (if single, or if always). */
static cw_status add_first(const cw_tokenizer *tok, const char *text, int always, int32_t *set, size_t *n)
{
    int32_t *ids;
    size_t k;
    cw_status st = cw_tokenizer_encode(tok, text, strlen(text), &ids, &k);
    if (st != CW_OK) return st;
    if (k == 1 || (always && k > 0)) set[(*n)++] = ids[0];
    free(ids);
    return CW_OK;
}

cw_status cw_tokenizer_non_speech_tokens(const cw_tokenizer *tok, int32_t **ids, size_t *n_ids)
{
    static const char *const symbols[] = {
        "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^", "_", "`",
        "{", "|", "}", "~", "\xE3\x80\x8C", "\xE3\x80\x8D", "\xE3\x80\x8E", "\xE3\x80\x8F", /* 「」『』 */
        "<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))",
        "[[", "]]", "{{", "}}", "\xE2\x99\xAA\xE2\x99\xAA", "\xE2\x99\xAA\xE2\x99\xAA\xE2\x99\xAA"}; /* ♪♪ ♪♪♪ */
    /* ♩♪♫♬♭♮♯ (U+2669..U+266F): their first token is kept even when split. */
    static const char *const misc[] = {"\xE2\x99\xA9", "\xE2\x99\xAA", "\xE2\x99\xAB", "\xE2\x99\xAC",
                                       "\xE2\x99\xAD", "\xE2\x99\xAE", "\xE2\x99\xAF"};
    enum { N_SYM = sizeof symbols / sizeof symbols[0], N_MISC = sizeof misc / sizeof misc[0] };
    int32_t set[2 + 2 * (N_SYM + N_MISC)];
    size_t n = 0;
    char buf[16];
    cw_status st = add_first(tok, " -", 1, set, &n);
    if (st == CW_OK) st = add_first(tok, " '", 1, set, &n);
    for (size_t i = 0; i < N_SYM + N_MISC && st == CW_OK; i++) {
        const char *sym = i < N_SYM ? symbols[i] : misc[i - N_SYM];
        snprintf(buf, sizeof buf, " %s", sym);
        st = add_first(tok, sym, i >= N_SYM, set, &n);
        if (st == CW_OK) st = add_first(tok, buf, i >= N_SYM, set, &n);
    }
    if (st != CW_OK) return st;
    qsort(set, n, sizeof set[0], cmp_i32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || set[u - 1] != set[i]) set[u++] = set[i];
    *ids = cw_malloc(u * sizeof **ids);
    if (!*ids) return CW_ERR_NOMEM;
    memcpy(*ids, set, u * sizeof **ids);
    *n_ids = u;
    return CW_OK;
}
