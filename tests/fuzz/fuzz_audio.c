/* libFuzzer target: arbitrary bytes as an audio file through the program's
 * front end: FFmpeg's probing, demuxers, decoders and resampler
 * (audio/decode.c, cw_audio_stream_limited) into the streamed log-mel
 * (cw_mel_stream, what cw_mel_source feeds). The bytes go into a memfd, named
 * by its /proc/self/fd path, so the file API runs unchanged without touching
 * disk. Bounded per run: inputs over 1 MiB are skipped, the decoded audio is
 * capped at 10 s by the max_duration limit (a few bytes can claim hours), and
 * the mel gets no 30 s of padding (the padding is 3000 frames of the same
 * code on zeros, and would make each run ~20x slower). */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audio/audio.h"

typedef struct {
    size_t frames;
} counter;

static cw_status check_block(void *user, const float *frames, size_t t0, size_t count)
{
    counter *c = user;
    if (t0 != c->frames) abort(); /* blocks come in order */
    for (size_t i = 0; i < count * 80; i++)
        if (!(frames[i] == frames[i])) abort(); /* a NaN in the features is a bug */
    c->frames += count;
    return CW_OK;
}

static cw_status feed(void *user, const float *samples, size_t n)
{
    return cw_mel_stream_push(user, samples, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    int fd = memfd_create("fuzz-audio", 0);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cw_audio_limits lim = { .max_duration = 10.0 };
    counter c = { 0 };
    cw_mel_stream *mel = NULL;
    if (cw_mel_stream_create(NULL, 80, 0, check_block, &c, &mel) != CW_OK) abort();
    size_t n = 0;
    if (cw_audio_stream_limited(path, &lim, feed, mel, &n) == CW_OK) {
        size_t frames = 0;
        float max = -FLT_MAX;
        if (cw_mel_stream_finish(mel, &frames, &max) != CW_OK || frames != n / 160 || c.frames != frames) abort();
    }
    cw_mel_stream_free(mel);
    close(fd);
    return 0;
}
