/* OpenAI's sequential long-form algorithm, as openai/whisper transcribe.py
 * transcribe() (without word timestamps): language detection once on the
 * first 30 s, then windows mel[:, seek:seek+segment_size] zero-padded in the
 * log-mel domain to 3000 frames, decode_with_fallback with the previous
 * output as prompt, the no-speech skip rule, the timestamp split (split.c),
 * the seek advance and the prompt reset; with word timestamps, words.c's
 * steps where transcribe() calls add_word_timestamps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "longform/longform.h"
#include "longform/sequential_file.h"
#include "longform/words.h"
#include "util/error.h"

#define N_FRAMES 3000 /* mel frames per window */

cw_longform_params cw_longform_default_params(void)
{
    cw_longform_params p;
    memset(&p, 0, sizeof p);
    p.decode = cw_decode_default_options();
    p.fallback = cw_fallback_default_options();
    p.condition_on_previous_text = 1;
    p.prepend_punctuations = CW_PREPEND_PUNCTUATIONS;
    p.append_punctuations = CW_APPEND_PUNCTUATIONS;
    p.hallucination_silence_threshold = NAN;
    return p;
}

void cw_longform_result_free(cw_longform_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_segments; i++) {
        free((void *)r->segments[i].text);
        free((void *)r->segments[i].tokens);
        cw_segment_words_free(&r->segments[i]);
    }
    free(r->segments);
    free(r->text);
    memset(r, 0, sizeof *r);
}

typedef cw_lf_file lf_state;

/* Python's round(t * FRAMES_PER_SECOND) for each clip time; pairs of frames. */
static cw_status seek_clips(const cw_longform_params *p, size_t content_frames, long **clips, size_t *n_clips)
{
    size_t n = p->clip_timestamps ? p->n_clip_timestamps : 0;
    long *pts = cw_malloc((n + 2) * sizeof *pts);
    if (!pts) return CW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) pts[i] = (long)nearbyint(p->clip_timestamps[i] * 100.0);
    if (n == 0) pts[n++] = 0;
    if (n % 2 == 1) pts[n++] = (long)content_frames;
    *clips = pts;
    *n_clips = n / 2;
    return CW_OK;
}

/* pad_or_trim(mel[:, seek:seek+size], 3000): zeros in the log-mel domain. */
static cw_status cut_window(const lf_state *s, size_t seek, size_t size)
{
    size_t n_mels = s->enc->n_mels;
    cw_status rc = cw_mel_source_get(s->mel, seek, size, s->window);
    /* [n_mels, size] -> [n_mels, 3000], from the last row back */
    for (size_t m = n_mels; rc == CW_OK && m-- > 0;) {
        memmove(s->window + m * N_FRAMES, s->window + m * size, size * sizeof(float));
        memset(s->window + m * N_FRAMES + size, 0, (N_FRAMES - size) * sizeof(float));
    }
    return rc;
}

static cw_status encode_window(lf_state *s, const float *window)
{
    const float *states = NULL;
    cw_status rc = s->enc->encode(s->enc->ctx, window, 1, &states);
    if (rc == CW_OK) rc = s->env.net->set_audio(s->env.net->ctx, states, 1);
    return rc;
}

/* transcribe(): language from the first 3000 frames of the padded mel
 * (real log-mel of the zero tail, not 0.0 padding) when not given. */
static cw_status detect_padded(lf_state *s, int32_t *language)
{
    cw_status rc = cw_mel_source_get(s->mel, 0, N_FRAMES, s->window);
    if (rc == CW_OK) rc = encode_window(s, s->window);
    if (rc == CW_OK) rc = cw_detect_language(s->env.net, s->env.sp, 1, language, NULL);
    return rc;
}

/* The language, or the decision to take it from the first window: where
 * that window is the padded mel's first 30 s (seek 0, 3000 frames of
 * content) the same encoding serves both (cw_longform_params). */
static cw_status pick_language(lf_state *s, int32_t *language)
{
    const cw_special_tokens *sp = s->env.sp;
    *language = sp->multilingual ? s->p->decode.language_token : -1;
    if (!sp->multilingual || *language >= 0) return CW_OK;
    long first_end = s->n_clips ? s->clips[1] : 0;
    if (first_end > (long)s->content_frames) first_end = (long)s->content_frames;
    int same = s->n_clips && s->clips[0] == 0 && first_end >= N_FRAMES;
    if (same || s->p->language_from_window) {
        s->lang_pending = 1;
        return CW_OK;
    }
    return detect_padded(s, language);
}

cw_status cw_lf_file_window_language(cw_lf_file *s)
{
    if (!s->lang_pending) return CW_OK;
    int32_t lang = -1;
    cw_status rc = cw_detect_language(s->env.net, s->env.sp, 1, &lang, NULL);
    if (rc != CW_OK) return rc;
    s->lang_pending = 0;
    s->out->language_token = lang;
    s->o.language_token = lang;
    return CW_OK;
}

/* initial_prompt tokens = encode(" " + initial_prompt.strip()), preloaded into all_tokens. */
static cw_status load_initial_prompt(lf_state *s)
{
    if (!s->p->initial_prompt) return CW_OK;
    size_t len = strlen(s->p->initial_prompt);
    char *text = cw_malloc(len + 2);
    if (!text) return CW_ERR_NOMEM;
    text[0] = ' ';
    memcpy(text + 1, s->p->initial_prompt, len + 1);
    cw_strip_inplace(text + 1);
    int32_t *ids = NULL;
    size_t n = 0;
    const cw_text_codec *c = s->env.codec;
    cw_status rc = c->encode(c->ctx, text, strlen(text), &ids, &n);
    if (rc == CW_OK) rc = cw_token_run_push(&s->all_tokens, ids, n);
    if (rc == CW_OK) s->n_initial_prompt = n;
    free(ids);
    free(text);
    return rc;
}

/* decode_options["prompt"]: all_tokens[prompt_reset_since:], or with
 * carry_initial_prompt the initial prompt + the rest left-trimmed to fit.
 * *buf is malloc'ed when the prompt has to be assembled. */
static cw_status window_prompt(const lf_state *s, cw_decode_options *o, int32_t **buf)
{
    const int32_t *all = s->all_tokens.v;
    *buf = NULL;
    if (!s->p->carry_initial_prompt) {
        o->prompt = all ? all + s->prompt_reset_since : NULL;
        o->n_prompt = s->all_tokens.n - s->prompt_reset_since;
        return CW_OK;
    }
    size_t ni = s->n_initial_prompt;
    long remaining = (long)(o->n_text_ctx / 2) - 1 - (long)ni;
    size_t from = ni > s->prompt_reset_since ? ni : s->prompt_reset_since;
    if (from > s->all_tokens.n) from = s->all_tokens.n;
    size_t rest = s->all_tokens.n - from, skip = 0; /* rest[-remaining:] */
    if (remaining > 0) skip = (size_t)remaining >= rest ? 0 : rest - (size_t)remaining;
    else if (remaining < 0) skip = (size_t)(-remaining) >= rest ? rest : (size_t)(-remaining);
    *buf = cw_malloc((ni + rest + 1) * sizeof **buf);
    if (!*buf) return CW_ERR_NOMEM;
    memcpy(*buf, all, ni * sizeof **buf);
    memcpy(*buf + ni, all + from + skip, (rest - skip) * sizeof **buf);
    o->prompt = *buf;
    o->n_prompt = ni + rest - skip;
    return CW_OK;
}

/* transcribe()'s new_segment: the piece's tokens and text (seg->words empty). */
static cw_status make_segment(lf_state *s, long seek, const cw_split_piece *pc, const cw_decode_result *r,
                              cw_segment *seg)
{
    size_t n = pc->end - pc->begin, n_text = 0;
    int32_t *toks = cw_malloc((n ? n : 1) * sizeof *toks), *text_toks = cw_malloc((n ? n : 1) * sizeof *toks);
    char *text = NULL;
    cw_status rc = (toks && text_toks) ? CW_OK : CW_ERR_NOMEM;
    if (rc == CW_OK) {
        memcpy(toks, r->tokens + pc->begin, n * sizeof *toks);
        for (size_t i = 0; i < n; i++)
            if (toks[i] < s->env.sp->eot) text_toks[n_text++] = toks[i];
        rc = s->env.codec->decode(s->env.codec->ctx, text_toks, n_text, &text);
    }
    free(text_toks);
    if (rc != CW_OK) {
        free(toks);
        return rc;
    }
    *seg = (cw_segment){0, seek, pc->start, pc->end_time, text, toks, n,
                        r->avg_logprob, r->compression_ratio, r->no_speech_prob, r->temperature, NULL, 0};
    return CW_OK;
}

static void free_segment(cw_segment *seg)
{
    free((void *)seg->text);
    free((void *)seg->tokens);
    cw_segment_words_free(seg);
}

/* The "instantaneous or empty" clearing, then the segment joins the
 * result and all_tokens (seg is taken, also on failure). */
static cw_status commit_segment(lf_state *s, cw_segment *seg)
{
    cw_longform_result *out = s->out;
    if (out->n_segments == s->seg_cap) {
        size_t cap = s->seg_cap ? s->seg_cap * 2 : 16;
        cw_segment *v = cw_realloc(out->segments, cap * sizeof *v);
        if (!v) {
            free_segment(seg);
            return CW_ERR_NOMEM;
        }
        out->segments = v;
        s->seg_cap = cap;
    }
    char *probe = cw_strdup(seg->text);
    if (!probe) {
        free_segment(seg);
        return CW_ERR_NOMEM;
    }
    if (seg->start == seg->end || cw_strip_inplace(probe)[0] == '\0') {
        ((char *)seg->text)[0] = '\0';
        seg->n_tokens = 0;
        cw_segment_words_free(seg);
    }
    free(probe);
    seg->id = (int)out->n_segments;
    out->segments[out->n_segments++] = *seg;
    return cw_token_run_push(&s->all_tokens, seg->tokens, seg->n_tokens);
}

/* transcribe()'s word-timestamp steps on the window's segments cur [*n]. */
static cw_status window_words(lf_state *s, const cw_decode_result *r, long previous_seek, cw_segment *cur,
                              size_t *n, int *drop)
{
    const cw_longform_params *p = s->p;
    int32_t tb = s->env.sp->timestamp_begin;
    cw_words_env e = {s->env.net, s->env.codec, s->env.sp, s->out->language_token, p->decode.translate,
                      p->prepend_punctuations ? p->prepend_punctuations : CW_PREPEND_PUNCTUATIONS,
                      p->append_punctuations ? p->append_punctuations : CW_APPEND_PUNCTUATIONS,
                      p->hallucination_silence_threshold};
    s->words.previous_seek = previous_seek;
    s->words.segment_size = s->size;
    s->words.content_frames = s->content_frames;
    s->words.single_timestamp_ending =
        r->n_tokens >= 2 && r->tokens[r->n_tokens - 2] < tb && r->tokens[r->n_tokens - 1] >= tb;
    return cw_words_window_pass(&e, &s->words, cur, n, &s->seek, drop);
}

/* The seek loop's head (the flattened clip/seek loop of transcribe()):
 * moves to the next window to decode and readies it (log-mel in f->window,
 * options and prompt in f->o), or says there is none. */
cw_status cw_lf_file_next(cw_lf_file *s, int *has_window)
{
    *has_window = 0;
    while (s->clip < s->n_clips) {
        long start = s->clips[2 * s->clip], end = s->clips[2 * s->clip + 1];
        /* deviation: the reference would decode empty windows past the audio
         * for a clip ending after it; the clip is cut at the end of the audio */
        if (end > (long)s->content_frames) end = (long)s->content_frames;
        if (s->seek < start) s->seek = start;
        if (s->seek >= end) {
            if (++s->clip < s->n_clips) s->seek = s->clips[2 * s->clip];
            continue;
        }
        if (s->seek < 0)
            return cw_error(CW_ERR_INVALID_ARG, "transcribe: clip beyond the audio (frame %ld)", s->seek);
        size_t size = N_FRAMES;
        if ((size_t)((long)s->content_frames - s->seek) < size) size = (size_t)((long)s->content_frames - s->seek);
        if ((size_t)(end - s->seek) < size) size = (size_t)(end - s->seek);
        s->size = size;
        s->time_offset = (double)(s->seek * 160) / 16000.0;
        cw_status rc = cut_window(s, (size_t)s->seek, size);
        free(s->prompt_buf);
        s->prompt_buf = NULL;
        s->o = s->p->decode;
        s->o.language_token = s->out->language_token;
        if (rc == CW_OK) rc = window_prompt(s, &s->o, &s->prompt_buf);
        *has_window = rc == CW_OK;
        return rc;
    }
    return CW_OK;
}

/* After the window's decoding (r, consumed): skip or split, advance seek. */
cw_status cw_lf_file_window_done(cw_lf_file *s, cw_decode_result *rr)
{
    const cw_longform_params *p = s->p;
    cw_decode_result r = *rr;
    memset(rr, 0, sizeof *rr);
    free(s->prompt_buf);
    s->prompt_buf = NULL;
    cw_status rc = CW_OK;
    /* no voice activity check */
    int skip = !isnan(p->fallback.no_speech_threshold) && r.no_speech_prob > p->fallback.no_speech_threshold;
    if (!isnan(p->fallback.logprob_threshold) && r.avg_logprob > p->fallback.logprob_threshold) skip = 0;
    if (skip) {
        s->seek += (long)s->size;
    } else {
        cw_split_piece *pieces = cw_malloc((r.n_tokens + 1) * sizeof *pieces);
        cw_segment *cur = cw_calloc(r.n_tokens + 1, sizeof *cur);
        long advance = 0, previous_seek = s->seek;
        rc = pieces && cur ? CW_OK : CW_ERR_NOMEM;
        size_t np = rc == CW_OK ? cw_split_window(r.tokens, r.n_tokens, s->env.sp->timestamp_begin,
                                                   s->time_offset, s->size, pieces, &advance) : 0;
        size_t n_made = 0, n_keep;
        int drop = 0;
        for (; rc == CW_OK && n_made < np; n_made++) rc = make_segment(s, s->seek, &pieces[n_made], &r, &cur[n_made]);
        free(pieces);
        s->seek += advance;
        n_keep = n_made;
        if (rc == CW_OK && p->word_timestamps) rc = window_words(s, &r, previous_seek, cur, &n_keep, &drop);
        for (size_t i = 0; i < n_made; i++) {
            if (rc == CW_OK && !drop && i < n_keep) rc = commit_segment(s, &cur[i]);
            else free_segment(&cur[i]);
        }
        free(cur);
        /* do not feed the prompt tokens if a high temperature was used */
        if (!drop && (!p->condition_on_previous_text || r.temperature > 0.5)) s->prompt_reset_since = s->all_tokens.n;
    }
    cw_decode_result_free(&r);
    if (rc == CW_OK && p->progress) {
        long done = s->seek < (long)s->content_frames ? s->seek : (long)s->content_frames;
        p->progress(p->progress_user, (double)(done * 160) / 16000.0, (double)(s->content_frames * 160) / 16000.0);
    }
    return rc;
}

cw_status cw_lf_file_begin(cw_lf_file *s, const cw_encoder_net *enc, const cw_decode_env *env, cw_mel_source *mel,
                           const cw_longform_params *p, cw_longform_result *out)
{
    memset(out, 0, sizeof *out);
    memset(s, 0, sizeof *s);
    size_t n_frames = cw_mel_source_n_frames(mel);
    if (cw_mel_source_n_mels(mel) != enc->n_mels)
        return cw_error(CW_ERR_INVALID_ARG, "transcribe: mel has %zu bins, the model %zu",
                        cw_mel_source_n_mels(mel), enc->n_mels);
    if (n_frames < N_FRAMES || enc->n_mels == 0)
        return cw_error(CW_ERR_INVALID_ARG, "transcribe: mel must include the 30 s padding (%zu frames)", n_frames);
    s->enc = enc;
    s->p = p;
    s->env = *env;
    s->mel = mel;
    s->n_frames = n_frames;
    s->content_frames = n_frames - N_FRAMES;
    s->out = out;
    out->duration = (double)(s->content_frames * 160) / 16000.0;
    s->window = cw_malloc(enc->n_mels * N_FRAMES * sizeof *s->window);
    cw_status rc = s->window ? seek_clips(p, s->content_frames, &s->clips, &s->n_clips) : CW_ERR_NOMEM;
    if (rc == CW_OK) rc = pick_language(s, &out->language_token);
    if (rc == CW_OK) rc = load_initial_prompt(s);
    if (rc == CW_OK && s->n_clips > 0) s->seek = s->clips[0];
    return rc;
}

cw_status cw_lf_file_finish(cw_lf_file *s)
{
    const cw_text_codec *codec = s->env.codec;
    if (s->lang_pending) { /* no window was decoded: detect as openai-whisper does */
        cw_status rc = detect_padded(s, &s->out->language_token);
        if (rc != CW_OK) return rc;
        s->lang_pending = 0;
    }
    return codec->decode(codec->ctx, s->all_tokens.v ? s->all_tokens.v + s->n_initial_prompt : NULL,
                         s->all_tokens.n - s->n_initial_prompt, &s->out->text);
}

void cw_lf_file_free(cw_lf_file *s)
{
    free(s->clips);
    free(s->window);
    free(s->all_tokens.v);
    free(s->prompt_buf);
    memset(s, 0, sizeof *s);
}

/* The window f->window through the encoder; the decoder (env.net) listens to it. */
cw_status cw_lf_file_encode(cw_lf_file *s)
{
    cw_status rc = encode_window(s, s->window);
    return rc ? rc : cw_lf_file_window_language(s);
}

cw_status cw_transcribe_sequential_source(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                          const cw_special_tokens *sp, const cw_text_codec *codec,
                                          cw_rng *rng, cw_mel_source *mel, const cw_longform_params *p,
                                          cw_longform_result *out)
{
    cw_lf_file s;
    cw_decode_env env = {dec, sp, codec, rng};
    cw_status rc = cw_lf_file_begin(&s, enc, &env, mel, p, out);
    for (int has = 1; rc == CW_OK;) {
        rc = cw_lf_file_next(&s, &has);
        if (rc != CW_OK || !has) break;
        cw_decode_result r;
        memset(&r, 0, sizeof r);
        rc = cw_lf_file_encode(&s);
        if (rc == CW_OK) rc = cw_decode_with_fallback(&s.env, &s.o, &p->fallback, &r);
        if (rc == CW_OK) rc = cw_lf_file_window_done(&s, &r);
        cw_decode_result_free(&r);
    }
    if (rc == CW_OK) rc = cw_lf_file_finish(&s);
    cw_lf_file_free(&s);
    if (rc != CW_OK) cw_longform_result_free(out);
    return rc;
}

cw_status cw_transcribe_sequential(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                   const cw_special_tokens *sp, const cw_text_codec *codec,
                                   cw_rng *rng, const float *mel, size_t n_frames,
                                   const cw_longform_params *p, cw_longform_result *out)
{
    memset(out, 0, sizeof *out);
    cw_mel_source *src = NULL;
    cw_status rc = cw_mel_source_from_mel(mel, enc->n_mels, n_frames, &src);
    if (rc == CW_OK) rc = cw_transcribe_sequential_source(enc, dec, sp, codec, rng, src, p, out);
    cw_mel_source_free(src);
    return rc;
}
