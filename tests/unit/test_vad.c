/* Silero VAD (src/vad/): speech probabilities within 1e-4 of onnxruntime
 * running faster-whisper's silero_vad_v6.onnx, and speech timestamps, chunk
 * grouping and time restoration equal to faster-whisper's vad.py, on 12
 * clips: stereo, 8, 22.05, 44.1 and 48 kHz files, speech with gaps, silence,
 * white noise, tones, a clip shorter than one window and one of an exact
 * number of windows. The reference values: tests/fixtures/make_vad_refs.py
 * on the clips this test writes with CW_VAD_DUMP_DIR set. Needs
 * models/silero-vad (scripts/fetch-model silero-vad) and ../shared/speech;
 * skips without them (fails under CI). Also: weight-file errors, and the
 * timestamp logic on hand-made probabilities. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "cwhisper.h"
#include "util/file.h"
#include "vad/vad.h"

#define SR 16000

/* Must match SETS in tests/fixtures/make_vad_refs.py. */
static cw_vad_options option_set(int k)
{
    cw_vad_options o = cw_vad_default_options();
    if (k == 1) o.min_silence_duration_ms = 160, o.max_speech_duration_s = 30;
    if (k == 2)
        o.threshold = 0.6, o.neg_threshold = 0.35, o.min_speech_duration_ms = 250, o.max_speech_duration_s = 3,
        o.min_silence_duration_ms = 100, o.speech_pad_ms = 30;
    if (k == 3) o.threshold = 0.3, o.min_silence_duration_ms = 500, o.speech_pad_ms = 200, o.max_speech_duration_s = 8;
    return o;
}
#define N_SETS 4

typedef struct {
    char name[64];
    float *x;
    size_t n;
} clip;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static float noise(uint32_t *s) { return (float)(lcg(s) >> 8) / 16777216.0f * 2.0f - 1.0f; }

static int load(const char *rel, float **x, size_t *n)
{
    if (cw_audio_load(test_path("CW_SHARED_DIR", rel), x, n) == CW_OK) return 0;
    printf("%s\n", cw_last_error());
    return -1;
}

/* Writes a 16-bit stereo WAV at rate sr from two channels [n]. */
static const char *write_wav(const char *name, const float *l, const float *r, size_t n, unsigned sr)
{
    size_t bytes = 44 + n * 4;
    unsigned char *b = calloc(1, bytes);
    if (!b) return NULL;
    memcpy(b, "RIFF", 4);
    uint32_t v32;
    uint16_t v16;
#define PUT32(off, val) (v32 = (uint32_t)(val), b[off] = v32 & 255, b[off + 1] = v32 >> 8 & 255, \
                         b[off + 2] = v32 >> 16 & 255, b[off + 3] = v32 >> 24)
#define PUT16(off, val) (v16 = (uint16_t)(val), b[off] = v16 & 255, b[off + 1] = v16 >> 8)
    PUT32(4, bytes - 8);
    memcpy(b + 8, "WAVEfmt ", 8);
    PUT32(16, 16);
    PUT16(20, 1);
    PUT16(22, 2);
    PUT32(24, sr);
    PUT32(28, sr * 4);
    PUT16(32, 4);
    PUT16(34, 16);
    memcpy(b + 36, "data", 4);
    PUT32(40, n * 4);
    for (size_t i = 0; i < n; i++) {
        const float *ch[2] = {l, r};
        for (int c = 0; c < 2; c++) {
            float f = ch[c][i] * 32767.0f;
            long q = lrintf(f < -32768.0f ? -32768.0f : f > 32767.0f ? 32767.0f : f);
            PUT16(44 + i * 4 + (size_t)c * 2, (uint16_t)(int16_t)q);
        }
    }
    const char *p = test_write_file(name, b, bytes);
    free(b);
    return p;
}

/* The clips (16 kHz mono, as cwhisper decodes them). Returns the count, 0
 * when the speech set is missing. */
static size_t make_clips(clip *c)
{
    static const char *files[][2] = {
        {"stereo16k", "speech/english-fixtures/audio/fasterwhisper-stereo_diarization.wav"},
        {"speech8k", "speech/english-fixtures/audio/librispeech-dev-clean-1272-128104-0004-8k.wav"},
        {"speech22k", "speech/english-fixtures/audio/ljspeech-LJ002-0020.wav"},
        {"speech44k", "speech/english-fixtures/audio/uberi-english.wav"},
        {"pauses16k", "speech/english-fixtures/audio/picovoice-diarization-test.wav"},
    };
    size_t k = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++, k++) {
        snprintf(c[k].name, sizeof c[k].name, "%s", files[i][0]);
        if (load(files[i][1], &c[k].x, &c[k].n)) return 0;
    }
    float *a, *b;
    size_t na, nb;
    if (load("speech/harvard-sentences/audio/spk1_snt1.wav", &a, &na) || load("speech/harvard-sentences/audio/spk1_snt2.wav", &b, &nb))
        return 0;
    uint32_t seed = 12345;
    { /* 48 kHz stereo: speech interpolated x3 on the left, faint noise on the right */
        size_t n48 = 3 * na;
        float *l = malloc(n48 * sizeof *l), *r = malloc(n48 * sizeof *r);
        for (size_t i = 0; i < n48; i++) {
            size_t j = i / 3;
            float f = (float)(i % 3) / 3.0f, y1 = j + 1 < na ? a[j + 1] : 0.0f;
            l[i] = a[j] + f * (y1 - a[j]);
            r[i] = 0.01f * noise(&seed);
        }
        const char *p = write_wav("stereo48k.wav", l, r, n48, 48000);
        free(l);
        free(r);
        snprintf(c[k].name, sizeof c[k].name, "stereo48k");
        if (!p || cw_audio_load(p, &c[k].x, &c[k].n)) return 0;
        k++;
    }
    { /* speech, 3 s of silence, speech, 1 s of faint noise */
        size_t n = na + 3 * SR + nb + SR;
        float *x = calloc(n, sizeof *x);
        memcpy(x, a, na * sizeof *x);
        memcpy(x + na + 3 * SR, b, nb * sizeof *x);
        for (size_t i = na + 3 * SR + nb; i < n; i++) x[i] = 0.003f * noise(&seed);
        snprintf(c[k].name, sizeof c[k].name, "gaps");
        c[k].x = x, c[k].n = n, k++;
    }
    snprintf(c[k].name, sizeof c[k].name, "silence");
    c[k].n = 4 * SR, c[k].x = calloc(c[k].n, sizeof(float)), k++;
    snprintf(c[k].name, sizeof c[k].name, "noise");
    c[k].n = 5 * SR, c[k].x = malloc(c[k].n * sizeof(float));
    for (size_t i = 0; i < c[k].n; i++) c[k].x[i] = 0.3f * noise(&seed);
    k++;
    { /* chords of harmonics with note envelopes (music-like) */
        snprintf(c[k].name, sizeof c[k].name, "tones");
        size_t n = 6 * SR;
        float *x = malloc(n * sizeof *x);
        static const double notes[] = {220.0, 277.18, 329.63, 261.63, 329.63, 392.0};
        for (size_t i = 0; i < n; i++) {
            double t = (double)i / SR, s = 0;
            int bar = (int)(t / 0.75);
            double env = exp(-3.0 * (t - bar * 0.75));
            for (int v = 0; v < 3; v++)
                for (int h = 1; h <= 4; h++) s += sin(2 * M_PI * notes[(bar % 2) * 3 + v] * h * t) / (h * h);
            x[i] = (float)(0.1 * env * s);
        }
        c[k].x = x, c[k].n = n, k++;
    }
    snprintf(c[k].name, sizeof c[k].name, "short");
    c[k].n = 300, c[k].x = malloc(300 * sizeof(float));
    memcpy(c[k].x, b + nb / 3, 300 * sizeof(float));
    k++;
    snprintf(c[k].name, sizeof c[k].name, "exact");
    c[k].n = 512 * 60 < nb ? 512 * 60 : nb / 512 * 512, c[k].x = malloc(c[k].n * sizeof(float));
    memcpy(c[k].x, b, c[k].n * sizeof(float));
    k++;
    free(a);
    free(b);
    return k;
}

static void dump(const clip *c, size_t n, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/list.txt", dir);
    FILE *lf = fopen(path, "w");
    for (size_t i = 0; lf && i < n; i++) {
        fprintf(lf, "%s\n", c[i].name);
        snprintf(path, sizeof path, "%s/%s.f32", dir, c[i].name);
        FILE *f = fopen(path, "wb");
        if (f) fwrite(c[i].x, sizeof(float), c[i].n, f), fclose(f);
    }
    if (lf) fclose(lf);
    printf("wrote %zu clips to %s\n", n, dir);
}

/* Reads the next "KEY" line's numbers into a malloc'ed array. */
static double *read_line(FILE *f, const char *key, char *name, size_t *n)
{
    static char buf[1 << 20];
    if (!fgets(buf, sizeof buf, f)) return NULL;
    size_t kl = strlen(key);
    if (strncmp(buf, key, kl) != 0 || buf[kl] != ' ') return NULL;
    char *p = buf + kl + 1;
    if (name) {
        size_t i = 0;
        while (*p && *p != ' ' && i < 63) name[i++] = *p++;
        name[i] = 0;
    }
    size_t cap = 64, k = 0;
    double *v = malloc(cap * sizeof *v);
    for (;;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p) break;
        if (k == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = x;
        p = end;
    }
    *n = k;
    return v;
}

static const char *model_path(void) { return test_path("CW_MODELS_DIR", "silero-vad/silero_vad_v6.safetensors"); }

static void test_against_onnxruntime(void)
{
    clip c[16];
    memset(c, 0, sizeof c);
    const char *dump_dir = getenv("CW_VAD_DUMP_DIR");
    int have = cw_file_exists(model_path());
    size_t n_clips = (have || dump_dir) ? make_clips(c) : 0;
    if (!have || n_clips == 0) {
        if (getenv("CI")) CHECK_MSG(0, "models/silero-vad or ../shared/speech is missing");
        else printf("skipped: no VAD model (scripts/fetch-model silero-vad) or speech set\n");
        for (size_t i = 0; i < n_clips; i++) free(c[i].x);
        return;
    }
    if (dump_dir) {
        dump(c, n_clips, dump_dir);
        for (size_t i = 0; i < n_clips; i++) free(c[i].x);
        return;
    }
    CHECK(n_clips >= 10);
    cw_silero *m = NULL;
    CHECK_EQ_INT(cw_silero_load(model_path(), &m), CW_OK);
    cw_threadpool *pool = cw_threadpool_create(2);
    FILE *f = fopen(test_path("CW_FIXTURES_DIR", "vad/silero_refs.txt"), "r");
    CHECK(f != NULL);
    double worst = 0;
    size_t n_ts = 0, n_spans = 0;
    for (size_t i = 0; m && f && i < n_clips; i++) {
        char name[64];
        size_t nh, np;
        double *h = read_line(f, "clip", name, &nh);
        double *ref = read_line(f, "probs", NULL, &np);
        CHECK(h && ref && nh == 2);
        if (!h || !ref) break;
        CHECK_EQ_STR(name, c[i].name);
        CHECK_EQ_INT(h[0], c[i].n);
        float *p = NULL;
        size_t n = 0;
        CHECK_EQ_INT(cw_silero_probs(m, i % 2 ? pool : NULL, c[i].x, c[i].n, &p, &n), CW_OK);
        CHECK_EQ_INT(n, np);
        for (size_t j = 0; j < n && j < np; j++) {
            double d = fabs(p[j] - ref[j]);
            if (d > worst) worst = d;
            if (d > 1e-4) {
                CHECK_MSG(0, "%s window %zu: %.8f vs onnxruntime %.8f", name, j, p[j], ref[j]);
                break;
            }
        }
        cw_speech_span *sp1 = NULL;
        size_t nsp1 = 0;
        for (int k = 0; k < N_SETS; k++) {
            size_t nt;
            double *t = read_line(f, "ts", NULL, &nt);
            CHECK(t && nt >= 2 && (int)t[0] == k);
            if (!t) break;
            cw_vad_options o = option_set(k);
            cw_speech_span *sp = NULL;
            size_t ns = 0;
            CHECK_EQ_INT(cw_vad_speech_timestamps(p, n, c[i].n, &o, &sp, &ns), CW_OK);
            CHECK_MSG(ns == (size_t)t[1], "%s set %d: %zu spans, faster-whisper %g", name, k, ns, t[1]);
            for (size_t s = 0; s < ns && s < (size_t)t[1]; s++)
                CHECK_MSG(sp[s].start == (size_t)t[2 + 2 * s] && sp[s].end == (size_t)t[3 + 2 * s],
                          "%s set %d span %zu: [%zu, %zu) vs [%g, %g)", name, k, s, sp[s].start, sp[s].end,
                          t[2 + 2 * s], t[3 + 2 * s]);
            n_ts++;
            n_spans += ns;
            if (k == 1) sp1 = sp, nsp1 = ns;
            else free(sp);
            free(t);
        }
        if (nsp1) { /* collect_chunks and SpeechTimestampsMap on set 1's spans */
            size_t nc, nm;
            double *ch = read_line(f, "chunks", NULL, &nc);
            double *mp = read_line(f, "map", NULL, &nm);
            CHECK(ch && mp);
            size_t *ge = NULL, ng = 0;
            CHECK_EQ_INT(cw_vad_group_spans(sp1, nsp1, 30.0 * SR, &ge, &ng), CW_OK);
            CHECK_EQ_INT(ng, ch ? ch[0] : -1);
            size_t g0 = 0, off = 0;
            for (size_t g = 0; ch && g < ng && g < (size_t)ch[0]; g++) {
                size_t len = 0;
                for (size_t s = g0; s < ge[g]; s++) len += sp1[s].end - sp1[s].start;
                CHECK_NEAR((double)off / SR, ch[1 + 2 * g], 1e-9);
                CHECK_NEAR((double)len / SR, ch[2 + 2 * g], 1e-9);
                off += len;
                g0 = ge[g];
            }
            cw_vad_timemap tm;
            CHECK_EQ_INT(cw_vad_timemap_init(&tm, sp1, nsp1), CW_OK);
            for (size_t q = 0; mp && q + 2 < nm; q += 3) {
                double t = mp[1 + q];
                int is_end = (int)mp[2 + q];
                double got = cw_vad_timemap_original(&tm, t, cw_vad_timemap_chunk(&tm, t, is_end));
                CHECK_MSG(fabs(got - mp[3 + q]) < 1e-9, "%s map %g (end %d): %g vs %g", name, t, is_end, got,
                          mp[3 + q]);
            }
            cw_vad_timemap_free(&tm);
            free(ge);
            free(ch);
            free(mp);
        }
        free(sp1);
        free(p);
        free(h);
        free(ref);
    }
    printf("%zu clips: worst |p - onnxruntime| %.3g; %zu timestamp lists (%zu spans) equal\n", n_clips, worst, n_ts,
           n_spans);
    if (f) fclose(f);
    cw_threadpool_free(pool);
    cw_silero_free(m);
    for (size_t i = 0; i < n_clips; i++) free(c[i].x);
}

/* The timestamp logic alone, on probabilities made by hand (no model). */
static void test_timestamps_synthetic(void)
{
    float p[200];
    for (int i = 0; i < 200; i++) p[i] = (i >= 20 && i < 60) || (i >= 64 && i < 100) ? 0.9f : 0.05f;
    cw_vad_options o = cw_vad_default_options();
    o.speech_pad_ms = 0;
    cw_speech_span *s = NULL;
    size_t n = 0;
    CHECK_EQ_INT(cw_vad_speech_timestamps(p, 200, 200 * 512, &o, &s, &n), CW_OK);
    /* the 4-window gap (128 ms) is under min_silence: one span */
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK(s[0].start == 20 * 512 && s[0].end == 100 * 512);
    free(s);
    o.min_silence_duration_ms = 40; /* the gap: windows 60..63 */
    CHECK_EQ_INT(cw_vad_speech_timestamps(p, 200, 200 * 512, &o, &s, &n), CW_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) CHECK(s[0].end == 60 * 512 && s[1].start == 64 * 512);
    free(s);
    /* max speech 1 s: split at the silence over 98 ms */
    o = cw_vad_default_options();
    o.speech_pad_ms = 0, o.max_speech_duration_s = 1.0;
    CHECK_EQ_INT(cw_vad_speech_timestamps(p, 200, 200 * 512, &o, &s, &n), CW_OK);
    CHECK(n >= 2);
    for (size_t i = 0; i < n; i++) CHECK(s[i].end - s[i].start <= 16000);
    free(s);
    /* nothing over the threshold: no spans */
    for (int i = 0; i < 200; i++) p[i] = 0.2f;
    CHECK_EQ_INT(cw_vad_speech_timestamps(p, 200, 200 * 512, &o, &s, &n), CW_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(s == NULL);
}

static void test_bad_weights(void)
{
    cw_silero *m = NULL;
    CHECK_FAILS(cw_silero_load("/nonexistent/silero-vad", &m), CW_ERR_IO, "scripts/fetch-model silero-vad");
    CHECK(m == NULL);
    static const char hdr[] = "{\"stft.basis\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char buf[8 + sizeof hdr - 1 + 4];
    memset(buf, 0, sizeof buf);
    buf[0] = (unsigned char)(sizeof hdr - 1);
    memcpy(buf + 8, hdr, sizeof hdr - 1);
    CHECK_FAILS(cw_silero_load_memory(buf, sizeof buf, "bad.safetensors", &m), CW_ERR_FORMAT, "stft.basis");
    CHECK_FAILS(cw_silero_load_memory(buf, 5, "trunc.safetensors", &m), CW_ERR_FORMAT, "trunc.safetensors");
    CHECK(m == NULL);
}

int main(void)
{
    RUN(test_timestamps_synthetic);
    RUN(test_bad_weights);
    RUN(test_against_onnxruntime);
    return test_summary();
}
