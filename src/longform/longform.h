/* Long-form transcription: a whole file's log-mel cut into 30 s windows and
 * stitched back into segments on the file's timeline.
 * sequential.c: openai/whisper transcribe.py transcribe() (the seek loop,
 * conditioning on previous text, temperature fallback, no-speech skipping);
 * split.c: its splitting of one window's tokens at timestamp pairs;
 * chunked.c: the Hugging Face pipeline / whisper-jax algorithm (30 s chunks
 * overlapping by a stride on each side, decoded in batches, no conditioning);
 * merge.c: its stitching of the chunks' tokens (_decode_asr). */
#ifndef CW_LONGFORM_H
#define CW_LONGFORM_H

#include <stddef.h>
#include <stdint.h>
#include "cwhisper.h"
#include "audio/mel_source.h"
#include "decode/decode.h"
#include "util/threadpool.h"
#include "vad/vad.h"

typedef struct {
    cw_decode_options decode;       /* language_token -1: detect once (multilingual) */
    cw_fallback_options fallback;   /* temperatures and the three thresholds */
    int condition_on_previous_text; /* 1 */
    const char *initial_prompt;     /* NULL; encoded as " " + strip(text) */
    int carry_initial_prompt;       /* 0 */
    const double *clip_timestamps;  /* seconds start,end,start,...; NULL = "0" */
    size_t n_clip_timestamps;
    int word_timestamps;            /* 0; words.c (not in lockstep) */
    const char *prepend_punctuations; /* CW_PREPEND_PUNCTUATIONS */
    const char *append_punctuations;  /* CW_APPEND_PUNCTUATIONS */
    double hallucination_silence_threshold; /* seconds; NAN = None */
    /* 0: the language (when detected) from the padded mel's first 30 s, as
     * openai-whisper; 1: from the first window as decoded, its encoding
     * reused (one encoder pass fewer a file). The two windows are the same
     * when the file is 30 s or longer and its first clip starts at 0, and
     * then the encoding is reused either way; under 30 s openai-whisper's
     * window has the log-mel of silence past the audio, the decoded window
     * zeros. The low-precision dtypes set 1 (api.c). */
    int language_from_window;
    /* Called after each window: seconds of content done, total seconds. */
    void (*progress)(void *user, double done_s, double total_s);
    void *progress_user;
} cw_longform_params;

cw_longform_params cw_longform_default_params(void);

/* transcribe()'s punctuation defaults (UTF-8). */
#define CW_PREPEND_PUNCTUATIONS "\"'\u201c\u00bf([{-"
#define CW_APPEND_PUNCTUATIONS "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001"

typedef struct {
    cw_segment *segments;   /* [n_segments]; text and tokens owned by the result */
    size_t n_segments;
    char *text;             /* decode(all_tokens without the initial prompt) */
    int32_t language_token; /* -1 for .en models */
    double duration;        /* content seconds: content_frames * 160 / 16000 */
} cw_longform_result;

void cw_longform_result_free(cw_longform_result *r);

/* transcribe() on a whole file.
 *   mel: the log-mel of the audio with 480000 zero samples appended
 *       (n_frames = content_frames + 3000), clamped and scaled once over the
 *       whole input, n_mels = enc->n_mels; read 3000 frames at a time with
 *       cw_mel_source_get (audio/mel_source.h), so it need not be in memory.
 *   rng: for T > 0 (may be NULL when the temperatures are all 0). */
cw_status cw_transcribe_sequential_source(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                          const cw_special_tokens *sp, const cw_text_codec *codec,
                                          cw_rng *rng, cw_mel_source *mel, const cw_longform_params *p,
                                          cw_longform_result *out);

/* The same on a tensor in memory: mel [n_mels, n_frames] float32 row-major. */
cw_status cw_transcribe_sequential(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                   const cw_special_tokens *sp, const cw_text_codec *codec,
                                   cw_rng *rng, const float *mel, size_t n_frames,
                                   const cw_longform_params *p, cw_longform_result *out);

/* ------------------------------------------------------------------------ */
/* Many files in lockstep (lockstep.c)                                        */

/* Where the files come from and where their results go. Every file gets
 * exactly one done() call, in the order files finish, on the calling
 * thread, right when its fate is known, so cw_last_error() describes a
 * failure during the call. */
typedef struct {
    /* file i's log-mel with its 30 s padding (as cw_transcribe_sequential_source
     * takes it); the driver frees it with cw_mel_source_free */
    cw_status (*open)(void *user, size_t file, cw_mel_source **mel);
    /* status CW_OK: result is file i's (the callee takes it: free with
     * cw_longform_result_free); otherwise result is NULL */
    void (*done)(void *user, size_t file, cw_status status, cw_longform_result *result);
    void *user;
} cw_lockstep_io;

/* transcribe() on n_files files, batch of them at a time in lockstep: the
 * windows the files are at share each encoder call, and their greedy
 * temperature-0 decodings share each decoder pass (net->forward), a file
 * taking the next one's place as it finishes. Each file's result equals
 * that of cw_transcribe_sequential_source on it alone (rng seeded with seed
 * per file, as one call would be). What does not step in lockstep runs on
 * net->side for that window alone: language detection, temperature fallback
 * (cw_decode_fallback_rest), beam search, a first temperature above 0.
 * net must hold batch slots; the encoder batch windows. Returns CW_OK when
 * every file was processed (some may have failed: see done()), or the error
 * that stopped all of them (every file then had its done() call). */
cw_status cw_transcribe_lockstep(const cw_encoder_net *enc, const cw_slot_net *net, const cw_special_tokens *sp,
                                 const cw_text_codec *codec, uint64_t seed, const cw_longform_params *p,
                                 size_t n_files, size_t batch, const cw_lockstep_io *io);

/* One piece of a window's tokens: tokens[begin, end) from start to end seconds. */
typedef struct {
    size_t begin, end;
    double start, end_time;
} cw_split_piece;

/* transcribe()'s split of a window's tokens (tokens [n]) at consecutive
 * timestamps. pieces must hold n + 1 entries; returns their count and sets
 * *seek_advance (mel frames). time_offset = seek * 160 / 16000 seconds;
 * segment_size in frames. */
size_t cw_split_window(const int32_t *tokens, size_t n, int32_t timestamp_begin,
                       double time_offset, size_t segment_size,
                       cw_split_piece *pieces, long *seek_advance);

/* ------------------------------------------------------------------------ */
/* Chunked, batched long form (chunked.c)                                     */

typedef struct {
    cw_decode_options decode; /* language_token -1: detect once (multilingual);
                                 the search is forced to greedy, T = 0,
                                 timestamps on, no prompt, as the pipeline */
    size_t batch_size;        /* chunks per encoder call and decoding, >= 1 */
    double chunk_length;      /* seconds, (0, 30]; 0 = 30 */
    double stride_length;     /* seconds on each side, 2 * stride < chunk; 0 = chunk / 6 */
    /* Called after each batch: seconds of content done, total seconds. */
    void (*progress)(void *user, double done_s, double total_s);
    void *progress_user;
} cw_chunked_params;

cw_chunked_params cw_chunked_default_params(void);

/* The HF ASR pipeline's chunked transcription over a whole file's log-mel
 * (same layout and padding as cw_transcribe_sequential's mel). Segments carry
 * the merged text tokens only (no timestamp tokens: a segment may span two
 * chunks); seek is the start frame of the chunk the segment began in. */
cw_status cw_transcribe_chunked(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                const cw_special_tokens *sp, const cw_text_codec *codec,
                                const float *mel, size_t n_frames, const cw_chunked_params *p,
                                cw_longform_result *out);

/* The same, reading the log-mel through a source (audio/mel_source.h). */
cw_status cw_transcribe_chunked_source(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                       const cw_special_tokens *sp, const cw_text_codec *codec,
                                       cw_mel_source *mel, const cw_chunked_params *p,
                                       cw_longform_result *out);

/* ------------------------------------------------------------------------ */
/* Batches of windows (batch.c), shared by chunked.c and vad_batched.c        */

typedef struct {
    const cw_encoder_net *enc;
    const cw_decoder_net *dec;
    const cw_special_tokens *sp;
    const cw_text_codec *codec;
} cw_batch_env;

/* windows [nb, n_mels, 3000] through the encoder, then one decoding of the
 * nb windows together: res [nb] (free each with cw_decode_result_free). */
cw_status cw_batch_decode(const cw_batch_env *e, const cw_decode_options *o, const float *windows, size_t nb,
                          cw_decode_result *res);
/* Multilingual model and *language < 0: detects it on window [n_mels, 3000]. */
cw_status cw_batch_detect_language(const cw_batch_env *e, const float *window, int32_t *language);
/* Appends seg (its text and tokens now owned by out; id set), growing
 * out->segments; *cap: its capacity. */
cw_status cw_longform_append(cw_longform_result *out, size_t *cap, const cw_segment *seg);
/* out->text = the segments' texts joined. */
cw_status cw_longform_join_text(cw_longform_result *out);

/* Where a chunk lies, in seconds (the pipeline's stride triple, plus its start). */
typedef struct {
    double start;        /* on the file's timeline */
    double length;       /* seconds of audio in the chunk (shorter for the last) */
    double stride_left;  /* 0 for the first chunk */
    double stride_right; /* 0 for the last chunk */
} cw_chunk_span;

typedef struct {
    int32_t *v;
    size_t n, cap;
} cw_token_run;

/* Appends x [n] to a, growing it (amortised doubling). */
cw_status cw_token_run_push(cw_token_run *a, const int32_t *x, size_t n);

/* A resolved segment: merged text tokens from start to end seconds; end is
 * NAN when the stream ended without a closing timestamp, start NAN when no
 * opening one came. chunk: index of the chunk where it started. */
typedef struct {
    int32_t *tokens;
    size_t n_tokens;
    double start, end;
    size_t chunk;
} cw_merge_piece;

/* _decode_asr's state machine, fed one chunk at a time in order. */
typedef struct {
    int32_t timestamp_begin, eot;
    double time_precision;      /* seconds per timestamp step (0.02) */
    cw_merge_piece *pieces;     /* [n_pieces] ready; the caller reads, then clears them */
    size_t n_pieces, cap_pieces;
    /* state */
    cw_token_run *runs;         /* previous_tokens: text runs awaiting a closing timestamp */
    size_t n_runs, cap_runs;
    cw_token_run current;       /* current_tokens of the chunk being read */
    double seg_start;
    int has_start, skip;
    size_t start_chunk, n_chunks;
} cw_chunk_merger;

void cw_chunk_merger_init(cw_chunk_merger *m, int32_t timestamp_begin, int32_t eot, double time_precision);
/* tokens [n]: one chunk's decoded tokens (text < eot, timestamps >= timestamp_begin). */
cw_status cw_chunk_merger_add(cw_chunk_merger *m, const int32_t *tokens, size_t n, const cw_chunk_span *c);
/* End of the stream: pending text becomes a last piece (end NAN). */
cw_status cw_chunk_merger_finish(cw_chunk_merger *m);
void cw_chunk_merger_clear_pieces(cw_chunk_merger *m);
void cw_chunk_merger_free(cw_chunk_merger *m);

/* One step of _find_longest_common_sequence: keep left[:*left_mid] + right[*right_mid:]. */
void cw_lcs_cut(const int32_t *left, size_t nl, const int32_t *right, size_t nr, size_t *left_mid,
                size_t *right_mid);

/* ------------------------------------------------------------------------ */
/* VAD-batched long form (vad_batched.c)                                      */

typedef struct {
    cw_decode_options decode;  /* language_token -1: detect once (multilingual);
                                  greedy, T = 0, no prompt, as the chunked mode */
    int with_timestamps;       /* 1 (cwhisper's default): timestamps, a chunk ended early decoded
                                  again from its last one; 0: text only (<|notimestamps|>),
                                  faster-whisper's default */
    size_t batch_size;         /* chunks per encoder call and decoding, >= 1 */
    cw_vad_options vad;        /* max_speech_duration_s is forced to 30 */
    void (*progress)(void *user, double done_s, double total_s);
    void *progress_user;
} cw_vad_batched_params;

/* faster-whisper's BatchedInferencePipeline over samples [n] (16 kHz mono):
 * Silero speech regions (get_speech_timestamps), merged in order into chunks
 * of at most 30 s of speech (collect_chunks), each chunk's samples
 * concatenated and turned into its own log-mel (clamped over the chunk,
 * zero past its end), decoded batch_size at a time, split at timestamp pairs
 * when decoded with timestamps, and mapped back to the file's timeline
 * (SpeechTimestampsMap). seek is the chunk's start on the speech-only
 * timeline, in frames, as faster-whisper's. */
cw_status cw_transcribe_vad_batched(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                    const cw_special_tokens *sp, const cw_text_codec *codec, cw_threadpool *pool,
                                    const cw_silero *vad, const float *samples, size_t n,
                                    const cw_vad_batched_params *p, cw_longform_result *out);

/* WhisperModel.transcribe(vad_filter=True)'s filtering: *speech [*n_speech]
 * (malloc'ed; NULL when no speech) is the speech regions of samples [n]
 * concatenated; map restores times on it to the file's timeline. */
cw_status cw_vad_filter(const cw_silero *vad, cw_threadpool *pool, const float *samples, size_t n,
                        const cw_vad_options *o, float **speech, size_t *n_speech, cw_vad_timemap *map);

/* restore_speech_timestamps on segments [n] (start, end; no words). */
void cw_vad_restore_segments(cw_segment *segments, size_t n, const cw_vad_timemap *map);

#endif
