/* A scripted fake network for the decoding and long-form tests.
 *
 * fake_decoder keeps, like a real KV cache, the token history of every
 * sequence (reset/forward/reorder follow the cw_decoder_net contract), and
 * asks a test callback for the logits of a history; so a wrong reorder or a
 * wrong first-pass input shows up as wrong logits. It records every reset
 * (n_seq) and the first pass of each run. fake_encoder "encodes" a window
 * to 4 numbers the callback can see: mel[0][0], mel[0][2999], the sum of
 * mel row 0, and the number of encode calls so far.
 *
 * fake codec: ids < 256 are the GPT-2 single-byte tokens (as in the real
 * vocabularies), other text ids decode to "[id]", specials and timestamps
 * to nothing; encode maps each byte to its single-byte token. */
#ifndef CW_TEST_FAKE_NET_H
#define CW_TEST_FAKE_NET_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

#define FAKE_MAX_SEQ 16
#define FAKE_CAP 512
#define FAKE_MAX_RUNS 64

/* Logits for one history: out [n_vocab]. run = index of the reset (0-based),
 * audio = the state floats of the sequence's audio (4 values). */
typedef void (*fake_logits_fn)(void *user, size_t run, const float *audio, const int32_t *hist,
                               size_t len, float *out);

typedef struct {
    size_t n_vocab;
    fake_logits_fn fn;
    void *user;
    size_t n_seq, n_group, n_audio;
    int32_t hist[FAKE_MAX_SEQ][FAKE_CAP];
    size_t len[FAKE_MAX_SEQ];
    float states[FAKE_MAX_SEQ][4];
    size_t runs;                              /* resets so far */
    size_t run_nseq[FAKE_MAX_RUNS];           /* n_seq of each reset */
    int32_t first_pass[FAKE_MAX_RUNS][FAKE_CAP]; /* row 0 of each run's first forward */
    size_t first_len[FAKE_MAX_RUNS];
    float run_audio[FAKE_MAX_RUNS][4];        /* audio of row 0 of each run */
    size_t n_reorder, max_len;
    size_t rows_forwarded;                    /* sum of n_seq over forward calls */
    int errors;                               /* contract violations seen */
    int32_t tmp[FAKE_MAX_SEQ][FAKE_CAP];      /* reorder scratch */
    size_t audio[FAKE_MAX_SEQ];               /* the window each sequence listens to */
} fake_decoder;

static inline cw_status fake_set_audio(void *ctx, const float *states, size_t n_audio)
{
    fake_decoder *f = ctx;
    if (n_audio > FAKE_MAX_SEQ) { f->errors++; return CW_ERR_INVALID_ARG; }
    memcpy(f->states, states, n_audio * 4 * sizeof(float));
    f->n_audio = n_audio;
    return CW_OK;
}

static inline cw_status fake_reset(void *ctx, size_t n_seq, size_t n_group)
{
    fake_decoder *f = ctx;
    if (n_seq > FAKE_MAX_SEQ || n_group == 0 || n_seq % n_group || n_seq / n_group > f->n_audio) {
        f->errors++;
        return CW_ERR_INVALID_ARG;
    }
    f->n_seq = n_seq;
    f->n_group = n_group;
    memset(f->len, 0, sizeof f->len);
    for (size_t s = 0; s < n_seq; s++) f->audio[s] = s / n_group;
    if (f->runs < FAKE_MAX_RUNS) {
        f->run_nseq[f->runs] = n_seq;
        memcpy(f->run_audio[f->runs], f->states[0], sizeof f->run_audio[0]);
    }
    f->runs++;
    return CW_OK;
}

static inline cw_status fake_forward(void *ctx, const int32_t *tokens, size_t n_seq, size_t k, float *logits,
                              size_t extra_pos, float *extra)
{
    fake_decoder *f = ctx;
    if (n_seq != f->n_seq || k == 0) { f->errors++; return CW_ERR_INVALID_ARG; }
    f->rows_forwarded += n_seq;
    size_t run = f->runs - 1;
    if (f->len[0] == 0 && run < FAKE_MAX_RUNS) {
        memcpy(f->first_pass[run], tokens, k * sizeof *tokens);
        f->first_len[run] = k;
    }
    for (size_t s = 0; s < n_seq; s++) {
        if (f->len[s] + k > 448 || f->len[s] + k > FAKE_CAP) { f->errors++; return CW_ERR_INVALID_ARG; }
        memcpy(f->hist[s] + f->len[s], tokens + s * k, k * sizeof *tokens);
        f->len[s] += k;
        if (f->len[s] > f->max_len) f->max_len = f->len[s];
        const float *audio = f->states[f->audio[s]];
        f->fn(f->user, run, audio, f->hist[s], f->len[s], logits + s * f->n_vocab);
        if (extra_pos != CW_NO_POS) {
            if (extra_pos >= k) { f->errors++; return CW_ERR_INVALID_ARG; }
            f->fn(f->user, run, audio, f->hist[s], f->len[s] - k + extra_pos + 1, extra + s * f->n_vocab);
        }
    }
    return CW_OK;
}

static inline cw_status fake_reorder(void *ctx, const size_t *source, size_t n_seq)
{
    fake_decoder *f = ctx;
    int32_t (*tmp)[FAKE_CAP] = f->tmp;
    size_t tl[FAKE_MAX_SEQ], ta[FAKE_MAX_SEQ];
    if (n_seq == 0 || n_seq > f->n_seq) { f->errors++; return CW_ERR_INVALID_ARG; }
    for (size_t i = 0; i < n_seq; i++) {
        if (source[i] >= f->n_seq) { f->errors++; return CW_ERR_INVALID_ARG; }
        memcpy(tmp[i], f->hist[source[i]], sizeof tmp[i]);
        tl[i] = f->len[source[i]];
        ta[i] = f->audio[source[i]];
    }
    for (size_t i = 0; i < n_seq; i++) {
        memcpy(f->hist[i], tmp[i], sizeof tmp[i]);
        f->len[i] = tl[i];
        f->audio[i] = ta[i];
    }
    f->n_seq = n_seq;
    f->n_reorder++;
    return CW_OK;
}

static inline cw_decoder_net fake_decoder_net(fake_decoder *f)
{
    cw_decoder_net n = {f, f->n_vocab, fake_set_audio, fake_reset, fake_forward, fake_reorder, 0, NULL};
    return n;
}

typedef struct {
    float out[FAKE_MAX_SEQ][4];
    size_t calls, n_mels;
} fake_encoder;

static inline cw_status fake_encode(void *ctx, const float *mel, size_t n_audio, const float **states)
{
    fake_encoder *e = ctx;
    for (size_t a = 0; a < n_audio; a++) {
        const float *row0 = mel + a * e->n_mels * 3000;
        double sum = 0;
        for (size_t t = 0; t < 3000; t++) sum += row0[t];
        e->out[a][0] = row0[0];
        e->out[a][1] = row0[2999];
        e->out[a][2] = (float)sum;
        e->out[a][3] = (float)e->calls;
    }
    e->calls++;
    *states = &e->out[0][0];
    return CW_OK;
}

/* GPT-2 byte order: bytes 33..126, 161..172, 174..255, then the others. */
static inline int fake_byte_of_id(int32_t id)
{
    int order[256], n = 0;
    for (int b = 33; b <= 126; b++) order[n++] = b;
    for (int b = 161; b <= 172; b++) order[n++] = b;
    for (int b = 174; b <= 255; b++) order[n++] = b;
    for (int b = 0; b < 256; b++)
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) order[n++] = b;
    return id >= 0 && id < 256 ? order[id] : -1;
}

static inline int32_t fake_id_of_byte(int byte)
{
    for (int32_t id = 0; id < 256; id++) if (fake_byte_of_id(id) == byte) return id;
    return -1;
}

typedef struct { int32_t n_text; } fake_codec_ctx;

static inline cw_status fake_codec_decode(void *ctx, const int32_t *ids, size_t n, char **text)
{
    const fake_codec_ctx *c = ctx;
    char *s = malloc(n * 12 + 1);
    if (!s) return CW_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 256) s[k++] = (char)fake_byte_of_id(ids[i]);
        else if (ids[i] < c->n_text) k += (size_t)sprintf(s + k, "[%d]", (int)ids[i]);
    }
    s[k] = 0;
    *text = s;
    return CW_OK;
}

static inline cw_status fake_codec_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n)
{
    (void)ctx;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return CW_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) (*ids)[i] = fake_id_of_byte((unsigned char)text[i]);
    *n = len;
    return CW_OK;
}

/* Real special-token arithmetic (whisper-reference.md §4). */
static inline cw_special_tokens fake_specials(int multilingual)
{
    cw_special_tokens sp;
    int32_t o = multilingual ? 1 : 0;
    sp.eot = 50256 + o;
    sp.sot = 50257 + o;
    sp.lang_begin = 50258 + o;
    sp.n_languages = 99;
    sp.translate = 50357 + o;
    sp.transcribe = 50358 + o;
    sp.startoflm = 50359 + o;
    sp.startofprev = 50360 + o;
    sp.nospeech = 50361 + o;
    sp.notimestamps = 50362 + o;
    sp.timestamp_begin = 50363 + o;
    sp.n_vocab = 51864 + o;
    sp.n_text = 50256 + o;
    sp.multilingual = multilingual;
    return sp;
}

/* Fills out [n] with `background`, then sets the listed (id, logit) pairs. */
static inline void fake_fill(float *out, size_t n, float background)
{
    for (size_t i = 0; i < n; i++) out[i] = background;
}

#endif
