/* cw_audio_load: sample-for-sample agreement with the reference command
 * `ffmpeg -nostdin -threads 0 -i F -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -`
 * on real files of every format/rate/channel count in ../shared/speech (and
 * on m4a/mp4/mkv/webm made from them with the ffmpeg program), raw PCM on
 * stdin, and one clear one-line error per kind of bad input.
 * CW_AUDIO_SWEEP=1 compares every file under ../shared/speech instead. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio/audio.h"
#include "util/file.h"
#include "test.h"

static int have_ffmpeg(void) { return system("ffmpeg -version >/dev/null 2>&1") == 0; }

/* The reference decode: int16 samples from the ffmpeg program. */
static int16_t *ffmpeg_decode(const char *path, size_t *n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -threads 0 -i '%s' -f s16le -ac 1 -acodec pcm_s16le -ar 16000 - 2>/dev/null", path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    int16_t *s = malloc(cap * sizeof *s);
    size_t got;
    while (s && (got = fread(s + len, sizeof *s, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            int16_t *t = realloc(s, (cap *= 2) * sizeof *s);
            if (!t) free(s);
            s = t;
        }
    }
    pclose(f);
    *n = len;
    return s;
}

static int g_identical, g_compared;

/* Returns 1 if bit-identical; prints the comparison. */
static int compare_with_ffmpeg(const char *path)
{
    size_t nref = 0, n = 0;
    int16_t *ref = ffmpeg_decode(path, &nref);
    float *x = NULL;
    cw_status st = cw_audio_load(path, &x, &n);
    CHECK_MSG(st == CW_OK, "%s: %s", path, cw_last_error());
    CHECK_MSG(ref != NULL, "%s: ffmpeg failed", path);
    int same = 0;
    if (st == CW_OK && ref) {
        size_t diff = 0, first = (size_t)-1;
        size_t m = n < nref ? n : nref;
        for (size_t i = 0; i < m; i++) {
            if (x[i] != (float)ref[i] / 32768.0f) {
                diff++;
                if (first == (size_t)-1) first = i;
            }
        }
        same = n == nref && diff == 0;
        printf("  %-70s %8zu samples, ffmpeg %8zu, %zu differ%s\n", cw_path_basename(path), n, nref, diff,
               same ? "  [bit-identical]" : "");
        if (!same) printf("    first difference at %zu\n", first);
        CHECK_MSG(same, "%s differs from the ffmpeg program", path);
    }
    g_compared++;
    g_identical += same;
    free(ref);
    free(x);
    return same;
}

/* One file of each format, sample rate and channel count in ../shared/speech. */
static const char *const k_files[] = {
    "english-fixtures/audio/jfk.flac",                                      /* flac 44.1 kHz stereo */
    "english-fixtures/audio/librispeech-dev-clean-1272-128104-0004-8k.wav", /* wav 8 kHz */
    "english-fixtures/audio/ljspeech-LJ002-0020.wav",                       /* wav 22.05 kHz */
    "english-fixtures/audio/fasterwhisper-stereo_diarization.wav",          /* wav 16 kHz stereo */
    "english-fixtures/audio/uberi-english.wav",                             /* wav 44.1 kHz */
    "librispeech-test-other-100/audio/1688-142285-0000.flac",               /* flac 16 kHz */
    "librivox-readings/audio/sonnet001-en.mp3",                             /* mp3 44.1 kHz */
    "multilingual/audio/ja-commonvoice-24511055.mp3",                       /* mp3 32 kHz */
    "multilingual/audio/es-mls-13697_11991_000000.opus",                    /* opus 48 kHz */
    "multilingual/audio/et-kgs-test_2lauset.ogg",                           /* vorbis 48 kHz */
    "multilingual/audio/fr-uberi-french.aiff",                              /* aiff s16be 44.1 kHz */
    "multilingual/audio/zh-uberi-chinese.flac",                             /* flac 48 kHz */
    "multilingual/audio/et-kgs-test_with_silence.wav",                      /* wav 48 kHz stereo */
    "multilingual/audio/ar-arabic-speech-corpus-ARA_NORM_0001.wav",         /* wav 48 kHz */
};

static const char *speech(const char *rel)
{
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/speech/%s", getenv("CW_SHARED_DIR") ? getenv("CW_SHARED_DIR") : "../shared", rel);
    return p;
}

static void test_agreement_with_ffmpeg(void)
{
    if (!have_ffmpeg()) {
        printf("  (ffmpeg program not found: skipped)\n");
        return;
    }
    for (size_t i = 0; i < sizeof k_files / sizeof k_files[0]; i++) compare_with_ffmpeg(speech(k_files[i]));
}

/* Containers the shared set lacks, made with the ffmpeg program from jfk.flac:
 * AAC in m4a, the audio track of mp4 (with H.264 video), mkv (vorbis) and
 * webm (opus + VP8). Skipped where an encoder is missing. */
static void test_containers_made_by_ffmpeg(void)
{
    if (!have_ffmpeg()) return;
    static const struct { const char *name, *args; } k[] = {
        { "jfk.m4a", "-c:a aac -b:a 96k" },
        { "jfk.mp4", "-f lavfi -i color=c=black:s=64x64:r=10 -shortest -c:v libx264 -c:a aac -map 1:v -map 0:a" },
        { "jfk.mkv", "-c:a libvorbis" },
        { "jfk.webm", "-f lavfi -i color=c=black:s=64x64:r=10 -shortest -c:v libvpx -c:a libopus -map 1:v -map 0:a" },
        { "jfk-s24-96k-5ch.wav", "-ar 96000 -ac 5 -c:a pcm_s24le" },
        /* two audio tracks, mono first, neither marked default: the program takes the
         * one with more channels (the stereo jfk, 64000 samples) */
        { "two-tracks.mkv", "-t 4 -i '%s' -map 1:a -map 0:a -c:a flac -default_mode passthrough -disposition:a 0" },
    };
    char src[4096], lj[4096]; /* copies: speech() rotates 4 buffers */
    snprintf(src, sizeof src, "%s", speech("english-fixtures/audio/jfk.flac"));
    snprintf(lj, sizeof lj, "%s", speech("english-fixtures/audio/ljspeech-LJ002-0020.wav"));
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char out[4096], cmd[16384];
        snprintf(out, sizeof out, "%s/%s", test_tmpdir(), k[i].name);
        char args[4096];
        snprintf(args, sizeof args, k[i].args, lj);
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -t 4 -i '%s' %s '%s' >/dev/null 2>&1", src, args, out);
        if (system(cmd) != 0) {
            printf("  (could not make %s: skipped)\n", k[i].name);
            continue;
        }
        compare_with_ffmpeg(out);
    }
}

/* CW_AUDIO_SWEEP=1: every audio file under ../shared/speech. */
static void sweep_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0) continue;
        const char *ext = strrchr(e->d_name, '.');
        if (S_ISDIR(sb.st_mode)) sweep_dir(p);
        else if (ext && strlen(ext) < 8) {
            char key[10];
            snprintf(key, sizeof key, "%s.", ext); /* whole extension: ".fla" must not match */
            if (strstr(".wav.flac.mp3.ogg.opus.aiff.m4a.mp4.mkv.webm.", key)) compare_with_ffmpeg(p);
        }
    }
    closedir(d);
}

static void test_sweep(void)
{
    if (!getenv("CW_AUDIO_SWEEP") || !have_ffmpeg()) return;
    sweep_dir(speech(""));
}

static void expect_fail(const char *path, cw_status status, const char *needle)
{
    float *x = (float *)1;
    size_t n = 7;
    CHECK_FAILS(cw_audio_load(path, &x, &n), status, needle);
    CHECK(x == NULL && n == 0);
    CHECK_MSG(strstr(cw_last_error(), cw_path_basename(path)) != NULL, "message lacks the file name: %s",
              cw_last_error());
    printf("  %s\n", cw_last_error());
}

static void test_missing_file(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/no-such-file.wav", test_tmpdir());
    expect_fail(p, CW_ERR_IO, "No such file");
}

static void test_directory(void) { expect_fail(test_tmpdir(), CW_ERR_IO, "is a directory"); }

static void test_empty_file(void) { expect_fail(test_write_file("empty.wav", "", 0), CW_ERR_AUDIO, "empty file"); }

static void random_bytes(unsigned char *b, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        b[i] = (unsigned char)(s >> 24);
    }
}

static void test_random_bytes(void)
{
    static unsigned char b[20000];
    random_bytes(b, sizeof b);
    expect_fail(test_write_file("noise.wav", b, sizeof b), CW_ERR_AUDIO, "noise.wav");
    expect_fail(test_write_file("noise.mp3", b, sizeof b), CW_ERR_AUDIO, "noise.mp3");
}

/* A canonical 44-byte WAV header for s16 mono 16 kHz with data_len bytes. */
static void wav_header(unsigned char *h, uint32_t data_len)
{
    memcpy(h, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\0\0\0", 44);
    uint32_t riff = 36 + data_len;
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (unsigned char)(riff >> (8 * i));
        h[40 + i] = (unsigned char)(data_len >> (8 * i));
    }
}

static void test_zero_samples(void)
{
    unsigned char h[44];
    wav_header(h, 0);
    expect_fail(test_write_file("zero.wav", h, sizeof h), CW_ERR_AUDIO, "no audio samples");
}

static void test_no_audio_stream(void)
{
    const char *srt = "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,500 --> 00:00:02,000\nworld\n";
    expect_fail(test_write_file("subtitles.srt", srt, strlen(srt)), CW_ERR_AUDIO, "no audio stream");
}

/* A flac cut in the middle: like the ffmpeg program, we keep what decodes. A
 * flac cut inside its header has no decodable audio and must fail. */
static void test_truncated_flac(void)
{
    FILE *f = fopen(speech("english-fixtures/audio/librispeech-dev-clean-1272-128104-0000.flac"), "rb");
    CHECK(f != NULL);
    if (!f) return;
    static unsigned char b[200000];
    size_t len = fread(b, 1, sizeof b, f);
    fclose(f);
    CHECK(len > 60000);
    const char *half = test_write_file("half.flac", b, len / 2);
    float *x = NULL;
    size_t n = 0;
    CHECK_MSG(cw_audio_load(half, &x, &n) == CW_OK, "%s", cw_last_error());
    CHECK(n > 16000);
    free(x);
    if (have_ffmpeg()) compare_with_ffmpeg(half);
    expect_fail(test_write_file("header-only.flac", b, 30), CW_ERR_AUDIO, "header-only.flac");
}

/* "-" reads raw s16le from stdin: a pipe dup2'ed onto fd 0. */
static void test_stdin(void)
{
    enum { N = 40001 };
    static unsigned char bytes[2 * N + 1];
    for (size_t i = 0; i < N; i++) {
        int16_t v = (int16_t)((int)(i * 7919 % 65536) - 32768);
        bytes[2 * i] = (unsigned char)((uint16_t)v & 0xff);
        bytes[2 * i + 1] = (unsigned char)((uint16_t)v >> 8);
    }
    bytes[2 * N] = 0x55; /* a stray odd byte at the end is ignored */
    const char *raw = test_write_file("pcm.raw", bytes, sizeof bytes);
    int saved = dup(0);
    CHECK(freopen(raw, "rb", stdin) != NULL);
    float *x = NULL;
    size_t n = 0;
    cw_status st = cw_audio_load("-", &x, &n);
    CHECK_MSG(st == CW_OK, "%s", cw_last_error());
    CHECK_EQ_INT(n, N);
    for (size_t i = 0; st == CW_OK && i < N; i++) {
        int16_t v = (int16_t)((int)(i * 7919 % 65536) - 32768);
        if (x[i] != (float)v / 32768.0f) {
            CHECK_MSG(0, "stdin sample %zu", i);
            break;
        }
    }
    free(x);
    /* an empty stdin */
    const char *none = test_write_file("none.raw", "", 0);
    CHECK(freopen(none, "rb", stdin) != NULL);
    CHECK_FAILS(cw_audio_load("-", &x, &n), CW_ERR_AUDIO, "no audio samples");
    dup2(saved, 0);
    close(saved);
}

int main(void)
{
    RUN(test_agreement_with_ffmpeg);
    RUN(test_containers_made_by_ffmpeg);
    RUN(test_missing_file);
    RUN(test_directory);
    RUN(test_empty_file);
    RUN(test_random_bytes);
    RUN(test_zero_samples);
    RUN(test_no_audio_stream);
    RUN(test_truncated_flac);
    RUN(test_stdin);
    RUN(test_sweep);
    printf("decode agreement: %d of %d files bit-identical with the ffmpeg program\n", g_identical, g_compared);
    return test_summary();
}
