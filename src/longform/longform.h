/* Long-form transcription: a whole file's log-mel cut into 30 s windows and
 * stitched back into segments on the file's timeline.
 * sequential.c: openai/whisper transcribe.py transcribe() (the seek loop,
 * conditioning on previous text, temperature fallback, no-speech skipping);
 * split.c: its splitting of one window's tokens at timestamp pairs. */
#ifndef CW_LONGFORM_H
#define CW_LONGFORM_H

#include <stddef.h>
#include <stdint.h>
#include "cwhisper.h"
#include "audio/mel_source.h"
#include "decode/decode.h"

typedef struct {
    cw_decode_options decode;       /* language_token -1: detect once (multilingual) */
    cw_fallback_options fallback;   /* temperatures and the three thresholds */
    int condition_on_previous_text; /* 1 */
    const char *initial_prompt;     /* NULL; encoded as " " + strip(text) */
    int carry_initial_prompt;       /* 0 */
    const double *clip_timestamps;  /* seconds start,end,start,...; NULL = "0" */
    size_t n_clip_timestamps;
    /* Called after each window: seconds of content done, total seconds. */
    void (*progress)(void *user, double done_s, double total_s);
    void *progress_user;
} cw_longform_params;

cw_longform_params cw_longform_default_params(void);

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

#endif
