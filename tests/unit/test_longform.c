/* OpenAI's sequential long-form loop (src/longform/) on scripted window
 * outputs: timestamp splitting (consecutive pairs, single timestamp ending,
 * dropped tail, no timestamps), seek advance, the last short window and its
 * 0.0 padding, the no-speech skip rule, blank-segment clearing, prompts
 * (conditioning, initial prompt, reset after T > 0.5), language detection on
 * the real first 30 s, clips and progress, as transcribe.py transcribe(). */
#include <stdlib.h>

#include "longform/longform.h"
#include "fake_net.h"
#include "test.h"

#define TBE 50363 /* .en timestamp_begin */
#define A(c) ((int32_t)((c) - 33))  /* printable ASCII -> GPT-2 single-byte token */

/* ---- split.c directly ------------------------------------------------------- */

static void test_split_consecutive(void)
{
    int32_t t[] = {TBE, A('a'), TBE + 100, TBE + 100, A('b'), TBE + 250, TBE + 250, A('c')};
    cw_split_piece p[9];
    long adv;
    size_t n = cw_split_window(t, 8, TBE, 10.0, 3000, p, &adv);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(p[0].begin, 0);
    CHECK_EQ_INT(p[0].end, 3);
    CHECK_NEAR(p[0].start, 10.0, 1e-12);
    CHECK_NEAR(p[0].end_time, 12.0, 1e-12);
    CHECK_EQ_INT(p[1].begin, 3);
    CHECK_EQ_INT(p[1].end, 6);
    CHECK_NEAR(p[1].start, 12.0, 1e-12);
    CHECK_NEAR(p[1].end_time, 15.0, 1e-12);
    CHECK_EQ_INT(adv, 500); /* the unfinished tail is dropped: seek to <|5.00|> */
    /* single timestamp ending: the tail is a segment and the window is done */
    int32_t s[] = {TBE, A('a'), TBE + 50, TBE + 50, A('b'), TBE + 80};
    n = cw_split_window(s, 6, TBE, 0.0, 1234, p, &adv);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(p[1].begin, 3);
    CHECK_EQ_INT(p[1].end, 6);
    CHECK_NEAR(p[1].end_time, 1.6, 1e-12);
    CHECK_EQ_INT(adv, 1234);
}

static void test_split_without_pairs(void)
{
    cw_split_piece p[5];
    long adv;
    int32_t t[] = {A('a'), A('b')}; /* no timestamps: the whole window */
    size_t n = cw_split_window(t, 2, TBE, 30.0, 1500, p, &adv);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(p[0].start, 30.0, 0);
    CHECK_NEAR(p[0].end_time, 45.0, 1e-12);
    CHECK_EQ_INT(adv, 1500);
    int32_t u[] = {TBE, A('a'), TBE + 150}; /* last timestamp gives the duration */
    n = cw_split_window(u, 3, TBE, 30.0, 3000, p, &adv);
    CHECK_NEAR(p[0].end_time, 33.0, 1e-12);
    CHECK_EQ_INT(adv, 3000);
    int32_t v[] = {TBE, A('a')}; /* ... unless it is <|0.00|> */
    n = cw_split_window(v, 2, TBE, 0.0, 3000, p, &adv);
    CHECK_NEAR(p[0].end_time, 30.0, 1e-12);
    CHECK_EQ_INT(cw_split_window(v, 0, TBE, 0.0, 3000, p, &adv), 1); /* empty output */
}

/* ---- the loop on a scripted network ----------------------------------------- */

typedef struct {
    long seek;            /* window it answers (mel[0][seek] = seek + 1) */
    int32_t toks[16];
    size_t n;
    float no_speech;
    size_t n_other;       /* competing text tokens at -0.2 (low avg_logprob) */
} win_script;

typedef struct {
    const cw_special_tokens *sp;
    const win_script *w;
    size_t n_w;
    size_t fail_until_run; /* runs before this one emit "a" x 100 (too repetitive) */
    int32_t lang;          /* the detected language at the sot position */
} lf_script;

/* Number of initial tokens in a row: up to sot and the specials after it. */
static size_t n_initial(const cw_special_tokens *sp, const int32_t *h, size_t len)
{
    size_t i = 0;
    while (i < len && h[i] != sp->sot) i++;
    i++;
    while (i < len && h[i] > sp->sot && h[i] <= sp->notimestamps) i++;
    return i;
}

static void lf_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    const lf_script *s = user;
    const cw_special_tokens *sp = s->sp;
    fake_fill(out, (size_t)sp->n_vocab, -INFINITY);
    long seek = (long)audio[0] - 1;
    const win_script *w = NULL;
    for (size_t i = 0; i < s->n_w; i++) if (s->w[i].seek == seek) w = &s->w[i];
    int at_sot = hist[len - 1] == sp->sot;
    size_t n0 = n_initial(sp, hist, len);
    if (len < n0 || (at_sot && sp->multilingual)) {
        out[sp->multilingual ? s->lang : 200] = 0.0f; /* not a sampling step */
    } else {
        size_t step = len - n0;
        int32_t tok = sp->eot;
        if (run < s->fail_until_run) tok = step < 100 ? A('a') : sp->eot;
        else if (w && step < w->n) tok = w->toks[step];
        for (size_t k = 0; w && k < w->n_other; k++) out[300 + k] = -0.2f;
        out[tok] = 0.0f;
    }
    if (at_sot) { /* the no-speech probability is read from these raw logits */
        double z = 0;
        for (size_t i = 0; i < (size_t)sp->n_vocab; i++) z += exp((double)out[i]);
        float ns = w ? w->no_speech : 0.1f;
        out[sp->nospeech] = (float)(log(ns / (1.0 - ns)) + log(z));
    }
}

typedef struct {
    double done[16], total;
    size_t n;
} progress_log;

static void on_progress(void *user, double done, double total)
{
    progress_log *p = user;
    if (p->n < 16) p->done[p->n++] = done;
    p->total = total;
}

typedef struct {
    fake_decoder *dec;
    fake_encoder enc_state;
    cw_encoder_net enc;
    cw_decoder_net net;
    cw_special_tokens sp;
    fake_codec_ctx cc;
    cw_text_codec codec;
    cw_rng rng;
    lf_script script;
    float *mel;
    size_t n_frames;
} lf_fixture;

/* mel [2, content + 3000]: row 0 = frame + 1 over the content, -0.5 over the
 * 30 s of padding (the real log-mel of zeros); row 1 = 0.25. */
static lf_fixture *lf_new(int multilingual, size_t content, const win_script *w, size_t n_w)
{
    lf_fixture *fx = calloc(1, sizeof *fx);
    fx->dec = calloc(1, sizeof *fx->dec);
    fx->sp = fake_specials(multilingual);
    fx->dec->n_vocab = (size_t)fx->sp.n_vocab;
    fx->dec->fn = lf_logits;
    fx->dec->user = &fx->script;
    fx->script = (lf_script){&fx->sp, w, n_w, 0, fx->sp.lang_begin + 7};
    fx->net = fake_decoder_net(fx->dec);
    fx->enc_state.n_mels = 2;
    fx->enc = (cw_encoder_net){&fx->enc_state, 2, fake_encode};
    fx->cc.n_text = fx->sp.n_text;
    fx->codec = (cw_text_codec){&fx->cc, fake_codec_decode, fake_codec_encode, NULL};
    cw_rng_seed(&fx->rng, 7);
    fx->n_frames = content + 3000;
    fx->mel = malloc(2 * fx->n_frames * sizeof *fx->mel);
    for (size_t t = 0; t < fx->n_frames; t++) {
        fx->mel[t] = t < content ? (float)(t + 1) : -0.5f;
        fx->mel[fx->n_frames + t] = 0.25f;
    }
    return fx;
}

static void lf_free(lf_fixture *fx)
{
    CHECK_EQ_INT(fx->dec->errors, 0);
    free(fx->mel);
    free(fx->dec);
    free(fx);
}

static cw_status lf_run(lf_fixture *fx, const cw_longform_params *p, cw_longform_result *r)
{
    return cw_transcribe_sequential(&fx->enc, &fx->net, &fx->sp, &fx->codec, &fx->rng, fx->mel,
                                    fx->n_frames, p, r);
}

static void check_segment(const cw_longform_result *r, size_t i, long seek, double start, double end,
                          const char *text, size_t n_tokens)
{
    CHECK(i < r->n_segments);
    if (i >= r->n_segments) return;
    const cw_segment *s = &r->segments[i];
    CHECK_EQ_INT(s->id, i);
    CHECK_EQ_INT(s->seek, seek);
    CHECK_NEAR(s->start, start, 1e-9);
    CHECK_NEAR(s->end, end, 1e-9);
    CHECK_EQ_STR(s->text, text);
    CHECK_EQ_INT(s->n_tokens, n_tokens);
}

static void test_longform_timestamps(void)
{
    static const win_script w[] = {
        {0, {TBE, A('a'), A('b'), TBE + 100, TBE + 100, A('c'), A('d'), TBE + 250, TBE + 250, A('e'), A('f')}, 11, 0.1f, 0},
        {500, {TBE, A('g'), A('h'), TBE + 150}, 4, 0.1f, 0},
        {3500, {TBE, A('i'), TBE + 50, TBE + 50, A('j'), TBE + 200}, 6, 0.1f, 0},
    };
    lf_fixture *fx = lf_new(0, 4500, w, 3);
    cw_longform_params p = cw_longform_default_params();
    progress_log log = {{0}, 0, 0};
    p.progress = on_progress;
    p.progress_user = &log;
    cw_longform_result r;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(r.n_segments, 5);
    check_segment(&r, 0, 0, 0.0, 2.0, "ab", 4);
    check_segment(&r, 1, 0, 2.0, 5.0, "cd", 4);   /* "ef" (unfinished) dropped, seek 500 */
    check_segment(&r, 2, 500, 5.0, 8.0, "gh", 4); /* no pair: ends at the last timestamp */
    check_segment(&r, 3, 3500, 35.0, 36.0, "i", 3);
    check_segment(&r, 4, 3500, 36.0, 39.0, "j", 3); /* single timestamp ending */
    CHECK_EQ_STR(r.text, "abcdghij");
    CHECK_EQ_INT(r.language_token, -1);
    CHECK_NEAR(r.duration, 45.0, 1e-12);
    CHECK_NEAR(r.segments[0].temperature, 0.0, 0);
    CHECK_NEAR(r.segments[2].no_speech_prob, 0.1, 1e-6);
    /* three windows; the last one (1000 frames) padded with 0.0 */
    CHECK_EQ_INT(fx->dec->runs, 3);
    CHECK_NEAR(fx->dec->run_audio[1][0], 501, 0);
    CHECK_NEAR(fx->dec->run_audio[1][1], 3000 + 500, 0);
    CHECK_NEAR(fx->dec->run_audio[2][0], 3501, 0);
    CHECK_NEAR(fx->dec->run_audio[2][1], 0.0, 0);
    CHECK_NEAR(fx->dec->run_audio[2][2], (3501.0 + 4500.0) * 1000 / 2, 1e-3 * 4e6);
    /* window 2 is prompted with window 1's segment tokens */
    const int32_t *fp = fx->dec->first_pass[1];
    CHECK_EQ_INT(fx->dec->first_len[1], 1 + 8 + 1);
    CHECK_EQ_INT(fp[0], fx->sp.startofprev);
    CHECK_EQ_INT(fp[1], TBE);
    CHECK_EQ_INT(fp[8], TBE + 250);
    CHECK_EQ_INT(fp[9], fx->sp.sot);
    CHECK_EQ_INT(fx->dec->first_len[2], 1 + 12 + 1);
    /* progress after each window */
    CHECK_EQ_INT(log.n, 3);
    CHECK_NEAR(log.done[0], 5.0, 1e-12);
    CHECK_NEAR(log.done[1], 35.0, 1e-12);
    CHECK_NEAR(log.done[2], 45.0, 1e-12);
    CHECK_NEAR(log.total, 45.0, 1e-12);
    cw_longform_result_free(&r);
    lf_free(fx);
}

static void test_longform_skip_and_clear(void)
{
    static const win_script w[] = {
        /* probably silence: no_speech 0.9 and avg_logprob < -1 -> skipped */
        {0, {TBE, A('x'), A('y'), A('z'), A('w')}, 5, 0.9f, 10},
        /* a blank segment (" ") is cleared */
        {3000, {TBE, 220, TBE + 20, TBE + 20, A('k'), TBE + 40}, 6, 0.1f, 0},
        /* ends with a pair: seek to <|0.20|> */
        {6000, {TBE, A('m'), TBE + 10, TBE + 10}, 4, 0.1f, 0},
        /* the last 480 frames: only <|0.00|> -> the whole window */
        {6020, {TBE, A('n')}, 2, 0.1f, 0},
    };
    lf_fixture *fx = lf_new(0, 6500, w, 4);
    cw_longform_params p = cw_longform_default_params();
    p.condition_on_previous_text = 0;
    cw_longform_result r;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->runs, 4); /* silence: no fallback for window 1 */
    CHECK_EQ_INT(r.n_segments, 4);
    check_segment(&r, 0, 3000, 30.0, 30.4, "", 0);
    check_segment(&r, 1, 3000, 30.4, 30.8, "k", 3);
    check_segment(&r, 2, 6000, 60.0, 60.2, "m", 3);
    check_segment(&r, 3, 6020, 60.2, 65.0, "n", 2);
    CHECK_EQ_STR(r.text, "kmn");
    for (size_t i = 1; i < 4; i++) CHECK_EQ_INT(fx->dec->first_pass[i][0], fx->sp.sot); /* no prompt */
    cw_longform_result_free(&r);
    lf_free(fx);
    /* the same first window with a good avg_logprob is not skipped */
    static const win_script w2[] = {{0, {TBE, A('x'), TBE + 10}, 3, 0.9f, 0}};
    fx = lf_new(0, 1000, w2, 1);
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(r.n_segments, 1);
    check_segment(&r, 0, 0, 0.0, 0.2, "x", 3);
    cw_longform_result_free(&r);
    lf_free(fx);
}

static void test_longform_prompts(void)
{
    static const win_script w[] = {
        {0, {A('a'), A('b')}, 2, 0.1f, 0},
        {3000, {A('c')}, 1, 0.1f, 0},
    };
    lf_fixture *fx = lf_new(0, 3500, w, 2);
    cw_longform_params p = cw_longform_default_params();
    p.decode.without_timestamps = 1;
    p.initial_prompt = "  xy ";
    cw_longform_result r;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(r.n_segments, 2);
    check_segment(&r, 0, 0, 0.0, 30.0, "ab", 2);
    check_segment(&r, 1, 3000, 30.0, 35.0, "c", 1);
    CHECK_EQ_STR(r.text, "abc"); /* without the initial prompt */
    /* " " + strip(prompt) = " xy"; then the previous window's tokens */
    int32_t e0[] = {fx->sp.startofprev, 220, A('x'), A('y'), fx->sp.sot, fx->sp.notimestamps};
    int32_t e1[] = {fx->sp.startofprev, 220, A('x'), A('y'), A('a'), A('b'), fx->sp.sot, fx->sp.notimestamps};
    CHECK_EQ_INT(fx->dec->first_len[0], 6);
    CHECK_EQ_INT(fx->dec->first_len[1], 8);
    CHECK(memcmp(fx->dec->first_pass[0], e0, sizeof e0) == 0);
    CHECK(memcmp(fx->dec->first_pass[1], e1, sizeof e1) == 0);
    cw_longform_result_free(&r);
    lf_free(fx);
    /* carry_initial_prompt: the initial prompt survives a prompt reset */
    for (int carry = 0; carry <= 1; carry++) {
        fx = lf_new(0, 3500, w, 2);
        p = cw_longform_default_params();
        p.decode.without_timestamps = 1;
        p.initial_prompt = "xy";
        p.condition_on_previous_text = 0;
        p.carry_initial_prompt = carry;
        CHECK(lf_run(fx, &p, &r) == CW_OK);
        if (carry) {
            int32_t e[] = {fx->sp.startofprev, 220, A('x'), A('y'), fx->sp.sot};
            CHECK(memcmp(fx->dec->first_pass[1], e, sizeof e) == 0);
        } else {
            CHECK_EQ_INT(fx->dec->first_pass[1][0], fx->sp.sot);
        }
        CHECK_EQ_STR(r.text, "abc");
        cw_longform_result_free(&r);
        lf_free(fx);
    }
    /* fallback up to T = 0.6 (> 0.5) resets the prompt for the next window */
    fx = lf_new(0, 3500, w, 2);
    fx->script.fail_until_run = 3; /* T = 0, 0.2, 0.4 too repetitive */
    p = cw_longform_default_params();
    p.decode.without_timestamps = 1;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(fx->dec->runs, 5);
    CHECK_NEAR(r.segments[0].temperature, 0.6, 0);
    CHECK_EQ_STR(r.segments[0].text, "ab");
    CHECK_EQ_INT(fx->dec->first_pass[4][0], fx->sp.sot);
    cw_longform_result_free(&r);
    lf_free(fx);
}

static void test_longform_language_and_clips(void)
{
    static const win_script w[] = {
        {500, {A('p')}, 1, 0.1f, 0},
        {2000, {A('q')}, 1, 0.1f, 0},
    };
    lf_fixture *fx = lf_new(1, 3500, w, 2);
    cw_longform_params p = cw_longform_default_params();
    p.decode.without_timestamps = 1;
    double clips[] = {5.0, 10.0, 20.0};
    p.clip_timestamps = clips;
    p.n_clip_timestamps = 3;
    cw_longform_result r;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_EQ_INT(r.language_token, fx->sp.lang_begin + 7);
    /* detection saw the first 3000 frames of the padded mel */
    CHECK_NEAR(fx->dec->run_audio[0][0], 1, 0);
    CHECK_NEAR(fx->dec->run_audio[0][1], 3000, 0);
    CHECK_EQ_INT(fx->dec->first_len[0], 1);
    CHECK_EQ_INT(fx->dec->runs, 3);
    CHECK_EQ_INT(fx->dec->first_pass[1][1], fx->sp.lang_begin + 7);
    CHECK_EQ_INT(fx->dec->first_pass[1][2], fx->sp.transcribe);
    CHECK_EQ_INT(r.n_segments, 2);
    check_segment(&r, 0, 500, 5.0, 10.0, "p", 1);
    check_segment(&r, 1, 2000, 20.0, 35.0, "q", 1);
    cw_longform_result_free(&r);
    lf_free(fx);
    /* short file: detection sees the real log-mel of the padding, not 0.0 */
    static const win_script w3[] = {{0, {A('z')}, 1, 0.1f, 0}};
    fx = lf_new(1, 1000, w3, 1);
    p = cw_longform_default_params();
    p.decode.without_timestamps = 1;
    CHECK(lf_run(fx, &p, &r) == CW_OK);
    CHECK_NEAR(fx->dec->run_audio[0][1], -0.5, 0);
    CHECK_NEAR(fx->dec->run_audio[1][1], 0.0, 0); /* the window itself is 0.0-padded */
    cw_longform_result_free(&r);
    lf_free(fx);
}

static void test_longform_bad_input(void)
{
    lf_fixture *fx = lf_new(0, 100, NULL, 0);
    cw_longform_params p = cw_longform_default_params();
    cw_longform_result r;
    CHECK_FAILS(cw_transcribe_sequential(&fx->enc, &fx->net, &fx->sp, &fx->codec, &fx->rng, fx->mel,
                                         2999, &p, &r), CW_ERR_INVALID_ARG, "30 s padding");
    lf_free(fx);
}

int main(void)
{
    RUN(test_split_consecutive);
    RUN(test_split_without_pairs);
    RUN(test_longform_timestamps);
    RUN(test_longform_skip_and_clear);
    RUN(test_longform_prompts);
    RUN(test_longform_language_and_clips);
    RUN(test_longform_bad_input);
    return test_summary();
}
