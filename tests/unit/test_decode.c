/* Search, ranking, sampling, fallback and language detection
 * (src/decode/) against a scripted fake network, with cases worked out by
 * hand from openai/whisper decoding.py and transcribe.py. */
#include <stdlib.h>

#include "decode/decode_internal.h"
#include "fake_net.h"
#include "test.h"

/* ---- a scripted network: per run (reset), a text to emit then eot ------- */

typedef struct {
    const char *text;  /* bytes emitted one token each, then eot */
    size_t reps;       /* text repeated reps times (0 = 1) */
    size_t n_other;    /* further finite tokens (ids 300...) at logit `other` */
    float other;
    float no_speech;   /* probability of <|nospeech|> at the sot position */
} run_cfg;

typedef struct {
    const cw_special_tokens *sp;
    size_t n_init, sot_index;
    const run_cfg *runs;
    size_t n_runs;
} script_t;

static void script_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len,
                          float *out)
{
    (void)audio;
    (void)hist;
    const script_t *s = user;
    const run_cfg *c = &s->runs[run < s->n_runs ? run : s->n_runs - 1];
    fake_fill(out, (size_t)s->sp->n_vocab, -INFINITY);
    if (len == s->sot_index + 1) { /* the sot position (no_speech_prob) */
        out[s->sp->nospeech] = logf(c->no_speech);
        out[200] = logf(1.0f - c->no_speech);
        if (len < s->n_init) return;
    }
    if (len < s->n_init) { out[200] = 0; return; }
    size_t step = len - s->n_init, tl = strlen(c->text), reps = c->reps ? c->reps : 1;
    int32_t tok = step < tl * reps ? fake_id_of_byte((unsigned char)c->text[step % tl]) : s->sp->eot;
    for (size_t k = 0; k < c->n_other; k++) out[300 + k] = c->other;
    out[tok] = 0.0f;
}

typedef struct {
    fake_decoder *dec;
    cw_decoder_net net;
    cw_special_tokens sp;
    fake_codec_ctx cc;
    cw_text_codec codec;
    cw_rng rng;
    cw_decode_env env;
    script_t script;
} fixture;

static fixture *fixture_new(int multilingual, fake_logits_fn fn, void *user)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dec = calloc(1, sizeof *fx->dec);
    fx->sp = fake_specials(multilingual);
    fx->dec->n_vocab = (size_t)fx->sp.n_vocab;
    fx->dec->fn = fn;
    fx->dec->user = user ? user : &fx->script;
    fx->net = fake_decoder_net(fx->dec);
    fx->cc.n_text = fx->sp.n_text;
    fx->codec = (cw_text_codec){&fx->cc, fake_codec_decode, fake_codec_encode, NULL};
    cw_rng_seed(&fx->rng, 1234);
    fx->env = (cw_decode_env){&fx->net, &fx->sp, &fx->codec, &fx->rng};
    fx->script.sp = &fx->sp;
    float audio[4] = {0, 0, 0, 0};
    fx->net.set_audio(fx->net.ctx, audio, 1);
    return fx;
}

static void fixture_free(fixture *fx)
{
    CHECK_EQ_INT(fx->dec->errors, 0);
    free(fx->dec);
    free(fx);
}

/* ---- greedy ---------------------------------------------------------------- */

static void test_greedy_result(void)
{
    run_cfg runs[] = {{"Hi ", 1, 1, -1.0f, 0.3f}};
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 2, 0, runs, 1};
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    cw_decode_result r;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->first_len[0], 2);
    CHECK_EQ_INT(fx->dec->first_pass[0][0], fx->sp.sot);
    CHECK_EQ_INT(fx->dec->first_pass[0][1], fx->sp.notimestamps);
    CHECK_EQ_INT(r.n_tokens, 3);
    CHECK_EQ_INT(r.tokens[0], 39); /* 'H' */
    CHECK_EQ_INT(r.tokens[1], 72); /* 'i' */
    CHECK_EQ_INT(r.tokens[2], 220);
    CHECK_EQ_STR(r.text, "Hi"); /* stripped */
    /* every step: the token at 0 against one other at -1 (eot's step too) */
    double lp = -log1p(exp(-1.0));
    CHECK_NEAR(r.sum_logprob, 4 * lp, 1e-5);
    CHECK_NEAR(r.avg_logprob, 4 * lp / 4, 1e-5); /* sum / (L + 1) */
    CHECK_NEAR(r.no_speech_prob, 0.3, 1e-6);
    CHECK_NEAR(r.compression_ratio, 2.0 / 10.0, 1e-12); /* zlib: 2 + 2 + 2 + 4 bytes */
    CHECK_NEAR(r.temperature, 0.0, 0);
    CHECK_EQ_INT(r.language_token, -1);
    cw_decode_result_free(&r);
    fixture_free(fx);
}

static void tie_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)run; (void)audio;
    const cw_special_tokens *sp = user;
    fake_fill(out, (size_t)sp->n_vocab, -5.0f);
    if (len == 2) { out[75] = 3.0f; out[70] = 3.0f; out[80] = 2.0f; }
    else out[sp->eot] = 3.0f;
    (void)hist;
}

static void test_greedy_first_maximum(void)
{
    fixture *fx = fixture_new(0, tie_logits, NULL);
    fx->dec->user = &fx->sp;
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    cw_decode_result r;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(r.n_tokens, 1);
    CHECK_EQ_INT(r.tokens[0], 70);
    cw_decode_result_free(&r);
    fixture_free(fx);
}

static void test_initial_tokens(void)
{
    run_cfg runs[] = {{"a", 1, 0, 0, 0.5f}};
    int32_t prompt[300];
    for (int i = 0; i < 300; i++) prompt[i] = 64 + i % 26;
    /* .en with a long prompt: [startofprev, prompt[-223:], sot] */
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 225, 224, runs, 1};
    cw_decode_options o = cw_decode_default_options();
    o.prompt = prompt;
    o.n_prompt = 300;
    cw_decode_result r;
    o.without_timestamps = 1;
    fx->script.n_init = 226;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    const int32_t *fp = fx->dec->first_pass[0];
    CHECK_EQ_INT(fx->dec->first_len[0], 226);
    CHECK_EQ_INT(fp[0], fx->sp.startofprev);
    CHECK_EQ_INT(fp[1], prompt[77]);
    CHECK_EQ_INT(fp[223], prompt[299]);
    CHECK_EQ_INT(fp[224], fx->sp.sot);
    CHECK_EQ_INT(fp[225], fx->sp.notimestamps);
    CHECK_NEAR(r.no_speech_prob, 0.5, 1e-6); /* read at sot_index = 224 */
    CHECK_EQ_STR(r.text, "a");
    cw_decode_result_free(&r);
    fixture_free(fx);
    /* multilingual, language given, translate: [sot, lang, translate, notimestamps] */
    fx = fixture_new(1, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 4, 0, runs, 1};
    o = cw_decode_default_options();
    o.language_token = fx->sp.lang_begin + 3;
    o.translate = 1;
    o.without_timestamps = 1;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->first_len[0], 4);
    CHECK_EQ_INT(fx->dec->first_pass[0][0], fx->sp.sot);
    CHECK_EQ_INT(fx->dec->first_pass[0][1], fx->sp.lang_begin + 3);
    CHECK_EQ_INT(fx->dec->first_pass[0][2], fx->sp.translate);
    CHECK_EQ_INT(fx->dec->first_pass[0][3], fx->sp.notimestamps);
    CHECK_EQ_INT(r.language_token, fx->sp.lang_begin + 3);
    CHECK_EQ_STR(r.text, "a");
    cw_decode_result_free(&r);
    fixture_free(fx);
}

/* prefix[-(n_ctx // 2 - sample_len):], with Python's slicing: -0 keeps all,
 * a negative bound drops from the front. */
static void test_prefix_quirk(void)
{
    run_cfg runs[] = {{"z", 1, 0, 0, 0.5f}};
    int32_t prefix[] = {64, 65, 66, 67, 68};
    size_t sample_lens[] = {224, 220, 226}, expect_first[] = {0, 1, 2}, expect_n[] = {5, 4, 3};
    for (int i = 0; i < 3; i++) {
        fixture *fx = fixture_new(0, script_logits, NULL);
        fx->script = (script_t){&fx->sp, 2 + expect_n[i], 0, runs, 1};
        cw_decode_options o = cw_decode_default_options();
        o.without_timestamps = 1;
        o.prefix = prefix;
        o.n_prefix = 5;
        o.sample_len = sample_lens[i];
        cw_decode_result r;
        CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
        CHECK_EQ_INT(fx->dec->first_len[0], 2 + expect_n[i]);
        CHECK_EQ_INT(fx->dec->first_pass[0][2], prefix[expect_first[i]]);
        CHECK_EQ_STR(r.text, "z"); /* the prefix is not part of the sampled tokens */
        cw_decode_result_free(&r);
        fixture_free(fx);
    }
}

static void test_length_limits(void)
{
    run_cfg runs[] = {{"a", 1000, 0, 0, 0.1f}};
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 2, 0, runs, 1};
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    cw_decode_result r;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(r.n_tokens, 224); /* sample_len = n_text_ctx // 2 */
    CHECK_NEAR(r.avg_logprob, 0.0, 1e-9);
    CHECK(r.compression_ratio > 2.4);
    cw_decode_result_free(&r);
    /* with a 300-token prompt the row stops once it exceeds 448 tokens */
    int32_t prompt[300];
    for (int i = 0; i < 300; i++) prompt[i] = 64;
    o.prompt = prompt;
    o.n_prompt = 300;
    fx->script.n_init = 226;
    fx->script.sot_index = 224;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(r.n_tokens, 449 - 226);
    CHECK(fx->dec->max_len <= 448);
    cw_decode_result_free(&r);
    fixture_free(fx);
}

static void test_verify_options(void)
{
    run_cfg runs[] = {{"a", 1, 0, 0, 0.1f}};
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 1, 0, runs, 1};
    cw_decode_result r;
    cw_decode_options o = cw_decode_default_options();
    o.beam_size = 2;
    o.best_of = 2;
    o.temperature = 0.5;
    CHECK_FAILS(cw_decode_run(&fx->env, &o, 1, &r), CW_ERR_INVALID_ARG, "beam_size and best_of");
    o = cw_decode_default_options();
    o.best_of = 2;
    CHECK_FAILS(cw_decode_run(&fx->env, &o, 1, &r), CW_ERR_INVALID_ARG, "best_of with greedy");
    o = cw_decode_default_options();
    o.patience = 2;
    CHECK_FAILS(cw_decode_run(&fx->env, &o, 1, &r), CW_ERR_INVALID_ARG, "patience requires");
    o = cw_decode_default_options();
    o.length_penalty = 1.5;
    CHECK_FAILS(cw_decode_run(&fx->env, &o, 1, &r), CW_ERR_INVALID_ARG, "length_penalty");
    fixture_free(fx);
}

/* ---- beam search on a hand-made tree -------------------------------------- */

/* Probabilities of the next token after a sampled prefix (A=64 'a', B=65, ...). */
typedef struct { const char *prefix; int32_t tok[3]; float p[3]; } tree_node;
#define EOT_EN 50256
static const tree_node k_tree[] = {
    {"", {64, 65, 66}, {0.5f, 0.3f, 0.2f}},            /* A .5  B .3  C .2 */
    {"a", {EOT_EN, 67, 68}, {0.6f, 0.3f, 0.1f}},      /* A: eot .6  D .3  E .1 */
    {"b", {69, EOT_EN, 70}, {0.9f, 0.06f, 0.04f}},    /* B: F .9  eot .06  G .04 */
    {"bf", {EOT_EN, 71, 72}, {0.5f, 0.3f, 0.2f}},     /* BF: eot .5  H .3  I .2 */
    {"ad", {EOT_EN, 73, 74}, {0.8f, 0.12f, 0.08f}},   /* AD: eot .8  J .12  K .08 */
    {"bfh", {EOT_EN, 75, 76}, {0.7f, 0.2f, 0.1f}},    /* BFH: eot .7  L .2  M .1 */
    {"bfi", {EOT_EN, 77, 78}, {0.5f, 0.4f, 0.1f}},    /* BFI: eot .5  N .4  O .1 */
};

/* A second tree, for the second audio of a batch. */
static const tree_node k_tree2[] = {
    {"", {80, 81, 82}, {0.9f, 0.06f, 0.04f}},          /* q .9  r .06  s .04 */
    {"q", {EOT_EN, 83, 84}, {0.9f, 0.06f, 0.04f}},
    {"r", {EOT_EN, 83, 84}, {0.9f, 0.06f, 0.04f}},
};

static void tree_lookup(const tree_node *tree, size_t n_tree, const int32_t *hist, size_t len, float *out)
{
    fake_fill(out, 51864, -INFINITY);
    size_t n_init = 2; /* [sot, notimestamps] */
    if (len < n_init) { out[64] = 0; return; }
    char prefix[64];
    size_t n = len - n_init;
    for (size_t i = 0; i < n && i < 63; i++) prefix[i] = (char)('a' + (hist[n_init + i] - 64));
    prefix[n < 63 ? n : 63] = 0;
    for (size_t k = 0; k < n_tree; k++) {
        if (strcmp(tree[k].prefix, prefix) != 0) continue;
        for (int j = 0; j < 3; j++) out[tree[k].tok[j]] = logf(tree[k].p[j]);
        return;
    }
    out[EOT_EN] = 0.0f;
}

/* audio[0] == 2: the second tree, else the first. */
static void tree_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)run; (void)user;
    if (audio[0] == 2.0f) tree_lookup(k_tree2, sizeof k_tree2 / sizeof k_tree2[0], hist, len, out);
    else tree_lookup(k_tree, sizeof k_tree / sizeof k_tree[0], hist, len, out);
}

static void beam_case(size_t beam, double patience, double lp, size_t sample_len,
                      const char *expect, double expect_sum)
{
    fixture *fx = fixture_new(0, tree_logits, NULL);
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    o.beam_size = beam;
    o.patience = patience;
    o.length_penalty = lp;
    o.sample_len = sample_len;
    cw_decode_result r;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->run_nseq[0], beam);
    CHECK_EQ_STR(r.text, expect);
    CHECK_NEAR(r.sum_logprob, expect_sum, 1e-5);
    CHECK_NEAR(r.avg_logprob, expect_sum / (double)(strlen(expect) + 1), 1e-5);
    cw_decode_result_free(&r);
    fixture_free(fx);
}

static void test_beam_search_by_hand(void)
{
    /* step 1: A-eot .30 finishes; beams BF .27, AD .15. step 2: BF-eot .135 and
     * AD-eot .12 finish; with 2 candidates {A-eot, BF-eot}: ln.3/1 < ln.135/2 -> "bf" */
    beam_case(2, 0, NAN, 0, "bf", log(0.135));
    /* length_penalty 1: ln.3/1 = -1.20 > ln.135/(7/6) = -1.72 -> "a" */
    beam_case(2, 0, 1.0, 0, "a", log(0.3));
    /* patience 1.5: 3 candidates {A, BF, AD}; ln.12/2 = -1.06 < -1.00 -> still "bf" */
    beam_case(2, 1.5, NAN, 0, "bf", log(0.135));
    /* patience 2: a third step: beams BFH .081, BFI .054; BFH-eot .0567 fills the
     * 4th slot; ln(.0567)/3 = -0.956 is the best -> "bfh" */
    beam_case(2, 2.0, NAN, 0, "bfh", log(0.0567));
    /* sample_len 2: only A-eot finished; the live beam BF .27 fills up -> ln.27/2 wins */
    beam_case(2, 0, NAN, 2, "bf", log(0.27));
    /* sample_len 1: nothing finished; A .5 and B .3 filled in -> "a" */
    beam_case(2, 0, NAN, 1, "a", log(0.5));
}

/* Two windows decoded together: sequence s attends to audio s / n_group. */
static void test_batch_of_two(void)
{
    for (size_t beam = 0; beam <= 2; beam += 2) {
        fixture *fx = fixture_new(0, tree_logits, NULL);
        float audio[8] = {1, 0, 0, 0, 2, 0, 0, 0};
        fx->net.set_audio(fx->net.ctx, audio, 2);
        cw_decode_options o = cw_decode_default_options();
        o.without_timestamps = 1;
        o.beam_size = beam;
        cw_decode_result r[2];
        CHECK(cw_decode_run(&fx->env, &o, 2, r) == CW_OK);
        CHECK_EQ_INT(fx->dec->run_nseq[0], beam ? 4 : 2);
        CHECK_EQ_STR(r[0].text, beam ? "bf" : "a");
        CHECK_EQ_STR(r[1].text, "q");
        CHECK_NEAR(r[1].sum_logprob, log(0.9) + log(0.9), 1e-5);
        cw_decode_result_free(&r[0]);
        cw_decode_result_free(&r[1]);
        fixture_free(fx);
    }
}

/* Audio with state v emits v letters (a, b, c, ...) and then eot. */
static void count_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)run;
    const cw_special_tokens *sp = user;
    fake_fill(out, (size_t)sp->n_vocab, -5.0f);
    size_t c = 0;
    for (size_t i = 0; i < len; i++) {
        int b = fake_byte_of_id(hist[i]);
        c += b >= 'a' && b <= 'z';
    }
    if (c < (size_t)audio[0]) out[fake_id_of_byte((unsigned char)('a' + c))] = 3.0f - 0.25f * (float)c;
    else out[sp->eot] = 3.0f;
}

/* Greedy batches drop rows that reached eot from the net's batch: each
 * window's tokens and log-probability equal its one-window run's, and the
 * net computes only the rows still running (as many as the one-window runs
 * together). */
static void test_batch_drops_finished_rows(void)
{
    float lens[4] = {3, 1, 5, 2};
    cw_decode_result one[4], all[4];
    size_t rows_alone = 0;
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    for (size_t a = 0; a < 4; a++) {
        fixture *fx = fixture_new(0, count_logits, NULL);
        fx->dec->user = &fx->sp;
        float audio[4] = {lens[a], 0, 0, 0};
        fx->net.set_audio(fx->net.ctx, audio, 1);
        CHECK(cw_decode_run(&fx->env, &o, 1, &one[a]) == CW_OK);
        rows_alone += fx->dec->rows_forwarded;
        fixture_free(fx);
    }
    fixture *fx = fixture_new(0, count_logits, NULL);
    fx->dec->user = &fx->sp;
    float audio[16] = {0};
    for (size_t a = 0; a < 4; a++) audio[4 * a] = lens[a];
    fx->net.set_audio(fx->net.ctx, audio, 4);
    CHECK(cw_decode_run(&fx->env, &o, 4, all) == CW_OK);
    CHECK_EQ_INT(fx->dec->rows_forwarded, rows_alone);
    CHECK(fx->dec->n_reorder >= 3); /* the 1-, 2- and 3-letter rows left in turn */
    static const char *want[4] = {"abc", "a", "abcde", "ab"};
    for (size_t a = 0; a < 4; a++) {
        CHECK_EQ_STR(all[a].text, want[a]);
        CHECK_EQ_STR(all[a].text, one[a].text);
        CHECK_EQ_INT(all[a].n_tokens, one[a].n_tokens);
        CHECK(all[a].sum_logprob == one[a].sum_logprob);
        cw_decode_result_free(&one[a]);
        cw_decode_result_free(&all[a]);
    }
    fixture_free(fx);
}

/* ---- ranking, sampling ------------------------------------------------------ */

static void test_rank(void)
{
    cw_candidate_set set = {0};
    int32_t c0[] = {1, 64, EOT_EN}, c1[] = {1, 64, 65, 66, EOT_EN}, c2[] = {1, 70, EOT_EN};
    CHECK(cw_candidate_push(&set, c0, 3, -1.0f) == CW_OK);
    CHECK(cw_candidate_push(&set, c1, 5, -2.4f) == CW_OK);
    CHECK(cw_candidate_push(&set, c2, 3, -1.0f) == CW_OK);
    CHECK_EQ_INT(cw_rank_candidates(&set, 1, EOT_EN, NAN), 1);  /* -0.8 beats -1 */
    CHECK_EQ_INT(cw_rank_candidates(&set, 1, EOT_EN, 1.0), 0);  /* -2.4/(8/6) = -1.8; ties: first */
    CHECK_EQ_INT(cw_rank_candidates(&set, 1, EOT_EN, 0.0), 0);  /* raw sums */
    cw_candidate_set_free(&set);
}

static void test_sampling(void)
{
    cw_rng a, b;
    cw_rng_seed(&a, 42);
    cw_rng_seed(&b, 42);
    double mean = 0;
    for (int i = 0; i < 4000; i++) {
        double u = cw_rng_uniform(&a);
        CHECK(u >= 0 && u < 1);
        CHECK(u == cw_rng_uniform(&b));
        mean += u / 4000;
    }
    CHECK_NEAR(mean, 0.5, 0.02);
    /* T > 0 with 11 equally likely tokens: reproducible for a seed */
    run_cfg runs[] = {{"ab", 3, 10, 0.0f, 0.1f}};
    int32_t first[12];
    size_t n_first = 0;
    for (int rep = 0; rep < 2; rep++) {
        fixture *fx = fixture_new(0, script_logits, NULL);
        fx->script = (script_t){&fx->sp, 2, 0, runs, 1};
        cw_decode_options o = cw_decode_default_options();
        o.without_timestamps = 1;
        o.temperature = 1.0;
        o.sample_len = 6;
        cw_decode_result r;
        CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
        CHECK_EQ_INT(r.n_tokens, 6);
        if (rep == 0) { memcpy(first, r.tokens, r.n_tokens * sizeof *first); n_first = r.n_tokens; }
        else for (size_t i = 0; i < n_first; i++) CHECK_EQ_INT(r.tokens[i], first[i]);
        CHECK_NEAR(r.avg_logprob, -log(11.0) * 6 / 7, 1e-4);
        CHECK_NEAR(r.temperature, 1.0, 0);
        cw_decode_result_free(&r);
        fixture_free(fx);
    }
    /* best_of 3: three sequences decoded together */
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 2, 0, runs, 1};
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    o.temperature = 0.7;
    o.best_of = 3;
    o.sample_len = 4;
    cw_decode_result r;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->run_nseq[0], 3);
    CHECK_EQ_INT(r.n_tokens, 4);
    cw_decode_result_free(&r);
    fixture_free(fx);
}

/* ---- fallback --------------------------------------------------------------- */

static cw_decode_result fallback_run(const run_cfg *runs, size_t n_runs, const cw_fallback_options *fb,
                                     size_t beam, size_t best_of, size_t *n_resets, size_t *nseq)
{
    fixture *fx = fixture_new(0, script_logits, NULL);
    fx->script = (script_t){&fx->sp, 2, 0, runs, n_runs};
    cw_decode_options o = cw_decode_default_options();
    o.without_timestamps = 1;
    o.beam_size = beam;
    o.best_of = best_of;
    cw_decode_result r;
    CHECK(cw_decode_with_fallback(&fx->env, &o, fb, &r) == CW_OK);
    *n_resets = fx->dec->runs;
    for (size_t i = 0; i < fx->dec->runs && i < 8; i++) nseq[i] = fx->dec->run_nseq[i];
    fixture_free(fx);
    return r;
}

static void test_fallback(void)
{
    cw_fallback_options fb = cw_fallback_default_options();
    size_t n, nseq[8];
    /* too repetitive at T=0 -> T=0.2 passes */
    run_cfg rep[] = {{"a", 100, 0, 0, 0.1f}, {"hello", 1, 0, 0, 0.1f}};
    cw_decode_result r = fallback_run(rep, 2, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(r.text, "hello");
    CHECK_NEAR(r.temperature, 0.2, 0);
    cw_decode_result_free(&r);
    /* low avg_logprob at T=0 (11 equal tokens: -2.4) -> fallback */
    run_cfg low[] = {{"ab", 1, 10, 0.0f, 0.1f}, {"ok", 1, 0, 0, 0.1f}};
    r = fallback_run(low, 2, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(r.text, "ok");
    cw_decode_result_free(&r);
    /* ... unless no_speech_prob > 0.6: silence, no fallback */
    run_cfg sil[] = {{"ab", 1, 10, 0.0f, 0.9f}, {"ok", 1, 0, 0, 0.9f}};
    r = fallback_run(sil, 2, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(r.temperature, 0.0, 0);
    CHECK(r.avg_logprob < -1.0);
    cw_decode_result_free(&r);
    /* everything fails: six temperatures, the last result kept */
    run_cfg bad[] = {{"a", 100, 0, 0, 0.1f}};
    r = fallback_run(bad, 1, &fb, 2, 3, &n, nseq);
    CHECK_EQ_INT(n, 6);
    CHECK_NEAR(r.temperature, 1.0, 0);
    CHECK_EQ_INT(r.n_tokens, 100);
    /* beam_size only at T=0, best_of only at T>0 */
    CHECK_EQ_INT(nseq[0], 2);
    CHECK_EQ_INT(nseq[1], 3);
    CHECK_EQ_INT(nseq[5], 3);
    cw_decode_result_free(&r);
    /* no_fallback */
    fb.no_fallback = 1;
    r = fallback_run(bad, 1, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 1);
    cw_decode_result_free(&r);
    /* thresholds off (None) */
    fb = cw_fallback_default_options();
    fb.compression_ratio_threshold = NAN;
    r = fallback_run(bad, 1, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 1);
    cw_decode_result_free(&r);
    /* the CLI's np.arange schedule: 0.6000000000000001 at index 3 */
    fb = cw_fallback_default_options();
    fb.temperatures = NULL;
    r = fallback_run(bad, 1, &fb, 0, 0, &n, nseq);
    CHECK_EQ_INT(n, 6);
    CHECK(r.temperature == 5 * 0.2);
    cw_decode_result_free(&r);
    cw_decode_result x = {0};
    x.compression_ratio = 2.4;
    x.avg_logprob = -1.0;
    x.no_speech_prob = 0.6;
    CHECK(!cw_needs_fallback(&x, &fb)); /* strict comparisons */
    x.avg_logprob = -1.01;
    CHECK(cw_needs_fallback(&x, &fb));
    x.no_speech_prob = 0.61;
    CHECK(!cw_needs_fallback(&x, &fb));
    x.compression_ratio = 2.5; /* silence overrides a high compression ratio too */
    CHECK(!cw_needs_fallback(&x, &fb));
}

/* ---- language detection ------------------------------------------------------ */

static void lang_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)audio;
    const cw_special_tokens *sp = user;
    fake_fill(out, (size_t)sp->n_vocab, -INFINITY);
    if (run == 0) { /* the [sot] pass */
        out[64] = 10.0f;                 /* not a language: ignored */
        out[sp->lang_begin + 2] = 3.0f;  /* de */
        out[sp->lang_begin + 5] = 2.0f;  /* ko */
        out[sp->lang_begin] = 1.0f;      /* en */
        return;
    }
    out[len >= 4 ? sp->eot : sp->timestamp_begin] = 0.0f;
    out[sp->timestamp_begin] = 0.0f;
    (void)hist;
}

static void test_language(void)
{
    fixture *fx = fixture_new(1, lang_logits, NULL);
    fx->dec->user = &fx->sp;
    int32_t tok;
    float probs[99];
    CHECK(cw_detect_language(&fx->net, &fx->sp, 1, &tok, probs) == CW_OK);
    CHECK_EQ_INT(tok, fx->sp.lang_begin + 2);
    CHECK_EQ_INT(fx->dec->first_len[0], 1);
    CHECK_EQ_INT(fx->dec->first_pass[0][0], fx->sp.sot);
    double z = exp(3.0) + exp(2.0) + exp(1.0), sum = 0;
    for (int i = 0; i < 99; i++) sum += probs[i];
    CHECK_NEAR(sum, 1.0, 1e-6);
    CHECK_NEAR(probs[2], exp(3.0) / z, 1e-6);
    CHECK_NEAR(probs[0], exp(1.0) / z, 1e-6);
    /* decode() with language None detects and writes the token at sot_index + 1 */
    cw_decode_options o = cw_decode_default_options();
    cw_decode_result r;
    fx->dec->runs = 0;
    CHECK(cw_decode_run(&fx->env, &o, 1, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->runs, 2);
    CHECK_EQ_INT(fx->dec->first_pass[1][1], fx->sp.lang_begin + 2);
    CHECK_EQ_INT(fx->dec->first_pass[1][2], fx->sp.transcribe);
    CHECK_EQ_INT(r.language_token, fx->sp.lang_begin + 2);
    cw_decode_result_free(&r);
    /* English-only vocabularies cannot do language id */
    cw_special_tokens en = fake_specials(0);
    CHECK_FAILS(cw_detect_language(&fx->net, &en, 1, &tok, NULL), CW_ERR_INVALID_ARG, "language tokens");
    fixture_free(fx);
}

static void test_text_helpers(void)
{
    char s1[] = " \t hello world \n", s2[] = "\xc2\xa0\xe3\x80\x80x\xe2\x80\x83", s3[] = "   ";
    CHECK_EQ_STR(cw_strip_inplace(s1), "hello world");
    CHECK_EQ_STR(cw_strip_inplace(s2), "x"); /* NBSP, ideographic space, em space */
    CHECK_EQ_STR(cw_strip_inplace(s3), "");
    CHECK_NEAR(cw_compression_ratio("", 0), 0.0, 0); /* zlib.compress(b"") is 8 bytes */
    const char *rep = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    CHECK_NEAR(cw_compression_ratio(rep, 100), 100.0 / 12.0, 1e-12); /* python: 8.333... */
}

int main(void)
{
    RUN(test_greedy_result);
    RUN(test_greedy_first_maximum);
    RUN(test_initial_tokens);
    RUN(test_prefix_quirk);
    RUN(test_length_limits);
    RUN(test_verify_options);
    RUN(test_beam_search_by_hand);
    RUN(test_batch_of_two);
    RUN(test_batch_drops_finished_rows);
    RUN(test_rank);
    RUN(test_sampling);
    RUN(test_fallback);
    RUN(test_language);
    RUN(test_text_helpers);
    return test_summary();
}
