/* The public transcription entry points: thin glue from cw_transcribe_params
 * to the stages (audio -> mel -> long-form loop over the network -> result).
 * No algorithm lives here. */
#include "cwhisper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio.h"
#include "audio/mel_source.h"
#include "backend/backend.h"
#include "decode/decode.h"
#include "longform/longform.h"
#include "longform/words.h"
#include "model/model.h"
#include "nn/net.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/file.h"
#include "vad/vad.h"

/* batch_size's bound (cwhisper.h), and the lockstep's cache slots' */
enum { MAX_BATCH = 64 };

struct cw_context {
    const cw_model *model;
    cw_backend *be;
    cw_net *net;      /* sized for net_seq sequences; rebuilt when a call needs more */
    size_t net_seq;
    size_t net_audio; /* windows per encoder call the net is sized for */
    cw_compute_dtype dtype;
    cw_silero *vad;   /* loaded on first use, kept for later calls with the same path */
    char *vad_path;
};

const char *cw_compute_dtype_name(cw_compute_dtype dtype)
{
    switch (dtype) {
    case CW_COMPUTE_FP32: return "fp32";
    case CW_COMPUTE_FP16: return "fp16";
    case CW_COMPUTE_BF16: return "bf16";
    case CW_COMPUTE_INT8: return "int8";
    }
    return NULL;
}

int cw_compute_dtype_from_name(const char *name)
{
    for (int d = CW_COMPUTE_FP32; d <= CW_COMPUTE_INT8; d++)
        if (name && strcmp(name, cw_compute_dtype_name((cw_compute_dtype)d)) == 0) return d;
    return -1;
}

cw_context_params cw_context_default_params(void) { return (cw_context_params){ .n_threads = 0 }; }

cw_status cw_context_params_check(const cw_context_params *p)
{
    if (!cw_compute_dtype_name(p->dtype))
        return cw_error(CW_ERR_INVALID_ARG, "compute dtype %d is not fp32, fp16, bf16 or int8", (int)p->dtype);
    if (p->device != CW_DEVICE_CPU && p->device != CW_DEVICE_CUDA)
        return cw_error(CW_ERR_INVALID_ARG, "device %d is not cpu or cuda", (int)p->device);
    if (p->int8_attention && p->dtype != CW_COMPUTE_INT8 && p->dtype != CW_COMPUTE_BF16)
        return cw_error(CW_ERR_INVALID_ARG, "int8 attention needs dtype int8 or bf16, not %s",
                        cw_compute_dtype_name(p->dtype));
    return CW_OK;
}

cw_status cw_context_create(const cw_model *model, const cw_context_params *params, cw_context **out)
{
    *out = NULL;
    if (!model) return cw_error(CW_ERR_INVALID_ARG, "cw_context_create: no model");
    cw_context_params p = params ? *params : cw_context_default_params();
    cw_status s = cw_context_params_check(&p);
    if (s) return s;
    cw_context *c = cw_calloc(1, sizeof *c);
    if (!c) return CW_ERR_NOMEM;
    c->model = model;
    c->dtype = p.dtype;
    cw_backend_params bp = cw_backend_default_params();
    bp.n_threads = p.n_threads;
    /* bf16 / int8 weights also mean bf16 / int8 activations (backend lowp mode) */
    bp.lowp = p.dtype == CW_COMPUTE_BF16 || p.dtype == CW_COMPUTE_INT8;
    bp.attn_i8 = p.int8_attention;
    if (p.device == CW_DEVICE_CUDA) {
        bp.kind = CW_BACKEND_CUDA;
        bp.device = p.device_index;
        bp.lowp |= p.dtype == CW_COMPUTE_FP16; /* fp16 tensor-core products (cuda/README.md) */
    }
    s = cw_backend_create(&bp, &c->be);
    if (s) {
        free(c);
        return s;
    }
    *out = c;
    return CW_OK;
}

size_t cw_context_describe(const cw_context *c, char *buf, size_t cap)
{
    const cw_backend *be = c->be;
    int n = snprintf(buf, cap, "%s, %d threads, dtype %s: fp32 GEMM %s", be->desc,
                     cw_threadpool_size(be->pool), cw_compute_dtype_name(c->dtype), be->desc);
    size_t len = n > 0 ? (size_t)n : 0;
    if (c->dtype == CW_COMPUTE_FP16) {
        n = snprintf(buf && len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                     " (fp16 weights widened to fp32; conv and attention fp32)");
        len += n > 0 ? (size_t)n : 0;
    } else if (be->lowp_i8_desc || be->lowp_bf16_desc) {
        const char *k = c->dtype == CW_COMPUTE_INT8 ? be->lowp_i8_desc : be->lowp_bf16_desc;
        if (be->lowp_attn_desc)
            n = snprintf(buf && len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                         " (conv stem, attention of few query rows), %s GEMM: %s (Linear layers, logits),"
                         " attention: %s",
                         cw_compute_dtype_name(c->dtype), k ? k : "?", be->lowp_attn_desc);
        else
            n = snprintf(buf && len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                         " (conv stem, attention), %s GEMM: %s (Linear layers, logits)",
                         cw_compute_dtype_name(c->dtype), k ? k : "?");
        len += n > 0 ? (size_t)n : 0;
        if (c->dtype == CW_COMPUTE_INT8 && be->logits_screen_desc) {
            n = snprintf(buf && len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                         ", logits ranked by an int4 screen: %s (the best 128 text tokens and the specials exact)",
                         be->logits_screen_desc);
            len += n > 0 ? (size_t)n : 0;
        }
    }
    return len;
}

void cw_context_free(cw_context *c)
{
    if (!c) return;
    cw_net_free(c->net);
    cw_silero_free(c->vad);
    free(c->vad_path);
    cw_backend_free(c->be);
    free(c);
}

cw_transcribe_params cw_transcribe_default_params(void)
{
    return (cw_transcribe_params){
        .language = NULL, .task = CW_TASK_TRANSCRIBE,
        .temperature = 0.0, .temperature_increment = 0.2, .no_fallback = 0,
        .beam_size = 0, .patience = 0.0, .best_of = 0, .length_penalty = -1.0,
        .compression_ratio_threshold = 2.4, .logprob_threshold = -1.0, .no_speech_threshold = 0.6,
        .condition_on_previous_text = 1, .initial_prompt = NULL, .carry_initial_prompt = 0, .seed = 0,
        .suppress_blank = 1, .without_timestamps = 0, .max_initial_timestamp = 1.0,
        .clip_timestamps = NULL, .n_clip_timestamps = 0,
        .progress = NULL, .progress_user = NULL,
        .long_form = CW_LONG_FORM_SEQUENTIAL, .batch_size = 1, .chunk_length = 0.0, .stride_length = 0.0,
        .vad = 0, .vad_params = cw_vad_default_params(), .vad_batched_timestamps = 1,
        .word_timestamps = 0, .prepend_punctuations = NULL, .append_punctuations = NULL,
        .hallucination_silence_threshold = 0.0,
    };
}

cw_vad_params cw_vad_default_params(void)
{
    return (cw_vad_params){.threshold = 0.5, .neg_threshold = -1.0, .min_speech_duration_ms = 0,
                           .max_speech_duration_s = 0, .min_silence_duration_ms = -1, .speech_pad_ms = 400,
                           .model = NULL};
}

/* clip_timestamps: times the seek loop can turn into frames, and a mode
 * whose windows follow the file's own timeline. */
static cw_status check_clips(const cw_transcribe_params *p)
{
    if (p->n_clip_timestamps == 0) return CW_OK;
    if (!p->clip_timestamps)
        return cw_error(CW_ERR_INVALID_ARG, "%zu clip timestamps but no array", p->n_clip_timestamps);
    if (p->long_form != CW_LONG_FORM_SEQUENTIAL || p->vad)
        return cw_error(CW_ERR_INVALID_ARG, "clip timestamps need the sequential long-form mode without VAD");
    for (size_t i = 0; i < p->n_clip_timestamps; i++)
        if (!(p->clip_timestamps[i] >= 0 && p->clip_timestamps[i] < 1e9))
            return cw_error(CW_ERR_INVALID_ARG, "clip timestamp %g s is negative, not finite or too large",
                            p->clip_timestamps[i]);
    return CW_OK;
}

/* Rejects what openai-whisper rejects, with the reason, before any work. */
static cw_status check_params(const cw_model *m, const cw_transcribe_params *p, int32_t *lang_token)
{
    const cw_tokenizer *tok = m->tok;
    int multilingual = cw_tokenizer_specials(tok)->multilingual;
    *lang_token = -1;
    if (!(p->temperature >= 0.0 && p->temperature <= 1.0))
        return cw_error(CW_ERR_INVALID_ARG, "temperature %g is outside [0, 1]", p->temperature);
    if (!(p->temperature_increment > 0.0) && !p->no_fallback)
        return cw_error(CW_ERR_INVALID_ARG, "temperature increment %g must be positive",
                        p->temperature_increment);
    if (p->beam_size < 0) return cw_error(CW_ERR_INVALID_ARG, "beam size %d is negative", p->beam_size);
    if (p->best_of < 0) return cw_error(CW_ERR_INVALID_ARG, "best-of %d is negative", p->best_of);
    if (p->patience < 0 || (p->patience > 0 && p->beam_size == 0))
        return cw_error(CW_ERR_INVALID_ARG, "patience needs a beam size and must not be negative");
    if (p->length_penalty > 1.0)
        return cw_error(CW_ERR_INVALID_ARG, "length penalty %g is outside [0, 1]", p->length_penalty);
    if (p->long_form != CW_LONG_FORM_SEQUENTIAL && p->long_form != CW_LONG_FORM_CHUNKED &&
        p->long_form != CW_LONG_FORM_VAD_BATCHED)
        return cw_error(CW_ERR_INVALID_ARG, "long-form mode %d is unknown", (int)p->long_form);
    const cw_vad_params *v = &p->vad_params;
    if ((p->vad || p->long_form == CW_LONG_FORM_VAD_BATCHED) &&
        (!(v->threshold > 0 && v->threshold < 1) || !(v->neg_threshold < 1) || !(v->min_speech_duration_ms >= 0) ||
         !(v->speech_pad_ms >= 0) || isnan(v->max_speech_duration_s) || isnan(v->min_silence_duration_ms)))
        return cw_error(CW_ERR_INVALID_ARG, "VAD parameters out of range (threshold in (0, 1), durations >= 0)");
    if (p->batch_size < 0 || p->batch_size > MAX_BATCH) /* 0 (a zeroed struct) counts as 1 */
        return cw_error(CW_ERR_INVALID_ARG, "batch size %d is outside [1, %d]", p->batch_size, MAX_BATCH);
    if (p->batch_size > 1 && p->long_form == CW_LONG_FORM_SEQUENTIAL)
        return cw_error(CW_ERR_INVALID_ARG, "batch size %d needs the chunked or vad-batched long-form mode",
                        p->batch_size);
    double chunk = p->chunk_length > 0 ? p->chunk_length : 30.0;
    if (!(p->chunk_length >= 0 && chunk <= 30.0))
        return cw_error(CW_ERR_INVALID_ARG, "chunk length %g s is outside (0, 30]", p->chunk_length);
    double stride = p->stride_length > 0 ? p->stride_length : chunk / 6.0;
    if (!(p->stride_length >= 0 && 2 * stride < chunk))
        return cw_error(CW_ERR_INVALID_ARG, "stride length %g s must be under half the chunk (%g s)",
                        p->stride_length, chunk);
    if (p->long_form != CW_LONG_FORM_SEQUENTIAL && (p->beam_size > 0 || p->best_of > 0))
        return cw_error(CW_ERR_INVALID_ARG, "the %s long-form mode decodes greedily (no beam size, best-of)",
                        p->long_form == CW_LONG_FORM_CHUNKED ? "chunked" : "vad-batched");
    cw_status cs = check_clips(p);
    if (cs != CW_OK) return cs;
    if (p->word_timestamps && p->long_form != CW_LONG_FORM_SEQUENTIAL)
        return cw_error(CW_ERR_INVALID_ARG, "word timestamps need --long-form sequential");
    if (!(p->max_duration >= 0 && p->max_duration < 1e12) || p->max_file_size < 0)
        return cw_error(CW_ERR_INVALID_ARG, "maximum duration %g s or file size %lld bytes is out of range",
                        p->max_duration, p->max_file_size);
    if (p->task == CW_TASK_TRANSLATE && !multilingual)
        return cw_error(CW_ERR_INVALID_ARG, "%s: an English-only model cannot translate", m->dir);
    if (!p->language || strcmp(p->language, "auto") == 0) return CW_OK;
    int idx = cw_language_index(p->language);
    if (idx < 0) return cw_error(CW_ERR_INVALID_ARG, "unknown language '%s'", p->language);
    if (!multilingual) {
        if (strcmp(cw_language_code(idx), "en") != 0)
            return cw_error(CW_ERR_INVALID_ARG, "%s: an English-only model cannot transcribe '%s'",
                            m->dir, p->language);
        return CW_OK;
    }
    *lang_token = cw_tokenizer_language_token(tok, idx);
    if (*lang_token < 0)
        return cw_error(CW_ERR_INVALID_ARG, "%s: the model has no language '%s'", m->dir, p->language);
    return CW_OK;
}

static size_t sequences_needed(const cw_transcribe_params *p)
{
    size_t n = p->long_form != CW_LONG_FORM_SEQUENTIAL && p->batch_size > 1 ? (size_t)p->batch_size : 1;
    if ((size_t)p->beam_size > n) n = (size_t)p->beam_size;
    if ((size_t)p->best_of > n) n = (size_t)p->best_of;
    return n;
}

/* Creates the net, or grows it when a call needs more windows or sequences
 * than it was sized for (a chunked batch of n windows needs n of each). */
static cw_status ensure_net(cw_context *c, size_t n_audio, size_t n_seq)
{
    if (c->net && c->net_seq >= n_seq && c->net_audio >= n_audio) return CW_OK;
    cw_status s;
    if (c->net) { /* keep the weights, grow the rest */
        if (c->net_seq > n_seq) n_seq = c->net_seq;
        if (c->net_audio > n_audio) n_audio = c->net_audio;
        s = cw_net_resize(c->net, n_audio, n_seq);
        if (s) {
            cw_net_free(c->net);
            c->net = NULL;
        }
    } else {
        s = cw_net_create_dtype(c->be, c->model, c->dtype, n_audio, n_seq, &c->net);
    }
    c->net_seq = s ? 0 : n_seq;
    c->net_audio = s ? 0 : n_audio;
    return s;
}

typedef struct {
    const cw_transcribe_params *p;
} progress_relay;

static void relay_progress(void *user, double done_s, double total_s)
{
    const progress_relay *r = user;
    if (r->p->progress) r->p->progress(done_s, total_s, r->p->progress_user);
}

static void fill_longform(cw_longform_params *lp, const cw_context *c, const cw_transcribe_params *p,
                          int32_t lang_token, progress_relay *relay)
{
    const cw_model *m = c->model;
    *lp = cw_longform_default_params();
    /* not the exact mode: one encoder pass fewer for each file under 30 s */
    lp->language_from_window = c->dtype == CW_COMPUTE_BF16 || c->dtype == CW_COMPUTE_INT8;
    cw_decode_options *o = &lp->decode;
    o->language_token = lang_token;
    o->translate = p->task == CW_TASK_TRANSLATE;
    o->beam_size = (size_t)p->beam_size;
    o->patience = p->patience > 0 ? p->patience : 0.0;
    o->best_of = (size_t)p->best_of;
    o->length_penalty = p->length_penalty >= 0 ? p->length_penalty : NAN;
    o->suppress_blank = p->suppress_blank;
    o->without_timestamps = p->without_timestamps;
    o->max_initial_timestamp = p->max_initial_timestamp > 0 ? p->max_initial_timestamp : NAN;
    o->n_text_ctx = (size_t)m->dims.n_text_ctx;
    o->n_audio_ctx = (size_t)m->dims.n_audio_ctx;
    cw_fallback_options *fb = &lp->fallback;
    fb->temperatures = NULL;
    fb->n_temperatures = 0;
    fb->temperature_start = p->temperature;
    fb->temperature_increment = p->temperature_increment;
    fb->no_fallback = p->no_fallback;
    fb->compression_ratio_threshold = p->compression_ratio_threshold > 0 ? p->compression_ratio_threshold : NAN;
    fb->logprob_threshold = p->logprob_threshold < 0 ? p->logprob_threshold : NAN;
    fb->no_speech_threshold = p->no_speech_threshold > 0 ? p->no_speech_threshold : NAN;
    /* The Python API's literal tuple, when the caller kept the defaults. */
    if (p->temperature == 0.0 && p->temperature_increment == 0.2) {
        cw_fallback_options def = cw_fallback_default_options();
        fb->temperatures = def.temperatures;
        fb->n_temperatures = def.n_temperatures;
    }
    lp->condition_on_previous_text = p->condition_on_previous_text;
    lp->initial_prompt = p->initial_prompt;
    lp->carry_initial_prompt = p->carry_initial_prompt;
    lp->clip_timestamps = p->n_clip_timestamps ? p->clip_timestamps : NULL;
    lp->n_clip_timestamps = p->n_clip_timestamps;
    lp->word_timestamps = p->word_timestamps;
    if (p->prepend_punctuations) lp->prepend_punctuations = p->prepend_punctuations;
    if (p->append_punctuations) lp->append_punctuations = p->append_punctuations;
    lp->hallucination_silence_threshold =
        p->hallucination_silence_threshold > 0 ? p->hallucination_silence_threshold : NAN;
    relay->p = p;
    lp->progress = relay_progress;
    lp->progress_user = relay;
}

/* Long-form result -> public result (copies). */
static cw_status to_result(const cw_model *m, const cw_longform_result *lr, cw_result **out)
{
    const cw_special_tokens *sp = cw_tokenizer_specials(m->tok);
    const char *lang = "en";
    if (lr->language_token >= 0) {
        const char *code = cw_language_code((int)(lr->language_token - sp->lang_begin));
        if (code) lang = code;
    }
    return cw_result_create(lr->segments, lr->n_segments, lr->text, lang, lr->duration, out);
}

/* The long-form loop over a whole file's log-mel (with its 30 s of padding). */
static cw_status transcribe_mel(cw_context *c, const cw_transcribe_params *p, int32_t lang_token,
                                cw_mel_source *mel, cw_result **out)
{
    const cw_model *m = c->model;
    cw_longform_params lp;
    progress_relay relay;
    fill_longform(&lp, c, p, lang_token, &relay);
    cw_text_codec codec = cw_text_codec_tokenizer(m->tok);
    cw_rng rng;
    cw_rng_seed(&rng, p->seed);
    cw_longform_result lr;
    memset(&lr, 0, sizeof lr);
    cw_status s;
    if (p->long_form == CW_LONG_FORM_CHUNKED) {
        cw_chunked_params cp = cw_chunked_default_params();
        cp.decode = lp.decode;
        cp.batch_size = p->batch_size > 1 ? (size_t)p->batch_size : 1;
        cp.chunk_length = p->chunk_length;
        cp.stride_length = p->stride_length;
        cp.progress = lp.progress;
        cp.progress_user = lp.progress_user;
        s = cw_transcribe_chunked_source(&c->net->encoder, &c->net->decoder, cw_tokenizer_specials(m->tok),
                                         &codec, mel, &cp, &lr);
    } else {
        s = cw_transcribe_sequential_source(&c->net->encoder, &c->net->decoder, cw_tokenizer_specials(m->tok),
                                            &codec, &rng, mel, &lp, &lr);
    }
    if (!s) s = to_result(m, &lr, out);
    cw_longform_result_free(&lr);
    return s;
}

/* Checks the parameters and readies the network before any audio work. */
static cw_status prepare(cw_context *c, const cw_transcribe_params *p, int32_t *lang_token)
{
    cw_status s = check_params(c->model, p, lang_token);
    size_t n_audio = p->long_form != CW_LONG_FORM_SEQUENTIAL && p->batch_size > 1 ? (size_t)p->batch_size : 1;
    return s ? s : ensure_net(c, n_audio, sequences_needed(p));
}

/* ---- VAD (src/vad/, longform/vad_batched.c) ---- */

/* The context's Silero network for the path p names, loaded on first use. */
static cw_status get_vad(cw_context *c, const cw_vad_params *v, cw_silero **out)
{
    char *path = NULL;
    const char *env = getenv("CWHISPER_MODELS");
    if (v->model) path = cw_strdup(v->model);
    else path = cw_path_join(env && *env ? env : "models", "silero-vad");
    if (!path) return CW_ERR_NOMEM;
    if (c->vad && strcmp(c->vad_path, path) == 0) {
        free(path);
        *out = c->vad;
        return CW_OK;
    }
    cw_silero *m = NULL;
    cw_status s = cw_silero_load(path, &m);
    if (s) {
        free(path);
        return s;
    }
    cw_silero_free(c->vad);
    free(c->vad_path);
    c->vad = *out = m;
    c->vad_path = path;
    return CW_OK;
}

/* faster-whisper's defaults per mode (VadOptions() for vad_filter, min
 * silence 160 ms in the batched pipeline). */
static cw_vad_options vad_options(const cw_transcribe_params *p)
{
    const cw_vad_params *v = &p->vad_params;
    int batched = p->long_form == CW_LONG_FORM_VAD_BATCHED;
    cw_vad_options o = cw_vad_default_options();
    o.threshold = v->threshold;
    o.neg_threshold = v->neg_threshold;
    o.min_speech_duration_ms = v->min_speech_duration_ms;
    o.max_speech_duration_s = v->max_speech_duration_s > 0 ? v->max_speech_duration_s : INFINITY;
    o.min_silence_duration_ms = v->min_silence_duration_ms >= 0 ? v->min_silence_duration_ms : batched ? 160 : 2000;
    o.speech_pad_ms = v->speech_pad_ms;
    return o;
}

static cw_status transcribe_vad(cw_context *c, const cw_transcribe_params *p, int32_t lang_token,
                                const float *samples, size_t n, cw_result **out)
{
    cw_silero *vad = NULL;
    cw_status s = get_vad(c, &p->vad_params, &vad);
    if (s) return s;
    cw_vad_options vo = vad_options(p);
    cw_threadpool *pool = c->be->pool;
    const cw_model *m = c->model;
    if (p->long_form == CW_LONG_FORM_VAD_BATCHED) {
        cw_longform_params lp;
        progress_relay relay;
        fill_longform(&lp, c, p, lang_token, &relay);
        /* without_timestamps asks for text only here too (the pipeline's default) */
        cw_vad_batched_params bp = {lp.decode, p->vad_batched_timestamps && !p->without_timestamps,
                                    p->batch_size > 1 ? (size_t)p->batch_size : 1, vo, lp.progress, lp.progress_user};
        cw_text_codec codec = cw_text_codec_tokenizer(m->tok);
        cw_longform_result lr;
        s = cw_transcribe_vad_batched(&c->net->encoder, &c->net->decoder, cw_tokenizer_specials(m->tok), &codec,
                                      pool, vad, samples, n, &bp, &lr);
        if (!s) s = to_result(m, &lr, out);
        cw_longform_result_free(&lr); /* zeroed by the call when it failed */
        return s;
    }
    /* vad_filter: the speech concatenated, transcribed, times mapped back */
    float *speech = NULL;
    size_t n_speech = 0;
    cw_vad_timemap map;
    s = cw_vad_filter(vad, pool, samples, n, &vo, &speech, &n_speech, &map);
    cw_mel_source *mel = NULL;
    if (!s) s = cw_mel_source_from_pcm(pool, speech, n_speech, m->dims.n_mels, CW_MEL_MEMORY_FRAMES, &mel);
    free(speech);
    cw_result *r = NULL;
    if (!s) s = transcribe_mel(c, p, lang_token, mel, &r);
    cw_mel_source_free(mel);
    if (!s) {
        size_t ns = cw_result_n_segments(r);
        cw_segment *segs = cw_malloc((ns ? ns : 1) * sizeof *segs);
        if (!segs) s = CW_ERR_NOMEM;
        size_t nw = 0;
        for (size_t i = 0; !s && i < ns; i++) nw += (segs[i] = *cw_result_segment(r, i)).n_words;
        cw_word *words = s ? NULL : cw_malloc((nw ? nw : 1) * sizeof *words); /* writable copies */
        if (!s && !words) s = CW_ERR_NOMEM;
        for (size_t i = 0, k = 0; !s && i < ns; k += segs[i].n_words, i++)
            if (segs[i].n_words) memcpy(words + k, segs[i].words, segs[i].n_words * sizeof *words);
        if (!s) cw_vad_restore_words(segs, ns, words, &map);
        if (!s) s = cw_result_create(segs, ns, cw_result_text(r), cw_result_language(r), (double)n / 16000.0, out);
        free(words);
        free(segs);
    }
    cw_result_free(r);
    cw_vad_timemap_free(&map);
    return s;
}

cw_status cw_transcribe_pcm(cw_context *c, const float *samples, size_t n_samples,
                            const cw_transcribe_params *params, cw_result **out)
{
    *out = NULL;
    cw_transcribe_params p = params ? *params : cw_transcribe_default_params();
    int32_t lang_token;
    cw_status s = prepare(c, &p, &lang_token);
    if (s) return s;
    if (p.max_duration > 0 && (double)n_samples > p.max_duration * 16000.0)
        return cw_error(CW_ERR_LIMIT, "%.1f s of audio is over the maximum duration of %g s",
                        (double)n_samples / 16000.0, p.max_duration);
    if (p.vad || p.long_form == CW_LONG_FORM_VAD_BATCHED)
        return transcribe_vad(c, &p, lang_token, samples, n_samples, out);
    cw_mel_source *mel = NULL;
    s = cw_mel_source_from_pcm(c->be->pool, samples, n_samples, c->model->dims.n_mels, CW_MEL_MEMORY_FRAMES,
                               &mel);
    if (!s) cw_mel_source_set_cancel(mel, p.cancel, p.cancel_user);
    if (!s) s = transcribe_mel(c, &p, lang_token, mel, out);
    cw_mel_source_free(mel);
    return s;
}

/* The file is decoded and turned into log-mel block by block, never held
 * whole: a long file's mel goes to a temporary file (audio/mel_source.h), so
 * memory does not grow with the recording. */
cw_status cw_transcribe_file(cw_context *c, const char *path, const cw_transcribe_params *params,
                             cw_result **out)
{
    *out = NULL;
    cw_transcribe_params p = params ? *params : cw_transcribe_default_params();
    int32_t lang_token;
    cw_status s = prepare(c, &p, &lang_token);
    if (s) return s;
    if (p.vad || p.long_form == CW_LONG_FORM_VAD_BATCHED) { /* the VAD needs the whole signal */
        float *pcm = NULL;
        size_t n = 0;
        cw_audio_limits lim = { p.max_duration, p.max_file_size, p.cancel, p.cancel_user };
        s = cw_audio_load_limited(path, &lim, &pcm, &n);
        if (!s) s = transcribe_vad(c, &p, lang_token, pcm, n, out);
        free(pcm);
        return s;
    }
    cw_mel_source *mel = NULL;
    cw_audio_limits lim = { p.max_duration, p.max_file_size, p.cancel, p.cancel_user };
    s = cw_mel_source_from_audio_limited(c->be->pool, path, c->model->dims.n_mels, CW_MEL_MEMORY_FRAMES, &lim, &mel);
    if (!s) cw_mel_source_set_cancel(mel, p.cancel, p.cancel_user);
    if (!s) s = transcribe_mel(c, &p, lang_token, mel, out);
    cw_mel_source_free(mel);
    if (s == CW_ERR_CANCELLED) cw_error(s, "%s: cancelled", path);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Many files (longform/lockstep.c)                                          */

typedef struct {
    cw_context *c;
    const char *const *paths;
    cw_file_done_fn done;
    void *user;
} files_job;

static cw_status files_open(void *user, size_t i, cw_mel_source **mel)
{
    const files_job *j = user;
    return cw_mel_source_from_audio(j->c->be->pool, j->paths[i], j->c->model->dims.n_mels, CW_MEL_MEMORY_FRAMES, mel);
}

static void files_done(void *user, size_t i, cw_status s, cw_longform_result *lr)
{
    const files_job *j = user;
    cw_result *r = NULL;
    if (s == CW_OK) {
        s = to_result(j->c->model, lr, &r);
        cw_longform_result_free(lr);
    }
    j->done(i, s, r, j->user);
}

cw_status cw_transcribe_files_cb(cw_context *c, const char *const *paths, size_t n, const cw_transcribe_params *params,
                                 cw_file_done_fn done, void *user)
{
    cw_transcribe_params p = params ? *params : cw_transcribe_default_params();
    if (p.batch_size < 0 || p.batch_size > MAX_BATCH)
        return cw_error(CW_ERR_INVALID_ARG, "batch size %d is outside [1, %d]", p.batch_size, MAX_BATCH);
    /* lockstep: the sequential mode on the whole file (a VAD run is one by one) */
    /* (word timestamps need the window's own decoder pass: one by one) */
    size_t batch = p.batch_size > 1 && p.long_form == CW_LONG_FORM_SEQUENTIAL && !p.vad && !p.word_timestamps
                       ? (size_t)p.batch_size : 1;
    if (!c->be->ops->linear_rows) batch = 1; /* a back end without per-item ops (CUDA): one by one */
    if (p.long_form == CW_LONG_FORM_SEQUENTIAL) p.batch_size = 1; /* the files, not chunks, are batched */
    int32_t lang_token;
    cw_status s = prepare(c, &p, &lang_token);
    /* cache slots: every file's beams step in lockstep (longform/lockstep.c),
     * up to the largest batch's slots (their caches and scratch grow with
     * them); beyond, the beams run on the side decoder, one window at a time */
    size_t slots = batch * (p.beam_size > 1 ? (size_t)p.beam_size : 1);
    if (slots > MAX_BATCH) slots = batch;
    if (!s && batch > 1) s = ensure_net(c, batch, slots > sequences_needed(&p) ? slots : sequences_needed(&p));
    if (!s && batch > 1) s = cw_net_enable_slots(c->net, sequences_needed(&p));
    if (s) return s;
    if (batch <= 1) { /* one file after the other */
        for (size_t i = 0; i < n; i++) {
            cw_result *r = NULL;
            cw_status fs = cw_transcribe_file(c, paths[i], &p, &r);
            done(i, fs, r, user);
        }
        return CW_OK;
    }
    cw_longform_params lp;
    progress_relay relay;
    fill_longform(&lp, c, &p, lang_token, &relay);
    cw_text_codec codec = cw_text_codec_tokenizer(c->model->tok);
    files_job job = { c, paths, done, user };
    cw_lockstep_io io = { files_open, files_done, &job };
    return cw_transcribe_lockstep(&c->net->encoder, &c->net->slots, cw_tokenizer_specials(c->model->tok), &codec,
                                  p.seed, &lp, n, batch, &io);
}

typedef struct {
    cw_result **results;
    cw_status *statuses;
} files_out;

static void files_store(size_t i, cw_status s, cw_result *r, void *user)
{
    files_out *o = user;
    if (o->results) o->results[i] = r;
    else cw_result_free(r);
    if (o->statuses) o->statuses[i] = s;
}

cw_status cw_transcribe_files(cw_context *c, const char *const *paths, size_t n, const cw_transcribe_params *params,
                              cw_result **results, cw_status *statuses)
{
    for (size_t i = 0; i < n; i++) {
        if (results) results[i] = NULL;
        if (statuses) statuses[i] = CW_ERR_INTERNAL;
    }
    files_out o = { results, statuses };
    return cw_transcribe_files_cb(c, paths, n, params, files_store, &o);
}
