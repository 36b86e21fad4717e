/* faster-whisper's vad.py around the network: get_speech_timestamps (the
 * hysteresis between threshold and neg_threshold, min silence and speech
 * durations, the split of over-long speech at the last silence over 98 ms,
 * then the padding), collect_chunks' grouping into chunks of at most
 * max_duration, and SpeechTimestampsMap. Python's arithmetic is kept: the
 * sample counts derived from milliseconds are floats compared with integer
 * sample positions, the padding is truncated by int(), halves use //. */
#include "vad/vad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

cw_vad_options cw_vad_default_options(void)
{
    return (cw_vad_options){.threshold = 0.5, .neg_threshold = -1.0, .min_speech_duration_ms = 0,
                            .max_speech_duration_s = INFINITY, .min_silence_duration_ms = 2000,
                            .speech_pad_ms = 400};
}

typedef struct {
    long long start, end;
} span_ll;

typedef struct {
    span_ll *v;
    size_t n, cap;
} span_list;

static cw_status push(span_list *l, long long start, long long end)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        span_ll *v = cw_realloc(l->v, cap * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span_ll){start, end};
    return CW_OK;
}

/* Python's floor division of a non-negative or negative integer by 2. */
static long long floor_half(long long x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); }

cw_status cw_vad_speech_timestamps(const float *probs, size_t n_probs, size_t n_samples, const cw_vad_options *o,
                                   cw_speech_span **spans, size_t *n_spans)
{
    *spans = NULL;
    *n_spans = 0;
    const double sr = 16000.0, win = CW_VAD_WINDOW;
    double threshold = o->threshold;
    double neg = o->neg_threshold >= 0 ? o->neg_threshold : fmax(threshold - 0.15, 0.01);
    double min_speech = sr * o->min_speech_duration_ms / 1000.0;
    double pad = sr * o->speech_pad_ms / 1000.0;
    double max_speech = sr * o->max_speech_duration_s - win - 2 * pad;
    double min_silence = sr * o->min_silence_duration_ms / 1000.0;
    double min_silence_at_max = sr * 98.0 / 1000.0;
    long long len = (long long)n_samples;
    span_list l = {0};
    cw_status s = CW_OK;
    int triggered = 0, have_cur = 0; /* have_cur: current_speech is non-empty */
    long long cur_start = 0, temp_end = 0, prev_end = 0, next_start = 0;
    for (size_t i = 0; s == CW_OK && i < n_probs; i++) {
        double p = probs[i];
        long long pos = (long long)(win * (double)i);
        if (p >= threshold && temp_end) {
            temp_end = 0;
            if (next_start < prev_end) next_start = pos;
        }
        if (p >= threshold && !triggered) {
            triggered = 1;
            have_cur = 1;
            cur_start = pos;
            continue;
        }
        if (triggered && (double)(pos - cur_start) > max_speech) {
            if (prev_end) {
                s = push(&l, cur_start, prev_end);
                have_cur = 0;
                if (next_start < prev_end) { /* reached silence and is still not speech */
                    triggered = 0;
                } else {
                    have_cur = 1;
                    cur_start = next_start;
                }
                prev_end = next_start = temp_end = 0;
            } else {
                s = push(&l, cur_start, pos);
                have_cur = 0;
                prev_end = next_start = temp_end = 0;
                triggered = 0;
                continue;
            }
        }
        if (p < neg && triggered) {
            if (!temp_end) temp_end = pos;
            if ((double)(pos - temp_end) > min_silence_at_max) prev_end = temp_end;
            if ((double)(pos - temp_end) < min_silence) continue;
            if ((double)(temp_end - cur_start) > min_speech) s = push(&l, cur_start, temp_end);
            have_cur = 0;
            prev_end = next_start = temp_end = 0;
            triggered = 0;
            continue;
        }
    }
    /* current_speech may hold only a start (after a split at max speech with
     * next_start >= prev_end, or from the first trigger). */
    if (s == CW_OK && have_cur && (double)(len - cur_start) > min_speech) s = push(&l, cur_start, len);
    for (size_t i = 0; s == CW_OK && i < l.n; i++) {
        span_ll *sp = &l.v[i];
        if (i == 0) sp->start = (long long)fmax(0.0, (double)sp->start - pad);
        if (i + 1 < l.n) {
            long long silence = l.v[i + 1].start - sp->end;
            if ((double)silence < 2 * pad) {
                sp->end += floor_half(silence);
                long long ns = l.v[i + 1].start - floor_half(silence);
                l.v[i + 1].start = ns > 0 ? ns : 0;
            } else {
                sp->end = (long long)fmin((double)len, (double)sp->end + pad);
                l.v[i + 1].start = (long long)fmax(0.0, (double)l.v[i + 1].start - pad);
            }
        } else {
            sp->end = (long long)fmin((double)len, (double)sp->end + pad);
        }
    }
    if (s == CW_OK && l.n) {
        cw_speech_span *out = cw_malloc(l.n * sizeof *out);
        if (!out) s = CW_ERR_NOMEM;
        for (size_t i = 0; s == CW_OK && i < l.n; i++)
            out[i] = (cw_speech_span){(size_t)(l.v[i].start > 0 ? l.v[i].start : 0),
                                      (size_t)(l.v[i].end > 0 ? l.v[i].end : 0)};
        if (s == CW_OK) {
            *spans = out;
            *n_spans = l.n;
        }
    }
    free(l.v);
    return s;
}

cw_status cw_vad_group_spans(const cw_speech_span *spans, size_t n, double max_samples, size_t **group_end,
                             size_t *n_groups)
{
    *group_end = NULL;
    *n_groups = 0;
    size_t *g = cw_malloc((n + 1) * sizeof *g), k = 0;
    if (!g) return CW_ERR_NOMEM;
    double cur = 0;
    /* collect_chunks: a span that would overflow the current chunk closes it
     * and starts the next one (the first chunk may thus close empty, which
     * collect_chunks keeps as an empty audio; here an empty group is dropped). */
    for (size_t i = 0; i < n; i++) {
        double len = (double)(spans[i].end - spans[i].start);
        if (cur + len > max_samples) {
            if (i > 0 && (k == 0 || g[k - 1] != i)) g[k++] = i;
            cur = len;
        } else {
            cur += len;
        }
    }
    if (n > 0) g[k++] = n;
    *group_end = g;
    *n_groups = k;
    return CW_OK;
}

cw_status cw_vad_timemap_init(cw_vad_timemap *m, const cw_speech_span *spans, size_t n)
{
    memset(m, 0, sizeof *m);
    m->chunk_end_sample = cw_malloc((n ? n : 1) * sizeof *m->chunk_end_sample);
    m->silence_before = cw_malloc((n ? n : 1) * sizeof *m->silence_before);
    if (!m->chunk_end_sample || !m->silence_before) {
        cw_vad_timemap_free(m);
        return CW_ERR_NOMEM;
    }
    size_t prev_end = 0, silent = 0;
    for (size_t i = 0; i < n; i++) {
        silent += spans[i].start - prev_end;
        prev_end = spans[i].end;
        m->chunk_end_sample[i] = spans[i].end - silent;
        m->silence_before[i] = (double)silent / 16000.0;
    }
    m->n = n;
    return CW_OK;
}

void cw_vad_timemap_free(cw_vad_timemap *m)
{
    free(m->chunk_end_sample);
    free(m->silence_before);
    memset(m, 0, sizeof *m);
}

size_t cw_vad_timemap_chunk(const cw_vad_timemap *m, double t, int is_end)
{
    if (m->n == 0) return 0;
    long long sample = (long long)(t * 16000.0);
    if (is_end)
        for (size_t i = 0; i < m->n; i++)
            if ((long long)m->chunk_end_sample[i] == sample) return i;
    /* bisect.bisect (right): the first end strictly after sample */
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((long long)m->chunk_end_sample[mid] <= sample) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n ? lo : m->n - 1;
}

/* Python's round(x, 2): to the nearest hundredth, ties to even on the
 * decimal value (close enough: the times here are sums of 1/16000 s steps). */
static double round2(double x)
{
    double r = nearbyint(x * 100.0) / 100.0;
    return r;
}

double cw_vad_timemap_original(const cw_vad_timemap *m, double t, size_t chunk)
{
    if (m->n == 0) return t;
    if (chunk >= m->n) chunk = m->n - 1;
    return round2(m->silence_before[chunk] + t);
}
