/* `cwhisper transcribe [options] FILE...`: loads the model once, transcribes
 * each file and writes its outputs (atomically) or prints them. Options follow
 * openai-whisper's command line where they overlap; the decoding defaults are
 * its Python API's transcribe() (greedy), the project's reference. */
#include "cli.h"
#include "cwhisper.h"

#include <errno.h>
#include <limits.h>
#include <math.h>

#ifndef CW_SOURCE_DIR
#define CW_SOURCE_DIR "."
#endif
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *model;
    int n_threads;
    const char *output_format; /* txt srt vtt json tsv all */
    const char *output_dir;
    int verbose;
    int int8_attention;
    int print_timings; /* one "cwhisper: timings: ..." line per phase on stderr */
    int dtype;         /* cw_compute_dtype */
    const char *device_name; /* --device */
    cw_device device;
    int device_index;
    int skip_existing; /* a file whose outputs all exist is not redone */
    cw_transcribe_params tp;
    char vad_model[4096]; /* default VAD model path (models folder) */
    cw_output_info writer;  /* srt/vtt word options (--highlight-words, --max-line-*) */
    double *clips;          /* --clip-timestamps, parsed (tp.clip_timestamps points here) */
} options;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: cwhisper transcribe [options] FILE...\n"
        "  FILE: any audio or video file FFmpeg reads; '-' reads s16le 16 kHz mono PCM from stdin\n\n"
        "  --model NAME|DIR         tiny.en (default), base, or a model directory\n"
        "  --threads N              threads (default: all CPUs)\n"
        "  --dtype fp32|fp16|bf16|int8  weight/compute type (default fp32: exact;\n"
        "                           bf16/int8 also round/quantize activations, and detect the\n"
        "                           language on the first window as decoded: faster, not exact)\n"
        "  --int8-attention         with --dtype int8|bf16: the encoder's attention in int8 too\n"
        "                           (AVX512-VNNI or AVX2-only CPUs; elsewhere no change):\n"
        "                           faster, judged by WER\n"
        "  --device cpu|cuda|cuda:N where to compute (default cpu; cuda: an NVIDIA GPU, cc >= 8.0)\n"
        "  --language auto|CODE     spoken language (default: detect; English for .en models)\n"
        "  --task transcribe|translate\n"
        "  --temperature T          first temperature, in [0, 1] (default 0)\n"
        "  --temperature-increment T  fallback step (default 0.2)\n"
        "  --no-fallback            decode once, without temperature fallback\n"
        "  --beam-size N            beam search with N beams (default: greedy)\n"
        "  --patience P             beam search patience (default 1.0)\n"
        "  --best-of N              samples per temperature above 0 (default 1)\n"
        "  --compression-ratio-threshold X  (default 2.4)\n"
        "  --logprob-threshold X    (default -1.0)\n"
        "  --no-speech-threshold X  (default 0.6)\n"
        "  --initial-prompt TEXT    text to condition the first window on\n"
        "  --carry-initial-prompt [true|false]  start every window's prompt with the initial prompt\n"
        "  --clip-timestamps S,E,...  transcribe only these stretches (seconds start,end,...; the\n"
        "                           last end defaults to the end of the file; sequential, no --vad)\n"
        "  --no-condition-on-previous-text\n"
        "  --seed N                 seed for sampling at temperatures above 0 (default 0)\n"
        "  --long-form sequential|chunked  openai-whisper's seek loop (default), or overlapping\n"
        "                           chunks decoded in batches and merged (HF pipeline, whisper-jax)\n"
        "  --batch-size N           chunked: chunks decoded together, 1..64 (default 1);\n"
        "                           sequential with several FILEs: files decoded in lockstep\n"
        "                           (each file's output exactly as alone)\n"
        "  --chunk-length S         chunked: seconds per chunk, (0, 30] (default 30)\n"
        "  --stride-length S        chunked: overlap seconds on each side (default chunk / 6)\n"
        "  --long-form vad-batched  Silero VAD speech merged into <= 30 s chunks decoded in batches\n"
        "                           (faster-whisper's BatchedInferencePipeline), with timestamp tokens\n"
        "                           (chunks ended early decoded again from their last timestamp);\n"
        "                           with --without-timestamps text only, one segment per chunk (the\n"
        "                           pipeline's default; --vad-batched-timestamps: the default, accepted)\n"
        "  --vad                    sequential/chunked: skip what Silero VAD finds silent, times mapped back\n"
        "  --vad-threshold P        speech probability threshold (default 0.5)\n"
        "  --vad-min-speech-ms MS   drop shorter speech (default 0)\n"
        "  --vad-min-silence-ms MS  silence that ends speech (default 2000; vad-batched 160)\n"
        "  --vad-speech-pad-ms MS   padding around speech (default 400)\n"
        "  --vad-max-speech-s S     split longer speech (default none; vad-batched 30)\n"
        "  --vad-model PATH         silero_vad_v6.safetensors (default models/silero-vad)\n"
        "  --without-timestamps     decode text only (one segment per window; vad-batched: per chunk)\n"
        "  --highlight-words [true|false]  srt/vtt: underline each word as it is spoken\n"
        "  --max-line-width N       srt/vtt: characters in a line before a line break\n"
        "  --max-line-count N       srt/vtt: lines in a cue (with --max-line-width)\n"
        "  --max-words-per-line N   srt/vtt: words in a cue\n"
        "                           (these four need --word-timestamps, as in openai-whisper)\n"
        "  --word-timestamps [true|false]  word-level times in each segment (sequential, also with --vad;\n"
        "                           json: \"words\"), as openai-whisper's\n"
        "  --prepend-punctuations S merged into the next word (default \"'“¿([{-)\n"
        "  --append-punctuations S  merged into the previous word (default \"'.。,，!！?？:：”)]}、)\n"
        "  --hallucination-silence-threshold S  with word timestamps: skip silences longer than S\n"
        "                           seconds around a possible hallucination\n"
        "  --output-format txt|srt|vtt|json|tsv|all   (default txt)\n"
        "  --output-dir DIR         write FILE's outputs there; without it, print to stdout\n"
        "  --verbose                print the kernels in use, and segments as they are found\n"
        "  --print-timings          print the model load and each file's wall time on stderr\n"
        "  --skip-existing          with --output-dir: skip a file whose outputs all exist (resumes an\n"
        "                           interrupted batch; SIGINT/SIGTERM stop after the current window)\n"
        "  --max-duration S         refuse audio longer than S seconds (before decoding when the file says)\n"
        "  --max-file-size BYTES    refuse files larger than BYTES before opening them\n");
}

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "cwhisper: %s: '%s' is not a number\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cwhisper: %s: '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* --clip-timestamps "start,end,...": openai-whisper's float(ts) for each
 * comma-separated item; "" is no clip (the whole file). */
static int parse_clips(const char *s, options *o)
{
    size_t n = 1;
    for (const char *c = s; *c; c++) n += *c == ',';
    free(o->clips);
    o->clips = malloc(n * sizeof *o->clips);
    if (!o->clips) {
        fprintf(stderr, "cwhisper: out of memory\n");
        return -1;
    }
    size_t k = 0;
    for (const char *c = s; *s && k < n; k++) {
        char *end;
        errno = 0;
        double v = strtod(c, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (errno || end == c || (*end != ',' && *end) || !(v >= 0 && v < 1e9)) {
            fprintf(stderr, "cwhisper: --clip-timestamps: '%s' is not a list of seconds start,end,... "
                            "(each >= 0)\n", s);
            return -1;
        }
        o->clips[k] = v;
        c = *end ? end + 1 : end;
    }
    o->tp.clip_timestamps = o->clips;
    o->tp.n_clip_timestamps = k;
    return 0;
}

/* An option that takes openai-whisper's str2bool value or stands alone
 * (--carry-initial-prompt, --highlight-words): sets *flag, consuming a
 * following True/true/False/false. */
static void parse_bool_flag(int argc, char **argv, int *i, int *flag)
{
    const char *b = *i + 1 < argc ? argv[*i + 1] : NULL;
    int t = b && (strcmp(b, "True") == 0 || strcmp(b, "true") == 0);
    int f = b && (strcmp(b, "False") == 0 || strcmp(b, "false") == 0);
    if (t || f) ++*i;
    *flag = !f;
}

/* The options this file adds for issue 19's writers and clips; returns 1 if
 * argv[*i] is not one of them, else 0 or -1 after printing an error. */
static int parse_option_19(int argc, char **argv, int *i, options *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "--carry-initial-prompt") == 0) parse_bool_flag(argc, argv, i, &o->tp.carry_initial_prompt);
    else if (strcmp(a, "--highlight-words") == 0) parse_bool_flag(argc, argv, i, &o->writer.highlight_words);
    else {
        static const struct { const char *name; size_t off; } ints[] = {
            {"--max-line-width", offsetof(cw_output_info, max_line_width)},
            {"--max-line-count", offsetof(cw_output_info, max_line_count)},
            {"--max-words-per-line", offsetof(cw_output_info, max_words_per_line)},
        };
        size_t k = 0;
        while (k < sizeof ints / sizeof *ints && strcmp(a, ints[k].name) != 0) k++;
        if (k == sizeof ints / sizeof *ints && strcmp(a, "--clip-timestamps") != 0) return 1;
        if (*i + 1 >= argc) {
            fprintf(stderr, "cwhisper: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (k == sizeof ints / sizeof *ints) return parse_clips(v, o);
        long n;
        if (parse_int(a, v, 1, 1000000, &n)) return -1;
        *(int *)((char *)&o->writer + ints[k].off) = (int)n;
    }
    return 0;
}

static cw_context_params context_params(const options *o)
{
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = o->n_threads;
    cp.dtype = (cw_compute_dtype)o->dtype;
    cp.device = o->device;
    cp.device_index = o->device_index;
    cp.int8_attention = o->int8_attention;
    return cp;
}

/* The library's own rules for the context (as --int8-attention needs a
 * low-precision dtype), refused before the model loads. */
static int check_context_options(const options *o)
{
    cw_context_params cp = context_params(o);
    if (cw_context_params_check(&cp) == CW_OK) return 0;
    fprintf(stderr, "cwhisper: %s\n", cw_last_error());
    return 1;
}

/* openai-whisper's cli(): the writer options need word timestamps (an
 * error, as its parser.error), and two combinations are warned about. */
static int check_writer_options(const options *o)
{
    static const char *const names[] = { "--highlight-words", "--max-line-count", "--max-line-width",
                                         "--max-words-per-line" };
    const cw_output_info *w = &o->writer;
    int given[] = { w->highlight_words, w->max_line_count, w->max_line_width, w->max_words_per_line };
    for (size_t k = 0; !o->tp.word_timestamps && k < sizeof names / sizeof *names; k++) {
        if (given[k]) {
            fprintf(stderr, "cwhisper: %s requires --word-timestamps (it works on the words' times)\n",
                    names[k]);
            return -1;
        }
    }
    if (w->max_line_count && !w->max_line_width)
        fprintf(stderr, "cwhisper: warning: --max-line-count has no effect without --max-line-width\n");
    if (w->max_words_per_line && w->max_line_width && w->max_line_count)
        fprintf(stderr, "cwhisper: warning: --max-words-per-line has no effect with --max-line-width and "
                        "--max-line-count\n");
    return 0;
}

/* Parses one option at argv[*i]; returns 0, or -1 after printing an error. */
static int parse_option(int argc, char **argv, int *i, options *o)
{
    const char *a = argv[*i];
    int rc19 = parse_option_19(argc, argv, i, o);
    if (rc19 <= 0) return rc19;
    if (strcmp(a, "--verbose") == 0) { o->verbose = 1; return 0; }
    if (strcmp(a, "--print-timings") == 0) { o->print_timings = 1; return 0; }
    if (strcmp(a, "--no-fallback") == 0) { o->tp.no_fallback = 1; return 0; }
    if (strcmp(a, "--int8-attention") == 0) { o->int8_attention = 1; return 0; }
    if (strcmp(a, "--vad") == 0) { o->tp.vad = 1; return 0; }
    if (strcmp(a, "--vad-batched-timestamps") == 0) { o->tp.vad_batched_timestamps = 1; return 0; }
    if (strcmp(a, "--without-timestamps") == 0) { o->tp.without_timestamps = 1; return 0; }
    if (strcmp(a, "--no-condition-on-previous-text") == 0) { o->tp.condition_on_previous_text = 0; return 0; }
    if (strcmp(a, "--skip-existing") == 0) { o->skip_existing = 1; return 0; }
    if (strcmp(a, "--word-timestamps") == 0) { /* openai-whisper's str2bool value, or bare */
        const char *b = *i + 1 < argc ? argv[*i + 1] : NULL;
        int t = b && (strcmp(b, "True") == 0 || strcmp(b, "true") == 0);
        int f = b && (strcmp(b, "False") == 0 || strcmp(b, "false") == 0);
        if (t || f) ++*i;
        o->tp.word_timestamps = !f;
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "cwhisper: %s needs a value (or is unknown; see --help)\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    long n;
    double x;
    if (strcmp(a, "--model") == 0) o->model = v;
    else if (strcmp(a, "--output-format") == 0) o->output_format = v;
    else if (strcmp(a, "--output-dir") == 0) o->output_dir = v;
    else if (strcmp(a, "--language") == 0) o->tp.language = v;
    else if (strcmp(a, "--initial-prompt") == 0) o->tp.initial_prompt = v;
    else if (strcmp(a, "--dtype") == 0) {
        if ((o->dtype = cw_compute_dtype_from_name(v)) < 0) {
            fprintf(stderr, "cwhisper: --dtype: '%s' is not fp32, fp16, bf16 or int8\n", v);
            return -1;
        }
    }
    else if (strcmp(a, "--device") == 0) {
        o->device_name = v;
        if (cw_device_parse(v, &o->device, &o->device_index)) {
            fprintf(stderr, "cwhisper: --device: %s\n", cw_last_error());
            return -1;
        }
    }
    else if (strcmp(a, "--task") == 0) {
        if (strcmp(v, "transcribe") == 0) o->tp.task = CW_TASK_TRANSCRIBE;
        else if (strcmp(v, "translate") == 0) o->tp.task = CW_TASK_TRANSLATE;
        else { fprintf(stderr, "cwhisper: --task: '%s' is not transcribe or translate\n", v); return -1; }
    } else if (strcmp(a, "--threads") == 0) {
        if (parse_int(a, v, 1, 1024, &n)) return -1;
        o->n_threads = (int)n;
    } else if (strcmp(a, "--beam-size") == 0) {
        if (parse_int(a, v, 1, 64, &n)) return -1;
        o->tp.beam_size = (int)n;
    } else if (strcmp(a, "--best-of") == 0) {
        if (parse_int(a, v, 1, 64, &n)) return -1;
        o->tp.best_of = (int)n;
    } else if (strcmp(a, "--long-form") == 0) {
        if (strcmp(v, "sequential") == 0) o->tp.long_form = CW_LONG_FORM_SEQUENTIAL;
        else if (strcmp(v, "chunked") == 0) o->tp.long_form = CW_LONG_FORM_CHUNKED;
        else if (strcmp(v, "vad-batched") == 0) o->tp.long_form = CW_LONG_FORM_VAD_BATCHED;
        else { fprintf(stderr, "cwhisper: --long-form: '%s' is not sequential, chunked or vad-batched\n", v); return -1; }
    } else if (strcmp(a, "--batch-size") == 0) {
        if (parse_int(a, v, 1, 64, &n)) return -1;
        o->tp.batch_size = (int)n;
    } else if (strcmp(a, "--chunk-length") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (!(x > 0 && x <= 30)) { fprintf(stderr, "cwhisper: --chunk-length %s is outside (0, 30]\n", v); return -1; }
        o->tp.chunk_length = x;
    } else if (strcmp(a, "--stride-length") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (!(x > 0 && x < 15)) { fprintf(stderr, "cwhisper: --stride-length %s is outside (0, 15)\n", v); return -1; }
        o->tp.stride_length = x;
    } else if (strncmp(a, "--vad-", 6) == 0 && strcmp(a, "--vad-model") != 0) {
        static const struct { const char *name; double lo, hi; size_t off; } vo[] = {
            {"--vad-threshold", 0, 1, offsetof(cw_vad_params, threshold)},
            {"--vad-min-speech-ms", 0, 1e9, offsetof(cw_vad_params, min_speech_duration_ms)},
            {"--vad-min-silence-ms", 0, 1e9, offsetof(cw_vad_params, min_silence_duration_ms)},
            {"--vad-speech-pad-ms", 0, 1e9, offsetof(cw_vad_params, speech_pad_ms)},
            {"--vad-max-speech-s", 0, 1e9, offsetof(cw_vad_params, max_speech_duration_s)},
        };
        size_t k = 0;
        while (k < sizeof vo / sizeof *vo && strcmp(a, vo[k].name) != 0) k++;
        if (k == sizeof vo / sizeof *vo) {
            fprintf(stderr, "cwhisper: unknown option %s (see cwhisper transcribe --help)\n", a);
            return -1;
        }
        if (parse_double(a, v, &x)) return -1;
        if (!(x > vo[k].lo && x < vo[k].hi) && !(x == 0 && k > 0 && k < 4)) {
            fprintf(stderr, "cwhisper: %s %s is out of range\n", a, v);
            return -1;
        }
        *(double *)((char *)&o->tp.vad_params + vo[k].off) = x;
    } else if (strcmp(a, "--vad-model") == 0) {
        o->tp.vad_params.model = v;
    } else if (strcmp(a, "--seed") == 0) {
        if (parse_int(a, v, 0, LONG_MAX, &n)) return -1;
        o->tp.seed = (unsigned long long)n;
    } else if (strcmp(a, "--temperature") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (x < 0 || x > 1) { fprintf(stderr, "cwhisper: --temperature %s is outside [0, 1]\n", v); return -1; }
        o->tp.temperature = x;
    } else if (strcmp(a, "--temperature-increment") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (x <= 0) { fprintf(stderr, "cwhisper: --temperature-increment %s must be positive\n", v); return -1; }
        o->tp.temperature_increment = x;
    } else if (strcmp(a, "--patience") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (x <= 0) { fprintf(stderr, "cwhisper: --patience %s must be positive\n", v); return -1; }
        o->tp.patience = x;
    } else if (strcmp(a, "--compression-ratio-threshold") == 0) {
        if (parse_double(a, v, &o->tp.compression_ratio_threshold)) return -1;
    } else if (strcmp(a, "--logprob-threshold") == 0) {
        if (parse_double(a, v, &o->tp.logprob_threshold)) return -1;
    } else if (strcmp(a, "--no-speech-threshold") == 0) {
        if (parse_double(a, v, &o->tp.no_speech_threshold)) return -1;
    } else if (strcmp(a, "--prepend-punctuations") == 0) {
        o->tp.prepend_punctuations = v;
    } else if (strcmp(a, "--append-punctuations") == 0) {
        o->tp.append_punctuations = v;
    } else if (strcmp(a, "--hallucination-silence-threshold") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (!(x > 0)) { fprintf(stderr, "cwhisper: --hallucination-silence-threshold %s must be positive\n", v); return -1; }
        o->tp.hallucination_silence_threshold = x;
    } else if (strcmp(a, "--max-duration") == 0) {
        if (parse_double(a, v, &x)) return -1;
        if (!(x > 0 && x < 1e9)) { fprintf(stderr, "cwhisper: --max-duration %s is outside (0, 1e9) seconds\n", v); return -1; }
        o->tp.max_duration = x;
    } else if (strcmp(a, "--max-file-size") == 0) {
        if (parse_int(a, v, 1, LONG_MAX, &n)) return -1;
        o->tp.max_file_size = n;
    } else {
        fprintf(stderr, "cwhisper: unknown option %s (see cwhisper transcribe --help)\n", a);
        return -1;
    }
    return 0;
}

/* Fails early, before any work, when outputs could not be written. */
static int check_output_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cwhisper: output directory %s: %s\n", dir,
                errno == 0 || S_ISREG(st.st_mode) ? "not a directory" : strerror(errno));
        return -1;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.cwhisper-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "cwhisper: output directory %s is not writable: %s\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

typedef struct {
    const char *file;
    double t0;
} progress_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void show_progress(double done_s, double total_s, void *user)
{
    progress_state *ps = user;
    double el = now_s() - ps->t0;
    fprintf(stderr, "\r%s: %.1f / %.1f s (%.1fx real time)   ", ps->file, done_s, total_s,
            el > 0 ? done_s / el : 0.0);
    fflush(stderr);
}

static void print_verbose(const cw_result *r)
{
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        fprintf(stderr, "[%02d:%06.3f --> %02d:%06.3f]%s\n", (int)(s->start / 60), fmod(s->start, 60),
                (int)(s->end / 60), fmod(s->end, 60), s->text);
    }
}

static int wants_format(const options *o, int f)
{
    return strcmp(o->output_format, "all") == 0 || cw_output_format_from_name(o->output_format) == f;
}

/* The output file of `file` in format f: DIR/STEM.EXT ("-" is "stdin"). */
static void output_path(const options *o, const char *file, int f, char *path, size_t cap)
{
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (strcmp(file, "-") == 0) base = "stdin";
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(path, cap, "%s/%.*s.%s", o->output_dir, stem, base, cw_output_format_ext((cw_output_format)f));
}

/* Writes the outputs of one file; returns 0 or -1 after printing an error. */
static int write_outputs(const options *o, const char *file, const cw_result *r)
{
    cw_output_info info = o->writer;
    info.file = file;
    info.model = o->model;
    for (int f = CW_OUTPUT_TXT; f <= CW_OUTPUT_TSV; f++) {
        if (!wants_format(o, f)) continue;
        cw_status s;
        if (!o->output_dir) {
            s = cw_output_write_stream(r, (cw_output_format)f, &info, stdout);
        } else {
            char path[4096];
            output_path(o, file, f, path, sizeof path);
            s = cw_output_write_file(r, (cw_output_format)f, &info, path);
        }
        if (s) {
            fprintf(stderr, "cwhisper: %s\n", cw_last_error());
            return -1;
        }
    }
    return 0;
}

/* --skip-existing: removes what a killed run left of this file's outputs
 * (cw_output_write_file's temporaries, NAME.tmp.XXXXXX: never mistaken for
 * an output) and returns 1 when every output it wants exists; an output
 * exists only complete, since it appears by rename. */
static int outputs_exist(const options *o, const char *file)
{
    int all = 1;
    for (int f = CW_OUTPUT_TXT; f <= CW_OUTPUT_TSV; f++) {
        if (!wants_format(o, f)) continue;
        char path[4096];
        output_path(o, file, f, path, sizeof path);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) all = 0;
        cli_remove_stale_temps(path);
    }
    return all;
}

static int transcribe_one(const options *o, cw_context *ctx, const char *file)
{
    progress_state ps = { .file = file, .t0 = now_s() };
    cw_transcribe_params tp = o->tp;
    tp.cancel = cli_stop_requested;
    int show = isatty(STDERR_FILENO) && !o->verbose;
    if (show) {
        tp.progress = show_progress;
        tp.progress_user = &ps;
    }
    cw_result *r = NULL;
    cw_status s = cw_transcribe_file(ctx, file, &tp, &r);
    if (show) fprintf(stderr, "\r\033[K");
    if (s == CW_ERR_CANCELLED) return -2; /* run_files says why */
    if (s) {
        fprintf(stderr, "cwhisper: %s\n", cw_last_error());
        return -1;
    }
    if (o->verbose) print_verbose(r);
    int rc = write_outputs(o, file, r);
    if (o->print_timings) {
        /* Decoding the audio, the log-mel, the transcription and writing the
         * outputs: what a caller waits for per file. */
        double dt = now_s() - ps.t0, dur = cw_result_duration(r);
        fprintf(stderr, "cwhisper: timings: file %s: %.3f s for %.3f s of audio (%.1fx real time)\n", file, dt,
                dur, dt > 0 ? dur / dt : 0.0);
    }
    cw_result_free(r);
    return rc;
}

/* Many files in lockstep (cw_transcribe_files_cb): each file's outputs are
 * written as soon as it finishes. */
typedef struct {
    const options *o;
    const char **files;
    int failed;
    double t_prev; /* when the previous file finished */
    /* stdout: results held until the files before them are written, so
     * the output comes in the order of the command line */
    cw_result **held;
    char *settled;
    size_t next;
} lockstep_out;

static void lockstep_flush(lockstep_out *lo)
{
    for (; lo->settled[lo->next]; lo->next++) {
        cw_result *r = lo->held[lo->next];
        if (!r) continue;
        if (write_outputs(lo->o, lo->files[lo->next], r)) lo->failed = 1;
        cw_result_free(r);
        lo->held[lo->next] = NULL;
    }
}

static void lockstep_done(size_t i, cw_status s, cw_result *r, void *user)
{
    lockstep_out *lo = user;
    if (s) {
        if (s != CW_ERR_CANCELLED) fprintf(stderr, "cwhisper: %s\n", cw_last_error());
        lo->failed = 1;
        lo->settled[i] = 1;
        lockstep_flush(lo);
        return;
    }
    if (lo->o->verbose) print_verbose(r);
    if (lo->o->output_dir && write_outputs(lo->o, lo->files[i], r)) lo->failed = 1;
    if (lo->o->print_timings) {
        /* files overlap: each is given the time since the previous one
         * finished, so the lines add up to the whole run */
        double t = now_s(), dt = t - lo->t_prev, dur = cw_result_duration(r);
        lo->t_prev = t;
        fprintf(stderr, "cwhisper: timings: file %s: %.3f s for %.3f s of audio (%.1fx real time, lockstep)\n",
                lo->files[i], dt, dur, dt > 0 ? dur / dt : 0.0);
    }
    lo->settled[i] = 1;
    if (lo->o->output_dir) {
        cw_result_free(r);
        return;
    }
    lo->held[i] = r;
    lockstep_flush(lo);
}

/* Loads the model once (the seed's transcribe_multiple) and transcribes each
 * file; a failing file is reported and the others go on. */
static int run_files(options *o, const char **files, size_t n_files)
{
    char *dir = cli_resolve_model(o->model);
    if (!dir) return 1;
    cw_model *model = NULL;
    cw_context *ctx = NULL;
    cw_model_params mp = cw_model_default_params();
    cw_context_params cp = context_params(o);
    double t0 = now_s();
    cw_status s = cw_model_load(dir, &mp, &model);
    if (!s) s = cw_context_create(model, &cp, &ctx);
    if (!s && o->print_timings) fprintf(stderr, "cwhisper: timings: load %.3f s\n", now_s() - t0);
    if (!s && o->verbose) {
        char desc[512];
        cw_context_describe(ctx, desc, sizeof desc);
        fprintf(stderr, "cwhisper: kernels: %s\n", desc);
    }
    free(dir);
    if (s) {
        fprintf(stderr, "cwhisper: %s\n", cw_last_error());
        cw_model_free(model);
        return 1;
    }
    int failed = 0;
    size_t done = 0;
    const char *cut = NULL; /* the file a stop request interrupted */
    o->tp.cancel = cli_stop_requested;
    if (n_files > 1 && o->tp.batch_size > 1 && o->tp.long_form == CW_LONG_FORM_SEQUENTIAL) {
        /* --skip-existing: only the files still to do go into the lockstep */
        size_t n_todo = 0;
        for (size_t i = 0; i < n_files; i++) {
            if (o->skip_existing && outputs_exist(o, files[i]))
                fprintf(stderr, "cwhisper: %s: skipped, its outputs exist\n", files[i]);
            else
                files[n_todo++] = files[i];
        }
        n_files = n_todo;
        lockstep_out lo = { o, files, 0, now_s(), calloc(n_files + 1, sizeof *lo.held), calloc(n_files + 1, 1), 0 };
        s = lo.held && lo.settled ? cw_transcribe_files_cb(ctx, files, n_files, &o->tp, lockstep_done, &lo)
                                  : CW_ERR_NOMEM;
        if (s && s != CW_ERR_CANCELLED) fprintf(stderr, "cwhisper: %s\n", s == CW_ERR_NOMEM ? "out of memory" : cw_last_error());
        failed = lo.failed || s;
        for (size_t i = 0; lo.held && i < n_files; i++) cw_result_free(lo.held[i]);
        free(lo.held);
        free(lo.settled);
        done = n_files;
    } else {
        o->tp.batch_size = o->tp.long_form == CW_LONG_FORM_SEQUENTIAL ? 1 : o->tp.batch_size;
        for (; done < n_files && !cli_stop_signal(); done++) {
            if (o->skip_existing && outputs_exist(o, files[done])) {
                fprintf(stderr, "cwhisper: %s: skipped, its outputs exist\n", files[done]);
                continue;
            }
            int rc = transcribe_one(o, ctx, files[done]);
            if (rc == -2) cut = files[done];
            else failed |= rc != 0;
        }
    }
    cw_context_free(ctx);
    cw_model_free(model);
    if (cli_stop_signal()) {
        int sig = cli_stop_signal();
        fprintf(stderr, "cwhisper: stopped by %s%s%s: %zu of %zu files done, no output half written%s\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", cut ? " in " : "", cut ? cut : "", done - (cut != NULL),
                n_files, o->output_dir ? "; rerun with --skip-existing to resume" : "");
        return 128 + sig;
    }
    return failed ? 1 : 0;
}

/* Parses and checks the command line: the options into *o, the file
 * arguments into files [argc] (*n_files of them). Returns 0 to go on, 1 after
 * printing --help (exit 0), 2 after printing a one-line error or the usage.
 * Touches nothing outside (no model, no file): the fuzz target calls it. */
static int parse_args(int argc, char **argv, options *o, const char **files, size_t *n_files)
{
    *o = (options){ .model = "tiny.en", .output_format = "txt", .tp = cw_transcribe_default_params() };
    *n_files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            if (parse_option(argc, argv, &i, o)) return 2;
        } else {
            files[(*n_files)++] = argv[i];
        }
    }
    double chunk = o->tp.chunk_length > 0 ? o->tp.chunk_length : 30.0;
    if (*n_files == 0) {
        usage(stderr);
    } else if (o->tp.long_form != CW_LONG_FORM_CHUNKED && (o->tp.chunk_length > 0 || o->tp.stride_length > 0)) {
        fprintf(stderr, "cwhisper: --chunk-length and --stride-length need --long-form chunked\n");
    } else if (o->tp.long_form == CW_LONG_FORM_SEQUENTIAL && o->tp.batch_size > 1 && (*n_files < 2 || o->tp.vad)) {
        fprintf(stderr, "cwhisper: --batch-size: batches need --long-form chunked or vad-batched, or several files"
                        " (sequential, without --vad: files in lockstep)\n");
    } else if (o->tp.vad && o->tp.long_form == CW_LONG_FORM_VAD_BATCHED) {
        fprintf(stderr, "cwhisper: --vad is for the sequential and chunked modes (vad-batched always uses the VAD)\n");
    } else if (o->tp.stride_length > 0 && 2 * o->tp.stride_length >= chunk) {
        fprintf(stderr, "cwhisper: --stride-length %g must be under half the chunk length (%g s)\n",
                o->tp.stride_length, chunk);
    } else if (o->tp.long_form != CW_LONG_FORM_SEQUENTIAL && (o->tp.beam_size > 0 || o->tp.best_of > 0)) {
        fprintf(stderr, "cwhisper: --long-form %s decodes greedily: no --beam-size or --best-of\n",
                o->tp.long_form == CW_LONG_FORM_CHUNKED ? "chunked" : "vad-batched");
    } else if (strcmp(o->output_format, "all") != 0 && cw_output_format_from_name(o->output_format) < 0) {
        fprintf(stderr, "cwhisper: --output-format: '%s' is not txt, srt, vtt, json, tsv or all\n", o->output_format);
    } else if (strcmp(o->output_format, "all") == 0 && !o->output_dir) {
        fprintf(stderr, "cwhisper: --output-format all needs --output-dir\n");
    } else if (o->skip_existing && !o->output_dir) {
        fprintf(stderr, "cwhisper: --skip-existing needs --output-dir\n");
    } else if (o->tp.n_clip_timestamps > 0 && (o->tp.long_form != CW_LONG_FORM_SEQUENTIAL || o->tp.vad)) {
        fprintf(stderr, "cwhisper: --clip-timestamps needs --long-form sequential, without --vad\n");
    } else if (check_context_options(o) != 0) {
        return 2;
    } else if (check_writer_options(o) != 0) {
        return 2;
    } else {
        return 0;
    }
    return 2;
}

int cli_transcribe_parse_only(int argc, char **argv)
{
    options o;
    size_t n_files;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) return 1;
    int rc = parse_args(argc, argv, &o, files, &n_files);
    free(files);
    free(o.clips);
    return rc == 1 ? 0 : rc;
}

int cmd_transcribe(int argc, char **argv)
{
    options o;
    size_t n_files;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) return 1;
    int rc = parse_args(argc, argv, &o, files, &n_files);
    if (rc == 1) rc = 0;
    else if (rc == 0 && o.device != CW_DEVICE_CPU && cw_device_check(o.device, o.device_index)) {
        fprintf(stderr, "cwhisper: --device %s: %s\n", o.device_name, cw_last_error());
        rc = 2;
    } else if (rc == 0 && o.output_dir && check_output_dir(o.output_dir)) rc = 1;
    else if (rc == 0) {
        if (!o.tp.vad_params.model) { /* the models folder of the program, as for Whisper models */
            const char *env = getenv("CWHISPER_MODELS");
            snprintf(o.vad_model, sizeof o.vad_model, "%s/silero-vad", env && *env ? env : CW_SOURCE_DIR "/models");
            o.tp.vad_params.model = o.vad_model;
        }
        cli_catch_stop_signals();
        rc = run_files(&o, files, n_files);
    }
    free(files);
    free(o.clips);
    return rc;
}
