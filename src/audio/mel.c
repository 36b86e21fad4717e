/* The log-mel spectrogram, exactly as openai-whisper's log_mel_spectrogram
 * (audio.py) computes it: right zero padding, torch.stft(center=True,
 * pad_mode="reflect") with a periodic Hann window of 400 and hop 160, the
 * last frame dropped, |X|^2, filters @ power, log10 with a 1e-10 floor, the
 * clamp at (global max - 8) and (x + 4) / 4. The FFT runs in double (fft.c),
 * so our error stays far below the reference's own float32 rounding.
 * Frames are split over a thread pool; each part keeps its own maximum so the
 * global clamp needs one more cheap pass. The padded signal is never
 * materialised: frames inside the audio read it in place, edge frames go
 * through the reflection rule. */
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
 * very short input (e.g. 0.01 s) still gives its L / 160 frames. */
static float padded_sample(const float *x, size_t n, size_t L, long long i)
{
    long long lr = (long long)(L > CW_PAD ? L : CW_PAD + 1);
    if (i < 0) i = -i;
    if (i >= lr) i = 2 * (lr - 1) - i;
    return (i >= 0 && (size_t)i < n) ? x[i] : 0.0f;
}

void cw_stft_frame(const float *x, size_t n, size_t L, size_t t, double *frame)
{
    size_t start = t * CW_HOP_LENGTH; /* padded coordinates; signal index = start - 200 */
    if (start >= CW_PAD && start - CW_PAD + CW_N_FFT <= n) {
        const float *s = x + (start - CW_PAD);
        for (size_t k = 0; k < CW_N_FFT; k++) frame[k] = s[k];
        return;
    }
    for (size_t k = 0; k < CW_N_FFT; k++)
        frame[k] = padded_sample(x, n, L, (long long)(start + k) - CW_PAD);
}

typedef struct {
    double frame[CW_N_FFT];
    cw_cpx spec[CW_N_BINS];
    cw_cpx scratch[CW_N_FFT];
    double power[CW_N_BINS];
    float max;
} mel_scratch;

typedef struct {
    const float *x;            /* [n] */
    size_t n, L, n_frames;
    int n_mels;
    const float *filters;      /* [n_mels, 201] */
    int span[128][2];          /* per filter: first, last non-zero bin */
    const cw_rfft_plan *plan;
    double window[CW_N_FFT];
    mel_scratch *scratch;      /* [nth] */
    float *mel;                /* [n_mels, n_frames] */
} mel_job;

static void part_range(size_t total, int ith, int nth, size_t *lo, size_t *hi)
{
    *lo = total * (size_t)ith / (size_t)nth;
    *hi = total * (size_t)(ith + 1) / (size_t)nth;
}

/* Column t of the log10 mel (before the clamp); returns its maximum. */
static float mel_frame(const mel_job *j, mel_scratch *s, size_t t)
{
    cw_stft_frame(j->x, j->n, j->L, t, s->frame);
    for (size_t k = 0; k < CW_N_FFT; k++) s->frame[k] *= j->window[k];
    cw_rfft(j->plan, s->frame, s->spec, s->scratch);
    for (size_t k = 0; k < CW_N_BINS; k++) s->power[k] = s->spec[k].re * s->spec[k].re + s->spec[k].im * s->spec[k].im;
    float mx = -FLT_MAX;
    for (int m = 0; m < j->n_mels; m++) {
        const float *f = j->filters + (size_t)m * CW_N_BINS;
        double acc = 0.0;
        for (int k = j->span[m][0]; k <= j->span[m][1]; k++) acc += (double)f[k] * s->power[k];
        float v = (float)log10(acc > 1e-10 ? acc : 1e-10);
        j->mel[(size_t)m * j->n_frames + t] = v;
        if (v > mx) mx = v;
    }
    return mx;
}

static void mel_part(int ith, int nth, void *arg)
{
    mel_job *j = arg;
    mel_scratch *s = &j->scratch[ith];
    size_t lo, hi;
    part_range(j->n_frames, ith, nth, &lo, &hi);
    s->max = -FLT_MAX;
    for (size_t t = lo; t < hi; t++) {
        float v = mel_frame(j, s, t);
        if (v > s->max) s->max = v;
    }
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

cw_status cw_log_mel_pool(cw_threadpool *pool, const float *samples, size_t n, size_t padding, int n_mels,
                          float **mel, size_t *n_frames)
{
    *mel = NULL;
    *n_frames = 0;
    const float *filters = cw_mel_filters(n_mels);
    if (!filters) return cw_error(CW_ERR_INVALID_ARG, "log-mel: n_mels %d is not 80 or 128", n_mels);
    if (n > SIZE_MAX - padding || (n && !samples)) return cw_error(CW_ERR_INVALID_ARG, "log-mel: bad input");
    mel_job *j = cw_calloc(1, sizeof *j);
    if (!j) return CW_ERR_NOMEM;
    cw_rfft_plan plan;
    cw_status st = cw_rfft_plan_init(&plan, CW_N_FFT);
    if (st != CW_OK) {
        free(j);
        return st;
    }
    *j = (mel_job){ .x = samples, .n = n, .L = n + padding, .n_mels = n_mels, .filters = filters, .plan = &plan };
    j->n_frames = j->L / CW_HOP_LENGTH; /* 1 + L/160 STFT frames, the last dropped */
    cw_hann_window(CW_N_FFT, j->window);
    find_spans(j);
    int nth = cw_threadpool_size(pool);
    size_t count;
    if (cw_mul_size(j->n_frames, (size_t)n_mels, &count) != 0) {
        st = cw_error(CW_ERR_INVALID_ARG, "log-mel: input too long");
        goto done;
    }
    j->scratch = cw_calloc((size_t)nth, sizeof *j->scratch);
    j->mel = cw_malloc(count * sizeof(float));
    if (!j->scratch || !j->mel) {
        st = CW_ERR_NOMEM;
        goto done;
    }
    cw_threadpool_run(pool, mel_part, j);
    float mx = -FLT_MAX;
    for (int i = 0; i < nth; i++) mx = j->scratch[i].max > mx ? j->scratch[i].max : mx;
    clamp_job c = { j->mel, count, mx - 8.0f };
    cw_threadpool_run(pool, clamp_part, &c);
    *mel = j->mel;
    *n_frames = j->n_frames;
    j->mel = NULL;
done:
    free(j->mel);
    free(j->scratch);
    cw_rfft_plan_free(&plan);
    free(j);
    return st;
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
