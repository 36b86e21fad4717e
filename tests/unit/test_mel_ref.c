/* cw_log_mel against openai-whisper's log_mel_spectrogram(load_audio(f)) on
 * real files of every format, rate and channel count (fixtures made by
 * tests/fixtures/make_mel_refs.py, listed in tests/fixtures/mel/index.tsv):
 * decode with cw_audio_load, compute the mel, require max |diff| <= 1e-4.
 * One case uses padding = 480000 as transcribe() does; two use 128 mels. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "audio/audio.h"
#include "util/error.h"
#include "util/file.h"
#include "test.h"

#define TOL 1e-4

typedef struct {
    uint32_t n_mels, n_frames, n_samples, n_decoded, padding;
    double lo, step;
    float *mel; /* [n_mels, n_frames] */
} mel_ref;

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static double rdf64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int load_ref(const char *path, mel_ref *r)
{
    char *data;
    size_t len;
    if (cw_file_read_all(path, 0, &data, &len) != CW_OK) return -1;
    const unsigned char *b = (const unsigned char *)data;
    int ok = len > 48 && memcmp(b, "CWMEL\0\0\1", 8) == 0;
    if (ok) {
        r->n_mels = rd32(b + 8), r->n_frames = rd32(b + 12), r->n_samples = rd32(b + 16);
        r->n_decoded = rd32(b + 20), r->padding = rd32(b + 24);
        r->lo = rdf64(b + 32), r->step = rdf64(b + 40);
        size_t count = (size_t)r->n_mels * r->n_frames;
        uint32_t *codes = malloc(count * 4 + 1);
        r->mel = malloc(count * sizeof(float) + 1);
        uLongf out_len = (uLongf)(count * 4);
        ok = codes && r->mel && uncompress((Bytef *)codes, &out_len, b + 48, (uLong)(len - 48)) == Z_OK &&
             out_len == count * 4;
        for (size_t i = 0; ok && i < count; i++)
            r->mel[i] = (float)(r->lo + r->step * rd32((const unsigned char *)&codes[i]));
        free(codes);
    }
    free(data);
    return ok ? 0 : -1;
}

static int g_cases;
static double g_worst;

static void check_case(const char *name, const char *rel, const char *file, int n_threads)
{
    char fx[512];
    snprintf(fx, sizeof fx, "mel/%s", file);
    mel_ref r = { 0 };
    if (load_ref(test_path("CW_FIXTURES_DIR", fx), &r) != 0) {
        CHECK_MSG(0, "%s: cannot read the fixture", file);
        free(r.mel);
        return;
    }
    char sp[600];
    snprintf(sp, sizeof sp, "speech/%s", rel);
    float *x = NULL, *mel = NULL;
    size_t n = 0, n_frames = 0;
    cw_status st = cw_audio_load(test_path("CW_SHARED_DIR", sp), &x, &n);
    CHECK_MSG(st == CW_OK, "%s", cw_last_error());
    CHECK_EQ_INT(n, r.n_decoded);
    if (st == CW_OK && n >= r.n_samples) {
        st = cw_log_mel(x, r.n_samples, r.padding, (int)r.n_mels, n_threads, &mel, &n_frames);
        CHECK_MSG(st == CW_OK, "%s", cw_last_error());
        CHECK_EQ_INT(n_frames, r.n_frames);
    }
    if (mel && n_frames == r.n_frames) {
        double worst = 0.0;
        size_t at = 0;
        for (size_t i = 0; i < (size_t)r.n_mels * n_frames; i++) {
            double d = fabs((double)mel[i] - (double)r.mel[i]);
            if (d > worst) worst = d, at = i;
        }
        printf("  %-20s %-3u mels %5zu frames %u thr: max |diff| %.3g (mel %zu, frame %zu)\n", name, r.n_mels,
               n_frames, n_threads, worst, at / n_frames, at % n_frames);
        CHECK_MSG(worst <= TOL, "%s: max |diff| %g > %g", name, worst, TOL);
        g_worst = worst > g_worst ? worst : g_worst;
        g_cases++;
    }
    free(mel);
    free(x);
    free(r.mel);
}

static void test_against_reference(void)
{
    char *index;
    size_t len;
    cw_status st = cw_file_read_all(test_path("CW_FIXTURES_DIR", "mel/index.tsv"), 0, &index, &len);
    CHECK_MSG(st == CW_OK, "%s", cw_last_error());
    if (st != CW_OK) return;
    int k = 0;
    for (char *line = strtok(index, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char name[128], rel[512], file[128];
        if (sscanf(line, "%127[^\t]\t%511[^\t]\t%127s", name, rel, file) != 3) continue;
        check_case(name, rel, file, 1 + (k++ % 2)); /* alternate 1 and 2 threads */
    }
    free(index);
    CHECK(g_cases >= 10);
    printf("  %d cases, worst max |diff| %.3g\n", g_cases, g_worst);
}

int main(void)
{
    RUN(test_against_reference);
    return test_summary();
}
