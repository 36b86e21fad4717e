/* EnglishNumberNormalizer's dictionaries (ones, tens, multipliers and their
 * plural/ordinal forms, prefixers, suffixers, specials) and decimal-string
 * integer arithmetic replacing Python's big ints. */
#include "eval/number_words.h"

#include <string.h>

static const char *const ONES[20] = {
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const TENS[10] = {
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
static const char *const TENS_PLURAL[10] = {
    "", "", "twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties"};
static const char *const TENS_ORDINAL[10] = {
    "", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth", "eightieth", "ninetieth"};
static const struct { const char *name; int pow10; } MULTS[] = {
    {"hundred", 2}, {"thousand", 3}, {"million", 6}, {"billion", 9}, {"trillion", 12},
    {"quadrillion", 15}, {"quintillion", 18}, {"sextillion", 21}, {"septillion", 24},
    {"octillion", 27}, {"nonillion", 30}, {"decillion", 33}};
static const struct { const char *name; uint32_t symbol; } PRE[] = {
    {"minus", '-'}, {"negative", '-'}, {"plus", '+'}, {"positive", '+'}};
static const struct { const char *name; uint32_t symbol; } FOLLOW[] = {
    {"pound", 0xA3}, {"pounds", 0xA3}, {"euro", 0x20AC}, {"euros", 0x20AC},
    {"dollar", '$'}, {"dollars", '$'}, {"cent", 0xA2}, {"cents", 0xA2}};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int cw_nw_eq(const uint32_t *w, size_t n, const char *ascii)
{
    size_t i = 0;
    for (; i < n && ascii[i]; i++)
        if (w[i] != (unsigned char)ascii[i]) return 0;
    return i == n && ascii[i] == '\0';
}

/* ones_suffixed: plurals ("sixes" for six), then the ordinals as english.py
 * spells them ("eighth", and the quirky "nineth", never "ninth"). */
static int ones_suffixed(const char *w, int *value, const char **suffix)
{
    static const struct { const char *name; int value; const char *suffix; } IRREGULAR[] = {
        {"zeroth", 0, "th"}, {"first", 1, "st"}, {"second", 2, "nd"}, {"third", 3, "rd"},
        {"fifth", 5, "th"}, {"twelfth", 12, "th"}, {"sixes", 6, "s"}};
    for (size_t i = 0; i < COUNT(IRREGULAR); i++)
        if (strcmp(w, IRREGULAR[i].name) == 0) {
            *value = IRREGULAR[i].value;
            *suffix = IRREGULAR[i].suffix;
            return 1;
        }
    size_t len = strlen(w);
    for (int v = 1; v < 20; v++) {
        size_t nl = strlen(ONES[v]);
        if (len <= nl || strncmp(w, ONES[v], nl) != 0) continue;
        const char *tail = w + nl;
        int ends_t = ONES[v][nl - 1] == 't';
        if (v != 6 && strcmp(tail, "s") == 0) { *value = v; *suffix = "s"; return 1; }
        if (v > 3 && v != 5 && v != 12 && strcmp(tail, ends_t ? "h" : "th") == 0) {
            *value = v;
            *suffix = "th";
            return 1;
        }
    }
    return 0;
}

static int lookup_number(const char *w, cw_nw_info *r)
{
    if (!strcmp(w, "o") || !strcmp(w, "oh") || !strcmp(w, "zero")) { r->kind = NW_ZERO; return 1; }
    for (int v = 1; v < 20; v++)
        if (!strcmp(w, ONES[v])) { r->kind = NW_ONE; r->value = v; return 1; }
    if (ones_suffixed(w, &r->value, &r->suffix)) { r->kind = NW_ONE_SUF; return 1; }
    for (int t = 2; t < 10; t++)
        if (!strcmp(w, TENS[t])) { r->kind = NW_TEN; r->value = 10 * t; return 1; }
    for (int t = 2; t < 10; t++) {
        if (!strcmp(w, TENS_PLURAL[t])) { r->kind = NW_TEN_SUF; r->value = 10 * t; r->suffix = "s"; return 1; }
        if (!strcmp(w, TENS_ORDINAL[t])) { r->kind = NW_TEN_SUF; r->value = 10 * t; r->suffix = "th"; return 1; }
    }
    return 0;
}

static int lookup_multiplier(const char *w, cw_nw_info *r)
{
    for (size_t i = 0; i < COUNT(MULTS); i++)
        if (!strcmp(w, MULTS[i].name)) { r->kind = NW_MULT; r->value = MULTS[i].pow10; return 1; }
    for (size_t i = 0; i < COUNT(MULTS); i++) {
        size_t nl = strlen(MULTS[i].name);
        if (strncmp(w, MULTS[i].name, nl) != 0) continue;
        if (!strcmp(w + nl, "s")) { r->suffix = "s"; }
        else if (!strcmp(w + nl, "th")) { r->suffix = "th"; }
        else continue;
        r->kind = NW_MULT_SUF;
        r->value = MULTS[i].pow10;
        return 1;
    }
    return 0;
}

static int lookup_other(const char *w, cw_nw_info *r)
{
    for (size_t i = 0; i < COUNT(PRE); i++)
        if (!strcmp(w, PRE[i].name)) { r->kind = NW_PRE_PREFIX; r->symbol = PRE[i].symbol; return 1; }
    for (size_t i = 0; i < COUNT(FOLLOW); i++)
        if (!strcmp(w, FOLLOW[i].name)) { r->kind = NW_FOLLOW_PREFIX; r->symbol = FOLLOW[i].symbol; return 1; }
    if (!strcmp(w, "per") || !strcmp(w, "percent")) { r->kind = NW_SUFFIXER; return 1; }
    if (!strcmp(w, "and") || !strcmp(w, "double") || !strcmp(w, "triple") || !strcmp(w, "point")) {
        r->kind = NW_SPECIAL;
        return 1;
    }
    return 0;
}

cw_nw_info cw_nw_classify(const uint32_t *w, size_t n)
{
    cw_nw_info r = {NW_NONE, 0, "", 0, ""};
    char buf[16]; /* the longest vocabulary word, "quadrillionth", has 13 letters */
    if (n == 0 || n >= sizeof(buf)) return r;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < 'a' || w[i] > 'z') return r;
        buf[i] = (char)w[i];
    }
    buf[n] = '\0';
    if (lookup_number(buf, &r) || lookup_multiplier(buf, &r) || lookup_other(buf, &r)) return r;
    return r;
}

int cw_nw_is_numeric(const uint32_t *w, size_t n)
{
    size_t i = 0;
    while (i < n && cw_uc_is_digit(w[i])) i++;
    if (i == 0) return 0;
    if (i == n) return 1;
    if (w[i] != '.') return 0;
    size_t j = ++i;
    while (i < n && cw_uc_is_digit(w[i])) i++;
    return i > j && i == n;
}

int cw_nw_fraction_times_pow10(const uint32_t *s, size_t n, int pow10, cw_u32str *out)
{
    /* Fraction's own grammar, reduced to what can occur: (?=\d|\.\d)\d*(\.\d*)? */
    size_t i = 0, dot = n;
    while (i < n && cw_uc_is_digit(s[i])) i++;
    if (i < n && s[i] == '.') {
        dot = i++;
        while (i < n && cw_uc_is_digit(s[i])) i++;
    }
    if (i != n || n == 0 || (dot == 0 && n < 2)) return 0;
    size_t n_dec = dot == n ? 0 : n - dot - 1;
    /* all digits as one integer M; value = M * 10^(pow10 - n_dec) */
    size_t keep = n - (dot == n ? 0 : 1); /* number of digits */
    size_t drop = n_dec > (size_t)pow10 ? n_dec - (size_t)pow10 : 0;
    size_t seen = 0;
    for (size_t k = n; k-- > 0 && seen < drop;) {
        if (s[k] == '.') continue;
        if (cw_uc_digit_value(s[k]) != 0) return 0; /* not whole */
        seen++;
    }
    size_t start = out->len, emitted = 0;
    for (size_t k = 0; k < n && emitted < keep - drop; k++) {
        if (s[k] == '.') continue;
        int d = cw_uc_digit_value(s[k]);
        emitted++;
        if (d == 0 && out->len == start) continue; /* leading zero */
        cw_u32_push(out, (uint32_t)('0' + d));
    }
    if (out->len != start)
        for (size_t z = n_dec < (size_t)pow10 ? (size_t)pow10 - n_dec : 0; z > 0; z--) cw_u32_push(out, '0');
    if (out->len == start) cw_u32_push(out, '0');
    return 1;
}

int cw_big_mod100(const cw_u32str *v)
{
    int r = (int)(v->s[v->len - 1] - '0');
    if (v->len > 1) r += 10 * (int)(v->s[v->len - 2] - '0');
    return r;
}

int cw_big_is_zero(const cw_u32str *v) { return v->len == 1 && v->s[0] == '0'; }

/* a += b for decimal strings, b shorter or equal handled by carry. */
static void big_add(cw_u32str *a, const uint32_t *b, size_t bn)
{
    size_t n = a->len > bn ? a->len : bn;
    cw_u32str r = {0};
    unsigned carry = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned da = k < a->len ? a->s[a->len - 1 - k] - '0' : 0;
        unsigned db = k < bn ? b[bn - 1 - k] - '0' : 0;
        unsigned sum = da + db + carry;
        cw_u32_push(&r, '0' + sum % 10);
        carry = sum / 10;
    }
    if (carry) cw_u32_push(&r, '0' + carry);
    if (r.oom) {
        a->oom = 1;
        cw_u32_free(&r);
        return;
    }
    a->len = 0;
    for (size_t k = r.len; k-- > 0;) cw_u32_push(a, r.s[k]);
    cw_u32_free(&r);
}

void cw_big_add_small(cw_u32str *v, unsigned k)
{
    uint32_t b[3];
    size_t bn = 0;
    if (k >= 100) b[bn++] = '0' + k / 100;
    if (k >= 10) b[bn++] = '0' + k / 10 % 10;
    b[bn++] = '0' + k % 10;
    big_add(v, b, bn);
}

void cw_big_scale_residual(cw_u32str *v, int pow10)
{
    if (v->oom) return;
    size_t cut = v->len > 3 ? v->len - 3 : 0;
    unsigned residual = 0;
    for (size_t k = cut; k < v->len; k++) residual = residual * 10 + (v->s[k] - '0');
    cw_u32str prod = {0};
    if (residual == 0) {
        cw_u32_push(&prod, '0');
    } else {
        char tmp[8];
        int len = 0;
        for (unsigned r = residual; r; r /= 10) tmp[len++] = (char)('0' + r % 10);
        while (len > 0) cw_u32_push(&prod, (uint32_t)tmp[--len]);
        for (int z = 0; z < pow10; z++) cw_u32_push(&prod, '0');
    }
    if (cut == 0) { /* before == 0 */
        v->len = 0;
    } else {
        for (size_t k = cut; k < v->len; k++) v->s[k] = '0';
    }
    if (v->len == 0) cw_u32_append(v, prod.s, prod.len);
    else big_add(v, prod.s, prod.len);
    if (prod.oom) v->oom = 1;
    cw_u32_free(&prod);
}
