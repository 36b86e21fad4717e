/* Voice activity detection: the Silero VAD network (v6, as faster-whisper
 * 1.2 ships it) run in plain C (silero.c), and faster-whisper's vad.py logic
 * around it (timestamps.c): get_speech_timestamps, collect_chunks and the
 * SpeechTimestampsMap that maps times on the speech-only timeline back to the
 * file's. 16 kHz only, as faster-whisper. */
#ifndef CW_VAD_H
#define CW_VAD_H

#include <stddef.h>

#include "cwhisper.h"
#include "util/threadpool.h"

#define CW_VAD_WINDOW 512  /* samples per speech probability (32 ms) */
#define CW_VAD_CONTEXT 64  /* samples of the previous window fed with each one */

typedef struct cw_silero cw_silero;

/* path: silero_vad_v6.safetensors (scripts/silero_vad_convert.py), or the
 * folder holding it. A missing file is CW_ERR_IO with a message naming the
 * path and `scripts/fetch-model silero-vad`. */
cw_status cw_silero_load(const char *path, cw_silero **out);
cw_status cw_silero_load_memory(const unsigned char *data, size_t size, const char *name, cw_silero **out);
void cw_silero_free(cw_silero *m);

/* faster-whisper's SileroVADModel on samples [n] zero-padded to the next
 * multiple of 512 (always at least one sample: n / 512 + 1 windows), the
 * last 64 samples of the last window zeroed (its context quirk), each window
 * preceded by the last 64 samples of the previous one, the LSTM state carried
 * from window to window. *probs [*n_probs] malloc'ed. pool may be NULL: the
 * convolutions of different windows run on its threads. */
cw_status cw_silero_probs(const cw_silero *m, cw_threadpool *pool, const float *samples, size_t n,
                          float **probs, size_t *n_probs);

/* faster-whisper's VadOptions. */
typedef struct {
    double threshold;              /* 0.5 */
    double neg_threshold;          /* < 0 (None): max(threshold - 0.15, 0.01) */
    double min_speech_duration_ms; /* 0 */
    double max_speech_duration_s;  /* INFINITY */
    double min_silence_duration_ms;/* 2000 */
    double speech_pad_ms;          /* 400 */
} cw_vad_options;

cw_vad_options cw_vad_default_options(void);

/* A speech region, samples [start, end). */
typedef struct {
    size_t start, end;
} cw_speech_span;

/* get_speech_timestamps' loop over probs [n_probs] (from cw_silero_probs on
 * n_samples samples). *spans [*n_spans] malloc'ed (NULL when none). */
cw_status cw_vad_speech_timestamps(const float *probs, size_t n_probs, size_t n_samples, const cw_vad_options *o,
                                   cw_speech_span **spans, size_t *n_spans);

/* collect_chunks' grouping: spans [n] into consecutive groups whose summed
 * length stays within max_samples (a longer span is a group alone).
 * *group_end [*n_groups]: index one past each group's last span. */
cw_status cw_vad_group_spans(const cw_speech_span *spans, size_t n, double max_samples, size_t **group_end,
                             size_t *n_groups);

/* SpeechTimestampsMap: times on the concatenated speech timeline back to
 * the file's. */
typedef struct {
    size_t *chunk_end_sample;   /* [n]: span ends on the speech timeline */
    double *silence_before;     /* [n]: seconds of silence removed before span i */
    size_t n;
} cw_vad_timemap;

cw_status cw_vad_timemap_init(cw_vad_timemap *m, const cw_speech_span *spans, size_t n);
void cw_vad_timemap_free(cw_vad_timemap *m);
/* get_chunk_index: the span a time on the speech timeline falls in (an end
 * time exactly at a span's end stays in that span). */
size_t cw_vad_timemap_chunk(const cw_vad_timemap *m, double t, int is_end);
/* get_original_time, rounded to 2 decimals as faster-whisper does. */
double cw_vad_timemap_original(const cw_vad_timemap *m, double t, size_t chunk);

#endif
