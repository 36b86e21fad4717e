/* EnglishNumberNormalizer, ported from openai-whisper english.py line by line,
 * quirks included (they decide the reference WER): "and a half" rewriting,
 * letter/digit splitting, the (prev, current, next) word state machine with
 * its str-vs-int value, and the currency / "one" postprocessing. */
#include "eval/numbers.h"
#include "eval/number_words.h"

#include <stdlib.h>
#include <string.h>

typedef struct { const uint32_t *s; size_t n; } word;

/* ---- preprocess ---- */

static int is_ascii_lower(uint32_t c) { return c >= 'a' && c <= 'z'; }
static int is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static int match_ascii(const uint32_t *s, size_t n, size_t i, const char *lit)
{
    for (; *lit; lit++, i++)
        if (i >= n || s[i] != (unsigned char)*lit) return 0;
    return 1;
}

/* \band\s+a\s+half\b at i: returns the match end or 0. */
static size_t match_and_a_half(const uint32_t *s, size_t n, size_t i)
{
    if ((i > 0 && cw_uc_is_word(s[i - 1])) || !match_ascii(s, n, i, "and")) return 0;
    static const char *const parts[2] = {"a", "half"};
    size_t j = i + 3;
    for (int p = 0; p < 2; p++) {
        size_t k = j;
        while (k < n && cw_uc_is_space(s[k])) k++;
        if (k == j || !match_ascii(s, n, k, parts[p])) return 0;
        j = k + strlen(parts[p]);
    }
    return (j == n || !cw_uc_is_word(s[j])) ? j : 0;
}

/* Last whitespace-separated word of s[0..n) (segment.rsplit(maxsplit=2)[-1]). */
static word last_word(const uint32_t *s, size_t n)
{
    size_t e = n;
    while (e > 0 && cw_uc_is_space(s[e - 1])) e--;
    size_t b = e;
    while (b > 0 && !cw_uc_is_space(s[b - 1])) b--;
    word w = {s + b, e - b};
    return w;
}

static int all_space(const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!cw_uc_is_space(s[i])) return 0;
    return 1;
}

/* re.split(r"\band\s+a\s+half\b") and the "<number> point five" rewrite. */
static void half_rewrite(cw_u32str *out, const uint32_t *s, size_t n)
{
    size_t seg = 0, i = 0, n_out = 0;
    for (;;) {
        size_t end = 0;
        while (i < n && (end = match_and_a_half(s, n, i)) == 0) i++;
        int last = i >= n;
        size_t seg_end = last ? n : i;
        if (!all_space(s + seg, seg_end - seg)) {
            if (n_out++) cw_u32_push(out, ' ');
            cw_u32_append(out, s + seg, seg_end - seg);
            if (!last) {
                word w = last_word(s + seg, seg_end - seg);
                cw_nw_kind k = cw_nw_classify(w.s, w.n).kind;
                int numeric = k == NW_ZERO || k == NW_ONE || k == NW_TEN || k == NW_MULT;
                cw_u32_push(out, ' ');
                cw_u32_append_ascii(out, numeric ? "point five" : "and a half");
                n_out++;
            }
        }
        if (last) return;
        seg = i = end;
    }
}

/* ([a-z])([0-9]) -> "\1 \2", then ([0-9])([a-z]) -> "\1 \2" (one pass each). */
static void split_letter_digit(cw_u32str *out, const uint32_t *s, size_t n, int letter_first)
{
    for (size_t i = 0; i < n; i++) {
        cw_u32_push(out, s[i]);
        int a = letter_first ? is_ascii_lower(s[i]) : is_ascii_digit(s[i]);
        if (a && i + 1 < n && (letter_first ? is_ascii_digit(s[i + 1]) : is_ascii_lower(s[i + 1]))) {
            cw_u32_push(out, ' ');
            cw_u32_push(out, s[++i]);
        }
    }
}

/* ([0-9])\s+(st|nd|rd|th|s)\b -> "\1\2" */
static void join_suffixes(cw_u32str *out, const uint32_t *s, size_t n)
{
    static const char *const SUF[5] = {"st", "nd", "rd", "th", "s"};
    for (size_t i = 0; i < n; i++) {
        cw_u32_push(out, s[i]);
        if (!is_ascii_digit(s[i])) continue;
        size_t k = i + 1;
        while (k < n && cw_uc_is_space(s[k])) k++;
        if (k == i + 1) continue;
        for (int a = 0; a < 5; a++) {
            size_t e = k + strlen(SUF[a]);
            if (match_ascii(s, n, k, SUF[a]) && (e == n || !cw_uc_is_word(s[e]))) {
                cw_u32_append(out, s + k, e - k);
                i = e - 1;
                break;
            }
        }
    }
}

/* ---- the word state machine (process_words) ---- */

enum { V_NONE, V_INT, V_STR };

typedef struct {
    cw_u32str *out;  /* joined words */
    size_t n_out;
    int kind;        /* V_NONE, V_INT (canonical ASCII digits), V_STR */
    cw_u32str value;
    uint32_t prefix; /* 0: none */
    cw_u32str tmp;   /* scratch for the text being output */
} machine;

/* output(): prefix + result as the next word; clears value and prefix. */
static void emit(machine *m, const uint32_t *s, size_t n)
{
    if (m->n_out++) cw_u32_push(m->out, ' ');
    if (m->prefix) cw_u32_push(m->out, m->prefix);
    cw_u32_append(m->out, s, n);
    m->kind = V_NONE;
    m->value.len = 0;
    m->prefix = 0;
}

static void emit_value(machine *m) { emit(m, m->value.s, m->value.len); }

/* Emits value's text + digits of k (if k >= 0) + suffix, via the scratch buffer. */
static void emit_cat(machine *m, const uint32_t *s, size_t n, int k, const char *suffix)
{
    m->tmp.len = 0;
    cw_u32_append(&m->tmp, s, n);
    if (k >= 0) {
        char d[8];
        int len = 0;
        do d[len++] = (char)('0' + k % 10); while ((k /= 10) > 0);
        while (len > 0) cw_u32_push(&m->tmp, (uint32_t)d[--len]);
    }
    cw_u32_append_ascii(&m->tmp, suffix);
    emit(m, m->tmp.s, m->tmp.len);
}

static void append_int(cw_u32str *b, int k)
{
    char d[8];
    int len = 0;
    do d[len++] = (char)('0' + k % 10); while ((k /= 10) > 0);
    while (len > 0) cw_u32_push(b, (uint32_t)d[--len]);
}

/* Python truthiness of value: None, 0 and "" are false. */
static int value_truthy(const machine *m)
{
    if (m->kind == V_NONE) return 0;
    if (m->kind == V_INT) return !cw_big_is_zero(&m->value);
    return m->value.len > 0;
}

static void set_int(machine *m, int k)
{
    m->kind = V_INT;
    m->value.len = 0;
    append_int(&m->value, k);
}

static void set_pow10(machine *m, int p)
{
    m->kind = V_INT;
    m->value.len = 0;
    cw_u32_push(&m->value, '1');
    for (int z = 0; z < p; z++) cw_u32_push(&m->value, '0');
}

typedef struct {
    word prev, cur, next;     /* prev.s / next.s NULL at the edges */
    cw_nw_info pi, ci, ni;    /* their dictionaries */
    int next_is_numeric;
} window;

static void on_numeric(machine *m, const window *w, int has_prefix)
{
    const uint32_t *s = w->cur.s + has_prefix;
    size_t n = w->cur.n - (size_t)has_prefix;
    if (m->kind != V_NONE) {
        if (m->kind == V_STR && m->value.len && m->value.s[m->value.len - 1] == '.') {
            cw_u32_append(&m->value, w->cur.s, w->cur.n); /* decimals / ip address parts */
            return;
        }
        emit_value(m);
    }
    if (has_prefix) m->prefix = w->cur.s[0];
    cw_u32str num = {0};
    int whole = cw_nw_fraction_times_pow10(s, n, 0, &num);
    m->value.len = 0;
    if (whole) {
        m->kind = V_INT;
        cw_u32_append(&m->value, num.s, num.len);
    } else {
        m->kind = V_STR;
        cw_u32_append(&m->value, s, n);
    }
    if (num.oom) m->value.oom = 1;
    cw_u32_free(&num);
}

static void on_one(machine *m, const window *w)
{
    int ones = w->ci.value;
    if (m->kind == V_NONE) {
        set_int(m, ones);
    } else if (m->kind == V_STR || w->pi.kind == NW_ONE) {
        if (w->pi.kind == NW_TEN && ones < 10) m->value.len--; /* replace the last zero */
        m->kind = V_STR;
        append_int(&m->value, ones);
    } else if (ones < 10 ? cw_big_mod100(&m->value) % 10 == 0 : cw_big_mod100(&m->value) == 0) {
        cw_big_add_small(&m->value, (unsigned)ones);
    } else {
        m->kind = V_STR;
        append_int(&m->value, ones);
    }
}

static void on_one_suffixed(machine *m, const window *w)
{
    int ones = w->ci.value;
    const char *suf = w->ci.suffix;
    if (m->kind == V_NONE) {
        emit_cat(m, NULL, 0, ones, suf);
    } else if (m->kind == V_STR || w->pi.kind == NW_ONE) {
        size_t keep = m->value.len - (w->pi.kind == NW_TEN && ones < 10 ? 1 : 0);
        emit_cat(m, m->value.s, keep, ones, suf);
    } else if (ones < 10 ? cw_big_mod100(&m->value) % 10 == 0 : cw_big_mod100(&m->value) == 0) {
        cw_big_add_small(&m->value, (unsigned)ones);
        emit_cat(m, m->value.s, m->value.len, -1, suf);
    } else {
        emit_cat(m, m->value.s, m->value.len, ones, suf);
    }
    m->kind = V_NONE;
}

static void on_ten(machine *m, const window *w, int suffixed)
{
    int tens = w->ci.value;
    if (m->kind == V_NONE) {
        if (suffixed) emit_cat(m, NULL, 0, tens, w->ci.suffix);
        else set_int(m, tens);
        return;
    }
    if (m->kind == V_INT && cw_big_mod100(&m->value) == 0) {
        cw_big_add_small(&m->value, (unsigned)tens);
        if (suffixed) emit_cat(m, m->value.s, m->value.len, -1, w->ci.suffix);
        return;
    }
    if (suffixed) {
        emit_cat(m, m->value.s, m->value.len, tens, w->ci.suffix);
    } else {
        m->kind = V_STR;
        append_int(&m->value, tens);
    }
}

static void on_multiplier(machine *m, const window *w)
{
    int p = w->ci.value;
    if (m->kind == V_NONE) {
        set_pow10(m, p);
    } else if (m->kind == V_STR || cw_big_is_zero(&m->value)) {
        cw_u32str prod = {0};
        if (cw_nw_fraction_times_pow10(m->value.s, m->value.len, p, &prod)) {
            m->kind = V_INT;
            m->value.len = 0;
            cw_u32_append(&m->value, prod.s, prod.len);
        } else {
            emit_value(m);
            set_pow10(m, p);
        }
        if (prod.oom) m->value.oom = 1;
        cw_u32_free(&prod);
    } else {
        cw_big_scale_residual(&m->value, p);
    }
}

static void on_multiplier_suffixed(machine *m, const window *w)
{
    int p = w->ci.value;
    const char *suf = w->ci.suffix;
    if (m->kind == V_NONE) {
        set_pow10(m, p);
        emit_cat(m, m->value.s, m->value.len, -1, suf);
    } else if (m->kind == V_STR) {
        cw_u32str prod = {0};
        if (cw_nw_fraction_times_pow10(m->value.s, m->value.len, p, &prod)) {
            emit_cat(m, prod.s, prod.len, -1, suf);
        } else {
            emit_value(m);
            set_pow10(m, p);
            emit_cat(m, m->value.s, m->value.len, -1, suf);
        }
        if (prod.oom) m->value.oom = 1;
        cw_u32_free(&prod);
    } else {
        cw_big_scale_residual(&m->value, p);
        emit_cat(m, m->value.s, m->value.len, -1, suf);
    }
    m->kind = V_NONE;
}

static void emit_value_then_current(machine *m, const window *w)
{
    if (m->kind != V_NONE) emit_value(m);
    emit(m, w->cur.s, w->cur.n);
}

static void on_prefixers(machine *m, const window *w)
{
    if (w->ci.kind == NW_PRE_PREFIX) {
        if (m->kind != V_NONE) emit_value(m);
        if (w->ni.kind != NW_NONE || w->next_is_numeric) m->prefix = w->ci.symbol;
        else emit(m, w->cur.s, w->cur.n);
    } else if (m->kind != V_NONE) { /* following prefixer: "dollars" after a number */
        m->prefix = w->ci.symbol;
        emit_value(m);
    } else {
        emit(m, w->cur.s, w->cur.n);
    }
}

/* "per cent" and "percent" after a number; returns 1 to skip the next word. */
static int on_suffixer(machine *m, const window *w)
{
    if (m->kind == V_NONE) {
        emit(m, w->cur.s, w->cur.n);
    } else if (cw_nw_eq(w->cur.s, w->cur.n, "percent")) {
        emit_cat(m, m->value.s, m->value.len, -1, "%");
    } else if (w->next.s && cw_nw_eq(w->next.s, w->next.n, "cent")) {
        emit_cat(m, m->value.s, m->value.len, -1, "%");
        return 1;
    } else {
        emit_value_then_current(m, w);
    }
    return 0;
}

/* and / double / triple / point; returns 1 to skip the next word. */
static int on_special(machine *m, const window *w)
{
    const word *c = &w->cur;
    if (w->ni.kind == NW_NONE && !w->next_is_numeric) {
        emit_value_then_current(m, w);
    } else if (cw_nw_eq(c->s, c->n, "and")) {
        if (w->pi.kind != NW_MULT) emit_value_then_current(m, w); /* kept unless after hundred etc. */
    } else if (cw_nw_eq(c->s, c->n, "double") || cw_nw_eq(c->s, c->n, "triple")) {
        if (w->ni.kind != NW_ONE && w->ni.kind != NW_ZERO) {
            emit_value_then_current(m, w);
            return 0;
        }
        int repeats = cw_nw_eq(c->s, c->n, "double") ? 2 : 3;
        int ones = w->ni.kind == NW_ONE ? w->ni.value : 0;
        if (!value_truthy(m)) m->value.len = 0;
        m->kind = V_STR;
        for (int r = 0; r < repeats; r++) append_int(&m->value, ones);
        return 1;
    } else { /* point: dropped unless a decimal follows */
        int dec = w->ni.kind == NW_ONE || w->ni.kind == NW_TEN || w->ni.kind == NW_ZERO;
        if (dec || w->next_is_numeric) {
            if (!value_truthy(m)) m->value.len = 0;
            m->kind = V_STR;
            cw_u32_push(&m->value, '.');
        }
    }
    return 0;
}

static int is_prefix_symbol(uint32_t c)
{
    return c == '-' || c == '+' || c == 0xA3 || c == 0x20AC || c == '$' || c == 0xA2;
}

/* One window; returns 1 when the next word is consumed. */
static int step(machine *m, const window *w)
{
    int has_prefix = is_prefix_symbol(w->cur.s[0]);
    if (cw_nw_is_numeric(w->cur.s + has_prefix, w->cur.n - (size_t)has_prefix)) {
        on_numeric(m, w, has_prefix);
        return 0;
    }
    switch (w->ci.kind) {
    case NW_NONE: emit_value_then_current(m, w); return 0;
    case NW_ZERO:
        if (!value_truthy(m)) m->value.len = 0;
        m->kind = V_STR;
        cw_u32_push(&m->value, '0');
        return 0;
    case NW_ONE: on_one(m, w); return 0;
    case NW_ONE_SUF: on_one_suffixed(m, w); return 0;
    case NW_TEN: on_ten(m, w, 0); return 0;
    case NW_TEN_SUF: on_ten(m, w, 1); return 0;
    case NW_MULT: on_multiplier(m, w); return 0;
    case NW_MULT_SUF: on_multiplier_suffixed(m, w); return 0;
    case NW_PRE_PREFIX:
    case NW_FOLLOW_PREFIX: on_prefixers(m, w); return 0;
    case NW_SUFFIXER: return on_suffixer(m, w);
    case NW_SPECIAL: return on_special(m, w);
    }
    return 0;
}

static void set_word(word *w, cw_nw_info *info, const word *src)
{
    static const word none = {NULL, 0};
    *w = src ? *src : none;
    cw_nw_info empty = {NW_NONE, 0, "", 0, ""};
    *info = src ? cw_nw_classify(src->s, src->n) : empty;
}

static void process_words(cw_u32str *out, const word *words, size_t n)
{
    machine m = {out, 0, V_NONE, {0}, 0, {0}};
    int skip = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip) {
            skip = 0;
            continue;
        }
        window w;
        set_word(&w.prev, &w.pi, i > 0 ? &words[i - 1] : NULL);
        set_word(&w.cur, &w.ci, &words[i]);
        set_word(&w.next, &w.ni, i + 1 < n ? &words[i + 1] : NULL);
        w.next_is_numeric = w.next.s && cw_nw_is_numeric(w.next.s, w.next.n);
        skip = step(&m, &w);
    }
    if (m.kind != V_NONE) emit_value(&m);
    if (m.value.oom || m.tmp.oom) out->oom = 1;
    cw_u32_free(&m.value);
    cw_u32_free(&m.tmp);
}

/* s.split(): whitespace-separated words. Returns a malloc'ed array or NULL
 * (with *n = 0 when there are no words). */
static word *split_words(const uint32_t *s, size_t n, size_t *count, int *oom)
{
    size_t cap = 0, k = 0;
    word *ws = NULL;
    *oom = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && cw_uc_is_space(s[i])) i++;
        if (i == n) break;
        size_t b = i;
        while (i < n && !cw_uc_is_space(s[i])) i++;
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            word *nw = realloc(ws, cap * sizeof(word));
            if (!nw) { *oom = 1; break; }
            ws = nw;
        }
        ws[k].s = s + b;
        ws[k++].n = i - b;
    }
    *count = k;
    return ws;
}

/* ---- postprocess ---- */

static int is_currency(uint32_t c) { return c == 0x20AC || c == 0xA3 || c == '$'; }

/* [0-9]{1,2}\b at i (greedy, backtracking): returns the end or 0. */
static size_t cents_digits(const uint32_t *s, size_t n, size_t i)
{
    size_t e = i;
    while (e < n && e < i + 2 && is_ascii_digit(s[e])) e++;
    for (; e > i; e--)
        if (e == n || !cw_uc_is_word(s[e])) return e;
    return 0;
}

/* ([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b -> "\1\2.%02d" ("$2 and ¢7" -> "$2.07") */
static size_t combine_cents(cw_u32str *out, const uint32_t *s, size_t n, size_t i)
{
    if (!is_currency(s[i])) return 0;
    size_t j = i + 1;
    while (j < n && is_ascii_digit(s[j])) j++;
    if (j == i + 1 || j >= n || s[j] != ' ') return 0;
    for (int with_and = 1; with_and >= 0; with_and--) {
        size_t k = j + 1;
        if (with_and) {
            if (!match_ascii(s, n, k, "and ")) continue;
            k += 4;
        }
        if (k >= n || s[k] != 0xA2) continue;
        size_t e = cents_digits(s, n, k + 1);
        if (!e) continue;
        cw_u32_append(out, s + i, j - i);
        cw_u32_push(out, '.');
        if (e - (k + 1) == 1) cw_u32_push(out, '0');
        cw_u32_append(out, s + k + 1, e - (k + 1));
        return e;
    }
    return 0;
}

/* [€£$]0.([0-9]{1,2})\b -> "¢%d" ("$0.36" -> "¢36"); '.' is any character but \n. */
static size_t extract_cents(cw_u32str *out, const uint32_t *s, size_t n, size_t i)
{
    if (!is_currency(s[i]) || i + 3 >= n || s[i + 1] != '0' || s[i + 2] == '\n') return 0;
    size_t e = cents_digits(s, n, i + 3);
    if (!e) return 0;
    cw_u32_push(out, 0xA2);
    size_t b = i + 3;
    if (e - b == 2 && s[b] == '0') b++; /* int() drops the leading zero */
    cw_u32_append(out, s + b, e - b);
    return e;
}

/* \b1(s?)\b -> "one\1" */
static size_t spell_one(cw_u32str *out, const uint32_t *s, size_t n, size_t i)
{
    if (s[i] != '1' || (i > 0 && cw_uc_is_word(s[i - 1]))) return 0;
    size_t e = i + 1;
    if (e < n && s[e] == 's' && (e + 1 == n || !cw_uc_is_word(s[e + 1]))) e++;
    else if (e < n && cw_uc_is_word(s[e])) return 0;
    cw_u32_append_ascii(out, "one");
    cw_u32_append(out, s + i + 1, e - i - 1);
    return e;
}

typedef size_t (*rewrite_fn)(cw_u32str *out, const uint32_t *s, size_t n, size_t i);

/* re.sub with a hand-written matcher: leftmost, non-overlapping. */
static void sub_all(cw_u32str *out, const uint32_t *s, size_t n, rewrite_fn fn)
{
    for (size_t i = 0; i < n;) {
        size_t e = fn(out, s, n, i);
        if (e) {
            i = e;
        } else {
            cw_u32_push(out, s[i++]);
        }
    }
}

/* ---- the whole normaliser ---- */

typedef void (*pass_fn)(cw_u32str *out, const uint32_t *s, size_t n);

static void pass_letter_digit(cw_u32str *o, const uint32_t *s, size_t n) { split_letter_digit(o, s, n, 1); }
static void pass_digit_letter(cw_u32str *o, const uint32_t *s, size_t n) { split_letter_digit(o, s, n, 0); }
static void pass_combine(cw_u32str *o, const uint32_t *s, size_t n) { sub_all(o, s, n, combine_cents); }
static void pass_extract(cw_u32str *o, const uint32_t *s, size_t n) { sub_all(o, s, n, extract_cents); }
static void pass_one(cw_u32str *o, const uint32_t *s, size_t n) { sub_all(o, s, n, spell_one); }

static void pass_words(cw_u32str *out, const uint32_t *s, size_t n)
{
    size_t count = 0;
    int oom = 0;
    word *ws = split_words(s, n, &count, &oom);
    if (oom) out->oom = 1;
    else process_words(out, ws, count);
    free(ws);
}

void cw_numbers_normalize(cw_u32str *out, const uint32_t *in, size_t n)
{
    static const pass_fn passes[] = {half_rewrite, pass_letter_digit, pass_digit_letter, join_suffixes,
                                     pass_words, pass_combine, pass_extract, pass_one};
    const size_t n_passes = sizeof(passes) / sizeof(passes[0]);
    cw_u32str a = {0}, b = {0};
    cw_u32_append(&a, in, n);
    for (size_t p = 0; p + 1 < n_passes && !a.oom; p++) {
        b.len = 0;
        passes[p](&b, a.s, a.len);
        cw_u32str t = a;
        a = b;
        b = t;
    }
    if (a.oom || b.oom) out->oom = 1;
    else passes[n_passes - 1](out, a.s, a.len);
    cw_u32_free(&a);
    cw_u32_free(&b);
}
