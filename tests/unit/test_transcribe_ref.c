/* End to end against the reference: tiny.en on jfk and five LibriSpeech
 * utterances gives openai-whisper's transcribe() output token for token, with
 * the same segment times and text (tests/fixtures/transcribe/tiny.en-ci.json,
 * made by make_transcribe_refs.py on the same CT2 weights). */
#include "test.h"

#include <stdlib.h>

#include "util/file.h"
#include "util/json.h"

static cw_json *load_ref(void)
{
    char *text = NULL;
    size_t len = 0;
    cw_json *ref = NULL;
    if (cw_file_read_all(test_path("CW_FIXTURES_DIR", "transcribe/tiny.en-ci.json"), 0, &text, &len) ||
        cw_json_parse(text, len, "tiny.en-ci.json", &ref))
        CHECK_MSG(0, "fixture: %s", cw_last_error());
    free(text);
    return ref;
}

/* Compares one file's result with its reference entry. */
static void compare(const cw_json *ref_file, const cw_result *r)
{
    const char *file = cw_json_get_string(ref_file, "file");
    const cw_json *segs = cw_json_get(ref_file, "segments");
    CHECK_EQ_STR(cw_result_text(r), cw_json_get_string(ref_file, "text"));
    CHECK_EQ_STR(cw_result_language(r), cw_json_get_string(ref_file, "language"));
    CHECK_MSG(cw_result_n_segments(r) == segs->n, "%s: %zu segments, reference %zu", file,
              cw_result_n_segments(r), segs->n);
    for (size_t i = 0; i < segs->n && i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        const cw_json *rs = segs->items[i], *toks = cw_json_get(rs, "tokens");
        double start = 0, end = 0, t = 0;
        cw_json_get_number(rs, "start", &start);
        cw_json_get_number(rs, "end", &end);
        cw_json_get_number(rs, "temperature", &t);
        CHECK_NEAR(s->start, start, 1e-9);
        CHECK_NEAR(s->end, end, 1e-9);
        CHECK_NEAR(s->temperature, t, 1e-9);
        CHECK_EQ_STR(s->text, cw_json_get_string(rs, "text"));
        int same = s->n_tokens == toks->n;
        for (size_t k = 0; same && k < toks->n; k++) same = s->tokens[k] == (int)toks->items[k]->number;
        CHECK_MSG(same, "%s segment %zu: tokens differ from the reference", file, i);
        double lp = 0;
        cw_json_get_number(rs, "avg_logprob", &lp);
        CHECK_NEAR(s->avg_logprob, lp, 1e-3);
    }
}

static void test_tiny_en_matches_reference(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin"))) {
        if (getenv("CI")) CHECK_MSG(0, "models/tiny.en is missing (scripts/fetch-model tiny.en)");
        else printf("skipped: no model\n");
        return;
    }
    cw_json *ref = load_ref();
    if (!ref) return;
    cw_model *m = NULL;
    cw_context *ctx = NULL;
    cw_model_params mp = cw_model_default_params();
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = 2;
    CHECK(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), &mp, &m) == CW_OK);
    CHECK(m && cw_context_create(m, &cp, &ctx) == CW_OK);
    const cw_json *files = cw_json_get(ref, "files");
    for (size_t i = 0; ctx && i < files->n; i++) {
        const char *file = cw_json_get_string(files->items[i], "file");
        cw_result *r = NULL;
        cw_transcribe_params tp = cw_transcribe_default_params();
        cw_status s = cw_transcribe_file(ctx, test_path("CW_SHARED_DIR", file), &tp, &r);
        CHECK_MSG(s == CW_OK, "%s: %s", file, cw_last_error());
        if (r) compare(files->items[i], r);
        printf("%s: %zu segments\n", file, r ? cw_result_n_segments(r) : 0);
        cw_result_free(r);
    }
    cw_context_free(ctx);
    cw_model_free(m);
    cw_json_free(ref);
}

int main(void)
{
    RUN(test_tiny_en_matches_reference);
    return test_summary();
}
