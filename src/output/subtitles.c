/* The cues of srt and vtt, as openai-whisper's SubtitlesWriter.iterate_result
 * (whisper/utils.py, 20250625): one cue per segment when the result has no
 * words; otherwise cues built from the words, broken into lines and cues by
 * max_line_width, max_line_count and max_words_per_line, and with
 * highlight_words one cue per word with that word underlined. Widths count
 * code points, as Python's len() on str; the words' text is written as is
 * (no "-->" replacement on this path, as in the reference). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "util/utf8.h"

/* One word of the cue being built: its text as the cue shows it (whole when
 * it continues a line, stripped when it starts one, after a "\n" when it
 * starts a line other than the first). */
typedef struct {
    const cw_word *w;
    const char *p; /* [n] bytes of the word's text */
    size_t n;
    int newline;
} timing;

/* The options as iterate_result resolves them: 0 (Python's `or`) is "not
 * given"; preserve_segments when max_line_count or max_line_width is missing. */
typedef struct {
    int highlight;
    int preserve_segments;
    int has_line_count;
    size_t line_count, line_width, words_per_line;
} resolved;

typedef struct {
    cw_out *o;
    const cw_subtitle_style *style;
    size_t index; /* cues written so far (srt numbers them from 1) */
} cues;

static resolved resolve(const cw_output_info *info)
{
    cw_output_info z = { 0 };
    if (!info) info = &z;
    resolved r;
    r.highlight = info->highlight_words != 0;
    r.preserve_segments = info->max_line_count <= 0 || info->max_line_width <= 0;
    r.has_line_count = info->max_line_count > 0;
    r.line_count = info->max_line_count > 0 ? (size_t)info->max_line_count : 0;
    r.line_width = info->max_line_width > 0 ? (size_t)info->max_line_width : 1000;
    r.words_per_line = info->max_words_per_line > 0 ? (size_t)info->max_words_per_line : 1000;
    return r;
}

/* Python's len() of s[0..n): code points; an ill-formed sequence counts as
 * the one U+FFFD that decoding with errors="replace" gives. */
static size_t py_len(const char *s, size_t n)
{
    size_t count = 0;
    uint32_t cp;
    for (size_t i = 0; i < n; count++) i += cw_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return count;
}

static void cue_head(cues *c, const char *start, const char *end)
{
    if (c->style->numbered) cw_out_printf(c->o, "%zu\n", ++c->index);
    cw_out_printf(c->o, "%s --> %s\n", start, end);
}

static void format_time(const cues *c, char *buf, double t)
{
    cw_out_timestamp(buf, 48, t, c->style->always_hours, c->style->decimal_marker);
}

/* re.sub(r"^(\s*)(.*)$", r"\1<u>\2</u>", word): the word after its leading
 * whitespace underlined. `.` stops at "\n" and `$` matches at the end or
 * before a final "\n", so a word with a "\n" elsewhere after its leading
 * whitespace does not match and is written unchanged. */
static void write_underlined(cw_out *o, const timing *t)
{
    size_t lead = 0;
    uint32_t cp;
    while (lead < t->n) {
        size_t k = cw_utf8_decode((const unsigned char *)t->p + lead, t->n - lead, &cp);
        if (cp == CW_UTF8_INVALID || !cw_py_isspace(cp)) break;
        lead += k;
    }
    const char *rest = t->p + lead;
    size_t n_rest = t->n - lead;
    const char *nl = memchr(rest, '\n', n_rest);
    if (t->newline) cw_out_str(o, "\n"); /* part of the leading whitespace */
    if (nl && nl != rest + n_rest - 1) {
        cw_out_bytes(o, t->p, t->n);
        return;
    }
    size_t body = nl ? n_rest - 1 : n_rest;
    cw_out_bytes(o, t->p, lead);
    cw_out_str(o, "<u>");
    cw_out_bytes(o, rest, body);
    cw_out_str(o, "</u>");
    if (nl) cw_out_str(o, "\n");
}

/* "".join(words), the one at `underline` (or none: n) underlined. */
static void write_words(cw_out *o, const timing *sub, size_t n, size_t underline)
{
    for (size_t i = 0; i < n; i++) {
        if (i == underline) {
            write_underlined(o, &sub[i]);
            continue;
        }
        if (sub[i].newline) cw_out_str(o, "\n");
        cw_out_bytes(o, sub[i].p, sub[i].n);
    }
}

/* The cue or cues of one subtitle (sub [n], n >= 1). */
static void emit(cues *c, const resolved *r, const timing *sub, size_t n)
{
    char start[48], end[48];
    format_time(c, start, sub[0].w->start);
    format_time(c, end, sub[n - 1].w->end);
    if (!r->highlight) {
        cue_head(c, start, end);
        write_words(c->o, sub, n, n);
        cw_out_str(c->o, "\n\n");
        return;
    }
    char last[48], ws[48], we[48];
    memcpy(last, start, sizeof last);
    for (size_t i = 0; i < n; i++) {
        format_time(c, ws, sub[i].w->start);
        format_time(c, we, sub[i].w->end);
        if (strcmp(last, ws) != 0) { /* the gap before the word: the plain text */
            cue_head(c, last, ws);
            write_words(c->o, sub, n, n);
            cw_out_str(c->o, "\n\n");
        }
        cue_head(c, ws, we);
        write_words(c->o, sub, n, i);
        cw_out_str(c->o, "\n\n");
        memcpy(last, we, sizeof last);
    }
}

/* get_start(): the first word's start, else the first segment's. */
static double first_start(const cw_result *res)
{
    size_t ns = cw_result_n_segments(res);
    for (size_t i = 0; i < ns; i++) {
        const cw_segment *s = cw_result_segment(res, i);
        if (s->n_words) return s->words[0].start;
    }
    return ns ? cw_result_segment(res, 0)->start : 0.0;
}

/* The line state of iterate_subtitles() between words. */
typedef struct {
    timing *sub; /* the subtitle being built [n] */
    size_t n;
    size_t line_len, line_count;
    double last; /* the previous word's start */
} lines;

/* One word of chunk position i: continues the line, or starts a line or a
 * subtitle (writing the finished one). */
static void add_word(cues *c, const resolved *r, lines *l, const cw_word *w, size_t i)
{
    timing t = { w, w->word, strlen(w->word), 0 };
    size_t len = py_len(t.p, t.n);
    int long_pause = !r->preserve_segments && w->start - l->last > 3.0;
    int has_room = l->line_len + len <= r->line_width;
    int seg_break = i == 0 && l->n > 0 && r->preserve_segments;
    if (l->line_len > 0 && has_room && !long_pause && !seg_break) {
        l->line_len += len; /* line continuation */
    } else {
        cw_out_span s = cw_out_strip(t.p);
        t.p = s.p;
        t.n = s.n;
        if ((l->n > 0 && r->has_line_count && (long_pause || l->line_count >= r->line_count)) ||
            seg_break) {
            emit(c, r, l->sub, l->n); /* subtitle break */
            l->n = 0;
            l->line_count = 1;
        } else if (l->line_len > 0) {
            l->line_count++; /* line break */
            t.newline = 1;
        }
        l->line_len = py_len(t.p, t.n);
    }
    l->sub[l->n++] = t;
    l->last = w->start;
}

/* iterate_subtitles(): the words of every segment, max_words_per_line at a time. */
static void word_cues(cues *c, const cw_result *res, const resolved *r)
{
    size_t ns = cw_result_n_segments(res), total = 0;
    for (size_t i = 0; i < ns; i++) total += cw_result_segment(res, i)->n_words;
    if (total == 0) return;
    lines l = { malloc(total * sizeof(timing)), 0, 0, 1, first_start(res) };
    if (!l.sub) {
        cw_out_fail(c->o, ENOMEM);
        return;
    }
    for (size_t si = 0; si < ns; si++) {
        const cw_segment *s = cw_result_segment(res, si);
        for (size_t chunk = 0; chunk < s->n_words; chunk += r->words_per_line) {
            size_t count = s->n_words - chunk < r->words_per_line ? s->n_words - chunk : r->words_per_line;
            for (size_t i = 0; i < count; i++) add_word(c, r, &l, &s->words[chunk + i], i);
        }
    }
    if (l.n > 0) emit(c, r, l.sub, l.n);
    free(l.sub);
}

/* Without words: a cue per segment, the stripped text with "-->" as "->". */
static void segment_cues(cues *c, const cw_result *res)
{
    for (size_t i = 0; i < cw_result_n_segments(res); i++) {
        const cw_segment *s = cw_result_segment(res, i);
        char start[48], end[48];
        format_time(c, start, s->start);
        format_time(c, end, s->end);
        cue_head(c, start, end);
        cw_out_replace(c->o, cw_out_strip(s->text), "-->", "->");
        cw_out_str(c->o, "\n\n");
    }
}

/* openai-whisper tests `"words" in result["segments"][0]`: with word
 * timestamps every segment has the key. Here any segment's non-NULL words
 * count, so a first segment whose empty list was left NULL changes nothing. */
static int has_words(const cw_result *r)
{
    for (size_t i = 0; i < cw_result_n_segments(r); i++)
        if (cw_result_segment(r, i)->words) return 1;
    return 0;
}

void cw_write_cues(cw_out *o, const cw_result *r, const cw_output_info *info, const cw_subtitle_style *style)
{
    cues c = { o, style, 0 };
    if (has_words(r)) {
        resolved opts = resolve(info);
        word_cues(&c, r, &opts);
    } else {
        segment_cues(&c, r);
    }
}
