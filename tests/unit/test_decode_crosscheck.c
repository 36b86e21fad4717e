/* Cross-check of the whole search (filters, greedy, beam search with
 * patience, ranker with length penalty, prompts, timestamps) against
 * openai-whisper's own DecodingTask, driven by the same hash-of-history fake
 * logits. Expected outputs: tests/fixtures/decode/beam_crosscheck.txt, made by
 * tests/fixtures/make_beam_crosscheck.py (hash_logits is ported here). */
#include <stdint.h>
#include <stdlib.h>

#include "decode/decode.h"
#include "fake_net.h"
#include "test.h"

/* What hash_logits needs to know about the vocabulary. */
typedef struct {
    size_t nv;
    int32_t eot, tb;
    float *base; /* base_row() */
} vocab_info;

static uint32_t fnv1a(const int32_t *t, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)t[i];
        for (int b = 0; b < 4; b++) h = (h ^ ((v >> (8 * b)) & 0xffu)) * 16777619u;
    }
    return h;
}

/* make_beam_crosscheck.py hash_logits. */
static void hash_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)run; (void)audio;
    const vocab_info *v = user;
    const int32_t TB = v->tb, EOT = v->eot;
    uint32_t h = fnv1a(hist, len);
    memcpy(out, v->base, v->nv * sizeof *out);
    for (uint32_t j = 0; j < 7; j++) {
        uint32_t x = h * (2 * j + 1) * 2654435761u;
        double val = (double)(x >> 16) / 8192.0 - 4.0;
        if (j < 6) {
            out[64 + ((uint64_t)h + 7 * j) % 26] = (float)val;
            if (j < 3) out[TB + (h >> (5 * j)) % 50] = (float)(val - 1.0);
        } else {
            out[EOT] = (float)(val - 3.0 + 0.75 * ((double)len - 4.0));
        }
    }
}

/* -20 for text and specials; every timestamp distinct: -6 - 0.002 k. */
static float *base_row(size_t nv, size_t tb)
{
    float *b = malloc(nv * sizeof *b);
    if (!b) return NULL;
    fake_fill(b, nv, -20.0f);
    for (size_t k = 0; k < nv - tb; k++) b[tb + k] = (float)(-6.0 - 0.002 * (double)k);
    return b;
}

/* One decoder, vocabulary and environment per vocabulary kind. */
typedef struct {
    fake_decoder dec;
    cw_special_tokens sp;
    vocab_info v;
    cw_decoder_net net;
    fake_codec_ctx cc;
    cw_text_codec codec;
    cw_decode_env env;
} xc_setup;

static void xc_init(xc_setup *x, int multilingual)
{
    x->sp = fake_specials(multilingual);
    x->v = (vocab_info){(size_t)x->sp.n_vocab, x->sp.eot, x->sp.timestamp_begin,
                        base_row((size_t)x->sp.n_vocab, (size_t)x->sp.timestamp_begin)};
    CHECK(x->v.base != NULL);
    x->dec.n_vocab = x->v.nv;
    x->dec.fn = hash_logits;
    x->dec.user = &x->v;
    x->net = fake_decoder_net(&x->dec);
    x->cc.n_text = x->sp.n_text;
    x->codec = (cw_text_codec){&x->cc, fake_codec_decode, fake_codec_encode, NULL};
    x->env = (cw_decode_env){&x->net, &x->sp, &x->codec, NULL};
    float audio[4] = {0};
    x->net.set_audio(x->net.ctx, audio, 1);
}

static void test_crosscheck(void)
{
    FILE *f = fopen(test_path("CW_FIXTURES_DIR", "decode/beam_crosscheck.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[1024];
    size_t cases = 0;
    xc_setup *xs = calloc(2, sizeof *xs);
    CHECK(xs != NULL);
    if (!xs) { fclose(f); return; }
    xc_init(&xs[0], 0);
    xc_init(&xs[1], 1);
    int32_t prompt[] = {70, 71, 72};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        unsigned multi, beam, plen, ts;
        double patience, lp, avg;
        int off = 0;
        if (sscanf(line, "%u %u %lf %lf %u %u |%n", &multi, &beam, &patience, &lp, &plen, &ts, &off) != 6 ||
            multi > 1)
            continue;
        xc_setup *x = &xs[multi];
        int32_t expect[64];
        size_t n_expect = 0;
        char *p = line + off, *end;
        for (long v; (v = strtol(p, &end, 10)), end != p; p = end) expect[n_expect++] = (int32_t)v;
        CHECK(sscanf(p, " | %lf", &avg) == 1);
        cw_decode_options o = cw_decode_default_options();
        o.language_token = x->sp.lang_begin; /* "en" */
        o.beam_size = beam;
        o.patience = patience;
        o.length_penalty = lp < 0 ? NAN : lp;
        o.prompt = plen ? prompt : NULL;
        o.n_prompt = plen;
        o.without_timestamps = !ts;
        o.sample_len = 12;
        cw_decode_result r;
        CHECK(cw_decode_run(&x->env, &o, 1, &r) == CW_OK);
        int same = r.n_tokens == n_expect;
        for (size_t i = 0; same && i < n_expect; i++) same = r.tokens[i] == expect[i];
        CHECK_MSG(same, "case \"%.40s\": %zu tokens, first %d", line, r.n_tokens, r.n_tokens ? r.tokens[0] : -1);
        CHECK_NEAR(r.avg_logprob, avg, 2e-5);
        cw_decode_result_free(&r);
        cases++;
    }
    fclose(f);
    CHECK_EQ_INT(cases, 256 + 56);
    for (int m = 0; m < 2; m++) {
        CHECK_EQ_INT(xs[m].dec.errors, 0);
        free(xs[m].v.base);
    }
    free(xs);
}

int main(void)
{
    RUN(test_crosscheck);
    return test_summary();
}
