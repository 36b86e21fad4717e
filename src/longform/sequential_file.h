/* OpenAI's sequential long-form algorithm (sequential.c) as a per-file state
 * machine, so that one loop (cw_transcribe_sequential_source) and the
 * lockstep driver over many files (lockstep.c) run the same code:
 *
 *   cw_lf_file_begin            language (detected once; or on the first
 *                               window, cw_lf_file_window_language), initial prompt
 *   while cw_lf_file_next gives a window (f->window, options f->o):
 *       encode it, decode it (decode_with_fallback, or a decode task and
 *       cw_decode_fallback_rest), then cw_lf_file_window_done(result)
 *   cw_lf_file_finish           the text; cw_lf_file_free in every case. */
#ifndef CW_LONGFORM_SEQUENTIAL_FILE_H
#define CW_LONGFORM_SEQUENTIAL_FILE_H

#include "longform/longform.h"
#include "longform/words.h"

typedef struct {
    const cw_encoder_net *enc;
    const cw_longform_params *p;
    cw_decode_env env;       /* env.net: language detection (and the decodings of the one-file loop) */
    cw_mel_source *mel;      /* borrowed */
    size_t n_frames, content_frames;
    cw_token_run all_tokens;
    size_t n_initial_prompt, prompt_reset_since;
    size_t seg_cap;
    cw_longform_result *out;
    float *window;           /* [n_mels, 3000]: the current window */
    long *clips;             /* [2 * n_clips] frames */
    size_t n_clips, clip;
    long seek;
    /* the window cw_lf_file_next readied */
    size_t size;             /* content frames in it */
    double time_offset;
    cw_decode_options o;     /* its decoding options (prompt included) */
    int32_t *prompt_buf;
    cw_words_window words;   /* word timestamps: the window's place, last speech */
    int lang_pending;        /* the language waits for the first window's encoding */
} cw_lf_file;

/* mel: the whole file's log-mel with its 30 s padding (see
 * cw_transcribe_sequential_source); out is filled as windows finish. */
cw_status cw_lf_file_begin(cw_lf_file *f, const cw_encoder_net *enc, const cw_decode_env *env, cw_mel_source *mel,
                           const cw_longform_params *p, cw_longform_result *out);
cw_status cw_lf_file_next(cw_lf_file *f, int *has_window);
/* f->window through enc, given to env.net (set_audio); then
 * cw_lf_file_window_language. */
cw_status cw_lf_file_encode(cw_lf_file *f);
/* When the language waits for the first window (f->lang_pending): detects
 * it on env.net, which must be listening to f->window's encoding, into
 * f->o and the result. A no-op otherwise. */
cw_status cw_lf_file_window_language(cw_lf_file *f);
/* r: the window's decoding (taken: *r is emptied). */
cw_status cw_lf_file_window_done(cw_lf_file *f, cw_decode_result *r);
cw_status cw_lf_file_finish(cw_lf_file *f);
void cw_lf_file_free(cw_lf_file *f);

#endif
