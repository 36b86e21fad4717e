/* The streaming front end against the whole-file one, bit for bit:
 * cw_audio_stream's blocks joined == cw_audio_load; cw_mel_stream (pushed in
 * blocks of any size, then clamped) == cw_log_mel for lengths around the
 * file ends and the block edges and for several paddings; cw_mel_source
 * (in memory and spilled to the temporary file) == cw_log_mel_pool on
 * synthetic WAV files and on shared speech files (< 1 s, stereo, 8 kHz,
 * 44.1 and 48 kHz, 62 s mp3), 80 and 128 bins; reads past the end are zero;
 * a temporary directory that cannot be used and a failing write give one
 * clear line. */
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "audio/audio.h"
#include "audio/mel_source.h"
#include "test.h"

static uint32_t g_rng = 7;
static float urand(void) /* [-1, 1) */
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)((double)(g_rng >> 8) / (double)(1u << 23) - 1.0);
}

/* ------------------------------------------------------------------------ */
/* cw_audio_stream                                                           */

typedef struct {
    float *x;
    size_t n, cap, calls;
} collect;

static cw_status collect_fn(void *user, const float *s, size_t n)
{
    collect *c = user;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->x = realloc(c->x, c->cap * sizeof *c->x);
        if (!c->x) return CW_ERR_NOMEM;
    }
    memcpy(c->x + c->n, s, n * sizeof *s);
    c->n += n;
    c->calls++;
    return CW_OK;
}

static const char *speech(const char *rel)
{
    return test_path("CW_SHARED_DIR", rel);
}

static void test_audio_stream_equals_load(void)
{
    const char *rel = "speech/english-fixtures/audio/jfk.flac";
    float *x = NULL;
    size_t n = 0, total = 0;
    CHECK(cw_audio_load(speech(rel), &x, &n) == CW_OK);
    collect c = { 0 };
    CHECK(cw_audio_stream(speech(rel), collect_fn, &c, &total) == CW_OK);
    CHECK_EQ_INT(total, n);
    CHECK(c.n == n && x && c.x && memcmp(c.x, x, n * sizeof *x) == 0);
    CHECK(c.calls > 10); /* really in blocks */
    free(c.x);
    free(x);
    /* the same failures */
    const char *empty = test_write_file("empty.wav", "", 0);
    collect d = { 0 };
    CHECK_FAILS(cw_audio_stream(empty, collect_fn, &d, NULL), CW_ERR_AUDIO, "empty file");
    free(d.x);
}

/* ------------------------------------------------------------------------ */
/* cw_mel_stream == cw_log_mel                                              */

typedef struct {
    float *frames; /* [n_frames, n_mels] */
    size_t n, cap, n_mels;
    size_t next_t;
    int in_order;
} frame_sink;

static cw_status sink_fn(void *user, const float *f, size_t t0, size_t count)
{
    frame_sink *s = user;
    if (t0 != s->next_t) s->in_order = 0;
    s->next_t = t0 + count;
    if (s->n + count > s->cap) {
        s->cap = (s->n + count) * 2;
        s->frames = realloc(s->frames, s->cap * s->n_mels * sizeof *s->frames);
        if (!s->frames) return CW_ERR_NOMEM;
    }
    memcpy(s->frames + s->n * s->n_mels, f, count * s->n_mels * sizeof *f);
    s->n += count;
    return CW_OK;
}

/* Streams x [n] in pieces of `piece` samples, clamps as cw_log_mel does and
 * compares with cw_log_mel bit for bit. */
static void check_stream(const float *x, size_t n, size_t padding, int n_mels, size_t piece, cw_threadpool *pool)
{
    float *ref = NULL;
    size_t nf_ref = 0;
    CHECK(cw_log_mel_pool(pool, x, n, padding, n_mels, &ref, &nf_ref) == CW_OK);
    frame_sink s = { .n_mels = (size_t)n_mels, .in_order = 1 };
    cw_mel_stream *ms = NULL;
    CHECK(cw_mel_stream_create(pool, n_mels, padding, sink_fn, &s, &ms) == CW_OK);
    for (size_t i = 0; ms && i < n; i += piece) CHECK(cw_mel_stream_push(ms, x + i, n - i < piece ? n - i : piece) == CW_OK);
    size_t nf = 0;
    float mx = 0;
    CHECK(ms && cw_mel_stream_finish(ms, &nf, &mx) == CW_OK);
    cw_mel_stream_free(ms);
    CHECK_EQ_INT(nf, nf_ref);
    CHECK_EQ_INT(s.n, nf_ref);
    CHECK(s.in_order);
    size_t diff = 0;
    for (size_t t = 0; t < nf && t < s.n; t++)
        for (size_t m = 0; m < (size_t)n_mels; m++) {
            float v = s.frames[t * (size_t)n_mels + m];
            float fl = mx - 8.0f;
            v = v > fl ? v : fl;
            v = (v + 4.0f) / 4.0f;
            if (memcmp(&v, &ref[m * nf_ref + t], sizeof v) != 0) diff++;
        }
    CHECK_MSG(diff == 0, "n %zu padding %zu piece %zu: %zu values differ", n, padding, piece, diff);
    free(s.frames);
    free(ref);
}

static void test_stream_lengths(void)
{
    const size_t B = (size_t)CW_MEL_BLOCK_FRAMES * 160;
    /* lengths at the file-start edge cases, and where the first and second
     * blocks become ready (frame t is ready once 160 t + 200 < n) */
    const size_t lens[] = { 0, 1, 159, 160, 199, 200, 201, 202, 360, 361, 400, 401, 1000,
                            B - 160 + 200, B - 160 + 201, B - 160 + 202, B, B + 199, B + 200, B + 201,
                            2 * B - 160 + 201, 2 * B + 37 };
    const size_t pads[] = { 0, 1, 199, 200, 201, 16000, CW_N_SAMPLES };
    size_t max_n = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) max_n = lens[i] > max_n ? lens[i] : max_n;
    float *x = malloc(max_n * sizeof *x);
    for (size_t i = 0; i < max_n; i++) x[i] = 0.4f * urand() + 0.3f * (float)sin((double)i * 0.02);
    cw_threadpool *pool = cw_threadpool_create(2);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t p = 0; p < sizeof pads / sizeof pads[0]; p++) {
            if (lens[i] + pads[p] > 3 * B && pads[p] != CW_N_SAMPLES) continue; /* keep it fast */
            size_t piece = (size_t[]){ 1, 7, 160, 1024, 65536, 1u << 22 }[(i + p) % 6];
            if (piece == 1 && lens[i] > 5000) piece = 4093;
            check_stream(x, lens[i], pads[p], 80, piece, (i & 1) ? pool : NULL);
        }
    check_stream(x, B + 201, CW_N_SAMPLES, 128, 333, pool);
    cw_threadpool_free(pool);
    free(x);
}

/* ------------------------------------------------------------------------ */
/* cw_mel_source == cw_log_mel_pool                                         */

/* Every frame of src (plus some past the end) against the whole-file mel. */
static void check_source(cw_mel_source *src, const float *ref, size_t nf_ref, int n_mels, const char *what)
{
    CHECK_EQ_INT(cw_mel_source_n_frames(src), nf_ref);
    CHECK_EQ_INT(cw_mel_source_n_mels(src), n_mels);
    size_t nf = cw_mel_source_n_frames(src);
    size_t count = nf + 77; /* reads past the end are zero */
    float *out = malloc((size_t)n_mels * count * sizeof *out);
    CHECK(cw_mel_source_get(src, 0, count, out) == CW_OK);
    size_t diff = 0, nonzero = 0;
    for (size_t m = 0; m < (size_t)n_mels; m++) {
        if (memcmp(out + m * count, ref + m * nf_ref, nf_ref * sizeof *out) != 0) diff++;
        for (size_t t = nf; t < count; t++) nonzero += out[m * count + t] != 0.0f;
    }
    CHECK_MSG(diff == 0 && nonzero == 0, "%s: %zu rows differ, %zu non-zero past the end", what, diff, nonzero);
    /* windows as the long-form loop reads them: 3000 at a moving seek */
    for (size_t seek = 0; seek < nf; seek += 1234) {
        CHECK(cw_mel_source_get(src, seek, CW_N_FRAMES, out) == CW_OK);
        for (size_t m = 0; m < (size_t)n_mels; m += 13)
            for (size_t t = 0; t < CW_N_FRAMES; t += 7) {
                float want = seek + t < nf ? ref[m * nf_ref + seek + t] : 0.0f;
                if (memcmp(&out[m * CW_N_FRAMES + t], &want, sizeof want) != 0) diff++;
            }
    }
    CHECK_MSG(diff == 0, "%s: windows differ", what);
    free(out);
}

/* A file through cw_mel_source_from_audio, kept in memory and spilled, vs
 * cw_audio_load + cw_log_mel_pool. */
static void check_file(const char *path, int n_mels, cw_threadpool *pool)
{
    float *x = NULL, *ref = NULL;
    size_t n = 0, nf_ref = 0;
    cw_status st = cw_audio_load(path, &x, &n);
    CHECK_MSG(st == CW_OK, "%s: %s", path, cw_last_error());
    if (st != CW_OK) return;
    CHECK(cw_log_mel_pool(pool, x, n, CW_N_SAMPLES, n_mels, &ref, &nf_ref) == CW_OK);
    const size_t mems[] = { SIZE_MAX, 0, 4000 };
    for (size_t i = 0; i < 3; i++) {
        cw_mel_source *src = NULL;
        st = cw_mel_source_from_audio(pool, path, n_mels, mems[i], &src);
        CHECK_MSG(st == CW_OK, "%s: %s", path, cw_last_error());
        if (st != CW_OK) continue;
        CHECK_EQ_INT(cw_mel_source_on_disk(src), mems[i] < nf_ref);
        check_source(src, ref, nf_ref, n_mels, path);
        cw_mel_source_free(src);
    }
    /* and from the PCM */
    cw_mel_source *src = NULL;
    CHECK(cw_mel_source_from_pcm(pool, x, n, n_mels, 0, &src) == CW_OK);
    if (src) check_source(src, ref, nf_ref, n_mels, "pcm");
    cw_mel_source_free(src);
    printf("  %-60s %zu samples, %zu frames, %d bins: bit-identical\n", strrchr(path, '/') + 1, n, nf_ref, n_mels);
    free(ref);
    free(x);
}

static const char *write_wav(const char *name, const int16_t *s, size_t n)
{
    size_t len = 44 + 2 * n;
    unsigned char *b = calloc(1, len);
    uint32_t v;
    memcpy(b, "RIFF", 4);
    v = (uint32_t)(len - 8);
    memcpy(b + 4, &v, 4); /* little-endian host */
    memcpy(b + 8, "WAVEfmt ", 8);
    v = 16;
    memcpy(b + 16, &v, 4);
    uint16_t h[] = { 1, 1 };
    memcpy(b + 20, h, 4);
    v = 16000;
    memcpy(b + 24, &v, 4);
    v = 32000;
    memcpy(b + 28, &v, 4);
    uint16_t h2[] = { 2, 16 };
    memcpy(b + 32, h2, 4);
    memcpy(b + 36, "data", 4);
    v = (uint32_t)(2 * n);
    memcpy(b + 40, &v, 4);
    memcpy(b + 44, s, 2 * n);
    const char *p = test_write_file(name, b, len);
    free(b);
    return p;
}

/* Synthetic 16 kHz WAVs (no resampling): tiny, and lengths whose frames end
 * exactly on block edges (2 blocks ready at 160 * 5999 + 201 samples). */
static void test_synthetic_files(void)
{
    const size_t lens[] = { 80, 300, 160 * 2999 + 200, 160 * 2999 + 201, 160 * 5999 + 201, 160 * 6000 };
    size_t max_n = 160 * 6000 + 400;
    int16_t *s = malloc(max_n * sizeof *s);
    for (size_t i = 0; i < max_n; i++) s[i] = (int16_t)(12000.0f * urand() * (float)sin((double)i * 0.001));
    cw_threadpool *pool = cw_threadpool_create(2);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "synth-%zu.wav", lens[i]);
        check_file(write_wav(name, s, lens[i]), i == 3 ? 128 : 80, pool);
    }
    cw_threadpool_free(pool);
    free(s);
}

static void test_shared_files(void)
{
    static const struct { const char *rel; int n_mels; } k[] = {
        { "speech/multilingual/audio/zh-uberi-chinese.flac", 80 },                   /* 0.96 s, 48 kHz */
        { "speech/english-fixtures/audio/jfk.flac", 128 },                          /* 44.1 kHz stereo */
        { "speech/multilingual/audio/et-kgs-test_with_silence.wav", 80 },           /* 48 kHz stereo */
        { "speech/english-fixtures/audio/librispeech-dev-clean-1272-128104-0004-8k.wav", 80 }, /* 8 kHz */
        { "speech/multilingual/audio/es-mls-13697_11991_000000.opus", 80 },         /* opus 48 kHz */
        { "speech/longform/audio/bill_gates-TED-excerpt.mp3", 80 },                 /* 62 s mp3 */
    };
    cw_threadpool *pool = cw_threadpool_create(2);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) check_file(speech(k[i].rel), k[i].n_mels, pool);
    cw_threadpool_free(pool);
}

static void test_from_mel_view(void)
{
    float mel[2 * 5] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    cw_mel_source *src = NULL;
    CHECK(cw_mel_source_from_mel(mel, 2, 5, &src) == CW_OK);
    float out[2 * 4];
    CHECK(cw_mel_source_get(src, 3, 4, out) == CW_OK);
    const float want[] = { 4, 5, 0, 0, 9, 10, 0, 0 };
    CHECK(memcmp(out, want, sizeof want) == 0);
    CHECK(cw_mel_source_get(src, 99, 4, out) == CW_OK);
    CHECK(out[0] == 0 && out[7] == 0);
    cw_mel_source_free(src);
}

/* ------------------------------------------------------------------------ */
/* Temporary-file failures                                                    */

static void test_tmp_failures(void)
{
    const char *old = getenv("TMPDIR");
    char saved[4096] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    float *x = calloc(16000, sizeof *x);
    for (size_t i = 0; i < 16000; i++) x[i] = 0.1f * urand();
    cw_mel_source *src = NULL;
    setenv("TMPDIR", "/nonexistent-cwhisper-dir", 1);
    CHECK_FAILS(cw_mel_source_from_pcm(NULL, x, 16000, 80, 0, &src), CW_ERR_IO, "/nonexistent-cwhisper-dir");
    CHECK(src == NULL);
    /* in memory it needs no directory */
    CHECK(cw_mel_source_from_pcm(NULL, x, 16000, 80, SIZE_MAX, &src) == CW_OK);
    cw_mel_source_free(src);
    src = NULL;
    /* a write that fails (as on a full disk): a file size limit, SIGXFSZ ignored */
    setenv("TMPDIR", test_tmpdir(), 1);
    struct rlimit rl, small;
    CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0);
    small = rl;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    cw_status st = cw_mel_source_from_pcm(NULL, x, 16000, 80, 0, &src);
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, prev);
    CHECK_FAILS(st, CW_ERR_IO, "cannot write the temporary log-mel file");
    CHECK(src == NULL);
    if (old) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(x);
}

int main(void)
{
    RUN(test_audio_stream_equals_load);
    RUN(test_stream_lengths);
    RUN(test_from_mel_view);
    RUN(test_synthetic_files);
    RUN(test_shared_files);
    RUN(test_tmp_failures);
    return test_summary();
}
