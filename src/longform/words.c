/* Word timestamps in the sequential loop, as openai/whisper transcribe.py
 * with word_timestamps=True: add_word_timestamps (timing.py) on the
 * segments of one window (alignment by timing/, the clamping of long words
 * at sentence and segment edges, the segments' start and end moved to
 * their words), then the seek moved to the last word's end, and with
 * hallucination_silence_threshold the skipping of silence around segments
 * that look hallucinated. */
#include "longform/words.h"

#include "longform/longform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timing/timing.h"
#include "util/error.h"

#define FRAMES_PER_SECOND 100.0
/* transcribe.py's punctuation: words it leaves out of the anomaly score */
static const char HALLUCINATION_PUNCTUATION[] = "\"'\u201c\u00bf([{-\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001";
static const char SENTENCE_END_MARKS[] = ".\u3002!\uff01?\uff1f";

void cw_segment_words_free(cw_segment *seg)
{
    for (size_t i = 0; i < seg->n_words; i++) free((void *)seg->words[i].word);
    free((void *)seg->words);
    seg->words = NULL;
    seg->n_words = 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* np.median of the non-zero durations, capped at 0.7 (0 when none). */
static cw_status median_duration(const cw_word_timing *al, size_t n, double *median, size_t *n_nonzero)
{
    double *d = cw_malloc((n + 1) * sizeof *d);
    if (!d) return CW_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (al[i].end - al[i].start != 0.0) d[k++] = al[i].end - al[i].start;
    qsort(d, k, sizeof *d, cmp_double);
    double m = k == 0 ? 0.0 : k % 2 ? d[k / 2] : (d[k / 2 - 1] + d[k / 2]) / 2.0;
    free(d);
    *median = m < 0.7 ? m : 0.7;
    *n_nonzero = k;
    return CW_OK;
}

/* The tokenizer's sot_sequence: sot, then language and task on multilingual models. */
static size_t sot_sequence(const cw_special_tokens *sp, int32_t language_token, int translate, int32_t seq[3])
{
    size_t n = 0;
    seq[n++] = sp->sot;
    if (sp->multilingual) {
        if (language_token >= 0) seq[n++] = language_token;
        seq[n++] = translate ? sp->translate : sp->transcribe;
    }
    return n;
}

static size_t text_count(const cw_segment *seg, int32_t eot)
{
    size_t n = 0;
    for (size_t i = 0; i < seg->n_tokens; i++) n += seg->tokens[i] < eot;
    return n;
}

/* timing.py's "truncate long words at segment boundaries" and the moves of
 * the segment's start and end to its words. */
static void adjust_edges(cw_segment *seg, cw_word *w, size_t n, double median, double max_d, double *last_speech)
{
    if (n == 0) return;
    if (w[0].end - *last_speech > median * 4 &&
        (w[0].end - w[0].start > max_d || (n > 1 && w[1].end - w[0].start > max_d * 2))) {
        if (n > 1 && w[1].end - w[1].start > max_d) {
            double boundary = fmax(w[1].end / 2, w[1].end - max_d);
            w[0].end = w[1].start = boundary;
        }
        w[0].start = fmax(0, w[0].end - max_d);
    }
    if (seg->start < w[0].end && seg->start - 0.5 > w[0].start)
        w[0].start = fmax(0, fmin(w[0].end - median, seg->start));
    else
        seg->start = w[0].start;
    if (seg->end > w[n - 1].start && seg->end + 0.5 < w[n - 1].end)
        w[n - 1].end = fmax(w[n - 1].start + median, seg->end);
    else
        seg->end = w[n - 1].end;
    *last_speech = seg->end;
}

/* Hands out the alignment's words to the segments in order of their text
 * tokens, times on the file's timeline rounded to 0.01 s. */
static cw_status distribute(cw_segment *segs, size_t n_segs, const cw_word_timing *al, size_t n_al, int32_t eot,
                            double median, double last_speech)
{
    double time_offset = (double)(segs[0].seek * 160) / 16000.0, max_d = median * 2;
    size_t wi = 0;
    for (size_t si = 0; si < n_segs; si++) {
        cw_segment *seg = &segs[si];
        size_t n_text = text_count(seg, eot), saved = 0, n = 0;
        cw_word *w = cw_calloc(n_al + 1, sizeof *w);
        if (!w) return CW_ERR_NOMEM;
        seg->words = w;
        while (wi < n_al && saved < n_text) {
            const cw_word_timing *t = &al[wi];
            if (t->word[0]) {
                char *text = cw_strdup(t->word);
                if (!text) return CW_ERR_NOMEM;
                w[n++] = (cw_word){text, cw_round2(time_offset + t->start), cw_round2(time_offset + t->end),
                                   t->probability};
                seg->n_words = n;
            }
            saved += t->n_tokens;
            wi++;
        }
        adjust_edges(seg, w, n, median, max_d, &last_speech);
    }
    return CW_OK;
}

cw_status cw_add_word_timestamps(const cw_words_env *e, cw_segment *segs, size_t n_segs, size_t num_frames,
                                 double last_speech)
{
    if (n_segs == 0) return CW_OK;
    const cw_special_tokens *sp = e->sp;
    size_t n_text = 0;
    for (size_t i = 0; i < n_segs; i++) n_text += text_count(&segs[i], sp->eot);
    int32_t *text = cw_malloc((n_text + 1) * sizeof *text), seq[3];
    if (!text) return CW_ERR_NOMEM;
    n_text = 0;
    for (size_t i = 0; i < n_segs; i++)
        for (size_t t = 0; t < segs[i].n_tokens; t++)
            if (segs[i].tokens[t] < sp->eot) text[n_text++] = segs[i].tokens[t];
    size_t n_sot = sot_sequence(sp, e->language_token, e->translate, seq), n_al = 0, n_nonzero = 0;
    const char *lang = "en";
    if (sp->multilingual && e->language_token >= 0) {
        const char *code = cw_language_code((int)(e->language_token - sp->lang_begin));
        if (code) lang = code;
    }
    cw_word_timing *al = NULL;
    double median = 0.0;
    cw_status s = cw_find_alignment(e->net, e->codec, sp, lang, seq, n_sot, text, n_text, num_frames, &al, &n_al);
    free(text);
    if (!s) s = median_duration(al, n_al, &median, &n_nonzero);
    double max_d = median * 2;
    /* "truncate long words at sentence boundaries" */
    for (size_t i = 1; !s && n_nonzero > 0 && i < n_al; i++) {
        if (!(al[i].end - al[i].start > max_d)) continue;
        if (cw_str_in(al[i].word, SENTENCE_END_MARKS)) al[i].end = al[i].start + max_d;
        else if (cw_str_in(al[i - 1].word, SENTENCE_END_MARKS)) al[i].start = al[i].end - max_d;
    }
    if (!s) s = cw_merge_punctuations(al, n_al, e->prepend_punctuations, e->append_punctuations);
    if (!s) s = distribute(segs, n_segs, al, n_al, sp->eot, median, last_speech);
    cw_word_timings_free(al, n_al);
    return s;
}

/* utils.py get_end: the last word's end, else the last segment's end. */
static int get_end(const cw_segment *segs, size_t n, double *end)
{
    for (size_t i = n; i-- > 0;)
        if (segs[i].n_words) {
            *end = segs[i].words[segs[i].n_words - 1].end;
            return 1;
        }
    if (n == 0) return 0;
    *end = segs[n - 1].end;
    return 1;
}

static double word_anomaly_score(const cw_word *w)
{
    double score = 0.0, duration = w->end - w->start;
    if (w->probability < 0.15) score += 1.0;
    if (duration < 0.133) score += (0.133 - duration) * 15;
    if (duration > 2.0) score += duration - 2.0;
    return score;
}

static int is_segment_anomaly(const cw_segment *seg)
{
    if (!seg || seg->n_words == 0) return 0;
    double score = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < seg->n_words && n < 8; i++) {
        if (cw_str_in(seg->words[i].word, HALLUCINATION_PUNCTUATION)) continue;
        score += word_anomaly_score(&seg->words[i]);
        n++;
    }
    return score >= 3 || score + 0.01 >= (double)n;
}

static const cw_segment *next_words_segment(const cw_segment *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (segs[i].n_words) return &segs[i];
    return NULL;
}

/* transcribe.py's "skip silence before possible hallucinations". Returns 1
 * when the whole window is to be dropped (the loop's `continue`). */
static int skip_hallucinations(const cw_words_window *w, double threshold, cw_segment *segs, size_t *n_segs,
                               long *seek)
{
    double time_offset = (double)(w->previous_seek * 160) / 16000.0;
    double window_end = (double)((w->previous_seek + 3000) * 160) / 16000.0;
    double segment_duration = (double)(w->segment_size * 160) / 16000.0, last_end;
    double content_duration = (double)(w->content_frames * 160) / 16000.0;
    if (!w->single_timestamp_ending && get_end(segs, *n_segs, &last_end) && last_end > time_offset) {
        if (window_end - last_end > threshold) *seek = (long)nearbyint(last_end * FRAMES_PER_SECOND);
        else *seek = w->previous_seek + (long)w->segment_size;
    }
    /* if the first segment might be a hallucination, skip leading silence */
    const cw_segment *first = next_words_segment(segs, *n_segs);
    if (first && is_segment_anomaly(first)) {
        double gap = first->start - time_offset;
        if (gap > threshold) {
            *seek = w->previous_seek + (long)nearbyint(gap * FRAMES_PER_SECOND);
            return 1;
        }
    }
    /* silence before any possible hallucination surrounded by silence or more hallucinations */
    double hal_last_end = w->last_speech;
    for (size_t si = 0; si < *n_segs; si++) {
        const cw_segment *seg = &segs[si];
        if (seg->n_words == 0) continue;
        if (is_segment_anomaly(seg)) {
            const cw_segment *next = next_words_segment(segs + si + 1, *n_segs - si - 1);
            double hal_next_start = next ? next->words[0].start : time_offset + segment_duration;
            int before = seg->start - hal_last_end > threshold || seg->start < threshold ||
                         seg->start - time_offset < 2.0;
            int after = hal_next_start - seg->end > threshold || is_segment_anomaly(next) ||
                        window_end - seg->end < 2.0;
            if (before && after) {
                *seek = (long)nearbyint(fmax(time_offset + 1, seg->start) * FRAMES_PER_SECOND);
                if (content_duration - seg->end < threshold) *seek = (long)w->content_frames;
                *n_segs = si; /* current_segments[si:] = [] */
                return 0;
            }
        }
        hal_last_end = seg->end;
    }
    return 0;
}

void cw_vad_restore_words(cw_segment *segs, size_t n, cw_word *words, const cw_vad_timemap *map)
{
    for (size_t i = 0, k = 0; i < n && map->n; i++) {
        cw_segment *s = &segs[i];
        if (s->n_words == 0) {
            cw_vad_restore_segments(s, 1, map);
            continue;
        }
        cw_word *w = words + k;
        for (size_t j = 0; j < s->n_words; j++) { /* start and end resolved to one span */
            size_t chunk = cw_vad_timemap_chunk(map, (w[j].start + w[j].end) / 2, 0);
            w[j].start = cw_vad_timemap_original(map, w[j].start, chunk);
            w[j].end = cw_vad_timemap_original(map, w[j].end, chunk);
        }
        s->words = w;
        s->start = w[0].start;
        s->end = w[s->n_words - 1].end;
        k += s->n_words;
    }
}

cw_status cw_words_window_pass(const cw_words_env *e, cw_words_window *w, cw_segment *segs, size_t *n_segs,
                               long *seek, int *drop)
{
    *drop = 0;
    cw_status s = cw_add_word_timestamps(e, segs, *n_segs, w->segment_size, w->last_speech);
    if (s) return s;
    double time_offset = (double)(w->previous_seek * 160) / 16000.0, last_end;
    if (!w->single_timestamp_ending && get_end(segs, *n_segs, &last_end) && last_end > time_offset)
        *seek = (long)nearbyint(last_end * FRAMES_PER_SECOND);
    if (!isnan(e->hallucination_silence_threshold)) {
        *drop = skip_hallucinations(w, e->hallucination_silence_threshold, segs, n_segs, seek);
        if (*drop) return CW_OK;
    }
    if (get_end(segs, *n_segs, &last_end)) w->last_speech = last_end;
    return CW_OK;
}
