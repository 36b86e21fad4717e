/* Many files in lockstep (cw_transcribe_files, longform/lockstep.c) on the
 * real tiny.en model: every file's segments (tokens, times, text, scores,
 * temperature) must be exactly those of cw_transcribe_file on it alone, with
 * batches smaller than the file list (files replacing finished ones), a
 * missing file among them (its status, the others unaffected), fp32 and
 * int8, and windows that fall back to sampling (a strict log-probability
 * threshold), which run on the side decoder, and beam search, whose beams step
 * in lockstep as items of their own (fp32 and int8). Below that, the
 * decoder's items (cw_decoder_forward_items) against one-sequence decoders:
 * a prompted pass (rows in the GEMM shape) next to other sequences' one-row
 * steps at other cache lengths and windows, bit for bit, fp32 and int8. */
#include "test.h"

#include <stdlib.h>

#include "cwhisper.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/file.h"

/* Sanitizer builds (-O0, ASan) run the encoder ~8x slower: there the file
 * level keeps fp32 (the fallback and beams), leaving int8 to the decoder
 * test and the optimised build. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static const char *speech(const char *rel) { return test_path("CW_SHARED_DIR", rel); }

/* Same segments, field for field? Names the first difference. */
static int same_result(const cw_result *a, const cw_result *b, const char *what)
{
    if (cw_result_n_segments(a) != cw_result_n_segments(b)) {
        cw_test_fail(__FILE__, __LINE__, "%s: %zu segments vs %zu", what, cw_result_n_segments(a),
                     cw_result_n_segments(b));
        return 0;
    }
    for (size_t i = 0; i < cw_result_n_segments(a); i++) {
        const cw_segment *x = cw_result_segment(a, i), *y = cw_result_segment(b, i);
        if (x->seek != y->seek || x->start != y->start || x->end != y->end || x->n_tokens != y->n_tokens ||
            memcmp(x->tokens, y->tokens, x->n_tokens * sizeof *x->tokens) || strcmp(x->text, y->text) ||
            x->avg_logprob != y->avg_logprob || x->compression_ratio != y->compression_ratio ||
            x->no_speech_prob != y->no_speech_prob || x->temperature != y->temperature) {
            cw_test_fail(__FILE__, __LINE__, "%s: segment %zu differs: '%s' vs '%s'", what, i, x->text, y->text);
            return 0;
        }
    }
    if (strcmp(cw_result_text(a), cw_result_text(b))) {
        cw_test_fail(__FILE__, __LINE__, "%s: texts differ", what);
        return 0;
    }
    return 1;
}

typedef struct {
    size_t calls[8], n;
    cw_result **results;
    cw_status *statuses;
} done_log;

static void log_done(size_t i, cw_status s, cw_result *r, void *user)
{
    done_log *l = user;
    l->n++;
    if (i < 8 && l->results) {
        l->calls[i]++;
        l->results[i] = r;
        l->statuses[i] = s;
    } else {
        cw_result_free(r);
    }
}

/* The files one by one, then in lockstep batches of `batch`: equal results;
 * *max_temp: the highest temperature of any segment. */
static void check_files(cw_context *ctx, const char **paths, size_t n, const cw_transcribe_params *p, size_t batch,
                        const char *what, double *max_temp, int with_cb)
{
    cw_result *one[8] = {0}, *all[8] = {0};
    cw_status st_one[8], st_all[8];
    *max_temp = 0;
    for (size_t i = 0; i < n; i++) {
        st_one[i] = cw_transcribe_file(ctx, paths[i], p, &one[i]);
        for (size_t k = 0; one[i] && k < cw_result_n_segments(one[i]); k++)
            if (cw_result_segment(one[i], k)->temperature > *max_temp)
                *max_temp = cw_result_segment(one[i], k)->temperature;
    }
    cw_transcribe_params pb = *p;
    pb.batch_size = (int)batch;
    done_log l = { .results = all, .statuses = st_all };
    if (with_cb) /* the callback variant: one call per file */
        CHECK_EQ_INT(cw_transcribe_files_cb(ctx, paths, n, &pb, log_done, &l), CW_OK);
    else
        CHECK_EQ_INT(cw_transcribe_files(ctx, paths, n, &pb, all, st_all), CW_OK);
    for (size_t i = 0; with_cb && i < n; i++)
        CHECK_MSG(l.calls[i] == 1, "%s: file %zu done %zu times", what, i, l.calls[i]);
    for (size_t i = 0; i < n; i++) {
        char w[160];
        snprintf(w, sizeof w, "%s, file %zu (%s)", what, i, paths[i]);
        CHECK_MSG(st_one[i] == st_all[i], "%s: status %d alone, %d in lockstep", w, (int)st_one[i], (int)st_all[i]);
        if (one[i] && all[i]) same_result(one[i], all[i], w);
        else CHECK_MSG(!one[i] && !all[i], "%s: a result only one way", w);
        cw_result_free(one[i]);
        cw_result_free(all[i]);
    }
}

static void test_lockstep_tiny_en(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin")) ||
        !cw_file_exists(speech("speech/harvard-sentences/audio/spk1_snt3.wav"))) {
        if (getenv("CI")) CHECK_MSG(0, "models/tiny.en or the speech sets are missing");
        else printf("skipped: no model or speech\n");
        return;
    }
    const char *files[5];
    files[0] = strdup(speech("speech/harvard-sentences/audio/spk1_snt1.wav"));
    files[1] = strdup(speech("speech/harvard-sentences/audio/spk1_snt3.wav"));
    files[2] = strdup(speech("speech/no-such-set/missing.wav"));
    files[3] = strdup(speech("speech/harvard-sentences/audio/spk2_snt3.wav"));
    files[4] = strdup(speech("speech/ljspeech-LJ001/audio/LJ001-0002.wav"));
    cw_model *model = NULL;
    CHECK_EQ_INT(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), NULL, &model), CW_OK);
    double t;
    for (int dt = 0; dt < (SANITIZED ? 1 : 3); dt++) { /* fp32, int8, int8 with int8 attention */
        cw_context_params cp = cw_context_default_params();
        cp.n_threads = 2;
        cp.dtype = dt ? CW_COMPUTE_INT8 : CW_COMPUTE_FP32;
        cp.int8_attention = dt == 2;
        cw_context *ctx = NULL;
        CHECK_EQ_INT(cw_context_create(model, &cp, &ctx), CW_OK);
        cw_transcribe_params p = cw_transcribe_default_params();
        if (!dt) {
            check_files(ctx, files, 4, &p, 3, "fp32 batch 3", &t, 0);
        } else if (dt == 2) {
            const char *two[2] = { files[1], files[4] };
            check_files(ctx, two, 2, &p, 2, "int8 attention batch 2", &t, 0);
        } else {
            const char *few[3] = { files[0], files[2], files[3] };
            check_files(ctx, few, 3, &p, 2, "int8 batch 2", &t, 1);
            /* beams step in lockstep: each beam an item in its file's cache slots */
            p.beam_size = 3;
            const char *two[2] = { files[1], files[3] };
            check_files(ctx, two, 2, &p, 2, "int8 beam 3 batch 2", &t, 0);
            p = cw_transcribe_default_params();
        }
        if (!dt) {
            /* a strict threshold: windows fall back to sampling (the side decoder, one rng per file) */
            const char *few[2] = { files[3], files[4] };
            p.logprob_threshold = -0.2;
            check_files(ctx, few, 2, &p, 2, "fp32 fallback batch 2", &t, 0);
            CHECK_MSG(t > 0, "no window fell back (highest temperature %g)", t);
            p = cw_transcribe_default_params();
            p.beam_size = 2;
            check_files(ctx, few, 2, &p, 2, "fp32 beam 2 batch 2", &t, 0);
        }
        cw_context_free(ctx);
    }
    cw_model_free(model);
    for (int i = 0; i < 5; i++) free((void *)files[i]);
}

/* The decoder's items against one-sequence decoders. Three sequences over
 * random "encoder output" for two windows: pass 0 feeds a 12-token prompt
 * (extra logits at 2) and a 1-token start; pass 1 steps those and starts a
 * third sequence with 3 tokens; passes 2-3 step all three. */
static void test_decoder_items(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin"))) return;
    cw_model *model = NULL;
    CHECK_EQ_INT(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), NULL, &model), CW_OK);
    size_t nv = (size_t)model->dims.n_vocab, nac = (size_t)model->dims.n_audio_ctx;
    size_t d = (size_t)model->dims.n_audio_state;
    static const size_t audio[3] = { 1, 0, 1 }, start[3] = { 0, 0, 1 }, first_n[3] = { 12, 1, 3 };
    static const long first_extra[3] = { 2, 0, -1 };
    int32_t toks[3][16];
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < 16; i++) toks[s][i] = (int32_t)((s * 7919 + i * 104729) % 50000);
    float *enc = malloc(2 * nac * d * sizeof *enc);
    uint64_t r = 3;
    for (size_t i = 0; i < 2 * nac * d; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        enc[i] = (float)((r >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    for (int q = 0; q < 2; q++) {
        cw_backend_params bp = cw_backend_default_params();
        bp.n_threads = 2;
        bp.lowp = q;
        cw_backend *be = NULL;
        cw_nn_weights *w = NULL;
        cw_decoder *dec = NULL, *one = NULL;
        cw_buf *eb = NULL;
        CHECK_EQ_INT(cw_backend_create(&bp, &be), CW_OK);
        CHECK_EQ_INT(cw_nn_weights_create_dtype(be, model, q ? CW_COMPUTE_INT8 : CW_COMPUTE_FP32, &w), CW_OK);
        CHECK_EQ_INT(cw_decoder_create(w, 3, 2, &dec), CW_OK);
        CHECK_EQ_INT(cw_decoder_create(w, 1, 1, &one), CW_OK);
        CHECK_EQ_INT(be->ops->buf_alloc(be, 2 * nac * d * sizeof *enc, &eb), CW_OK);
        CHECK_EQ_INT(be->ops->upload(be, eb, 0, enc, 2 * nac * d * sizeof *enc), CW_OK);
        cw_buf *eb1 = NULL; /* window 1 as the only output */
        CHECK_EQ_INT(be->ops->buf_alloc(be, nac * d * sizeof *enc, &eb1), CW_OK);
        CHECK_EQ_INT(be->ops->upload(be, eb1, 0, enc + nac * d, nac * d * sizeof *enc), CW_OK);
        if (!dec || !one || !eb || !eb1) break;
        for (size_t a = 0; a < 2; a++) CHECK_EQ_INT(cw_decoder_set_audio_at(dec, a, eb, a), CW_OK);
        /* logits[pass][seq] of the items, and the extra ones of each first pass */
        float *lg = calloc(4 * 3 * nv, sizeof *lg), *ex = calloc(4 * 3 * nv, sizeof *ex);
        size_t pos[3] = { 0 };
        for (size_t pass = 0; pass < 4; pass++) {
            cw_decoder_item it[3];
            size_t n = 0, who[3];
            for (size_t s = 0; s < 3; s++) {
                if (pass < start[s]) continue;
                size_t k = pass == start[s] ? first_n[s] : 1;
                it[n] = (cw_decoder_item){ s, audio[s], pos[s], toks[s] + pos[s], k, pass == start[s] ? first_extra[s] : -1 };
                who[n++] = s;
                pos[s] += k;
            }
            float *l = malloc(n * nv * sizeof *l), *e = malloc(n * nv * sizeof *e);
            CHECK_EQ_INT(cw_decoder_forward_items(dec, it, n, l, e), CW_OK);
            for (size_t j = 0; j < n; j++) {
                memcpy(lg + (pass * 3 + who[j]) * nv, l + j * nv, nv * sizeof *l);
                if (it[j].extra_pos >= 0) memcpy(ex + (pass * 3 + who[j]) * nv, e + j * nv, nv * sizeof *e);
            }
            free(l);
            free(e);
        }
        /* each sequence alone on a one-sequence decoder, same passes */
        float *l = malloc(nv * sizeof *l), *e = malloc(nv * sizeof *e);
        for (size_t s = 0; s < 3; s++) {
            CHECK_EQ_INT(cw_decoder_set_audio(one, audio[s] ? eb1 : eb, 1), CW_OK); /* the window alone */
            CHECK_EQ_INT(cw_decoder_reset(one, 1, NULL), CW_OK);
            size_t p = 0;
            for (size_t pass = start[s]; pass < 4; pass++) {
                size_t k = pass == start[s] ? first_n[s] : 1;
                long xp = pass == start[s] ? first_extra[s] : -1;
                CHECK_EQ_INT(cw_decoder_forward(one, toks[s] + p, 1, k, l, xp, e), CW_OK);
                p += k;
                CHECK_MSG(memcmp(l, lg + (pass * 3 + s) * nv, nv * sizeof *l) == 0,
                          "%s: sequence %zu pass %zu: logits differ from alone", q ? "int8" : "fp32", s, pass);
                if (xp >= 0)
                    CHECK_MSG(memcmp(e, ex + (pass * 3 + s) * nv, nv * sizeof *e) == 0,
                              "%s: sequence %zu: extra logits differ from alone", q ? "int8" : "fp32", s);
            }
        }
        free(l); free(e); free(lg); free(ex);
        be->ops->buf_free(be, eb);
        be->ops->buf_free(be, eb1);
        cw_decoder_free(dec);
        cw_decoder_free(one);
        cw_nn_weights_free(w);
        cw_backend_free(be);
    }
    free(enc);
    cw_model_free(model);
}

/* Parameters are checked before any file. */
static void test_lockstep_bad_params(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin"))) return;
    cw_model *model = NULL;
    cw_context *ctx = NULL;
    CHECK_EQ_INT(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), NULL, &model), CW_OK);
    CHECK_EQ_INT(cw_context_create(model, NULL, &ctx), CW_OK);
    cw_transcribe_params p = cw_transcribe_default_params();
    p.batch_size = 65;
    const char *f[1] = { "x.wav" };
    done_log l = {0};
    CHECK_EQ_INT(cw_transcribe_files_cb(ctx, f, 1, &p, log_done, &l), CW_ERR_INVALID_ARG);
    CHECK_EQ_INT((int)l.n, 0);
    cw_context_free(ctx);
    cw_model_free(model);
}

int main(void)
{
    RUN(test_lockstep_bad_params);
    RUN(test_decoder_items);
    RUN(test_lockstep_tiny_en);
    return test_summary();
}
