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

#define NV 51864
#define EOT 50256
#define TB 50363

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
    uint32_t h = fnv1a(hist, len);
    memcpy(out, user, NV * sizeof *out); /* base_row() */
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
static float *base_row(void)
{
    float *b = malloc(NV * sizeof *b);
    if (!b) return NULL;
    fake_fill(b, NV, -20.0f);
    for (size_t k = 0; k < NV - TB; k++) b[TB + k] = (float)(-6.0 - 0.002 * (double)k);
    return b;
}

static void test_crosscheck(void)
{
    FILE *f = fopen(test_path("CW_FIXTURES_DIR", "decode/beam_crosscheck.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[1024];
    size_t cases = 0;
    fake_decoder *dec = calloc(1, sizeof *dec);
    cw_special_tokens sp = fake_specials(0);
    dec->n_vocab = NV;
    dec->fn = hash_logits;
    dec->user = base_row();
    CHECK(dec->user != NULL);
    cw_decoder_net net = fake_decoder_net(dec);
    fake_codec_ctx cc = {sp.n_text};
    cw_text_codec codec = {&cc, fake_codec_decode, fake_codec_encode};
    cw_decode_env env = {&net, &sp, &codec, NULL};
    float audio[4] = {0};
    net.set_audio(net.ctx, audio, 1);
    int32_t prompt[] = {70, 71, 72};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        unsigned beam, plen, ts;
        double patience, lp, avg;
        int off = 0;
        if (sscanf(line, "%u %lf %lf %u %u |%n", &beam, &patience, &lp, &plen, &ts, &off) != 5) continue;
        int32_t expect[64];
        size_t n_expect = 0;
        char *p = line + off, *end;
        for (long v; (v = strtol(p, &end, 10)), end != p; p = end) expect[n_expect++] = (int32_t)v;
        CHECK(sscanf(p, " | %lf", &avg) == 1);
        cw_decode_options o = cw_decode_default_options();
        o.beam_size = beam;
        o.patience = patience;
        o.length_penalty = lp < 0 ? NAN : lp;
        o.prompt = plen ? prompt : NULL;
        o.n_prompt = plen;
        o.without_timestamps = !ts;
        o.sample_len = 12;
        cw_decode_result r;
        CHECK(cw_decode_run(&env, &o, 1, &r) == CW_OK);
        int same = r.n_tokens == n_expect;
        for (size_t i = 0; same && i < n_expect; i++) same = r.tokens[i] == expect[i];
        CHECK_MSG(same, "case \"%.40s\": %zu tokens, first %d", line, r.n_tokens, r.n_tokens ? r.tokens[0] : -1);
        CHECK_NEAR(r.avg_logprob, avg, 2e-5);
        cw_decode_result_free(&r);
        cases++;
    }
    fclose(f);
    CHECK_EQ_INT(cases, 256);
    CHECK_EQ_INT(dec->errors, 0);
    free(dec->user);
    free(dec);
}

int main(void)
{
    RUN(test_crosscheck);
    return test_summary();
}
