/* cw_result: a finished transcript that owns copies of everything it holds
 * (segments, their texts and tokens, the full text, the language), so the
 * caller's buffers can go as soon as cw_result_create returns. Each kind of
 * data lives in one block, which keeps the ownership and the free simple. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "util/error.h"

struct cw_result {
    cw_segment *segments; /* [n]; text and tokens point into the blocks below */
    size_t n;
    int *tokens;          /* every segment's tokens, back to back */
    char *texts;          /* every segment's text, each NUL-terminated */
    cw_word *words;       /* every segment's words, back to back */
    char *word_texts;     /* every word's text, each NUL-terminated */
    char *text;           /* the whole transcript */
    char *language;       /* "" when unknown */
    double duration;
};

/* The writers format times with integer arithmetic on milliseconds, so a
 * result never holds a time they cannot represent. */
static int time_ok(double t)
{
    return isfinite(t) && t >= 0.0 && t <= CW_OUTPUT_MAX_SECONDS;
}

static cw_status check_segments(const cw_segment *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cw_segment *s = &segs[i];
        if (!time_ok(s->start) || !time_ok(s->end))
            return cw_error(CW_ERR_INVALID_ARG, "result segment %zu: time %g..%g is negative, "
                            "not finite or too large", i, s->start, s->end);
        if (s->n_tokens > 0 && !s->tokens)
            return cw_error(CW_ERR_INVALID_ARG, "result segment %zu: %zu tokens but no array",
                            i, s->n_tokens);
        if (s->n_words > 0 && !s->words)
            return cw_error(CW_ERR_INVALID_ARG, "result segment %zu: %zu words but no array",
                            i, s->n_words);
        for (size_t w = 0; w < s->n_words; w++)
            if (!time_ok(s->words[w].start) || !time_ok(s->words[w].end))
                return cw_error(CW_ERR_INVALID_ARG, "result segment %zu word %zu: time %g..%g is "
                                "negative, not finite or too large", i, w, s->words[w].start,
                                s->words[w].end);
    }
    return CW_OK;
}

static const char *seg_text(const cw_segment *s)
{
    return s->text ? s->text : "";
}

static const char *word_text(const cw_word *w)
{
    return w->word ? w->word : "";
}

/* Sizes of the variable-length parts, overflow-checked. */
typedef struct {
    size_t tokens, chars, words, word_chars;
} sizes;

static int add_size(size_t *total, size_t x)
{
    if (x > (size_t)-1 - *total) return -1;
    *total += x;
    return 0;
}

static cw_status measure(const cw_segment *segs, size_t n, sizes *sz)
{
    *sz = (sizes){0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(seg_text(&segs[i]));
        int bad = add_size(&sz->tokens, segs[i].n_tokens) || len == (size_t)-1 ||
                  add_size(&sz->chars, len + 1) || add_size(&sz->words, segs[i].n_words);
        for (size_t w = 0; !bad && w < segs[i].n_words; w++) {
            size_t wl = strlen(word_text(&segs[i].words[w]));
            bad = wl == (size_t)-1 || add_size(&sz->word_chars, wl + 1);
        }
        if (bad) return cw_error(CW_ERR_INVALID_ARG, "result: segments too large");
    }
    size_t bytes;
    if (cw_mul_size(sz->tokens, sizeof(int), &bytes) != 0 ||
        cw_mul_size(sz->words, sizeof(cw_word), &bytes) != 0)
        return cw_error(CW_ERR_INVALID_ARG, "result: too many tokens or words");
    return CW_OK;
}

/* Copies segment s's words to *words and their texts to *txt, advancing both. */
static void copy_words(cw_segment *d, const cw_segment *s, cw_word **words, char **txt)
{
    cw_word *w = *words;
    for (size_t i = 0; i < s->n_words; i++) {
        w[i] = s->words[i];
        size_t len = strlen(word_text(&s->words[i])) + 1;
        memcpy(*txt, word_text(&s->words[i]), len);
        w[i].word = *txt;
        *txt += len;
    }
    d->words = s->words ? w : NULL; /* an empty list stays a list: see cwhisper.h */
    *words = w + s->n_words;
}

/* Copies the segments into r's blocks, which measure() sized. */
static void copy_segments(cw_result *r, const cw_segment *segs)
{
    int *tok = r->tokens;
    char *txt = r->texts;
    cw_word *words = r->words;
    char *wtxt = r->word_texts;
    for (size_t i = 0; i < r->n; i++) {
        cw_segment *d = &r->segments[i];
        *d = segs[i];
        size_t len = strlen(seg_text(&segs[i])) + 1;
        memcpy(txt, seg_text(&segs[i]), len);
        d->text = txt;
        txt += len;
        if (d->n_tokens) memcpy(tok, segs[i].tokens, d->n_tokens * sizeof(int));
        d->tokens = tok;
        tok += d->n_tokens;
        copy_words(d, &segs[i], &words, &wtxt);
    }
}

/* The segments' texts concatenated, as openai-whisper's result["text"] is the
 * decode of all segments' tokens. n_chars counts one NUL per segment. */
static char *join_texts(const cw_result *r, size_t n_chars)
{
    char *out = cw_malloc(n_chars + 1);
    if (!out) return NULL;
    size_t pos = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t len = strlen(r->segments[i].text);
        memcpy(out + pos, r->segments[i].text, len);
        pos += len;
    }
    out[pos] = '\0';
    return out;
}

cw_status cw_result_create(const cw_segment *segments, size_t n, const char *text,
                           const char *language, double duration, cw_result **out)
{
    if (!out || (n > 0 && !segments))
        return cw_error(CW_ERR_INVALID_ARG, "cw_result_create: NULL argument");
    *out = NULL;
    if (!time_ok(duration))
        return cw_error(CW_ERR_INVALID_ARG, "result: duration %g is negative, not finite or too large",
                        duration);
    sizes sz;
    cw_status st = check_segments(segments, n);
    if (st == CW_OK) st = measure(segments, n, &sz);
    if (st != CW_OK) return st;

    cw_result *r = cw_calloc(1, sizeof *r);
    if (!r) return CW_ERR_NOMEM;
    r->n = n;
    r->duration = duration;
    r->segments = cw_calloc(n, sizeof *r->segments);
    r->tokens = cw_calloc(sz.tokens, sizeof(int));
    r->texts = cw_malloc(sz.chars);
    r->words = cw_calloc(sz.words, sizeof(cw_word));
    r->word_texts = cw_malloc(sz.word_chars);
    r->language = cw_strdup(language ? language : "");
    if (!r->segments || !r->tokens || !r->texts || !r->words || !r->word_texts || !r->language) {
        cw_result_free(r);
        return CW_ERR_NOMEM;
    }
    copy_segments(r, segments);
    r->text = text ? cw_strdup(text) : join_texts(r, sz.chars);
    if (!r->text) {
        cw_result_free(r);
        return CW_ERR_NOMEM;
    }
    *out = r;
    return CW_OK;
}

void cw_result_free(cw_result *result)
{
    if (!result) return;
    free(result->segments);
    free(result->tokens);
    free(result->texts);
    free(result->words);
    free(result->word_texts);
    free(result->text);
    free(result->language);
    free(result);
}

size_t cw_result_n_segments(const cw_result *result)
{
    return result ? result->n : 0;
}

const cw_segment *cw_result_segment(const cw_result *result, size_t i)
{
    return result && i < result->n ? &result->segments[i] : NULL;
}

const char *cw_result_text(const cw_result *result)
{
    return result ? result->text : "";
}

const char *cw_result_language(const cw_result *result)
{
    return result ? result->language : "";
}

double cw_result_duration(const cw_result *result)
{
    return result ? result->duration : 0.0;
}
