/* The network against the reference (openai-whisper, PyTorch fp32) on real
 * weights: encoder rows and teacher-forced decoder logits for tiny.en on jfk
 * (tests/fixtures/nn/tiny.en-jfk.json, made by make_nn_refs.py). The decoder
 * is fed one token at a time after a 2-token prompt, so the KV-cache path is
 * what gets compared against the reference's full-sequence pass. */
#include "test.h"

#include <stdlib.h>

#include "audio/audio.h"
#include "backend/backend.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"

typedef struct {
    cw_model *model;
    cw_backend *be;
    cw_nn_weights *w;
    cw_json *ref;
    float *mel; /* [n_mels, 3000] */
} fixture;

static int have_model(void)
{
    if (cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin"))) return 1;
    if (getenv("CI")) {
        CHECK_MSG(0, "models/tiny.en is missing (scripts/fetch-model tiny.en)");
        return 0;
    }
    printf("skipped: no model\n");
    return 0;
}

/* The first window as transcribe() builds it: mel of audio + 30 s of zeros,
 * the first min(3000, content) frames, zero-padded in the log-mel domain. */
static float *first_window(const char *audio_path, int n_mels, size_t frames)
{
    float *pcm = NULL, *mel = NULL;
    size_t n = 0, n_frames = 0;
    CHECK(cw_audio_load(audio_path, &pcm, &n) == CW_OK);
    if (!pcm) return NULL;
    CHECK(cw_log_mel(pcm, n, CW_N_SAMPLES, n_mels, 2, &mel, &n_frames) == CW_OK);
    free(pcm);
    if (!mel) return NULL;
    float *win = calloc((size_t)n_mels * CW_N_FRAMES, sizeof *win);
    for (size_t m = 0; m < (size_t)n_mels; m++)
        for (size_t t = 0; t < frames && t < n_frames; t++) win[m * CW_N_FRAMES + t] = mel[m * n_frames + t];
    free(mel);
    return win;
}

static int setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    char *text = NULL;
    size_t len = 0;
    if (cw_file_read_all(test_path("CW_FIXTURES_DIR", "nn/tiny.en-jfk.json"), 0, &text, &len) ||
        cw_json_parse(text, len, "tiny.en-jfk.json", &f->ref)) {
        CHECK_MSG(0, "fixture: %s", cw_last_error());
        free(text);
        return -1;
    }
    free(text);
    cw_model_params mp = cw_model_default_params();
    cw_backend_params bp = cw_backend_default_params();
    bp.n_threads = 2;
    long frames = 0;
    cw_json_get_int(f->ref, "window_frames", &frames);
    if (cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), &mp, &f->model) ||
        cw_backend_create(&bp, &f->be) || cw_nn_weights_create(f->be, f->model, &f->w)) {
        CHECK_MSG(0, "setup: %s", cw_last_error());
        return -1;
    }
    f->mel = first_window(test_path("CW_SHARED_DIR", cw_json_get_string(f->ref, "audio")),
                          f->model->dims.n_mels, (size_t)frames);
    return f->mel ? 0 : -1;
}

static void teardown(fixture *f)
{
    free(f->mel);
    cw_nn_weights_free(f->w);
    cw_backend_free(f->be);
    cw_model_free(f->model);
    cw_json_free(f->ref);
}

static void check_encoder(fixture *f, cw_encoder *enc)
{
    size_t d = (size_t)f->model->dims.n_audio_state, n_ctx = (size_t)f->model->dims.n_audio_ctx;
    float *out = malloc(n_ctx * d * sizeof *out);
    CHECK(f->be->ops->download(f->be, out, cw_encoder_output(enc), 0, n_ctx * d * sizeof *out) == CW_OK);
    const cw_json *e = cw_json_get(f->ref, "encoder");
    const cw_json *rows = cw_json_get(e, "rows"), *vals = cw_json_get(e, "values");
    double worst = 0;
    for (size_t i = 0; i < rows->n; i++) {
        size_t r = (size_t)rows->items[i]->number;
        for (size_t c = 0; c < d; c++) {
            double diff = fabs(out[r * d + c] - vals->items[i]->items[c]->number);
            if (diff > worst) worst = diff;
        }
    }
    const cw_json *mean = cw_json_get(e, "row_mean");
    double worst_mean = 0;
    for (size_t r = 0; r < n_ctx; r++) {
        double m = 0;
        for (size_t c = 0; c < d; c++) m += out[r * d + c];
        m /= (double)d;
        double diff = fabs(m - mean->items[r]->number);
        if (diff > worst_mean) worst_mean = diff;
    }
    printf("encoder: max |diff| on reference rows %.3g, on row means %.3g\n", worst, worst_mean);
    CHECK(worst < 2e-4);
    CHECK(worst_mean < 1e-4);
    free(out);
}

static void check_decoder(fixture *f, cw_encoder *enc)
{
    size_t n_vocab = (size_t)f->model->dims.n_vocab;
    cw_decoder *dec = NULL;
    CHECK(cw_decoder_create(f->w, 1, 1, &dec) == CW_OK);
    if (!dec) return;
    CHECK(cw_decoder_set_audio(dec, cw_encoder_output(enc), 1) == CW_OK);
    CHECK(cw_decoder_reset(dec, 1, NULL) == CW_OK);
    const cw_json *toks = cw_json_get(f->ref, "tokens"), *steps = cw_json_get(f->ref, "steps");
    size_t n = toks->n;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)toks->items[i]->number;
    float *logits = malloc(n_vocab * sizeof *logits), *first = malloc(n_vocab * sizeof *first);
    double worst = 0;
    size_t prompt = 2;
    for (size_t pos = 0; pos < n;) {
        size_t k = pos == 0 ? prompt : 1;
        CHECK(cw_decoder_forward(dec, ids + pos, 1, k, logits, pos == 0 ? 0 : -1, first) == CW_OK);
        for (size_t p = pos; p < pos + k; p++) {
            if (p != pos + k - 1 && p != 0) continue;
            const float *row = p == pos + k - 1 ? logits : first;
            const cw_json *st = steps->items[p];
            size_t best = 0;
            for (size_t v = 1; v < n_vocab; v++) if (row[v] > row[best]) best = v;
            long ref_best = 0;
            cw_json_get_int(st, "argmax", &ref_best);
            CHECK_MSG((long)best == ref_best, "position %zu: argmax %zu, reference %ld", p, best, ref_best);
            const cw_json *top = cw_json_get(st, "top");
            for (size_t t = 0; t < top->n; t++) {
                size_t id = (size_t)top->items[t]->items[0]->number;
                double diff = fabs(row[id] - top->items[t]->items[1]->number);
                if (diff > worst) worst = diff;
            }
        }
        pos += k;
    }
    printf("decoder: %zu positions, max |diff| of top-5 logits %.3g\n", n, worst);
    CHECK(worst < 5e-4);
    free(ids);
    free(logits);
    free(first);
    cw_decoder_free(dec);
}

static void test_tiny_en_jfk(void)
{
    if (!have_model()) return;
    fixture f;
    if (setup(&f) == 0) {
        cw_encoder *enc = NULL;
        CHECK(cw_encoder_create(f.w, 1, &enc) == CW_OK);
        if (enc) {
            CHECK(cw_encoder_run(enc, f.mel, 1) == CW_OK);
            check_encoder(&f, enc);
            check_decoder(&f, enc);
        }
        cw_encoder_free(enc);
    }
    teardown(&f);
}

int main(void)
{
    RUN(test_tiny_en_jfk);
    return test_summary();
}
