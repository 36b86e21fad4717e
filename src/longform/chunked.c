/* The chunked, batched long-form algorithm of the Hugging Face ASR pipeline
 * (transformers pipelines/automatic_speech_recognition.py chunk_iter with
 * chunk_length_s and stride_length_s), which whisper-jax runs:
 *   - chunks of chunk_length (30 s) start every chunk - 2 * stride seconds
 *     (stride = chunk / 6 = 5 s by default); the first has no left stride, the
 *     last no right one; a chunk no longer than its left stride is dropped;
 *   - batch_size chunks go through the encoder in one call and are decoded
 *     together: greedy, temperature 0, timestamps on, no previous-text prompt,
 *     no fallback, no no-speech skipping (the pipeline has none of these);
 *   - the chunks' tokens are stitched by merge.c (_decode_asr).
 * Deviations, by design: chunks are cut from the whole file's log-mel (clamped
 * once over the file, as the sequential path) rather than featurised one by
 * one; the padding past a short last chunk is the log-mel of the file's zero
 * tail, as the pipeline's zero-padded audio gives. Language detection on a
 * multilingual model runs once on the first 30 s, as sequential.c does (the
 * pipeline detects per chunk). Segment times are made monotone and kept inside
 * the file (the merge can give a start before the previous end). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "longform/longform.h"
#include "util/error.h"

#define N_FRAMES 3000 /* mel frames per encoder window */

cw_chunked_params cw_chunked_default_params(void)
{
    cw_chunked_params p;
    memset(&p, 0, sizeof p);
    p.decode = cw_decode_default_options();
    p.batch_size = 1;
    return p;
}

/* dst [n_mels, 3000] = frames [f, f + n) of every band, n <= 3000, then 0.0
 * (log-mel domain) past n and past the end of the source. Every read of the
 * audio's features goes through here. */
static cw_status mel_window(cw_mel_source *src, size_t f, size_t n, float *dst)
{
    cw_status rc = cw_mel_source_get(src, f, N_FRAMES, dst);
    if (rc || n >= N_FRAMES) return rc;
    size_t n_mels = cw_mel_source_n_mels(src);
    for (size_t m = 0; m < n_mels; m++) memset(dst + m * N_FRAMES + n, 0, (N_FRAMES - n) * sizeof *dst);
    return CW_OK;
}

typedef struct {
    size_t frame;      /* start frame */
    cw_chunk_span span; /* seconds */
} chunk_plan;

/* chunk_iter over frames: [*out, *n) in order. */
static cw_status plan_chunks(size_t content, size_t chunk, size_t stride, chunk_plan **out, size_t *n)
{
    size_t step = chunk - 2 * stride, cap = content / step + 2, k = 0;
    chunk_plan *v = cw_malloc(cap * sizeof *v);
    if (!v) return CW_ERR_NOMEM;
    for (size_t start = 0; start < content; start += step) {
        int last = start + chunk >= content;
        size_t sl = start ? stride : 0, sr = last ? 0 : stride;
        size_t len = content - start < chunk ? content - start : chunk;
        if (len > sl)
            v[k++] = (chunk_plan){start, {(double)start / 100.0, (double)len / 100.0, (double)sl / 100.0,
                                          (double)sr / 100.0}};
        if (last) break;
    }
    *out = v;
    *n = k;
    return CW_OK;
}

typedef struct {
    const cw_encoder_net *enc;
    const cw_decoder_net *dec;
    const cw_special_tokens *sp;
    const cw_text_codec *codec;
    cw_mel_source *src;
    size_t n_mels;
    double duration;
    size_t seg_cap;
    const chunk_plan *chunks;
    cw_longform_result *out;
} ch_state;

/* A merged piece -> a segment (dropped when its text is blank). */
static cw_status add_segment(ch_state *s, const cw_merge_piece *pc, const cw_decode_result *r)
{
    cw_longform_result *out = s->out;
    double prev_end = out->n_segments ? out->segments[out->n_segments - 1].end : 0.0;
    double start = isnan(pc->start) ? prev_end : pc->start;
    double end = isnan(pc->end) ? s->duration : pc->end;
    if (start < prev_end) start = prev_end;
    if (start > s->duration) start = s->duration;
    if (end > s->duration) end = s->duration;
    if (end < start) end = start;
    char *text = NULL;
    cw_status rc = s->codec->decode(s->codec->ctx, pc->tokens, pc->n_tokens, &text);
    if (rc) return rc;
    char *probe = cw_strdup(text);
    if (!probe) { free(text); return CW_ERR_NOMEM; }
    int blank = cw_strip_inplace(probe)[0] == '\0';
    free(probe);
    if (blank) { free(text); return CW_OK; }
    int32_t *toks = cw_malloc((pc->n_tokens ? pc->n_tokens : 1) * sizeof *toks);
    if (!toks) { free(text); return CW_ERR_NOMEM; }
    memcpy(toks, pc->tokens, pc->n_tokens * sizeof *toks);
    cw_segment seg = {0, (long)s->chunks[pc->chunk].frame, start, end, text, toks, pc->n_tokens, r->avg_logprob,
                      r->compression_ratio, r->no_speech_prob, r->temperature, NULL, 0};
    rc = cw_longform_append(out, &s->seg_cap, &seg);
    if (rc) free(text), free(toks);
    return rc;
}

static cw_status drain(ch_state *s, cw_chunk_merger *m, const cw_decode_result *r)
{
    cw_status rc = CW_OK;
    for (size_t i = 0; rc == CW_OK && i < m->n_pieces; i++) rc = add_segment(s, &m->pieces[i], r);
    cw_chunk_merger_clear_pieces(m);
    return rc;
}

/* Detects the language once on the first 30 s (real log-mel of the zero tail
 * included, as sequential.c). */
static cw_status pick_language(ch_state *s, float *window, int32_t *language)
{
    if (!s->sp->multilingual || *language >= 0) return CW_OK;
    cw_status rc = mel_window(s->src, 0, N_FRAMES, window);
    cw_batch_env e = {s->enc, s->dec, s->sp, s->codec};
    return rc ? rc : cw_batch_detect_language(&e, window, language);
}

/* Encodes and decodes chunks [c0, c0 + nb) and feeds them to the merger. */
static cw_status run_batch(ch_state *s, const cw_decode_options *o, size_t chunk_frames, size_t c0, size_t nb,
                           float *windows, cw_decode_result *res, cw_chunk_merger *m, cw_decode_result *last)
{
    size_t win = s->n_mels * N_FRAMES;
    cw_status rc = CW_OK;
    for (size_t j = 0; rc == CW_OK && j < nb; j++)
        rc = mel_window(s->src, s->chunks[c0 + j].frame, chunk_frames, windows + j * win);
    cw_batch_env e = {s->enc, s->dec, s->sp, s->codec};
    if (rc == CW_OK) rc = cw_batch_decode(&e, o, windows, nb, res);
    if (rc) return rc;
    for (size_t j = 0; rc == CW_OK && j < nb; j++) {
        rc = cw_chunk_merger_add(m, res[j].tokens, res[j].n_tokens, &s->chunks[c0 + j].span);
        if (rc == CW_OK) rc = drain(s, m, &res[j]);
    }
    *last = res[nb - 1];
    last->tokens = NULL, last->text = NULL; /* keep only the numbers */
    for (size_t j = 0; j < nb; j++) cw_decode_result_free(&res[j]);
    return rc;
}

cw_status cw_transcribe_chunked_source(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                       const cw_special_tokens *sp, const cw_text_codec *codec,
                                       cw_mel_source *mel, const cw_chunked_params *p,
                                       cw_longform_result *out)
{
    memset(out, 0, sizeof *out);
    size_t n_frames = cw_mel_source_n_frames(mel);
    if (n_frames < N_FRAMES || enc->n_mels == 0 || cw_mel_source_n_mels(mel) != enc->n_mels)
        return cw_error(CW_ERR_INVALID_ARG, "transcribe: mel must include the 30 s padding (%zu frames)", n_frames);
    double chunk_s = p->chunk_length > 0 ? p->chunk_length : 30.0;
    double stride_s = p->stride_length > 0 ? p->stride_length : chunk_s / 6.0;
    size_t chunk = (size_t)nearbyint(chunk_s * 100.0), stride = (size_t)nearbyint(stride_s * 100.0);
    if (!(chunk_s <= 30.0) || chunk == 0 || !(stride_s >= 0) || 2 * stride >= chunk)
        return cw_error(CW_ERR_INVALID_ARG, "chunked: chunk %g s with stride %g s (need 0 < chunk <= 30, "
                        "2 * stride < chunk)", chunk_s, stride_s);
    if (p->batch_size == 0) return cw_error(CW_ERR_INVALID_ARG, "chunked: batch size 0");
    ch_state s = {enc, dec, sp, codec, mel, enc->n_mels, 0, 0, NULL, out};
    size_t content = n_frames - N_FRAMES;
    s.duration = out->duration = (double)(content * 160) / 16000.0;
    chunk_plan *chunks = NULL;
    size_t n_chunks = 0, B = p->batch_size;
    cw_status rc = plan_chunks(content, chunk, stride, &chunks, &n_chunks);
    s.chunks = chunks;
    if (B > n_chunks && n_chunks > 0) B = n_chunks;
    float *windows = rc ? NULL : cw_malloc(B * enc->n_mels * N_FRAMES * sizeof *windows);
    cw_decode_result *res = rc ? NULL : cw_calloc(B, sizeof *res);
    if (rc == CW_OK && (!windows || !res)) rc = CW_ERR_NOMEM;
    cw_decode_options o = p->decode;
    o.temperature = 0.0, o.beam_size = 0, o.best_of = 0, o.patience = 0.0;
    o.prompt = NULL, o.n_prompt = 0, o.without_timestamps = 0;
    out->language_token = sp->multilingual ? o.language_token : -1;
    if (rc == CW_OK) rc = pick_language(&s, windows, &out->language_token);
    o.language_token = out->language_token;
    cw_chunk_merger m;
    cw_chunk_merger_init(&m, sp->timestamp_begin, sp->eot, 30.0 / (double)(o.n_audio_ctx ? o.n_audio_ctx : 1500));
    cw_decode_result last;
    memset(&last, 0, sizeof last);
    for (size_t c0 = 0; rc == CW_OK && c0 < n_chunks; c0 += B) {
        size_t nb = n_chunks - c0 < B ? n_chunks - c0 : B;
        rc = run_batch(&s, &o, chunk, c0, nb, windows, res, &m, &last);
        if (rc == CW_OK && p->progress) {
            const cw_chunk_span *sp_end = &chunks[c0 + nb - 1].span;
            double done = sp_end->start + sp_end->length;
            p->progress(p->progress_user, done < s.duration ? done : s.duration, s.duration);
        }
    }
    if (rc == CW_OK) rc = cw_chunk_merger_finish(&m);
    if (rc == CW_OK) rc = drain(&s, &m, &last);
    if (rc == CW_OK) rc = cw_longform_join_text(out);
    cw_chunk_merger_free(&m);
    free(res);
    free(windows);
    free(chunks);
    if (rc != CW_OK) cw_longform_result_free(out);
    return rc;
}

cw_status cw_transcribe_chunked(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                const cw_special_tokens *sp, const cw_text_codec *codec,
                                const float *mel, size_t n_frames, const cw_chunked_params *p,
                                cw_longform_result *out)
{
    memset(out, 0, sizeof *out);
    cw_mel_source *src = NULL;
    cw_status rc = cw_mel_source_from_mel(mel, enc->n_mels, n_frames, &src);
    if (rc == CW_OK) rc = cw_transcribe_chunked_source(enc, dec, sp, codec, src, p, out);
    cw_mel_source_free(src);
    return rc;
}
