/* Where the long-form loop reads its log-mel from: a whole input's mel
 * (with the 30 s of zero samples appended, clamped at global max - 8 and
 * scaled (x + 4) / 4 exactly as cw_log_mel) without holding it in memory.
 *
 * The one call a reader needs is
 *   cw_mel_source_get(src, start, count, out)
 * which fills out [n_mels, count] (row-major: mel bin m's `count` frames are
 * contiguous) with frames start .. start + count - 1, and 0.0 for frames at
 * or past cw_mel_source_n_frames(src). The values are bit-identical to
 * cw_log_mel_pool(samples, n, CW_N_SAMPLES, ...)[m * n_frames + t].
 * n_frames = content frames + 3000 (the padding), as that tensor's.
 *
 * Sources made from audio (a file or PCM) compute the mel once, block by
 * block (cw_mel_stream), keeping the unclamped frames in memory while they
 * are at most `memory_frames` (CW_MEL_MEMORY_FRAMES: 5 min), past that in an
 * unlinked temporary file in $TMPDIR (default /tmp) read back with pread, so
 * memory does not grow with the recording (about 10 h of 80-bin mel is 1.15
 * GB of disk). The global maximum is tracked on the way; get() clamps and
 * scales the frames it returns. A file is decoded once (stdin "-" works).
 *
 * A source is not thread-safe (get() uses a scratch buffer). */
#ifndef CW_AUDIO_MEL_SOURCE_H
#define CW_AUDIO_MEL_SOURCE_H

#include <stddef.h>
#include "cwhisper.h"
#include "audio/audio.h"
#include "util/threadpool.h"

typedef struct cw_mel_source cw_mel_source;

#define CW_MEL_MEMORY_FRAMES 30000 /* frames kept in memory before spilling to a file */

/* Decodes path (cw_audio_stream) and computes its log-mel. */
cw_status cw_mel_source_from_audio(cw_threadpool *pool, const char *path, int n_mels, size_t memory_frames,
                                   cw_mel_source **out);

/* cw_mel_source_from_audio within limits (audio.h; NULL: none). */
cw_status cw_mel_source_from_audio_limited(cw_threadpool *pool, const char *path, int n_mels, size_t memory_frames,
                                           const cw_audio_limits *limits, cw_mel_source **out);

/* Makes cw_mel_source_get poll cancel(user) first and fail with
 * CW_ERR_CANCELLED when it returns non-zero: every window the long-form loops
 * read goes through get, so a caller's stop request takes effect after the
 * current window. NULL: never. */
void cw_mel_source_set_cancel(cw_mel_source *src, int (*cancel)(void *user), void *user);

/* The log-mel of samples [n] (the caller keeps them; they are not needed
 * after the call). n may be 0 (3000 padding frames). */
cw_status cw_mel_source_from_pcm(cw_threadpool *pool, const float *samples, size_t n, int n_mels,
                                 size_t memory_frames, cw_mel_source **out);

/* A view of an already clamped tensor mel [n_mels, n_frames] (borrowed: it
 * must outlive the source). */
cw_status cw_mel_source_from_mel(const float *mel, size_t n_mels, size_t n_frames, cw_mel_source **out);

size_t cw_mel_source_n_frames(const cw_mel_source *src);
size_t cw_mel_source_n_mels(const cw_mel_source *src);
/* 1 when the frames live in a temporary file (for the tests). */
int cw_mel_source_on_disk(const cw_mel_source *src);

/* out [n_mels, count]: frames start .. start + count - 1, zero past the end. */
cw_status cw_mel_source_get(cw_mel_source *src, size_t start, size_t count, float *out);

void cw_mel_source_free(cw_mel_source *src);

#endif
