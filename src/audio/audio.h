/* The audio front end: decoding any container/codec to mono float32 PCM at
 * 16 kHz (FFmpeg's libraries), and the log-mel spectrogram exactly as
 * openai-whisper's log_mel_spectrogram computes it. */
#ifndef CW_AUDIO_H
#define CW_AUDIO_H

#include <stddef.h>
#include "cwhisper.h"
#include "util/threadpool.h"

#define CW_SAMPLE_RATE 16000
#define CW_N_FFT 400
#define CW_HOP_LENGTH 160
#define CW_CHUNK_SECONDS 30
#define CW_N_SAMPLES 480000 /* 30 s */
#define CW_N_FRAMES 3000    /* frames in 30 s */

/* cw_audio_load (public, cwhisper.h) decodes a file. */

/* Receives decoded samples in order: samples [n], n > 0, mono float32 at
 * 16 kHz. Returning anything but CW_OK stops decoding; cw_audio_stream then
 * returns that status. */
typedef cw_status (*cw_audio_block_fn)(void *user, const float *samples, size_t n);

/* cw_audio_load without the whole-file buffer: decodes path ("-": raw s16le
 * on stdin) through the same FFmpeg pipeline and hands the samples to fn in
 * blocks as they come (one decoded frame, or up to 32768 samples from
 * stdin). The blocks joined are bit-identical to cw_audio_load's output, and
 * it fails the same way (including "no audio samples" when nothing came, so
 * fn may already have seen samples of a file that fails later).
 * *n_samples (may be NULL): the total on success. */
cw_status cw_audio_stream(const char *path, cw_audio_block_fn fn, void *user, size_t *n_samples);

/* Limits on what cw_audio_stream_limited decodes (zeroed: none), as
 * cw_transcribe_params documents them: max_file_size refuses a larger file
 * before opening it (stdin: once more bytes came); max_duration refuses a
 * file whose container states a longer duration before decoding, and stops
 * one that does not (or lies) once the samples pass it; both CW_ERR_LIMIT.
 * cancel is polled per decoded block: non-zero stops with CW_ERR_CANCELLED. */
typedef struct {
    double max_duration;      /* seconds; <= 0: none */
    long long max_file_size;  /* bytes; <= 0: none */
    int (*cancel)(void *user);
    void *cancel_user;
} cw_audio_limits;

/* cw_audio_stream within limits (NULL: none). */
cw_status cw_audio_stream_limited(const char *path, const cw_audio_limits *limits, cw_audio_block_fn fn,
                                  void *user, size_t *n_samples);
/* cw_audio_load within limits (NULL: none): the VAD modes need the whole signal. */
cw_status cw_audio_load_limited(const char *path, const cw_audio_limits *limits, float **samples, size_t *n_samples);

/* Log-mel of samples[0..n) followed by `padding` zero samples.
 * Output: mel [n_mels, n_frames] row-major, n_frames = (n + padding) / 160
 * (the reference drops the last STFT frame). The max-8 clamp and (x+4)/4
 * scaling are applied over the whole output, as the reference does.
 * n_mels is 80 or 128. n_threads <= 1 runs on the calling thread.
 * Very short input: torch.stft refuses n + padding <= 200 (reflect padding
 * needs more samples than the pad); we zero-extend such a signal to 201
 * samples before reflecting, so e.g. 0.01 s gives its 1 frame, and fewer than
 * 160 samples give 0 frames (CW_OK, *mel allocated but empty).
 * *mel is malloc'ed. */
cw_status cw_log_mel(const float *samples, size_t n, size_t padding, int n_mels, int n_threads,
                     float **mel, size_t *n_frames);

/* cw_log_mel on a caller-owned pool (NULL: the calling thread), so a context
 * that already holds a pool does not start threads per call. */
cw_status cw_log_mel_pool(cw_threadpool *pool, const float *samples, size_t n, size_t padding, int n_mels,
                          float **mel, size_t *n_frames);

/* Block-wise log-mel over a stream of samples, bit-identical to cw_log_mel
 * frame for frame but unclamped: the caller applies the global clamp
 * (max - 8, then (x + 4) / 4, in float, as cw_log_mel) once it has the
 * maximum, which is known only at the end. Memory: about two blocks of
 * samples and one block of frames, whatever the length.
 *   cw_mel_stream_create: n_mels 80 or 128; `padding` zero samples follow the
 *     stream (as cw_log_mel's); pool may be NULL; emit receives blocks of
 *     frames in order: frames [count, n_mels] FRAME-major (frame t's n_mels
 *     values contiguous), the first being frame t0; the pointer is valid
 *     during the call only. A non-OK return from emit is returned by the
 *     push or finish that called it.
 *   cw_mel_stream_push: appends samples [n]; emits every full block of
 *     frames whose samples (reflect padding included) are all known.
 *   cw_mel_stream_finish: the end of the stream; emits the remaining frames
 *     (those touching the end, then the padding). *n_frames = (total +
 *     padding) / 160, as cw_log_mel; *max = the maximum log10 value over all
 *     frames (-FLT_MAX when there are none). */
typedef struct cw_mel_stream cw_mel_stream;
typedef cw_status (*cw_mel_block_fn)(void *user, const float *frames, size_t t0, size_t count);
#define CW_MEL_BLOCK_FRAMES 3000 /* frames per emitted block (the last may be shorter) */
cw_status cw_mel_stream_create(cw_threadpool *pool, int n_mels, size_t padding, cw_mel_block_fn emit, void *user,
                               cw_mel_stream **out);
cw_status cw_mel_stream_push(cw_mel_stream *s, const float *samples, size_t n);
cw_status cw_mel_stream_finish(cw_mel_stream *s, size_t *n_frames, float *max);
void cw_mel_stream_free(cw_mel_stream *s);

/* Internals exposed for the tests. */
/* w [len]: torch.hann_window(len), i.e. periodic: 0.5 - 0.5 cos(2 pi i / len). */
void cw_hann_window(size_t len, double *w);
/* frame [400]: the un-windowed samples of STFT frame t of samples[0..n) padded
 * with zeros to L (>= n) and reflect-padded by 200 on each side. For L <= 200
 * (where torch.stft refuses) the signal is first zero-extended to 201 samples. */
void cw_stft_frame(const float *x, size_t n, size_t L, size_t t, double *frame);

/* The reference filter bank [n_mels, 201] (librosa slaney, from openai-whisper's
 * mel_filters.npz), or NULL for an unsupported n_mels. */
const float *cw_mel_filters(int n_mels);

#endif
