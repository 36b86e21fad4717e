/* Word timestamps in the sequential long-form loop (words.c), as
 * openai/whisper transcribe.py with word_timestamps=True. */
#ifndef CW_LONGFORM_WORDS_H
#define CW_LONGFORM_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "cwhisper.h"
#include "decode/decode.h"
#include "vad/vad.h"

/* What the alignment needs besides the segments; pointers borrowed. */
typedef struct {
    const cw_decoder_net *net;       /* listening to the window (align) */
    const cw_text_codec *codec;
    const cw_special_tokens *sp;
    int32_t language_token;          /* -1 for .en models */
    int translate;
    const char *prepend_punctuations;
    const char *append_punctuations;
    double hallucination_silence_threshold; /* NAN: off */
} cw_words_env;

/* One window's place in the file, and the state carried between windows. */
typedef struct {
    long previous_seek;          /* the window's start, frames */
    size_t segment_size;         /* its content frames */
    size_t content_frames;       /* of the file */
    int single_timestamp_ending;
    double last_speech;          /* last_speech_timestamp: 0 at the start of the file */
} cw_words_window;

/* timing.py add_word_timestamps on segs [n_segs] of one window (their seek,
 * start, end, tokens): fills each segment's words (malloc'ed; free with
 * cw_segment_words_free) and moves its start and end. */
cw_status cw_add_word_timestamps(const cw_words_env *e, cw_segment *segs, size_t n_segs, size_t num_frames,
                                 double last_speech);

/* Everything transcribe() does with words after a window was split: the
 * words, the seek moved to the last word's end (*seek: after the split's
 * advance), the hallucination skipping (which may cut *n_segs: the caller
 * frees segments past it, or set *drop: the window's segments are all
 * dropped, as the loop's `continue`), and w->last_speech. */
cw_status cw_words_window_pass(const cw_words_env *e, cw_words_window *w, cw_segment *segs, size_t *n_segs,
                               long *seek, int *drop);

void cw_segment_words_free(cw_segment *seg);

/* faster-whisper's restore_speech_timestamps (--vad): a segment with words
 * gets each word's start and end mapped through the span of the word's
 * middle, and its start and end from its words; one without, as
 * cw_vad_restore_segments. words: a writable copy of the segments' words,
 * in order (segs[i].words are pointed into it). */
void cw_vad_restore_words(cw_segment *segs, size_t n, cw_word *words, const cw_vad_timemap *map);

#endif
