/* Logit filters (src/decode/filters.c) rule by rule, on the real English-only
 * and multilingual special ids, against openai/whisper decoding.py. */
#include <stdlib.h>

#include "decode/decode_internal.h"
#include "fake_net.h"
#include "test.h"

#define NV_EN 51864

static float *zeros(size_t n)
{
    float *x = calloc(n, sizeof *x);
    CHECK(x != NULL);
    return x;
}

static size_t count_masked(const float *x, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++) n += isinf(x[i]) && x[i] < 0;
    return n;
}

static void test_suppress_blank(void)
{
    cw_special_tokens sp = fake_specials(0);
    cw_decode_options o = cw_decode_default_options();
    cw_logit_filters f;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    float *x = zeros(NV_EN);
    cw_suppress_blank_apply(&f, x, 2); /* not the first sampled step */
    CHECK_EQ_INT(count_masked(x, 0, NV_EN), 0);
    cw_suppress_blank_apply(&f, x, 1);
    CHECK(isinf(x[220]) && isinf(x[sp.eot]));
    CHECK_EQ_INT(count_masked(x, 0, NV_EN), 2);
    cw_filters_free(&f);
    /* config suppress_ids_begin replaces [220, eot] */
    int32_t begin[] = {5, 6, 7};
    o.config_suppress_ids_begin = begin;
    o.n_config_suppress_ids_begin = 3;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    free(x);
    x = zeros(NV_EN);
    cw_suppress_blank_apply(&f, x, 1);
    CHECK(isinf(x[5]) && isinf(x[6]) && isinf(x[7]) && !isinf(x[220]));
    cw_filters_free(&f);
    /* suppress_blank off */
    o = cw_decode_default_options();
    o.suppress_blank = 0;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    free(x);
    x = zeros(NV_EN);
    cw_suppress_blank_apply(&f, x, 1);
    CHECK_EQ_INT(count_masked(x, 0, NV_EN), 0);
    cw_filters_free(&f);
    free(x);
}

static void check_suppress_list(int multilingual)
{
    cw_special_tokens sp = fake_specials(multilingual);
    size_t nv = (size_t)sp.n_vocab, n_ns;
    const int32_t *ns = cw_non_speech_tokens(multilingual, &n_ns);
    CHECK_EQ_INT(n_ns, multilingual ? 82 : 84);
    cw_decode_options o = cw_decode_default_options();
    cw_logit_filters f;
    CHECK(cw_filters_init(&f, &sp, &o, 1, nv) == CW_OK);
    float *x = zeros(nv);
    cw_suppress_tokens_apply(&f, x);
    for (size_t i = 0; i < n_ns; i++) CHECK(isinf(x[ns[i]]));
    int32_t specials[] = {sp.transcribe, sp.translate, sp.sot, sp.startofprev, sp.startoflm, sp.nospeech};
    for (size_t i = 0; i < 6; i++) CHECK(isinf(x[specials[i]]));
    CHECK_EQ_INT(count_masked(x, 0, nv), n_ns + 6);
    CHECK(!isinf(x[sp.lang_begin]) && !isinf(x[sp.eot]) && !isinf(x[sp.notimestamps]));
    CHECK(!isinf(x[220]) && !isinf(x[64]));
    cw_filters_free(&f);
    free(x);
}

static void test_suppress_tokens(void)
{
    check_suppress_list(0);
    check_suppress_list(1);
    cw_special_tokens sp = fake_specials(0);
    cw_decode_options o = cw_decode_default_options();
    /* config suppress_ids replace the non-speech list; extra ids are added */
    int32_t cfg[] = {100, 101}, extra[] = {300, -1};
    o.config_suppress_ids = cfg;
    o.n_config_suppress_ids = 2;
    o.suppress_tokens = extra;
    o.n_suppress_tokens = 2;
    cw_logit_filters f;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    float *x = zeros(NV_EN);
    cw_suppress_tokens_apply(&f, x);
    CHECK(isinf(x[100]) && isinf(x[101]) && isinf(x[300]) && isinf(x[sp.sot]) && !isinf(x[1]));
    CHECK_EQ_INT(count_masked(x, 0, NV_EN), 3 + 6);
    cw_filters_free(&f);
    /* empty suppress_tokens: no filter at all (not even the specials) */
    o = cw_decode_default_options();
    o.suppress_non_speech = 0;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    free(x);
    x = zeros(NV_EN);
    cw_suppress_tokens_apply(&f, x);
    CHECK_EQ_INT(count_masked(x, 0, NV_EN), 0);
    cw_filters_free(&f);
    free(x);
}

/* Timestamp rules with sample_begin 1 (tokens[0] = sot). */
static void ts_apply(const cw_special_tokens *sp, const int32_t *seq, size_t n, float *x)
{
    cw_decode_options o = cw_decode_default_options();
    cw_logit_filters f;
    CHECK(cw_filters_init(&f, sp, &o, 1, (size_t)sp->n_vocab) == CW_OK);
    int32_t tokens[16];
    tokens[0] = sp->sot;
    if (n) memcpy(tokens + 1, seq, n * sizeof *seq);
    fake_fill(x, (size_t)sp->n_vocab, 0.0f);
    x[64] = 10.0f; /* a text token and eot that win the probability-mass rule */
    x[sp->eot] = 10.0f;
    cw_timestamp_rules_apply(&f, x, tokens, n + 1);
    cw_filters_free(&f);
}

static void test_timestamp_rules(void)
{
    cw_special_tokens sp = fake_specials(0);
    const int32_t tb = sp.timestamp_begin, eot = sp.eot;
    float *x = zeros(NV_EN);
    /* first step: text masked, timestamps above <|1.00|> (index 50) masked */
    ts_apply(&sp, NULL, 0, x);
    CHECK_EQ_INT(count_masked(x, 0, (size_t)tb), (size_t)tb);
    CHECK(!isinf(x[tb]) && !isinf(x[tb + 50]) && isinf(x[tb + 51]));
    CHECK(isinf(x[sp.notimestamps]));
    /* [<|0.10|>]: last timestamp, penultimate "is a timestamp" (len < 2): all timestamps masked */
    int32_t s1[] = {tb + 5};
    ts_apply(&sp, s1, 1, x);
    CHECK_EQ_INT(count_masked(x, (size_t)tb, NV_EN), NV_EN - (size_t)tb);
    CHECK(!isinf(x[64]) && !isinf(x[eot]));
    /* [ts, text]: timestamps must be > the last one */
    int32_t s2[] = {tb + 5, 64};
    ts_apply(&sp, s2, 2, x);
    CHECK(isinf(x[tb + 5]) && !isinf(x[tb + 6]) && isinf(x[tb]) && !isinf(x[64]));
    CHECK(!isinf(x[sp.notimestamps - 1]) && isinf(x[sp.notimestamps]));
    /* [ts, text, ts]: text masked (eot allowed), timestamps >= the last allowed */
    int32_t s3[] = {tb + 5, 64, tb + 8};
    ts_apply(&sp, s3, 3, x);
    CHECK_EQ_INT(count_masked(x, 0, (size_t)eot), (size_t)eot);
    CHECK(!isinf(x[eot]) && isinf(x[tb + 7]) && !isinf(x[tb + 8]) && !isinf(x[tb + 9]));
    /* [ts, text, ts, ts]: must be text; every timestamp masked */
    int32_t s4[] = {tb + 5, 64, tb + 8, tb + 8};
    ts_apply(&sp, s4, 4, x);
    CHECK_EQ_INT(count_masked(x, (size_t)tb, NV_EN), NV_EN - (size_t)tb);
    CHECK(!isinf(x[64]));
    free(x);
}

/* logsumexp of the timestamp log-probs vs the best text log-prob, on the
 * already-masked logits. */
static void test_timestamp_mass_rule(void)
{
    cw_special_tokens sp = fake_specials(0);
    const int32_t tb = sp.timestamp_begin;
    cw_decode_options o = cw_decode_default_options();
    cw_logit_filters f;
    CHECK(cw_filters_init(&f, &sp, &o, 1, NV_EN) == CW_OK);
    float *x = zeros(NV_EN);
    int32_t tokens[] = {sp.sot, tb, 64};
    /* 10 timestamps at 0 (sum = ln 10 = 2.30) beat a text token at 2.0 */
    fake_fill(x, NV_EN, -INFINITY);
    x[64] = 2.0f;
    for (int k = 1; k <= 10; k++) x[tb + k] = 0.0f;
    cw_timestamp_rules_apply(&f, x, tokens, 3);
    CHECK(isinf(x[64]));
    /* ... but not one at 2.4 */
    fake_fill(x, NV_EN, -INFINITY);
    x[64] = 2.4f;
    for (int k = 1; k <= 10; k++) x[tb + k] = 0.0f;
    cw_timestamp_rules_apply(&f, x, tokens, 3);
    CHECK_NEAR(x[64], 2.4, 1e-6);
    /* a suppressed token (id 1, non-speech) with a huge logit does not count:
     * the rule sees the logits after SuppressTokens */
    fake_fill(x, NV_EN, -INFINITY);
    x[1] = 50.0f;
    x[64] = 2.0f;
    for (int k = 1; k <= 10; k++) x[tb + k] = 0.0f;
    cw_filters_apply(&f, x, tokens, 3);
    CHECK(isinf(x[64]) && isinf(x[1]) && !isinf(x[tb + 1]));
    /* the timestamps masked by the monotonic rule do not count either */
    fake_fill(x, NV_EN, -INFINITY);
    x[64] = 2.0f;
    x[tb] = 5.0f; /* <= last timestamp (tb): masked before the mass rule */
    x[tb + 1] = 0.0f;
    cw_filters_apply(&f, x, tokens, 3);
    CHECK(!isinf(x[64]) && isinf(x[tb]));
    cw_filters_free(&f);
    free(x);
}

static void test_max_initial_timestamp(void)
{
    cw_special_tokens sp = fake_specials(1);
    cw_decode_options o = cw_decode_default_options();
    cw_logit_filters f;
    o.max_initial_timestamp = 0.5; /* round(0.5 / 0.02) = 25 */
    CHECK(cw_filters_init(&f, &sp, &o, 3, (size_t)sp.n_vocab) == CW_OK);
    CHECK_EQ_INT(f.max_initial_timestamp_index, 25);
    cw_filters_free(&f);
    o.max_initial_timestamp = 0; /* None */
    CHECK(cw_filters_init(&f, &sp, &o, 3, (size_t)sp.n_vocab) == CW_OK);
    CHECK_EQ_INT(f.max_initial_timestamp_index, -1);
    cw_filters_free(&f);
    o = cw_decode_default_options();
    o.without_timestamps = 1;
    CHECK(cw_filters_init(&f, &sp, &o, 4, (size_t)sp.n_vocab) == CW_OK);
    CHECK(!f.timestamp_rules);
    cw_filters_free(&f);
}

int main(void)
{
    RUN(test_suppress_blank);
    RUN(test_suppress_tokens);
    RUN(test_timestamp_rules);
    RUN(test_timestamp_mass_rule);
    RUN(test_max_initial_timestamp);
    return test_summary();
}
