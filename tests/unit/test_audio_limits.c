/* The limits a server or batch user sets (cw_transcribe_params.max_duration,
 * max_file_size: CW_ERR_LIMIT) and cancellation (.cancel: CW_ERR_CANCELLED):
 * a file over a limit is refused before a single sample is decoded when its
 * size or its container says so, and stopped within the limit when only the
 * decoding can tell (raw PCM on stdin); cancel stops decoding and window
 * reads; FIFOs and devices are refused without blocking, absurd sample
 * rates before the resampler is built; the public API
 * passes all of it through (with tiny.en when it is present). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio.h"
#include "audio/mel_source.h"
#include "test.h"

/* A 16-bit mono WAV of n samples at rate (a 440 Hz tone). */
static const char *make_wav(const char *name, size_t n, unsigned rate)
{
    size_t bytes = 44 + 2 * n;
    unsigned char *b = calloc(1, bytes);
    if (!b) return NULL;
    uint32_t data = (uint32_t)(2 * n), riff = (uint32_t)(36 + 2 * n), br = rate * 2;
    memcpy(b, "RIFF", 4);
    memcpy(b + 4, &riff, 4);
    memcpy(b + 8, "WAVEfmt ", 8);
    const uint32_t fmt_len = 16;
    const uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
    memcpy(b + 16, &fmt_len, 4);
    memcpy(b + 20, &pcm, 2);
    memcpy(b + 22, &ch, 2);
    memcpy(b + 24, &rate, 4);
    memcpy(b + 28, &br, 4);
    memcpy(b + 32, &align, 2);
    memcpy(b + 34, &bits, 2);
    memcpy(b + 36, "data", 4);
    memcpy(b + 40, &data, 4);
    for (size_t i = 0; i < n; i++) {
        int16_t v = (int16_t)(8000.0 * sin(2 * M_PI * 440.0 * (double)i / rate));
        memcpy(b + 44 + 2 * i, &v, 2);
    }
    const char *p = test_write_file(name, b, bytes);
    free(b);
    return p;
}

typedef struct {
    size_t samples, calls;
    size_t cancel_after; /* calls of the cancel function before it says stop; 0: never */
    size_t polls;
} counter;

static cw_status count_fn(void *user, const float *x, size_t n)
{
    (void)x;
    counter *c = user;
    c->samples += n;
    c->calls++;
    return CW_OK;
}

static int cancel_fn(void *user)
{
    counter *c = user;
    c->polls++;
    return c->cancel_after && c->polls >= c->cancel_after;
}

static void test_duration_stated(void)
{
    const char *wav = make_wav("three.wav", 48000, 16000); /* 3 s */
    counter c = { 0 };
    cw_audio_limits lim = { .max_duration = 2.0 };
    CHECK_FAILS(cw_audio_stream_limited(wav, &lim, count_fn, &c, NULL), CW_ERR_LIMIT, "three.wav: 3.0 s of audio");
    CHECK(strstr(cw_last_error(), "over the maximum duration of 2 s") != NULL);
    CHECK_EQ_INT(c.calls, 0); /* refused from the header: nothing decoded */
    lim.max_duration = 3.0;  /* exactly at the limit: accepted */
    size_t n = 0;
    CHECK(cw_audio_stream_limited(wav, &lim, count_fn, &c, &n) == CW_OK);
    CHECK_EQ_INT(n, 48000);
    CHECK_EQ_INT(c.samples, 48000);
    /* a 48 kHz file is judged by its duration, not its sample count */
    const char *hi = make_wav("hi.wav", 96000, 48000); /* 2 s */
    lim.max_duration = 2.5;
    CHECK(cw_audio_stream_limited(hi, &lim, count_fn, &c, &n) == CW_OK);
    CHECK_EQ_INT(n, 32000);
}

/* Raw PCM on stdin states nothing: the limit stops decoding once passed,
 * having handed over at most the limit's samples (memory stays bounded). */
static void test_duration_streamed(void)
{
    size_t n = 16000 * 4;
    int16_t *pcm = calloc(n, sizeof *pcm);
    CHECK(pcm != NULL);
    if (!pcm) return;
    const char *raw = test_write_file("four.raw", pcm, n * sizeof *pcm);
    free(pcm);
    CHECK(freopen(raw, "rb", stdin) != NULL);
    counter c = { 0 };
    cw_audio_limits lim = { .max_duration = 1.5 };
    CHECK_FAILS(cw_audio_stream_limited("-", &lim, count_fn, &c, NULL), CW_ERR_LIMIT, "- (stdin): more than");
    CHECK(c.samples <= 24000);
    /* max_file_size on stdin counts the bytes read */
    CHECK(freopen(raw, "rb", stdin) != NULL);
    cw_audio_limits big = { .max_file_size = 100000 };
    CHECK_FAILS(cw_audio_stream_limited("-", &big, count_fn, &c, NULL), CW_ERR_LIMIT, "over the maximum file size");
    CHECK(freopen(raw, "rb", stdin) != NULL);
    big.max_file_size = 128000;
    size_t got = 0;
    CHECK(cw_audio_stream_limited("-", &big, count_fn, &c, &got) == CW_OK);
    CHECK_EQ_INT(got, n);
}

static void test_file_size(void)
{
    const char *wav = make_wav("one.wav", 16000, 16000); /* 32044 bytes */
    counter c = { 0 };
    cw_audio_limits lim = { .max_file_size = 32043 };
    CHECK_FAILS(cw_audio_stream_limited(wav, &lim, count_fn, &c, NULL), CW_ERR_LIMIT,
                "one.wav: 32044 bytes is over the maximum file size of 32043 bytes");
    CHECK_EQ_INT(c.calls, 0);
    lim.max_file_size = 32044;
    CHECK(cw_audio_stream_limited(wav, &lim, count_fn, &c, NULL) == CW_OK);
    cw_audio_limits bad = { .max_duration = -1 };
    CHECK_FAILS(cw_audio_stream_limited(wav, &bad, count_fn, &c, NULL), CW_ERR_INVALID_ARG, "maximum duration");
}

static void test_not_regular(void)
{
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/pipe.wav", test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    counter c = { 0 };
    /* would block forever in open() if it were opened */
    CHECK_FAILS(cw_audio_stream(fifo, count_fn, &c, NULL), CW_ERR_IO, "pipe.wav: not a regular file (a FIFO)");
    CHECK_FAILS(cw_audio_stream("/dev/zero", count_fn, &c, NULL), CW_ERR_IO,
                "/dev/zero: not a regular file (a character device)");
}

/* A 400-byte Sun .au file claiming 520 MHz (found by fuzz_audio): building
 * a resampler for it took minutes; it is refused at once. */
static void test_absurd_rate(void)
{
    unsigned char au[424] = { '.', 's', 'n', 'd', 0, 0, 0, 24, 0, 0, 1, 0x90, 0, 0, 0, 1,
                              0x1f, 0, 0x40, 0, 0, 0, 0, 1 };
    for (size_t i = 24; i < sizeof au; i++) au[i] = (unsigned char)(0x80 + (i * 37) % 64);
    const char *p = test_write_file("rate.au", au, sizeof au);
    counter c = { 0 };
    CHECK_FAILS(cw_audio_stream(p, count_fn, &c, NULL), CW_ERR_UNSUPPORTED,
                "rate.au: sample rate 520110080 Hz is outside 1 Hz .. 1 MHz");
}

static void test_cancel(void)
{
    const char *wav = make_wav("long.wav", 16000 * 20, 16000);
    counter c = { .cancel_after = 3 };
    cw_audio_limits lim = { .cancel = cancel_fn, .cancel_user = &c };
    CHECK_FAILS(cw_audio_stream_limited(wav, &lim, count_fn, &c, NULL), CW_ERR_CANCELLED, "long.wav: cancelled");
    CHECK_EQ_INT(c.calls, 2); /* stopped at the third block */

    /* the window reads of a mel source */
    float *x = calloc(16000, sizeof *x), *win = malloc(80 * 3000 * sizeof *win);
    CHECK(x && win);
    cw_mel_source *src = NULL;
    if (x && win && cw_mel_source_from_pcm(NULL, x, 16000, 80, CW_MEL_MEMORY_FRAMES, &src) == CW_OK) {
        counter k = { .cancel_after = 2 };
        cw_mel_source_set_cancel(src, cancel_fn, &k);
        CHECK(cw_mel_source_get(src, 0, 3000, win) == CW_OK);
        CHECK_FAILS(cw_mel_source_get(src, 0, 3000, win), CW_ERR_CANCELLED, "cancelled");
        cw_mel_source_free(src);
    } else {
        CHECK(0);
    }
    free(x);
    free(win);
}

static int always(void *user)
{
    (void)user;
    return 1;
}

/* Through the public API, on tiny.en (skipped without the model). */
static void test_public_api(void)
{
    const char *dir = test_path("CW_MODELS_DIR", "tiny.en");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/model.bin", dir);
    struct stat st;
    if (stat(probe, &st) != 0) {
        printf("  (no tiny.en model: public API checks skipped)\n");
        return;
    }
    cw_model *m = NULL;
    cw_context *ctx = NULL;
    cw_model_params mp = cw_model_default_params();
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = 1;
    CHECK(cw_model_load(dir, &mp, &m) == CW_OK);
    CHECK(m && cw_context_create(m, &cp, &ctx) == CW_OK);
    if (!ctx) {
        cw_model_free(m);
        return;
    }
    const char *jfk = test_path("CW_SHARED_DIR", "speech/english-fixtures/audio/jfk.flac");
    cw_transcribe_params tp = cw_transcribe_default_params();
    CHECK(tp.max_duration == 0 && tp.max_file_size == 0 && tp.cancel == NULL); /* no limits by default */
    cw_result *r = NULL;
    tp.max_duration = 5;
    CHECK_FAILS(cw_transcribe_file(ctx, jfk, &tp, &r), CW_ERR_LIMIT, "jfk.flac: 11.0 s of audio is over");
    CHECK(r == NULL);
    tp.max_duration = 0;
    tp.max_file_size = 1000;
    CHECK_FAILS(cw_transcribe_file(ctx, jfk, &tp, &r), CW_ERR_LIMIT, "over the maximum file size of 1000 bytes");
    tp.max_file_size = -1;
    CHECK_FAILS(cw_transcribe_file(ctx, jfk, &tp, &r), CW_ERR_INVALID_ARG, "out of range");
    tp.max_file_size = 0;
    tp.cancel = always;
    CHECK_FAILS(cw_transcribe_file(ctx, jfk, &tp, &r), CW_ERR_CANCELLED, "jfk.flac: cancelled");
    tp.cancel = NULL;
    float silence[32000] = { 0 };
    tp.max_duration = 1.5;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 32000, &tp, &r), CW_ERR_LIMIT, "2.0 s of audio is over");
    tp.max_duration = 2.0;
    CHECK(cw_transcribe_pcm(ctx, silence, 32000, &tp, &r) == CW_OK);
    cw_result_free(r);
    CHECK_EQ_STR(cw_status_string(CW_ERR_LIMIT), "over a limit");
    CHECK_EQ_STR(cw_status_string(CW_ERR_CANCELLED), "cancelled");
    cw_context_free(ctx);
    cw_model_free(m);
}

int main(void)
{
    RUN(test_duration_stated);
    RUN(test_duration_streamed);
    RUN(test_file_size);
    RUN(test_not_regular);
    RUN(test_absurd_rate);
    RUN(test_cancel);
    RUN(test_public_api);
    return test_summary();
}
