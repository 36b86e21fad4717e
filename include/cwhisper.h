/* cwhisper: OpenAI's Whisper speech recognition in C.
 *
 * The only header a user includes. Handles are opaque; parameters come from
 * cw_*_default_params() and are changed field by field, so new fields never
 * break a caller. Every fallible call returns a cw_status; cw_last_error()
 * gives the one-line message of the last failure on the calling thread.
 * The library never prints and never exits.
 */
#ifndef CWHISPER_H
#define CWHISPER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CW_VERSION_STRING "0.1.0"

typedef enum {
    CW_OK = 0,
    CW_ERR_INVALID_ARG,  /* a parameter is out of range */
    CW_ERR_IO,           /* a file is missing or cannot be read or written */
    CW_ERR_FORMAT,       /* a file is corrupt, truncated or inconsistent */
    CW_ERR_UNSUPPORTED,  /* a valid file uses something cwhisper does not handle */
    CW_ERR_NOMEM,        /* an allocation failed */
    CW_ERR_AUDIO,        /* audio could not be decoded */
    CW_ERR_INTERNAL,     /* a bug: please report it */
    CW_ERR_LIMIT,        /* an input is over a limit the caller set (max_duration, max_file_size) */
    CW_ERR_CANCELLED     /* the caller's cancel function asked the call to stop */
} cw_status;

/* Short name of a status ("format error", ...). Never NULL. */
const char *cw_status_string(cw_status status);

/* One-line message of the last failure on this thread, naming the file and
 * the problem ("model.bin: truncated in variable 'x'"). Never NULL. */
const char *cw_last_error(void);

const char *cw_version(void);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */

typedef struct cw_model cw_model;

typedef enum {
    CW_WEIGHTS_STORED = 0, /* keep each tensor in the dtype of the file */
    CW_WEIGHTS_F32,        /* convert every float tensor to float32 once */
    CW_WEIGHTS_F16,
    CW_WEIGHTS_BF16
} cw_weight_type;

typedef struct {
    cw_weight_type weights;
    int use_mmap; /* non-zero: map the file; tensors used as stored point into it */
} cw_model_params;

cw_model_params cw_model_default_params(void);

/* path: a directory holding a CTranslate2 model (model.bin, config.json,
 * vocabulary.*) or a Hugging Face safetensors model (model.safetensors,
 * config.json, tokenizer files). */
cw_status cw_model_load(const char *path, const cw_model_params *params, cw_model **out);
void cw_model_free(cw_model *model);

typedef enum {
    CW_MODEL_ENGLISH_ONLY,  /* tiny.en ... medium.en */
    CW_MODEL_MULTILINGUAL,  /* tiny ... large-v2 */
    CW_MODEL_V3             /* large-v3, large-v3-turbo: 128 mels, 100 languages */
} cw_model_kind;

typedef struct {
    int n_mels, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int n_vocab, n_text_ctx, n_text_state, n_text_head, n_text_layer;
} cw_model_dims;

cw_model_kind cw_model_get_kind(const cw_model *model);
cw_model_dims cw_model_get_dims(const cw_model *model);

/* Writes a human-readable description (kind, dimensions, dtypes, vocabulary,
 * special tokens, memory) into buf, NUL-terminated and truncated to cap.
 * Returns the length the full text needs, as snprintf does. */
size_t cw_model_describe(const cw_model *model, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Audio                                                                     */

/* Decodes any audio file FFmpeg reads to mono float32 at 16 kHz, downmixed and
 * resampled as `ffmpeg -ac 1 -ar 16000` does. path "-" reads raw s16le 16 kHz
 * mono PCM from stdin. On success *samples is malloc'ed: free it with free(). */
cw_status cw_audio_load(const char *path, float **samples, size_t *n_samples);

/* ------------------------------------------------------------------------ */
/* Transcription results                                                     */

/* One word of a segment, as openai-whisper's word_timestamps=True gives it:
 * text with its leading space and merged punctuation, times in seconds from
 * the start of the file, probability the mean of its tokens' probabilities. */
typedef struct {
    const char *word;
    double start, end;
    double probability;
} cw_word;

/* One segment of a transcript, as openai-whisper's transcribe() returns it. */
typedef struct {
    int id;
    long seek;               /* window start, in mel frames (10 ms) */
    double start, end;       /* seconds from the start of the file */
    const char *text;        /* UTF-8, with the leading space the tokens give */
    const int *tokens;       /* [n_tokens] ids, timestamps included */
    size_t n_tokens;
    double avg_logprob;
    double compression_ratio;
    double no_speech_prob;
    double temperature;
    /* [n_words]; NULL unless word timestamps were asked for. With them it
     * should be non-NULL even when n_words is 0, as each of openai-whisper's
     * segments then has a "words" list, possibly empty: the srt and vtt
     * writers make their cues from the words when any segment has a list
     * (see cw_output_info), and cw_result_create keeps an empty one. */
    const cw_word *words;
    size_t n_words;
} cw_segment;

typedef struct cw_result cw_result;

size_t cw_result_n_segments(const cw_result *result);
const cw_segment *cw_result_segment(const cw_result *result, size_t i);
const char *cw_result_text(const cw_result *result);     /* the whole transcript */
const char *cw_result_language(const cw_result *result); /* "en", ... */
double cw_result_duration(const cw_result *result);      /* seconds of audio */
void cw_result_free(cw_result *result);

/* The full lower-case English name of a language ("en" -> "english", as
 * openai-whisper's LANGUAGES; names and aliases are accepted too, ASCII
 * case-insensitively); NULL if cwhisper does not know the language. */
const char *cw_language_full_name(const char *code_or_name);

/* Builds a result from segments (copied, words included); for callers and tests that
 * assemble transcripts themselves. text may be NULL: then the segments'
 * texts are joined. A NULL segment text or language counts as "".
 * CW_ERR_INVALID_ARG if a time or the duration is negative or not finite. */
cw_status cw_result_create(const cw_segment *segments, size_t n, const char *text,
                           const char *language, double duration, cw_result **out);

/* ------------------------------------------------------------------------ */
/* Transcription                                                             */

/* Per-thread working state for one model: threads, the back end, the
 * network's scratch and caches. Create one per thread that transcribes; the
 * model itself is read-only and may be shared. */
typedef struct cw_context cw_context;

/* The type a context computes its weight matrices in (every Linear layer and
 * the token embedding, which is also the logits projection). The converted
 * copies belong to the context; the model stays as loaded. */
typedef enum {
    CW_COMPUTE_FP32 = 0, /* matrices as stored (fp16 in the usual files), float32
                            activations: exact mode, token-identical to openai-whisper */
    CW_COMPUTE_FP16,     /* fp16 matrices (stored fp16 used as is), float32 activations;
                            x86 has no fp16 dot product with float32 sums outside
                            AMX-FP16, so this saves memory, not time */
    CW_COMPUTE_BF16,     /* matrices converted to bf16 once; activations rounded to
                            bf16, products summed in float32, except in products of
                            at most 8 rows (decoder steps), whose activations stay
                            float32; cross-attention keys/values in int8 on the CPU */
    CW_COMPUTE_INT8      /* matrices quantized to int8 per row once (stored int8 used
                            as is), except the token embedding (bf16); activations
                            quantized per row to int8, in products of at most 8 rows
                            (decoder steps) to 16 bits; integer sums */
} cw_compute_dtype;
/* With bf16 and int8, a multilingual model detects the language on the first
 * window as it is decoded (one encoder pass fewer a file); openai-whisper (and
 * fp32/fp16 here) on the file's first 30 s padded with the log-mel of silence,
 * which differs from that window for files under 30 s. */

/* "fp32", "fp16", "bf16", "int8" (NULL for an invalid value), and back (-1). */
const char *cw_compute_dtype_name(cw_compute_dtype dtype);
int cw_compute_dtype_from_name(const char *name);

/* Where a context computes. CUDA needs a build with CUDA, an NVIDIA driver
 * and a GPU of compute capability 8.0 or more (A100, H100, ...). */
typedef enum { CW_DEVICE_CPU = 0, CW_DEVICE_CUDA } cw_device;

typedef struct {
    int n_threads; /* <= 0: every online CPU */
    cw_compute_dtype dtype;
    cw_device device;  /* default CW_DEVICE_CPU */
    int device_index;  /* CW_DEVICE_CUDA: which GPU, 0 the first */
    /* dtype int8 or bf16, CPU: non-zero computes the encoder's attention in
     * int8 too (Q, K per row, V per column, probabilities as bytes: half the
     * work of its bf16 products) on a CPU with AVX512-VNNI (Cascade Lake and
     * later, Zen 4), or with AVX2 and no AVX-512 (Zen 3: vpmaddubsw,
     * vpmaddwd); elsewhere (Skylake-X) it changes nothing. Accuracy: judged by WER, as the dtype's. */
    int int8_attention;
} cw_context_params;

/* "cpu", "cuda" or "cuda:N" -> device and index; CW_ERR_INVALID_ARG if not one. */
cw_status cw_device_parse(const char *name, cw_device *device, int *index);
/* CW_OK if a context can compute on (device, index) here; otherwise
 * CW_ERR_UNSUPPORTED with a one-line reason in cw_last_error(): built without
 * CUDA, no driver, no such GPU, a GPU too old, or no cuBLAS. */
cw_status cw_device_check(cw_device device, int index);

cw_context_params cw_context_default_params(void);
/* CW_OK if cw_context_create would take these parameters (a known dtype and
 * device; int8_attention only with dtype int8 or bf16); otherwise
 * CW_ERR_INVALID_ARG with a one-line reason in cw_last_error(). For front
 * ends that refuse bad options before loading a model. */
cw_status cw_context_params_check(const cw_context_params *params);
cw_status cw_context_create(const cw_model *model, const cw_context_params *params,
                            cw_context **out);
void cw_context_free(cw_context *ctx);

/* Writes which kernels the context runs, one "path: kernel" item each (e.g.
 * "cpu/avx2, 4 threads, dtype int8: int8 GEMM avx512-vnni, ..."), as
 * cw_model_describe does (NUL-terminated, truncated to cap; returns the
 * length the full text needs). */
size_t cw_context_describe(const cw_context *ctx, char *buf, size_t cap);

typedef enum { CW_TASK_TRANSCRIBE = 0, CW_TASK_TRANSLATE } cw_task;

/* How a file longer than 30 s is cut. SEQUENTIAL: openai-whisper's seek loop
 * (each window decoded after the previous one, conditioned on its text; exact
 * reference output). CHUNKED: the Hugging Face pipeline / whisper-jax
 * algorithm: overlapping chunks decoded independently, batch_size at a time
 * (greedy, temperature 0, no fallback, no conditioning), merged over the
 * overlaps; faster with batches, not the reference's output. In CHUNKED mode
 * the temperature, fallback thresholds, initial_prompt, carry_initial_prompt,
 * without_timestamps and conditioning fields do not apply; beam_size and
 * best_of must be 0, clip_timestamps NULL. */
typedef enum { CW_LONG_FORM_SEQUENTIAL = 0, CW_LONG_FORM_CHUNKED, CW_LONG_FORM_VAD_BATCHED } cw_long_form;
/* VAD_BATCHED: faster-whisper's BatchedInferencePipeline: Silero VAD speech
 * regions merged into chunks of at most 30 s of speech, each chunk decoded
 * (batch_size at a time, greedy, T = 0, no conditioning) and its segments
 * mapped back to the file's timeline. By default timestamp tokens are decoded
 * (vad_batched_timestamps = 1): segments split at timestamp pairs, and a chunk
 * whose last timestamp comes over a second before its end decoded again from
 * there; vad_batched_timestamps = 0 or without_timestamps gives the pipeline's
 * default, text only (one segment per chunk; the model drops more speech: on
 * the 22.7-min recording 1.5 WER points more with base, bench/results/
 * 2026-12-05-vad-batched-gap.md). Needs the Silero VAD model
 * (vad_params.model; scripts/fetch-model silero-vad). */

/* Silero VAD (v6, faster-whisper's VadOptions). Defaults: faster-whisper's. */
typedef struct {
    double threshold;               /* speech above this probability (0.5) */
    double neg_threshold;           /* < 0: max(threshold - 0.15, 0.01) */
    double min_speech_duration_ms;  /* shorter speech is dropped (0) */
    double max_speech_duration_s;   /* <= 0: unlimited; longer speech is split (VAD_BATCHED: always 30) */
    double min_silence_duration_ms; /* silence that ends speech; < 0: 2000, or 160 in VAD_BATCHED */
    double speech_pad_ms;           /* padding on each side of speech (400) */
    const char *model;              /* silero_vad_v6.safetensors or its folder; NULL:
                                       $CWHISPER_MODELS/silero-vad, else models/silero-vad */
} cw_vad_params;

cw_vad_params cw_vad_default_params(void);

/* The defaults are openai-whisper's transcribe() (the Python API): greedy at
 * temperature 0, fallback 0.0, 0.2, ..., 1.0 with the 2.4 compression-ratio,
 * -1.0 log-probability and 0.6 no-speech thresholds, conditioning on the
 * previous text, timestamps on. */
typedef struct {
    const char *language;          /* NULL or "auto": detect (multilingual models); else a code */
    cw_task task;
    double temperature;            /* first temperature, in [0, 1] */
    double temperature_increment;  /* fallback step; the temperatures run up to 1.0 */
    int no_fallback;               /* decode once, at `temperature` */
    int beam_size;                 /* 0: greedy; >= 1: beam search at temperature 0 */
    double patience;               /* beam search; 0: 1.0 */
    int best_of;                   /* 0: one sample; >= 1: samples per temperature > 0 */
    double length_penalty;         /* < 0: none (rank by sum / length); else in [0, 1] */
    double compression_ratio_threshold; /* <= 0: off */
    double logprob_threshold;      /* >= 0 or NAN: off */
    double no_speech_threshold;    /* <= 0: off */
    int condition_on_previous_text;
    const char *initial_prompt;    /* NULL: none */
    int carry_initial_prompt;      /* openai-whisper's carry_initial_prompt: the initial prompt
                                      starts every window's prompt, not only the first's (the
                                      previous text after it, left-trimmed to fit) */
    unsigned long long seed;       /* sampling at temperature > 0 */
    int suppress_blank;
    int without_timestamps;
    double max_initial_timestamp;  /* seconds; <= 0: none */
    /* SEQUENTIAL without vad: transcribe only these stretches, as openai-whisper's
     * clip_timestamps: [n_clip_timestamps] seconds start,end,start,end,... (finite,
     * >= 0); with an odd count the last clip runs to the end of the audio. Each
     * clip is its own run of windows (the seek jumps to the next clip's start);
     * a clip end past the audio is cut at its end. NULL or 0: the whole file. */
    const double *clip_timestamps;
    size_t n_clip_timestamps;
    /* Called after each 30 s window: seconds of audio done, total seconds. */
    void (*progress)(double done_s, double total_s, void *user);
    void *progress_user;
    cw_long_form long_form;        /* SEQUENTIAL (default) or CHUNKED */
    int batch_size;                /* CHUNKED, VAD_BATCHED: chunks per encoder call and decoding, 1..64 (default 1);
                                      cw_transcribe_files, SEQUENTIAL: files in lockstep */
    double chunk_length;           /* CHUNKED: seconds per chunk, (0, 30]; 0: 30 */
    double stride_length;          /* CHUNKED: overlap seconds on each side, 2 * stride < chunk; 0: chunk / 6 */
    int vad;                       /* SEQUENTIAL / CHUNKED: transcribe only the speech Silero VAD finds
                                      (regions concatenated, times mapped back), as faster-whisper's vad_filter */
    cw_vad_params vad_params;
    int vad_batched_timestamps;    /* VAD_BATCHED: decode timestamp tokens (default 1; 0: text only) */
    /* Word timestamps (SEQUENTIAL only; with vad, words are mapped back as faster-whisper's
     * restore_speech_timestamps does), as openai-whisper's word_timestamps=True:
     * each segment gets words; prepend / append_punctuations (NULL: openai-whisper's
     * defaults "\"'“¿([{-" and "\"'.。,，!！?？:：”)]}、") are merged into the
     * neighbouring word. hallucination_silence_threshold (seconds, needs word
     * timestamps; <= 0 or NAN: off): skip silent stretches longer than this around
     * segments that look hallucinated. */
    int word_timestamps;
    const char *prepend_punctuations;
    const char *append_punctuations;
    double hallucination_silence_threshold;
    /* Limits for servers and batch runs (CW_ERR_LIMIT, message naming the file).
     * max_duration (> 0, seconds): a file whose container states a longer
     * duration is refused before any decoding; one that states none (or lies)
     * is stopped as soon as the decoded audio passes the limit. max_file_size
     * (> 0, bytes): a larger file is refused before it is opened (stdin: once
     * more bytes were read). 0: no limit. */
    double max_duration;
    long long max_file_size;
    /* Polled while the audio is decoded and before each window is read: a
     * non-zero return stops the call with CW_ERR_CANCELLED (no result). It may
     * read a flag a signal handler sets. NULL: never. */
    int (*cancel)(void *user);
    void *cancel_user;
} cw_transcribe_params;

cw_transcribe_params cw_transcribe_default_params(void);

/* Transcribes mono 16 kHz float samples (openai-whisper's sequential long-form
 * algorithm, or the chunked one: params.long_form). *out is freed with cw_result_free. */
cw_status cw_transcribe_pcm(cw_context *ctx, const float *samples, size_t n_samples,
                            const cw_transcribe_params *params, cw_result **out);

/* Decodes path (cw_audio_load) and transcribes it. */
cw_status cw_transcribe_file(cw_context *ctx, const char *path, const cw_transcribe_params *params,
                             cw_result **out);

/* Transcribes many files. In the SEQUENTIAL mode with batch_size N > 1, N
 * files run in lockstep: the windows they are at share each encoder call and
 * each decoder step, a file taking the next one's place as it finishes; each
 * file's result is exactly that of cw_transcribe_file on it alone. Otherwise
 * (CHUNKED, or N <= 1) the files run one after the other. done(i, status,
 * result, user) is called once per file as soon as it finishes, on the
 * calling thread; result (NULL on failure) is the callee's to free; during a
 * failing file's call cw_last_error() names its problem. A file that fails
 * (missing, corrupt) does not stop the others. Returns CW_OK when every file
 * had its chance, or what stopped them all (bad parameters: no done calls;
 * a failure of the network: the files not done get that status). */
typedef void (*cw_file_done_fn)(size_t index, cw_status status, cw_result *result, void *user);
cw_status cw_transcribe_files_cb(cw_context *ctx, const char *const *paths, size_t n,
                                 const cw_transcribe_params *params, cw_file_done_fn done, void *user);
/* The same, collecting results [n] (NULL for a failed file; free each with
 * cw_result_free) and statuses [n]; either may be NULL. */
cw_status cw_transcribe_files(cw_context *ctx, const char *const *paths, size_t n,
                              const cw_transcribe_params *params, cw_result **results, cw_status *statuses);

/* ------------------------------------------------------------------------ */
/* Output formats                                                            */

typedef enum {
    CW_OUTPUT_TXT,
    CW_OUTPUT_SRT,
    CW_OUTPUT_VTT,
    CW_OUTPUT_JSON,
    CW_OUTPUT_TSV
} cw_output_format;

/* What a writer needs besides the result. A zeroed struct (or NULL info)
 * means no file or model name and openai-whisper's default writer options. */
typedef struct {
    const char *file;   /* source file name written into JSON ("file") */
    const char *model;  /* model name written into JSON ("model") */
    /* openai-whisper's subtitle options (its --highlight_words,
     * --max_line_width, --max_line_count, --max_words_per_line), used by srt
     * and vtt for results with words (cw_segment.words) and ignored
     * otherwise, as SubtitlesWriter.iterate_result does. 0 means not given;
     * a negative value is CW_ERR_INVALID_ARG. */
    int highlight_words;    /* non-zero: a cue per word, the word underlined (<u>...</u>) */
    int max_line_width;     /* characters (code points) per line before a line break */
    int max_line_count;     /* lines per cue; with max_line_width, cues no longer follow
                               segments (a pause over 3 s also starts a cue) */
    int max_words_per_line; /* words per cue (no effect with both max_line_width and
                               max_line_count) */
} cw_output_info;

/* Parses "txt", "srt", "vtt", "json", "tsv"; returns -1 for anything else. */
int cw_output_format_from_name(const char *name);
const char *cw_output_format_ext(cw_output_format format); /* "txt", ... */

/* txt, srt, vtt and tsv are byte for byte what openai-whisper's writers give
 * (with the options in cw_output_info; txt and tsv have none). json is cwhisper's own object: file, model, language,
 * duration, text, segments (id, start, end, text, tokens, avg_logprob,
 * compression_ratio, no_speech_prob, temperature, and words [{word, start,
 * end, probability}] when the segment has any); numbers round-trip
 * exactly, non-finite ones are null; info and its fields may be NULL. */

/* Writes result in format to path atomically: to a temporary name in the same
 * directory, then renamed, so an interrupted run never leaves a half file.
 * On failure (CW_ERR_IO, message naming path) an old file at path is kept. */
cw_status cw_output_write_file(const cw_result *result, cw_output_format format,
                               const cw_output_info *info, const char *path);

/* Writes result in format to an open stdio stream (FILE *), e.g. stdout. */
cw_status cw_output_write_stream(const cw_result *result, cw_output_format format,
                                 const cw_output_info *info, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* CWHISPER_H */
