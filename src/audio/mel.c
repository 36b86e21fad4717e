/* The log-mel spectrogram, exactly as openai-whisper's log_mel_spectrogram
 * (audio.py) computes it: right zero padding, torch.stft(center=True,
 * pad_mode="reflect") with a periodic Hann window of 400 and hop 160, the
 * last frame dropped, |X|^2, filters @ power, log10 with a 1e-10 floor, the
 * clamp at (global max - 8) and (x + 4) / 4. The FFT runs in double (fft.c),
 * so our error stays far below the reference's own float32 rounding.
 * Frames are split over a thread pool; each part keeps its own maximum so the
 * global clamp needs one more cheap pass. The padded signal is never
 * materialised: frames inside the audio read it in place, edge frames go
 * through the reflection rule. The same frame code also runs block by block
 * over a stream of samples (cw_mel_stream), leaving the clamp to the caller. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio.h"
#include "audio/fft.h"
#include "util/error.h"
#include "util/threadpool.h"

#define CW_N_BINS (CW_N_FFT / 2 + 1) /* 201 */
#define CW_PAD (CW_N_FFT / 2)        /* 200 */

void cw_hann_window(size_t len, double *w)
{
    /* torch.hann_window(len) is periodic: the period is len, not len - 1. */
    for (size_t i = 0; i < len; i++) w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)len);
}

/* Sample i of the signal as torch's reflect padding sees it: x extended by
 * `padding` zeros to length L, then mirrored around its first and last
 * samples (the edge sample itself is not repeated). torch refuses L <= 200;
 * we instead treat such a signal as zero-extended to 201 samples first, so
 * very short input (e.g. 0.01 s) still gives its L / 160 frames.
 * x holds samples base.. of the signal (n in all); the caller keeps every
 * sample a frame reflects onto (always inside the frame's own span). */
static float padded_sample(const float *x, size_t base, size_t n, size_t L, long long i)
{
    long long lr = (long long)(L > CW_PAD ? L : CW_PAD + 1);
    if (i < 0) i = -i;
    if (i >= lr) i = 2 * (lr - 1) - i;
    return (i >= 0 && (size_t)i < n) ? x[(size_t)i - base] : 0.0f;
}

/* cw_stft_frame on a part of the signal: x [..] is signal sample base + k. */
static void stft_frame_at(const float *x, size_t base, size_t n, size_t L, size_t t, double *frame)
{
    size_t start = t * CW_HOP_LENGTH; /* padded coordinates; signal index = start - 200 */
    if (start >= CW_PAD && start - CW_PAD + CW_N_FFT <= n) {
        const float *s = x + (start - CW_PAD - base);
        for (size_t k = 0; k < CW_N_FFT; k++) frame[k] = s[k];
        return;
    }
    for (size_t k = 0; k < CW_N_FFT; k++)
        frame[k] = padded_sample(x, base, n, L, (long long)(start + k) - CW_PAD);
}

void cw_stft_frame(const float *x, size_t n, size_t L, size_t t, double *frame)
{
    stft_frame_at(x, 0, n, L, t, frame);
}

typedef struct {
    double frame[CW_N_FFT];
    cw_cpx spec[CW_N_BINS];
    cw_cpx scratch[CW_N_FFT];
    double power[CW_N_BINS];
    float max;
} mel_scratch;

/* Frames [t0, t0 + count) of the signal; the whole file is one job
 * (base 0, t0 0), a stream many. */
typedef struct {
    const float *x;            /* signal samples base.. (as many as the frames read) */
    size_t base, n, L;         /* n: signal length known so far, L: padded length */
    size_t t0, count;
    size_t stride_m, stride_t; /* value (m, t) at mel[m * stride_m + (t - t0) * stride_t] */
    int n_mels;
    const float *filters;      /* [n_mels, 201] */
    int span[128][2];          /* per filter: first, last non-zero bin */
    const cw_rfft_plan *plan;
    double window[CW_N_FFT];
    mel_scratch *scratch;      /* [nth] */
    float *mel;
} mel_job;

static void part_range(size_t total, int ith, int nth, size_t *lo, size_t *hi)
{
    *lo = total * (size_t)ith / (size_t)nth;
    *hi = total * (size_t)(ith + 1) / (size_t)nth;
}

static int zero_frame(const double *frame)
{
    for (size_t k = 0; k < CW_N_FFT; k++)
        if (frame[k] != 0.0) return 0;
    return 1;
}

/* Column t of the log10 mel (before the clamp); returns its maximum. */
static float mel_frame(const mel_job *j, mel_scratch *s, size_t t)
{
    stft_frame_at(j->x, j->base, j->n, j->L, t, s->frame);
    float *out = j->mel + (t - j->t0) * j->stride_t;
    if (zero_frame(s->frame)) {
        /* the FFT of zeros is exactly zero, so every filter sums to 0 and
         * takes the floor: the same bits without the FFT. Most frames of a
         * short file are its 30 s of padding. */
        const float v = (float)log10(1e-10);
        for (int m = 0; m < j->n_mels; m++) out[(size_t)m * j->stride_m] = v;
        return v;
    }
    for (size_t k = 0; k < CW_N_FFT; k++) s->frame[k] *= j->window[k];
    cw_rfft(j->plan, s->frame, s->spec, s->scratch);
    for (size_t k = 0; k < CW_N_BINS; k++) s->power[k] = s->spec[k].re * s->spec[k].re + s->spec[k].im * s->spec[k].im;
    float mx = -FLT_MAX;
    for (int m = 0; m < j->n_mels; m++) {
        const float *f = j->filters + (size_t)m * CW_N_BINS;
        double acc = 0.0;
        for (int k = j->span[m][0]; k <= j->span[m][1]; k++) acc += (double)f[k] * s->power[k];
        float v = (float)log10(acc > 1e-10 ? acc : 1e-10);
        out[(size_t)m * j->stride_m] = v;
        if (v > mx) mx = v;
    }
    return mx;
}

static void mel_part(int ith, int nth, void *arg)
{
    mel_job *j = arg;
    mel_scratch *s = &j->scratch[ith];
    size_t lo, hi;
    part_range(j->count, ith, nth, &lo, &hi);
    s->max = -FLT_MAX;
    for (size_t t = j->t0 + lo; t < j->t0 + hi; t++) {
        float v = mel_frame(j, s, t);
        if (v > s->max) s->max = v;
    }
}

/* Runs the job's frames over the pool; returns their maximum. */
static float run_job(cw_threadpool *pool, mel_job *j)
{
    cw_threadpool_run(pool, mel_part, j);
    float mx = -FLT_MAX;
    for (int i = 0; i < cw_threadpool_size(pool); i++) mx = j->scratch[i].max > mx ? j->scratch[i].max : mx;
    return mx;
}

typedef struct {
    float *mel;   /* [count] */
    size_t count;
    float floor;  /* global max - 8 */
} clamp_job;

static void clamp_part(int ith, int nth, void *arg)
{
    clamp_job *c = arg;
    size_t lo, hi;
    part_range(c->count, ith, nth, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        float v = c->mel[i] > c->floor ? c->mel[i] : c->floor;
        c->mel[i] = (v + 4.0f) / 4.0f;
    }
}

static void find_spans(mel_job *j)
{
    for (int m = 0; m < j->n_mels; m++) {
        const float *f = j->filters + (size_t)m * CW_N_BINS;
        int first = 0, last = -1;
        for (int k = 0; k < CW_N_BINS; k++) {
            if (f[k] != 0.0f) {
                if (last < 0) first = k;
                last = k;
            }
        }
        j->span[m][0] = first;
        j->span[m][1] = last;
    }
}

/* The parts of a job that do not depend on the frames. */
static cw_status job_init(mel_job *j, int n_mels, cw_rfft_plan *plan, int nth)
{
    const float *filters = cw_mel_filters(n_mels);
    if (!filters) return cw_error(CW_ERR_INVALID_ARG, "log-mel: n_mels %d is not 80 or 128", n_mels);
    cw_status st = cw_rfft_plan_init(plan, CW_N_FFT);
    if (st != CW_OK) return st;
    *j = (mel_job){ .n_mels = n_mels, .filters = filters, .plan = plan };
    cw_hann_window(CW_N_FFT, j->window);
    find_spans(j);
    j->scratch = cw_calloc((size_t)nth, sizeof *j->scratch);
    if (!j->scratch) {
        cw_rfft_plan_free(plan);
        return CW_ERR_NOMEM;
    }
    return CW_OK;
}

cw_status cw_log_mel_pool(cw_threadpool *pool, const float *samples, size_t n, size_t padding, int n_mels,
                          float **mel, size_t *n_frames)
{
    *mel = NULL;
    *n_frames = 0;
    if (!cw_mel_filters(n_mels)) return cw_error(CW_ERR_INVALID_ARG, "log-mel: n_mels %d is not 80 or 128", n_mels);
    if (n > SIZE_MAX - padding || (n && !samples)) return cw_error(CW_ERR_INVALID_ARG, "log-mel: bad input");
    mel_job *j = cw_calloc(1, sizeof *j);
    if (!j) return CW_ERR_NOMEM;
    cw_rfft_plan plan;
    cw_status st = job_init(j, n_mels, &plan, cw_threadpool_size(pool));
    if (st != CW_OK) {
        free(j);
        return st;
    }
    j->x = samples;
    j->n = n;
    j->L = n + padding;
    j->count = j->L / CW_HOP_LENGTH; /* 1 + L/160 STFT frames, the last dropped */
    j->stride_m = j->count;
    j->stride_t = 1;
    size_t count;
    if (cw_mul_size(j->count, (size_t)n_mels, &count) != 0) {
        st = cw_error(CW_ERR_INVALID_ARG, "log-mel: input too long");
        goto done;
    }
    j->mel = cw_malloc(count * sizeof(float));
    if (!j->mel) {
        st = CW_ERR_NOMEM;
        goto done;
    }
    float mx = run_job(pool, j);
    clamp_job c = { j->mel, count, mx - 8.0f };
    cw_threadpool_run(pool, clamp_part, &c);
    *mel = j->mel;
    *n_frames = j->count;
    j->mel = NULL;
done:
    free(j->mel);
    free(j->scratch);
    cw_rfft_plan_free(&plan);
    free(j);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Streaming                                                                 */

/* The stream keeps the samples from the first one a pending frame reads
 * (frame t reads signal samples [160 t - 200, 160 t + 200), reflections
 * included) and computes a block of frames as soon as their samples are in.
 * A frame computed before the end sees exactly what the whole-file
 * computation sees: its samples are all real (160 t + 200 < samples so far)
 * and the right reflection never reaches it; the frames near the end and in
 * the padding wait for cw_mel_stream_finish, which knows n and L. */
struct cw_mel_stream {
    cw_threadpool *pool;
    mel_job job;
    cw_rfft_plan plan;
    size_t padding;
    float *buf;      /* [cap] signal samples base .. base + have */
    size_t base, have, cap;
    size_t total;    /* samples pushed */
    size_t next_t;   /* first frame not yet emitted */
    float *block;    /* [CW_MEL_BLOCK_FRAMES, n_mels] */
    float max;
    cw_mel_block_fn emit;
    void *user;
    int finished;
};

cw_status cw_mel_stream_create(cw_threadpool *pool, int n_mels, size_t padding, cw_mel_block_fn emit, void *user,
                               cw_mel_stream **out)
{
    *out = NULL;
    if (!emit) return cw_error(CW_ERR_INVALID_ARG, "log-mel stream: no block function");
    cw_mel_stream *s = cw_calloc(1, sizeof *s);
    if (!s) return CW_ERR_NOMEM;
    cw_status st = job_init(&s->job, n_mels, &s->plan, cw_threadpool_size(pool));
    if (st != CW_OK) {
        free(s);
        return st;
    }
    s->pool = pool;
    s->padding = padding;
    s->emit = emit;
    s->user = user;
    s->max = -FLT_MAX;
    s->job.plan = &s->plan;
    s->block = cw_malloc((size_t)CW_MEL_BLOCK_FRAMES * (size_t)n_mels * sizeof *s->block);
    if (!s->block) {
        cw_mel_stream_free(s);
        return CW_ERR_NOMEM;
    }
    *out = s;
    return CW_OK;
}

void cw_mel_stream_free(cw_mel_stream *s)
{
    if (!s) return;
    free(s->job.scratch);
    cw_rfft_plan_free(&s->plan);
    free(s->buf);
    free(s->block);
    free(s);
}

/* Computes and emits frames [next_t, next_t + count) with the signal seen as
 * n samples long, padded to L; then drops the samples no later frame reads. */
static cw_status emit_block(cw_mel_stream *s, size_t count, size_t n, size_t L)
{
    mel_job *j = &s->job;
    j->x = s->buf;
    j->base = s->base;
    j->n = n;
    j->L = L;
    j->t0 = s->next_t;
    j->count = count;
    j->stride_m = 1;
    j->stride_t = (size_t)j->n_mels;
    j->mel = s->block;
    float mx = run_job(s->pool, j);
    if (mx > s->max) s->max = mx;
    cw_status st = s->emit(s->user, s->block, s->next_t, count);
    s->next_t += count;
    /* the next frame reads from 160 t - 200 on (from 0 while that is < 0) */
    size_t keep_from = s->next_t * CW_HOP_LENGTH > CW_PAD ? s->next_t * CW_HOP_LENGTH - CW_PAD : 0;
    if (keep_from > s->base + s->have) keep_from = s->base + s->have;
    if (keep_from > s->base) {
        size_t drop = keep_from - s->base;
        memmove(s->buf, s->buf + drop, (s->have - drop) * sizeof *s->buf);
        s->have -= drop;
        s->base = keep_from;
    }
    return st;
}

cw_status cw_mel_stream_push(cw_mel_stream *s, const float *samples, size_t n)
{
    if (s->finished) return cw_error(CW_ERR_INVALID_ARG, "log-mel stream: push after finish");
    if (n == 0) return CW_OK;
    if (!samples || n > SIZE_MAX - s->total - s->padding) return cw_error(CW_ERR_INVALID_ARG, "log-mel: bad input");
    if (s->have + n > s->cap) {
        size_t cap = s->cap ? s->cap : (size_t)CW_MEL_BLOCK_FRAMES * CW_HOP_LENGTH + CW_N_FFT;
        while (cap < s->have + n) {
            if (cap > SIZE_MAX / 2 / sizeof(float)) return cw_error(CW_ERR_NOMEM, "log-mel: block too large");
            cap *= 2;
        }
        float *p = cw_realloc(s->buf, cap * sizeof *p);
        if (!p) return CW_ERR_NOMEM;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->have, samples, n * sizeof *samples);
    s->have += n;
    s->total += n;
    /* frames t with 160 t + 200 < total read real samples only */
    size_t ready = s->total > CW_PAD ? (s->total - CW_PAD - 1) / CW_HOP_LENGTH + 1 : 0;
    while (ready >= s->next_t + CW_MEL_BLOCK_FRAMES) {
        cw_status st = emit_block(s, CW_MEL_BLOCK_FRAMES, s->total, s->total + s->padding);
        if (st != CW_OK) return st;
    }
    return CW_OK;
}

cw_status cw_mel_stream_finish(cw_mel_stream *s, size_t *n_frames, float *max)
{
    if (s->finished) return cw_error(CW_ERR_INVALID_ARG, "log-mel stream: finished twice");
    s->finished = 1;
    size_t L = s->total + s->padding;
    size_t nf = L / CW_HOP_LENGTH;
    while (s->next_t < nf) {
        size_t count = nf - s->next_t < CW_MEL_BLOCK_FRAMES ? nf - s->next_t : CW_MEL_BLOCK_FRAMES;
        cw_status st = emit_block(s, count, s->total, L);
        if (st != CW_OK) return st;
    }
    if (n_frames) *n_frames = nf;
    if (max) *max = s->max;
    return CW_OK;
}

cw_status cw_log_mel(const float *samples, size_t n, size_t padding, int n_mels, int n_threads, float **mel,
                     size_t *n_frames)
{
    cw_threadpool *pool = NULL;
    if (n_threads > 1) {
        pool = cw_threadpool_create(n_threads);
        if (!pool) return CW_ERR_NOMEM;
    }
    cw_status st = cw_log_mel_pool(pool, samples, n, padding, n_mels, mel, n_frames);
    cw_threadpool_free(pool);
    return st;
}
