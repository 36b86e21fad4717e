/* Many files in lockstep (cw_transcribe_files, longform/lockstep.c) on the
 * real tiny.en model: every file's segments (tokens, times, text, scores,
 * temperature) must be exactly those of cw_transcribe_file on it alone, with
 * batches smaller than the file list (files replacing finished ones), a
 * file of three windows (prompted windows: rows of one file in the GEMM
 * shape next to other files' one-row steps), a missing file among them
 * (its status, the others unaffected), fp32 and int8, and windows that fall
 * back to sampling (a strict log-probability threshold) and beam search,
 * which run on the side decoder. */
#include "test.h"

#include <stdlib.h>

#include "cwhisper.h"
#include "util/file.h"

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
    size_t calls[8];
    size_t order[8], n;
} done_log;

static void log_done(size_t i, cw_status s, cw_result *r, void *user)
{
    done_log *l = user;
    (void)s;
    if (i < 8) l->calls[i]++;
    l->order[l->n++ % 8] = i;
    cw_result_free(r);
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
    CHECK_EQ_INT(cw_transcribe_files(ctx, paths, n, &pb, all, st_all), CW_OK);
    for (size_t i = 0; i < n; i++) {
        char w[160];
        snprintf(w, sizeof w, "%s, file %zu (%s)", what, i, paths[i]);
        CHECK_MSG(st_one[i] == st_all[i], "%s: status %d alone, %d in lockstep", w, (int)st_one[i], (int)st_all[i]);
        if (one[i] && all[i]) same_result(one[i], all[i], w);
        else CHECK_MSG(!one[i] && !all[i], "%s: a result only one way", w);
        cw_result_free(one[i]);
        cw_result_free(all[i]);
    }
    if (!with_cb) return;
    /* the callback variant: one call per file */
    done_log l = {0};
    CHECK_EQ_INT(cw_transcribe_files_cb(ctx, paths, n, &pb, log_done, &l), CW_OK);
    for (size_t i = 0; i < n; i++) CHECK_MSG(l.calls[i] == 1, "%s: file %zu done %zu times", what, i, l.calls[i]);
}

static void test_lockstep_tiny_en(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin")) ||
        !cw_file_exists(speech("speech/longform/audio/bill_gates-TED-excerpt.mp3"))) {
        if (getenv("CI")) CHECK_MSG(0, "models/tiny.en or the speech sets are missing");
        else printf("skipped: no model or speech\n");
        return;
    }
    const char *files[6];
    files[0] = strdup(speech("speech/harvard-sentences/audio/spk1_snt1.wav"));
    files[1] = strdup(speech("speech/longform/audio/bill_gates-TED-excerpt.mp3")); /* 62 s: three windows */
    files[2] = strdup(speech("speech/english-fixtures/audio/jfk.flac"));
    files[3] = strdup(speech("speech/no-such-set/missing.wav"));
    files[4] = strdup(speech("speech/harvard-sentences/audio/spk2_snt3.wav"));
    files[5] = strdup(speech("speech/ljspeech-LJ001/audio/LJ001-0002.wav"));
    cw_model *model = NULL;
    CHECK_EQ_INT(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), NULL, &model), CW_OK);
    double t;
    for (int dt = 0; dt < 2; dt++) {
        cw_context_params cp = cw_context_default_params();
        cp.n_threads = 2;
        cp.dtype = dt ? CW_COMPUTE_INT8 : CW_COMPUTE_FP32;
        cw_context *ctx = NULL;
        CHECK_EQ_INT(cw_context_create(model, &cp, &ctx), CW_OK);
        cw_transcribe_params p = cw_transcribe_default_params();
        if (!dt) {
            check_files(ctx, files, 5, &p, 3, "fp32 batch 3", &t, 0);
        } else {
            const char *few[4] = { files[0], files[2], files[3], files[4] };
            check_files(ctx, few, 4, &p, 2, "int8 batch 2", &t, 1);
        }
        if (!dt) {
            /* a strict threshold: windows fall back to sampling (the side decoder, one rng per file) */
            const char *few[3] = { files[0], files[4], files[5] };
            p.logprob_threshold = -0.2;
            check_files(ctx, few, 3, &p, 2, "fp32 fallback batch 2", &t, 0);
            CHECK_MSG(t > 0, "no window fell back (highest temperature %g)", t);
            p = cw_transcribe_default_params();
            p.beam_size = 2;
            check_files(ctx, few, 2, &p, 2, "fp32 beam 2 batch 2", &t, 0);
        }
        cw_context_free(ctx);
    }
    cw_model_free(model);
    for (int i = 0; i < 6; i++) free((void *)files[i]);
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
    RUN(test_lockstep_tiny_en);
    return test_summary();
}
