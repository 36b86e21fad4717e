/* The VAD-batched long-form mode: faster-whisper 1.2's
 * BatchedInferencePipeline.transcribe (transcribe.py) with its defaults:
 *   - speech regions from Silero VAD with VadOptions(min_silence_duration_ms
 *     = 160, max_speech_duration_s = 30) unless the caller set other options
 *     (max_speech_duration_s is 30 whatever the caller says, as there);
 *   - collect_chunks: regions merged in order while the chunk's speech stays
 *     within 30 s, the chunk's samples concatenated;
 *   - each chunk featurised on its own (log-mel clamped over the chunk), cut
 *     or zero-padded to 3000 frames (pad_or_trim on the features; with
 *     timestamps, cwhisper's default, the audio padded to 30 s instead);
 *   - batch_size chunks encoded and decoded together: greedy at T = 0, no
 *     fallback, no prompt, no conditioning; with timestamp tokens
 *     (cwhisper's default) or text only (the pipeline's default,
 *     without_timestamps=True);
 *   - _split_segments_by_timestamps with time_offset = the chunk's offset on
 *     the speech-only timeline, then restore_speech_timestamps.
 * Text only is the pipeline's algorithm as it is. Deviations, by design,
 * with timestamp tokens: the zero-sample padding above; a chunk whose last
 * timestamp lies over a second before its end is decoded again from that
 * timestamp in a later batch (the sequential loop's seek; the pipeline
 * decodes each chunk once and loses the rest: on the 22.7-min recording,
 * tiny.en, 377 deleted words of 3217), and text after a last timestamp pair
 * near the end is kept as a last segment (the pipeline drops it);
 * segments are put back in time order at the end; the decoder is cwhisper's greedy search (the
 * pipeline defaults to beam 5: pass beam_size there to compare like with
 * like); the log-mel is cwhisper's (openai-whisper's padding of the last
 * frame) rather than faster-whisper's NumPy one; segments with blank text are
 * dropped; a multilingual model's language is detected once, on the first
 * chunk, as the pipeline does (multilingual=False). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio.h"
#include "longform/longform.h"
#include "util/error.h"

#define N_FRAMES 3000
#define SR 16000.0
#define TIME_PRECISION 0.02

cw_status cw_vad_filter(const cw_silero *vad, cw_threadpool *pool, const float *samples, size_t n,
                        const cw_vad_options *o, float **speech, size_t *n_speech, cw_vad_timemap *map)
{
    *speech = NULL;
    *n_speech = 0;
    memset(map, 0, sizeof *map);
    float *probs = NULL;
    size_t n_probs = 0, n_spans = 0, total = 0;
    cw_speech_span *spans = NULL;
    cw_status rc = cw_silero_probs(vad, pool, samples, n, &probs, &n_probs);
    if (rc == CW_OK) rc = cw_vad_speech_timestamps(probs, n_probs, n, o, &spans, &n_spans);
    free(probs);
    for (size_t i = 0; i < n_spans; i++) total += spans[i].end - spans[i].start;
    if (rc == CW_OK && total) {
        float *s = cw_malloc(total * sizeof *s);
        if (!s) rc = CW_ERR_NOMEM;
        for (size_t i = 0, k = 0; rc == CW_OK && i < n_spans; i++) {
            memcpy(s + k, samples + spans[i].start, (spans[i].end - spans[i].start) * sizeof *s);
            k += spans[i].end - spans[i].start;
        }
        if (rc == CW_OK) *speech = s, *n_speech = total;
    }
    if (rc == CW_OK) rc = cw_vad_timemap_init(map, spans, n_spans);
    if (rc) {
        free(*speech);
        *speech = NULL;
        *n_speech = 0;
    }
    free(spans);
    return rc;
}

void cw_vad_restore_segments(cw_segment *segments, size_t n, const cw_vad_timemap *map)
{
    for (size_t i = 0; i < n && map->n; i++) {
        cw_segment *s = &segments[i];
        s->start = cw_vad_timemap_original(map, s->start, cw_vad_timemap_chunk(map, s->start, 0));
        s->end = cw_vad_timemap_original(map, s->end, cw_vad_timemap_chunk(map, s->end, 1));
    }
}

typedef struct {
    size_t first, end;   /* spans [first, end) */
    size_t n_samples;    /* speech samples in the chunk */
    double offset;       /* seconds on the speech-only timeline */
} vb_chunk;

typedef struct {
    cw_batch_env env;
    cw_threadpool *pool;
    const float *samples;
    const cw_speech_span *spans;
    const vb_chunk *chunks;
    size_t n_mels, seg_cap;
    int continue_chunks;
    const cw_vad_timemap *map;
    cw_longform_result *out;
} vb_state;

/* dst [n_mels, 3000]: the log-mel of chunk c's concatenated speech from
 * sample `skip` on. */
static cw_status chunk_window(vb_state *s, const vb_chunk *c, size_t skip, float *dst)
{
    float *audio = cw_malloc((c->n_samples ? c->n_samples : 1) * sizeof *audio), *mel = NULL;
    if (!audio) return CW_ERR_NOMEM;
    for (size_t i = c->first, k = 0; i < c->end; i++) {
        size_t len = s->spans[i].end - s->spans[i].start;
        memcpy(audio + k, s->samples + s->spans[i].start, len * sizeof *audio);
        k += len;
    }
    size_t nf = 0, len = c->n_samples - skip, pad = 160;
    /* feature_extractor(chunk) pads 160 zero samples and drops the last
     * frame: n / 160 + 1 frames, as cw_log_mel with padding 160 gives; the
     * pipeline then pads the features with zeros to 3000 frames. With
     * timestamps (cwhisper's default) the audio is padded with zero samples
     * to 30 s instead, as openai-whisper's windows are: zero features are a
     * hum at log10 -4, not the silence the model saw after speech in
     * training, and words just before them are lost or garbled more often
     * (bench/results/2026-12-05-vad-batched-gap.md: -0.18 WER points with
     * tiny.en, -0.06 with base on the 30.5-min recording). */
    if (s->continue_chunks && len < (size_t)N_FRAMES * 160) pad += (size_t)N_FRAMES * 160 - len;
    cw_status rc = cw_log_mel_pool(s->pool, audio + skip, len, pad, (int)s->n_mels, &mel, &nf);
    free(audio);
    if (rc) return rc;
    size_t keep = nf < N_FRAMES ? nf : N_FRAMES;
    for (size_t m = 0; m < s->n_mels; m++) {
        memcpy(dst + m * N_FRAMES, mel + m * nf, keep * sizeof *dst);
        memset(dst + m * N_FRAMES + keep, 0, (N_FRAMES - keep) * sizeof *dst);
    }
    free(mel);
    return CW_OK;
}

static cw_status add_piece(vb_state *s, const cw_decode_result *r, const int32_t *toks, size_t n, double start,
                           double end, long seek)
{
    char *text = NULL;
    cw_status rc = s->env.codec->decode(s->env.codec->ctx, toks, n, &text);
    if (rc) return rc;
    char *probe = cw_strdup(text);
    if (!probe) { free(text); return CW_ERR_NOMEM; }
    int blank = cw_strip_inplace(probe)[0] == '\0';
    free(probe);
    int32_t *copy = blank ? NULL : cw_malloc((n ? n : 1) * sizeof *copy);
    if (blank || !copy) {
        free(text);
        return blank ? CW_OK : CW_ERR_NOMEM;
    }
    memcpy(copy, toks, n * sizeof *copy);
    cw_segment seg = {0, seek, start, end, text, copy, n, r->avg_logprob,
                      cw_compression_ratio(text, strlen(text)), r->no_speech_prob, r->temperature, NULL, 0};
    cw_vad_restore_segments(&seg, 1, s->map);
    rc = cw_longform_append(s->out, &s->seg_cap, &seg);
    if (rc) free(text), free(copy);
    return rc;
}

/* _split_segments_by_timestamps on one chunk's tokens, decoded from sample
 * skip of the chunk. *next: where to decode the chunk again (0: done). */
static cw_status split_chunk(vb_state *s, const vb_chunk *c, size_t skip, const cw_decode_result *r,
                             size_t *next)
{
    int32_t tb = s->env.sp->timestamp_begin;
    const int32_t *t = r->tokens;
    size_t n = r->n_tokens;
    double duration = (double)(c->n_samples - skip) / SR, offset = c->offset + (double)skip / SR;
    long seek = (long)(offset * 100.0);
    *next = 0;
    /* The continuation (a deviation from the pipeline, which decodes each
     * chunk once): with timestamps, a chunk whose last timestamp lies over
     * a second before its end is decoded again from there, in a later
     * batch, as the sequential loop's seek would. */
    double last = -1;
    for (size_t i = n; i-- > 0;)
        if (t[i] >= tb) {
            last = (double)(t[i] - tb) * TIME_PRECISION;
            break;
        }
    int cont = s->continue_chunks && last >= 1.0 && last < duration - 1.0;
    int pair = 0;
    for (size_t i = 1; i < n && !pair; i++) pair = t[i - 1] >= tb && t[i] >= tb;
    if (!pair) { /* one segment: to the last timestamp, else the chunk's end */
        double d = duration;
        for (size_t i = n; i-- > 0;)
            if (t[i] >= tb) {
                if (t[i] != tb) d = (double)(t[i] - tb) * TIME_PRECISION;
                break;
            }
        if (cont && t[n - 1] >= tb) *next = skip + (size_t)(last * 100.0 + 0.5) * 160; /* closed at `last` */
        return add_piece(s, r, t, n, offset, offset + d, seek);
    }
    cw_split_piece *pieces = cw_malloc((n + 1) * sizeof *pieces);
    if (!pieces) return CW_ERR_NOMEM;
    long adv = 0;
    size_t segment_size = (size_t)ceil(duration) * 100;
    size_t np = cw_split_window(t, n, tb, offset, segment_size, pieces, &adv);
    cw_status rc = CW_OK;
    for (size_t i = 0; rc == CW_OK && i < np; i++)
        rc = add_piece(s, r, t + pieces[i].begin, pieces[i].end - pieces[i].begin, pieces[i].start,
                       pieces[i].end_time, seek);
    /* The tokens after the last timestamp pair: the sequential loop decodes
     * them again from the new seek, the batched pipeline drops them (text
     * lost at each chunk's end); here they are a last segment, from their
     * opening timestamp to the chunk's end. */
    size_t tail = np ? pieces[np - 1].end : 0;
    if (cont) { /* from the last closed timestamp, or the single last one */
        double from = tail < n ? (double)adv * 0.01 : last;
        *next = skip + (size_t)(from * 100.0 + 0.5) * 160;
        if (*next <= skip) *next = 0;
    }
    if (rc == CW_OK && tail < n && !*next) {
        double start = t[tail] >= tb ? offset + (double)(t[tail] - tb) * TIME_PRECISION : offset;
        double end = offset + duration;
        rc = add_piece(s, r, t + tail, n - tail, start, end > start ? end : start, seek);
    }
    free(pieces);
    return rc;
}

/* collect_chunks' grouping of the spans into chunks with their offsets. */
static cw_status plan(const cw_speech_span *spans, size_t n_spans, vb_chunk **out, size_t *n_out)
{
    size_t *ends = NULL, ng = 0;
    cw_status rc = cw_vad_group_spans(spans, n_spans, 30.0 * SR, &ends, &ng);
    if (rc) return rc;
    vb_chunk *v = cw_malloc((ng ? ng : 1) * sizeof *v);
    if (!v) { free(ends); return CW_ERR_NOMEM; }
    size_t first = 0, total = 0;
    for (size_t g = 0; g < ng; g++) {
        size_t len = 0;
        for (size_t i = first; i < ends[g]; i++) len += spans[i].end - spans[i].start;
        v[g] = (vb_chunk){first, ends[g], len, (double)total / SR};
        total += len;
        first = ends[g];
    }
    free(ends);
    *out = v;
    *n_out = ng;
    return CW_OK;
}

cw_status cw_transcribe_vad_batched(const cw_encoder_net *enc, const cw_decoder_net *dec,
                                    const cw_special_tokens *sp, const cw_text_codec *codec, cw_threadpool *pool,
                                    const cw_silero *vad, const float *samples, size_t n,
                                    const cw_vad_batched_params *p, cw_longform_result *out)
{
    memset(out, 0, sizeof *out);
    if (p->batch_size == 0) return cw_error(CW_ERR_INVALID_ARG, "vad-batched: batch size 0");
    out->duration = (double)n / SR;
    cw_vad_options vo = p->vad;
    vo.max_speech_duration_s = 30.0;
    float *probs = NULL;
    size_t n_probs = 0, n_spans = 0, n_chunks = 0;
    cw_speech_span *spans = NULL;
    vb_chunk *chunks = NULL;
    cw_vad_timemap map;
    memset(&map, 0, sizeof map);
    cw_status rc = cw_silero_probs(vad, pool, samples, n, &probs, &n_probs);
    if (rc == CW_OK) rc = cw_vad_speech_timestamps(probs, n_probs, n, &vo, &spans, &n_spans);
    free(probs);
    if (rc == CW_OK) rc = plan(spans, n_spans, &chunks, &n_chunks);
    if (rc == CW_OK) rc = cw_vad_timemap_init(&map, spans, n_spans);
    size_t B = p->batch_size < n_chunks ? p->batch_size : (n_chunks ? n_chunks : 1);
    size_t win = enc->n_mels * N_FRAMES;
    float *windows = rc ? NULL : cw_malloc(B * win * sizeof *windows);
    cw_decode_result *res = rc ? NULL : cw_calloc(B, sizeof *res);
    if (rc == CW_OK && (!windows || !res)) rc = CW_ERR_NOMEM;
    vb_state s = {{enc, dec, sp, codec}, pool, samples, spans, chunks, enc->n_mels, 0, p->with_timestamps, &map, out};
    cw_decode_options o = p->decode;
    o.temperature = 0.0, o.beam_size = 0, o.best_of = 0, o.patience = 0.0;
    o.prompt = NULL, o.n_prompt = 0, o.without_timestamps = !p->with_timestamps;
    out->language_token = sp->multilingual ? o.language_token : -1;
    if (rc == CW_OK && n_chunks && out->language_token < 0 && sp->multilingual) {
        rc = chunk_window(&s, &chunks[0], 0, windows);
        if (rc == CW_OK) rc = cw_batch_detect_language(&s.env, windows, &out->language_token);
    }
    o.language_token = out->language_token;
    double speech_total = n_chunks ? chunks[n_chunks - 1].offset + (double)chunks[n_chunks - 1].n_samples / SR : 0;
    /* work items: (chunk, first sample); continuations are appended */
    size_t cap_q = 2 * n_chunks + 1, n_q = n_chunks;
    size_t (*q)[2] = rc ? NULL : cw_malloc(cap_q * sizeof *q);
    if (rc == CW_OK && !q) rc = CW_ERR_NOMEM;
    for (size_t i = 0; rc == CW_OK && i < n_chunks; i++) q[i][0] = i, q[i][1] = 0;
    for (size_t q0 = 0; rc == CW_OK && q0 < n_q; q0 += B) {
        size_t nb = n_q - q0 < B ? n_q - q0 : B;
        for (size_t j = 0; rc == CW_OK && j < nb; j++)
            rc = chunk_window(&s, &chunks[q[q0 + j][0]], q[q0 + j][1], windows + j * win);
        if (rc == CW_OK) rc = cw_batch_decode(&s.env, &o, windows, nb, res);
        for (size_t j = 0; rc == CW_OK && j < nb; j++) {
            size_t next = 0;
            rc = split_chunk(&s, &chunks[q[q0 + j][0]], q[q0 + j][1], &res[j], &next);
            if (rc == CW_OK && next) {
                if (n_q == cap_q) {
                    size_t (*v)[2] = cw_realloc(q, 2 * cap_q * sizeof *q);
                    if (!v) { rc = CW_ERR_NOMEM; break; }
                    q = v, cap_q *= 2;
                }
                q[n_q][0] = q[q0 + j][0], q[n_q][1] = next, n_q++;
            }
        }
        for (size_t j = 0; j < nb; j++) cw_decode_result_free(&res[j]);
        if (rc == CW_OK && p->progress) {
            const vb_chunk *last = &chunks[q[q0 + nb - 1][0]];
            p->progress(p->progress_user, last->offset + (double)last->n_samples / SR, speech_total);
        }
    }
    free(q);
    /* continuations come after the other chunks: back to time order (stable) */
    for (size_t i = 1; rc == CW_OK && i < out->n_segments; i++) {
        cw_segment x = out->segments[i];
        size_t k = i;
        while (k > 0 && out->segments[k - 1].seek > x.seek) out->segments[k] = out->segments[k - 1], k--;
        out->segments[k] = x;
    }
    for (size_t i = 0; i < out->n_segments; i++) out->segments[i].id = (int)i;
    if (rc == CW_OK) rc = cw_longform_join_text(out);
    cw_vad_timemap_free(&map);
    free(res);
    free(windows);
    free(chunks);
    free(spans);
    if (rc != CW_OK) cw_longform_result_free(out);
    return rc;
}
