/* openai-whisper's BasicTextNormalizer and EnglishTextNormalizer
 * (whisper/normalizers/basic.py, english.py) as a list of passes over
 * code-point strings, one pass per re.sub in the reference, in its order.
 * Each pass is a hand-written matcher with Python `re` semantics for str
 * patterns (Unicode \w, \s, \d, \b; leftmost, non-overlapping matches). */
#include "eval/eval.h"
#include "eval/numbers.h"
#include "eval/spelling.h"
#include "eval/ucd.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef void (*pass_fn)(cw_u32str *out, const uint32_t *s, size_t n);

static int is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static int word_boundary_after(const uint32_t *s, size_t n, size_t e) { return e == n || !cw_uc_is_word(s[e]); }

/* ---- passes shared by both normalisers ---- */

static void pass_lower(cw_u32str *out, const uint32_t *s, size_t n) { cw_uc_lower_str(out, s, n); }

/* [<\[][^>\]]*[>\]] -> "" */
static void pass_brackets(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<' || s[i] == '[') {
            size_t j = i + 1;
            while (j < n && s[j] != '>' && s[j] != ']') j++;
            if (j < n) {
                i = j;
                continue;
            }
        }
        cw_u32_push(out, s[i]);
    }
}

/* \(([^)]+?)\) -> "" */
static void pass_parens(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '(' && i + 1 < n && s[i + 1] != ')') {
            size_t j = i + 2;
            while (j < n && s[j] != ')') j++;
            if (j < n) {
                i = j;
                continue;
            }
        }
        cw_u32_push(out, s[i]);
    }
}

/* \s+ -> " " */
static void pass_collapse_space(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!cw_uc_is_space(s[i])) {
            cw_u32_push(out, s[i]);
            continue;
        }
        while (i + 1 < n && cw_uc_is_space(s[i + 1])) i++;
        cw_u32_push(out, ' ');
    }
}

/* remove_symbols_and_diacritics(s, keep): NFKD, then per character: keep,
 * ADDITIONAL_DIACRITICS, drop Mn, other marks, symbols, punctuation to a space. */
static void symbols_diacritics(cw_u32str *out, const uint32_t *s, size_t n, const uint32_t *keep)
{
    static const struct { uint32_t cp; const char *to; } EXTRA[] = {
        {0x153, "oe"}, {0x152, "OE"}, {0xF8, "o"}, {0xD8, "O"}, {0xE6, "ae"}, {0xC6, "AE"},
        {0xDF, "ss"}, {0x1E9E, "SS"}, {0x111, "d"}, {0x110, "D"}, {0xF0, "d"}, {0xD0, "D"},
        {0xFE, "th"}, {0xDE, "th"}, {0x142, "l"}, {0x141, "L"}};
    cw_u32str d = {0};
    cw_uc_nfkd_str(&d, s, n);
    if (d.oom) out->oom = 1;
    for (size_t i = 0; i < d.len && !d.oom; i++) {
        uint32_t c = d.s[i];
        int kept = 0, k;
        for (k = 0; keep[k]; k++) kept |= keep[k] == c;
        if (kept) {
            cw_u32_push(out, c);
            continue;
        }
        for (k = 0; k < (int)(sizeof(EXTRA) / sizeof(EXTRA[0])) && EXTRA[k].cp != c; k++) {}
        if (k < (int)(sizeof(EXTRA) / sizeof(EXTRA[0]))) {
            cw_u32_append_ascii(out, EXTRA[k].to);
            continue;
        }
        int cls = cw_uc_symbol_class(c);
        if (cls == CW_UC_KEEP) cw_u32_push(out, c);
        else if (cls == CW_UC_MSP) cw_u32_push(out, ' ');
    }
    cw_u32_free(&d);
}

static void pass_symbols_diacritics(cw_u32str *out, const uint32_t *s, size_t n)
{
    static const uint32_t none[1] = {0};
    symbols_diacritics(out, s, n, none);
}

/* remove_symbols: NFKC, every M*, S*, P* (Mn included) to a space. */
static void pass_symbols(cw_u32str *out, const uint32_t *s, size_t n)
{
    cw_u32str d = {0};
    cw_uc_nfkc_str(&d, s, n);
    if (d.oom) out->oom = 1;
    for (size_t i = 0; i < d.len && !d.oom; i++)
        cw_u32_push(out, cw_uc_symbol_class(d.s[i]) == CW_UC_KEEP ? d.s[i] : ' ');
    cw_u32_free(&d);
}

/* ---- EnglishTextNormalizer passes ---- */

/* \b(hmm|mm|mhm|mmm|uh|um)\b -> "": whole \w runs equal to a filler. */
static void pass_fillers(cw_u32str *out, const uint32_t *s, size_t n)
{
    static const char *const FILLERS[] = {"hmm", "mm", "mhm", "mmm", "uh", "um"};
    for (size_t i = 0; i < n;) {
        if (!cw_uc_is_word(s[i])) {
            cw_u32_push(out, s[i++]);
            continue;
        }
        size_t e = i;
        while (e < n && cw_uc_is_word(s[e])) e++;
        int filler = 0;
        for (size_t f = 0; f < sizeof(FILLERS) / sizeof(FILLERS[0]); f++) {
            size_t len = strlen(FILLERS[f]), k = 0;
            if (len != e - i) continue;
            while (k < len && s[i + k] == (unsigned char)FILLERS[f][k]) k++;
            filler |= k == len;
        }
        if (!filler) cw_u32_append(out, s + i, e - i);
        i = e;
    }
}

/* \s+' -> "'" */
static void pass_space_apostrophe(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!cw_uc_is_space(s[i])) {
            cw_u32_push(out, s[i]);
            continue;
        }
        size_t k = i;
        while (k < n && cw_uc_is_space(s[k])) k++;
        if (k < n && s[k] == '\'') {
            cw_u32_push(out, '\'');
            i = k;
        } else {
            cw_u32_append(out, s + i, k - i);
            i = k - 1;
        }
    }
}

/* self.replacers, in order. b: the pattern starts with \b. Every pattern ends
 * in a word character followed by \b. */
static const struct { const char *pattern, *with; int b; } REPLACERS[] = {
    {"won't", "will not", 1}, {"can't", "can not", 1}, {"let's", "let us", 1}, {"ain't", "aint", 1},
    {"y'all", "you all", 1}, {"wanna", "want to", 1}, {"gotta", "got to", 1}, {"gonna", "going to", 1},
    {"i'ma", "i am going to", 1}, {"imma", "i am going to", 1}, {"woulda", "would have", 1},
    {"coulda", "could have", 1}, {"shoulda", "should have", 1}, {"ma'am", "madam", 1},
    {"mr", "mister ", 1}, {"mrs", "missus ", 1}, {"st", "saint ", 1}, {"dr", "doctor ", 1},
    {"prof", "professor ", 1}, {"capt", "captain ", 1}, {"gov", "governor ", 1}, {"ald", "alderman ", 1},
    {"gen", "general ", 1}, {"sen", "senator ", 1}, {"rep", "representative ", 1},
    {"pres", "president ", 1}, {"rev", "reverend ", 1}, {"hon", "honorable ", 1},
    {"asst", "assistant ", 1}, {"assoc", "associate ", 1}, {"lt", "lieutenant ", 1},
    {"col", "colonel ", 1}, {"jr", "junior ", 1}, {"sr", "senior ", 1}, {"esq", "esquire ", 1},
    {"'d been", " had been", 0}, {"'s been", " has been", 0}, {"'d gone", " had gone", 0},
    {"'s gone", " has gone", 0}, {"'d done", " had done", 0}, {"'s got", " has got", 0},
    {"n't", " not", 0}, {"'re", " are", 0}, {"'s", " is", 0}, {"'d", " would", 0},
    {"'ll", " will", 0}, {"'t", " not", 0}, {"'ve", " have", 0}, {"'m", " am", 0}};

static void replace_one(cw_u32str *out, const uint32_t *s, size_t n, size_t r)
{
    const char *p = REPLACERS[r].pattern;
    size_t len = strlen(p);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        if (i + len <= n && (!REPLACERS[r].b || i == 0 || !cw_uc_is_word(s[i - 1]))) {
            while (k < len && s[i + k] == (unsigned char)p[k]) k++;
        }
        if (k == len && word_boundary_after(s, n, i + len)) {
            cw_u32_append_ascii(out, REPLACERS[r].with);
            i += len - 1;
        } else {
            cw_u32_push(out, s[i]);
        }
    }
}

static void pass_replacers(cw_u32str *out, const uint32_t *s, size_t n)
{
    cw_u32str a = {0}, b = {0};
    cw_u32_append(&a, s, n);
    for (size_t r = 0; r < sizeof(REPLACERS) / sizeof(REPLACERS[0]) && !a.oom; r++) {
        b.len = 0;
        replace_one(&b, a.s, a.len, r);
        cw_u32str t = a;
        a = b;
        b = t;
    }
    if (a.oom || b.oom) out->oom = 1;
    else cw_u32_append(out, a.s, a.len);
    cw_u32_free(&a);
    cw_u32_free(&b);
}

/* (\d),(\d) -> "\1\2" ("1,2,3" -> "12,3", as re.sub does) */
static void pass_digit_commas(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && cw_uc_is_digit(s[i]) && s[i + 1] == ',' && cw_uc_is_digit(s[i + 2])) {
            cw_u32_push(out, s[i]);
            cw_u32_push(out, s[i + 2]);
            i += 2;
        } else {
            cw_u32_push(out, s[i]);
        }
    }
}

/* \.([^0-9]|$) -> " \1" */
static void pass_periods(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '.' || (i + 1 < n && is_ascii_digit(s[i + 1]))) {
            cw_u32_push(out, s[i]);
            continue;
        }
        cw_u32_push(out, ' ');
        if (i + 1 < n) cw_u32_push(out, s[++i]);
    }
}

static void pass_symbols_keep_numeric(cw_u32str *out, const uint32_t *s, size_t n)
{
    static const uint32_t keep[] = {'.', '%', '$', 0xA2, 0x20AC, 0xA3, 0};
    symbols_diacritics(out, s, n, keep);
}

static void pass_numbers(cw_u32str *out, const uint32_t *s, size_t n) { cw_numbers_normalize(out, s, n); }

/* " ".join(mapping.get(word, word) for word in s.split()) */
static void pass_spelling(cw_u32str *out, const uint32_t *s, size_t n)
{
    size_t n_words = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && cw_uc_is_space(s[i])) i++;
        if (i == n) break;
        size_t b = i;
        while (i < n && !cw_uc_is_space(s[i])) i++;
        if (n_words++) cw_u32_push(out, ' ');
        char *w = cw_u32_to_utf8(s + b, i - b);
        if (!w) {
            out->oom = 1;
            return;
        }
        const char *to = cw_spelling_lookup(w);
        if (to) cw_u32_from_utf8(out, to, strlen(to));
        else cw_u32_append(out, s + b, i - b);
        free(w);
    }
}

/* [.$¢€£]([^0-9]) -> " \1" */
static void pass_lone_symbols(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        int sym = c == '.' || c == '$' || c == 0xA2 || c == 0x20AC || c == 0xA3;
        if (sym && i + 1 < n && !is_ascii_digit(s[i + 1])) {
            cw_u32_push(out, ' ');
            cw_u32_push(out, s[++i]);
        } else {
            cw_u32_push(out, c);
        }
    }
}

/* ([^0-9])% -> "\1 " */
static void pass_lone_percent(cw_u32str *out, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cw_u32_push(out, s[i]);
        if (!is_ascii_digit(s[i]) && i + 1 < n && s[i + 1] == '%') {
            cw_u32_push(out, ' ');
            i++;
        }
    }
}

/* ---- running a pipeline ---- */

static cw_status run_passes(const char *in, const pass_fn *passes, size_t n_passes, char **out)
{
    *out = NULL;
    if (!in) return cw_error(CW_ERR_INVALID_ARG, "normalize: NULL text");
    cw_u32str a = {0}, b = {0};
    cw_u32_from_utf8(&a, in, strlen(in));
    for (size_t p = 0; p < n_passes && !a.oom; p++) {
        b.len = 0;
        b.oom = 0;
        passes[p](&b, a.s, a.len);
        cw_u32str t = a;
        a = b;
        b = t;
    }
    if (!a.oom) *out = cw_u32_to_utf8(a.s, a.len);
    cw_u32_free(&a);
    cw_u32_free(&b);
    return *out ? CW_OK : cw_error(CW_ERR_NOMEM, "normalize: out of memory");
}

cw_status cw_normalize_english(const char *in, char **out)
{
    static const pass_fn passes[] = {
        pass_lower, pass_brackets, pass_parens, pass_fillers, pass_space_apostrophe, pass_replacers,
        pass_digit_commas, pass_periods, pass_symbols_keep_numeric, pass_numbers, pass_spelling,
        pass_lone_symbols, pass_lone_percent, pass_collapse_space};
    return run_passes(in, passes, sizeof(passes) / sizeof(passes[0]), out);
}

cw_status cw_normalize_basic(const char *in, int remove_diacritics, char **out)
{
    const pass_fn passes[] = {pass_lower, pass_brackets, pass_parens,
                              remove_diacritics ? pass_symbols_diacritics : pass_symbols,
                              pass_lower, pass_collapse_space};
    return run_passes(in, passes, sizeof(passes) / sizeof(passes[0]), out);
}

cw_status cw_normalize_english_numbers(const char *in, char **out)
{
    static const pass_fn passes[] = {pass_numbers};
    return run_passes(in, passes, 1, out);
}

cw_status cw_normalize_english_spelling(const char *in, char **out)
{
    static const pass_fn passes[] = {pass_spelling};
    return run_passes(in, passes, 1, out);
}

cw_status cw_normalize(cw_normalizer kind, const char *in, char **out)
{
    if (kind == CW_NORM_ENGLISH) return cw_normalize_english(in, out);
    if (kind == CW_NORM_BASIC) return cw_normalize_basic(in, 0, out);
    *out = cw_strdup(in ? in : "");
    return *out ? CW_OK : CW_ERR_NOMEM;
}
