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
