/* Cross-check of the sequential long-form loop against openai-whisper's own
 * transcribe(), both driven by the same fake network: logits are a hash of
 * (window identity, token history), so windows produce varied timestamp
 * patterns (pairs, single endings, dropped tails, bare <|0.00|>), seek jumps,
 * prompts and the odd skipped window. Expected segments:
 * tests/fixtures/decode/longform_crosscheck.txt, made by
 * tests/fixtures/make_longform_crosscheck.py (lf_hash_logits ported here). */
#include <stdint.h>
#include <stdlib.h>

#include "longform/longform.h"
#include "fake_net.h"
#include "test.h"

/* The vocabulary seen by lf_hash_logits. */
typedef struct {
    cw_special_tokens sp;
    float *base; /* -20 for text and specials, -6 - 0.002 k for timestamp k */
} hash_vocab;

static uint32_t fnv1a_step(uint32_t h, int32_t t)
{
    uint32_t v = (uint32_t)t;
    for (int b = 0; b < 4; b++) h = (h ^ ((v >> (8 * b)) & 0xffu)) * 16777619u;
    return h;
}

/* make_longform_crosscheck.py lf_hash_logits; user = a hash_vocab. */
static void lf_hash_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len,
                           float *out)
{
    (void)run;
    const hash_vocab *hv = user;
    const int32_t SOT = hv->sp.sot, EOT = hv->sp.eot, TB = hv->sp.timestamp_begin, NOSPEECH = hv->sp.nospeech;
    uint32_t h = 2166136261u;
    h = fnv1a_step(h, (int32_t)audio[0]);
    h = fnv1a_step(h, (int32_t)(audio[1] * 2));
    size_t sot = 0;
    for (size_t i = 0; i < len; i++) h = fnv1a_step(h, hist[i]);
    while (sot < len && hist[sot] != SOT) sot++;
    double n_sampled = (double)len - (double)sot - 1.0;
    memcpy(out, hv->base, (size_t)hv->sp.n_vocab * sizeof *out);
    for (uint32_t j = 0; j < 8; j++) {
        uint32_t x = h * (2 * j + 1) * 2654435761u;
        double val = (double)(x >> 16) / 8192.0 - 4.0;
        if (j < 6) out[64 + ((uint64_t)h + 7 * j) % 26] = (float)val;
        if (j < 3) out[TB + (h >> (7 * j)) % 1501] = (float)(val + 0.5);
        if (j == 6) out[EOT] = (float)(val - 3.0 + 0.4 * n_sampled);
        if (j == 7) out[NOSPEECH] = (float)(2.0 * val);
        if (j == 7 && hv->sp.multilingual && len == 1) /* the language-detection pass */
            out[hv->sp.lang_begin + (h >> 3) % 99] = (float)(val + 10.0);
    }
}

typedef struct {
    long seek;
    double start, end, avg, ns;
    int32_t tokens[256];
    size_t n;
} exp_seg;

typedef struct {
    size_t content;
    unsigned beam, cond, multi;
    int lang;
    exp_seg segs[32];
    size_t n_segs;
    char text[512];
} exp_case;

/* Reads the next case; 0 at the end of the file. */
static int read_case(FILE *f, exp_case *c)
{
    char line[4096];
    memset(c, 0, sizeof *c);
    int have = 0;
    long pos = ftell(f);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') { pos = ftell(f); continue; }
        if (!strncmp(line, "case ", 5)) {
            if (have) { fseek(f, pos, SEEK_SET); return 1; }
            CHECK(sscanf(line, "case %zu %u %u %u %d", &c->content, &c->beam, &c->cond, &c->multi, &c->lang) == 5);
            have = 1;
        } else if (!strncmp(line, "seg ", 4) && c->n_segs < 32) {
            exp_seg *s = &c->segs[c->n_segs++];
            int off = 0;
            CHECK(sscanf(line, "seg %ld %lf %lf %lf %lf |%n", &s->seek, &s->start, &s->end, &s->avg, &s->ns, &off) == 5);
            char *p = line + off, *end;
            for (long v; (v = strtol(p, &end, 10)), end != p && s->n < 256; p = end) s->tokens[s->n++] = (int32_t)v;
        } else if (!strncmp(line, "text |", 6)) {
            char *bar = strrchr(line, '|');
            size_t n = (size_t)(bar - (line + 6));
            if (n >= sizeof c->text) n = sizeof c->text - 1;
            memcpy(c->text, line + 6, n);
            c->text[n] = 0;
        }
        pos = ftell(f);
    }
    return have;
}

static float *base_row(const cw_special_tokens *sp)
{
    size_t nv = (size_t)sp->n_vocab, tb = (size_t)sp->timestamp_begin;
    float *b = malloc(nv * sizeof *b);
    if (!b) return NULL;
    fake_fill(b, nv, -20.0f);
    for (size_t k = 0; k < nv - tb; k++) b[tb + k] = (float)(-6.0 - 0.002 * (double)k);
    return b;
}

static void run_case(const exp_case *c)
{
    hash_vocab hv = {fake_specials((int)c->multi), NULL};
    hv.base = base_row(&hv.sp);
    const cw_special_tokens sp = hv.sp;
    fake_decoder *dec = calloc(1, sizeof *dec);
    dec->n_vocab = (size_t)sp.n_vocab;
    dec->fn = lf_hash_logits;
    dec->user = &hv;
    cw_decoder_net net = fake_decoder_net(dec);
    fake_encoder es = {{{0}}, 0, 2};
    cw_encoder_net enc = {&es, 2, fake_encode};
    fake_codec_ctx cc = {sp.n_text};
    cw_text_codec codec = {&cc, fake_codec_decode, fake_codec_encode, NULL};
    size_t n_frames = c->content + 3000;
    float *mel = malloc(2 * n_frames * sizeof *mel);
    for (size_t t = 0; t < n_frames; t++) {
        mel[t] = t < c->content ? (float)(t + 1) : -0.5f;
        mel[n_frames + t] = 0.25f;
    }
    cw_longform_params p = cw_longform_default_params();
    static const double t0[] = {0.0};
    p.fallback.temperatures = t0; /* temperature=0.0: one decode per window */
    p.fallback.n_temperatures = 1;
    p.decode.beam_size = c->beam;
    p.condition_on_previous_text = (int)c->cond;
    cw_longform_result r;
    CHECK(cw_transcribe_sequential(&enc, &net, &sp, &codec, NULL, mel, n_frames, &p, &r) == CW_OK);
    CHECK_MSG(r.n_segments == c->n_segs, "content %zu: %zu segments, expected %zu", c->content, r.n_segments, c->n_segs);
    for (size_t i = 0; i < r.n_segments && i < c->n_segs; i++) {
        const cw_segment *s = &r.segments[i];
        const exp_seg *e = &c->segs[i];
        CHECK_EQ_INT(s->seek, e->seek);
        CHECK_NEAR(s->start, e->start, 1e-6);
        CHECK_NEAR(s->end, e->end, 1e-6);
        CHECK_NEAR(s->avg_logprob, e->avg, 2e-5);
        CHECK_NEAR(s->no_speech_prob, e->ns, 1e-5 * (e->ns > 1 ? e->ns : 1) + 1e-9 + 1e-4 * e->ns);
        int same = s->n_tokens == e->n;
        for (size_t k = 0; same && k < e->n; k++) same = s->tokens[k] == e->tokens[k];
        CHECK_MSG(same, "content %zu segment %zu: tokens differ", c->content, i);
    }
    CHECK_EQ_STR(r.text, c->text);
    CHECK_EQ_INT(r.language_token, c->multi ? sp.lang_begin + c->lang : -1);
    CHECK_EQ_INT(dec->errors, 0);
    free(hv.base);
    cw_longform_result_free(&r);
    free(mel);
    free(dec);
}

static void test_longform_crosscheck(void)
{
    FILE *f = fopen(test_path("CW_FIXTURES_DIR", "decode/longform_crosscheck.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    exp_case *c = malloc(sizeof *c);
    size_t cases = 0, segs = 0;
    while (read_case(f, c)) {
        run_case(c);
        cases++;
        segs += c->n_segs;
    }
    CHECK_EQ_INT(cases, 10);
    CHECK(segs >= 45);
    free(c);
    fclose(f);
}

int main(void)
{
    RUN(test_longform_crosscheck);
    return test_summary();
}
