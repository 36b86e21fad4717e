/* The long-form loop's log-mel, computed once and read by windows (see
 * mel_source.h). Frames are stored FRAME-major and unclamped, as
 * cw_mel_stream emits them, so storing is an append and a 30 s window is one
 * contiguous read; get() transposes to [n_mels, count] and applies the clamp
 * with the same float operations as cw_log_mel's clamp pass. */
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio.h"
#include "audio/mel_source.h"
#include "util/error.h"

#define READ_FRAMES 256 /* frames per pread in get() */

struct cw_mel_source {
    size_t n_mels, n_frames;
    /* a borrowed clamped tensor [n_mels, n_frames] (cw_mel_source_from_mel) */
    const float *clamped;
    /* or the unclamped frames [n_frames, n_mels]: in memory ... */
    float *frames;
    size_t frames_cap; /* in frames */
    /* ... or in an unlinked temporary file */
    int fd;
    char dir[256];     /* its directory, for messages */
    float floor;       /* global max - 8 */
    float *scratch;    /* [READ_FRAMES, n_mels] */
    /* while building */
    size_t stored;     /* frames stored so far */
    size_t memory_frames;
    int (*cancel)(void *user);
    void *cancel_user;
};

size_t cw_mel_source_n_frames(const cw_mel_source *src) { return src->n_frames; }
size_t cw_mel_source_n_mels(const cw_mel_source *src) { return src->n_mels; }
int cw_mel_source_on_disk(const cw_mel_source *src) { return src->fd >= 0; }

void cw_mel_source_set_cancel(cw_mel_source *src, int (*cancel)(void *user), void *user)
{
    src->cancel = cancel;
    src->cancel_user = user;
}

void cw_mel_source_free(cw_mel_source *src)
{
    if (!src) return;
    if (src->fd >= 0) close(src->fd);
    free(src->frames);
    free(src->scratch);
    free(src);
}

static cw_mel_source *source_new(size_t n_mels)
{
    cw_mel_source *src = cw_calloc(1, sizeof *src);
    if (!src) return NULL;
    src->fd = -1;
    src->n_mels = n_mels;
    return src;
}

cw_status cw_mel_source_from_mel(const float *mel, size_t n_mels, size_t n_frames, cw_mel_source **out)
{
    *out = NULL;
    if (!mel || n_mels == 0) return cw_error(CW_ERR_INVALID_ARG, "mel source: no mel");
    cw_mel_source *src = source_new(n_mels);
    if (!src) return CW_ERR_NOMEM;
    src->clamped = mel;
    src->n_frames = n_frames;
    *out = src;
    return CW_OK;
}

/* ------------------------------------------------------------------------ */
/* Building: the stream's blocks into memory, then into a temporary file     */

static cw_status write_all(cw_mel_source *src, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(src->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            return cw_error(CW_ERR_IO, "cannot write the temporary log-mel file in %s: %s (TMPDIR chooses the directory)",
                            src->dir, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    return CW_OK;
}

/* Creates the unlinked file and moves the frames held in memory into it. */
static cw_status spill(cw_mel_source *src)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(src->dir, sizeof src->dir, "%s", dir);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/cwhisper-mel-XXXXXX", dir) >= sizeof path)
        return cw_error(CW_ERR_IO, "temporary directory name too long: %s", dir);
    src->fd = mkstemp(path);
    if (src->fd < 0)
        return cw_error(CW_ERR_IO, "cannot create a temporary log-mel file in %s: %s (TMPDIR chooses the directory)",
                        dir, strerror(errno));
    unlink(path); /* the data lives while the descriptor is open */
    cw_status st = write_all(src, src->frames, src->stored * src->n_mels * sizeof(float));
    free(src->frames);
    src->frames = NULL;
    src->frames_cap = 0;
    return st;
}

static cw_status store_block(void *user, const float *frames, size_t t0, size_t count)
{
    cw_mel_source *src = user;
    (void)t0; /* blocks come in order: t0 == stored */
    size_t row = src->n_mels * sizeof(float);
    if (src->fd < 0 && src->stored + count > src->memory_frames) {
        cw_status st = spill(src);
        if (st != CW_OK) return st;
    }
    if (src->fd >= 0) {
        cw_status st = write_all(src, frames, count * row);
        if (st != CW_OK) return st;
    } else {
        if (src->stored + count > src->frames_cap) {
            size_t cap = src->frames_cap ? src->frames_cap : CW_MEL_BLOCK_FRAMES;
            while (cap < src->stored + count) cap *= 2;
            if (cap > src->memory_frames && src->memory_frames >= src->stored + count) cap = src->memory_frames;
            float *p = cw_realloc(src->frames, cap * row);
            if (!p) return CW_ERR_NOMEM;
            src->frames = p;
            src->frames_cap = cap;
        }
        memcpy(src->frames + src->stored * src->n_mels, frames, count * row);
    }
    src->stored += count;
    return CW_OK;
}

typedef struct {
    cw_mel_stream *mel;
} feed_ctx;

static cw_status feed(void *user, const float *samples, size_t n)
{
    return cw_mel_stream_push(((feed_ctx *)user)->mel, samples, n);
}

/* Runs `path` (or samples [n] when path is NULL) through a mel stream. */
static cw_status build(cw_threadpool *pool, const char *path, const cw_audio_limits *limits, const float *samples,
                       size_t n, int n_mels, size_t memory_frames, cw_mel_source **out)
{
    *out = NULL;
    if (!cw_mel_filters(n_mels)) return cw_error(CW_ERR_INVALID_ARG, "log-mel: n_mels %d is not 80 or 128", n_mels);
    cw_mel_source *src = source_new((size_t)n_mels);
    if (!src) return CW_ERR_NOMEM;
    src->memory_frames = memory_frames;
    feed_ctx fc = { NULL };
    cw_status st = cw_mel_stream_create(pool, n_mels, CW_N_SAMPLES, store_block, src, &fc.mel);
    if (st == CW_OK) st = path ? cw_audio_stream_limited(path, limits, feed, &fc, NULL) : cw_mel_stream_push(fc.mel, samples, n);
    float max = -FLT_MAX;
    if (st == CW_OK) st = cw_mel_stream_finish(fc.mel, &src->n_frames, &max);
    cw_mel_stream_free(fc.mel);
    if (st == CW_OK) {
        src->floor = max - 8.0f;
        src->scratch = cw_malloc((size_t)READ_FRAMES * src->n_mels * sizeof(float));
        if (!src->scratch) st = CW_ERR_NOMEM;
    }
    if (st != CW_OK) {
        cw_mel_source_free(src);
        return st;
    }
    *out = src;
    return CW_OK;
}

cw_status cw_mel_source_from_audio(cw_threadpool *pool, const char *path, int n_mels, size_t memory_frames,
                                   cw_mel_source **out)
{
    *out = NULL;
    return cw_mel_source_from_audio_limited(pool, path, n_mels, memory_frames, NULL, out);
}

cw_status cw_mel_source_from_audio_limited(cw_threadpool *pool, const char *path, int n_mels, size_t memory_frames,
                                           const cw_audio_limits *limits, cw_mel_source **out)
{
    *out = NULL;
    if (!path) return cw_error(CW_ERR_INVALID_ARG, "mel source: NULL path");
    return build(pool, path, limits, NULL, 0, n_mels, memory_frames, out);
}

cw_status cw_mel_source_from_pcm(cw_threadpool *pool, const float *samples, size_t n, int n_mels,
                                 size_t memory_frames, cw_mel_source **out)
{
    *out = NULL;
    if (n && !samples) return cw_error(CW_ERR_INVALID_ARG, "log-mel: bad input");
    return build(pool, NULL, NULL, samples, n, n_mels, memory_frames, out);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

static cw_status read_frames(cw_mel_source *src, size_t t, size_t count, float *dst)
{
    size_t row = src->n_mels * sizeof(float);
    char *p = (char *)dst;
    size_t len = count * row;
    off_t off = (off_t)(t * row);
    while (len > 0) {
        ssize_t r = pread(src->fd, p, len, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return cw_error(CW_ERR_IO, "cannot read the temporary log-mel file in %s: %s", src->dir,
                            r < 0 ? strerror(errno) : "unexpected end of file");
        p += r;
        off += r;
        len -= (size_t)r;
    }
    return CW_OK;
}

cw_status cw_mel_source_get(cw_mel_source *src, size_t start, size_t count, float *out)
{
    if (src->cancel && src->cancel(src->cancel_user)) return cw_error(CW_ERR_CANCELLED, "cancelled");
    size_t n_mels = src->n_mels;
    size_t have = start < src->n_frames ? src->n_frames - start : 0;
    if (have > count) have = count;
    for (size_t m = 0; m < n_mels; m++) memset(out + m * count + have, 0, (count - have) * sizeof *out);
    if (src->clamped) {
        for (size_t m = 0; m < n_mels; m++)
            memcpy(out + m * count, src->clamped + m * src->n_frames + start, have * sizeof *out);
        return CW_OK;
    }
    for (size_t done = 0; done < have;) {
        size_t k = have - done < READ_FRAMES ? have - done : READ_FRAMES;
        const float *f = src->frames ? src->frames + (start + done) * n_mels : src->scratch;
        if (!src->frames) {
            cw_status st = read_frames(src, start + done, k, src->scratch);
            if (st != CW_OK) return st;
        }
        /* the clamp exactly as cw_log_mel's clamp pass */
        for (size_t i = 0; i < k; i++)
            for (size_t m = 0; m < n_mels; m++) {
                float x = f[i * n_mels + m];
                float v = x > src->floor ? x : src->floor;
                out[m * count + done + i] = (v + 4.0f) / 4.0f;
            }
        done += k;
    }
    return CW_OK;
}
