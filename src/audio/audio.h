/* The audio front end: decoding any container/codec to mono float32 PCM at
 * 16 kHz (FFmpeg's libraries), and the log-mel spectrogram exactly as
 * openai-whisper's log_mel_spectrogram computes it. */
#ifndef CW_AUDIO_H
#define CW_AUDIO_H

#include <stddef.h>
#include "cwhisper.h"

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
 * *mel is malloc'ed. */
cw_status cw_log_mel(const float *samples, size_t n, size_t padding, int n_mels, int n_threads,
                     float **mel, size_t *n_frames);

/* The reference filter bank [n_mels, 201] (librosa slaney, from openai-whisper's
 * mel_filters.npz), or NULL for an unsupported n_mels. */
const float *cw_mel_filters(int n_mels);

#endif
