/* cw_transcribe_params.clip_timestamps and carry_initial_prompt through the
 * public API: the jfk cases and the long-prompt carry case of
 * tests/fixtures/transcribe/tiny.en-options.json (openai-whisper's
 * transcribe(clip_timestamps=..., carry_initial_prompt=True), tiny.en fp32)
 * token for token, and the parameters refused before any work (clips outside the
 * sequential mode or with VAD, negative or non-finite times, a count without
 * an array). tests/cli/clip_prompt.sh runs every case through the CLI. */
#include "test.h"

#include <stdlib.h>

#include "util/file.h"
#include "util/json.h"

/* "1.5,4,..." -> clips [*n] (at most cap). */
static size_t parse_clips(const char *s, double *clips, size_t cap)
{
    size_t n = 0;
    while (*s && n < cap) {
        char *end;
        clips[n++] = strtod(s, &end);
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void check_case(cw_context *ctx, const cw_json *c)
{
    const char *file = cw_json_get_string(c, "file");
    const cw_json *opts = cw_json_get(c, "options");
    const cw_json *segs = cw_json_get(c, "segments");
    CHECK(file && opts && segs);
    if (!file || !opts || !segs) return;
    double clips[16];
    cw_transcribe_params tp = cw_transcribe_default_params();
    const char *ct = cw_json_get_string(opts, "clip_timestamps");
    tp.n_clip_timestamps = ct ? parse_clips(ct, clips, 16) : 0;
    tp.clip_timestamps = clips;
    tp.initial_prompt = cw_json_get_string(opts, "initial_prompt");
    const cw_json *carry = cw_json_get(opts, "carry_initial_prompt");
    tp.carry_initial_prompt = carry && carry->type == CW_JSON_TRUE;
    const cw_json *cond = cw_json_get(opts, "condition_on_previous_text");
    if (cond && cond->type == CW_JSON_FALSE) tp.condition_on_previous_text = 0;
    cw_result *r = NULL;
    cw_status s = cw_transcribe_file(ctx, test_path("CW_SHARED_DIR", file), &tp, &r);
    CHECK_MSG(s == CW_OK, "%s: %s", file, cw_last_error());
    if (!r) return;
    CHECK_EQ_STR(cw_result_text(r), cw_json_get_string(c, "text"));
    CHECK_MSG(cw_result_n_segments(r) == segs->n, "%s %s: %zu segments, reference %zu", file, ct,
              cw_result_n_segments(r), segs->n);
    for (size_t i = 0; i < segs->n && i < cw_result_n_segments(r); i++) {
        const cw_segment *g = cw_result_segment(r, i);
        const cw_json *rs = segs->items[i], *toks = cw_json_get(rs, "tokens");
        double start = -1, end = -1;
        cw_json_get_number(rs, "start", &start);
        cw_json_get_number(rs, "end", &end);
        CHECK_NEAR(g->start, start, 1e-9);
        CHECK_NEAR(g->end, end, 1e-9);
        int same = toks && g->n_tokens == toks->n;
        for (size_t k = 0; same && k < toks->n; k++) same = g->tokens[k] == (int)toks->items[k]->number;
        CHECK_MSG(same, "%s %s segment %zu: tokens differ from openai-whisper's", file, ct, i);
    }
    printf("%s clips %s: %zu segments equal\n", file, ct ? ct : "-", cw_result_n_segments(r));
    cw_result_free(r);
}

static void check_refusals(cw_context *ctx)
{
    static const float silence[16000];
    double clips[2] = { 1.0, 2.0 };
    cw_result *r = NULL;
    cw_transcribe_params tp = cw_transcribe_default_params();
    tp.clip_timestamps = clips;
    tp.n_clip_timestamps = 2;
    tp.long_form = CW_LONG_FORM_CHUNKED;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 16000, &tp, &r), CW_ERR_INVALID_ARG, "sequential");
    tp.long_form = CW_LONG_FORM_SEQUENTIAL;
    tp.vad = 1;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 16000, &tp, &r), CW_ERR_INVALID_ARG, "without VAD");
    tp.vad = 0;
    clips[1] = -0.5;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 16000, &tp, &r), CW_ERR_INVALID_ARG, "-0.5");
    clips[1] = NAN;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 16000, &tp, &r), CW_ERR_INVALID_ARG, "not finite");
    tp.clip_timestamps = NULL;
    CHECK_FAILS(cw_transcribe_pcm(ctx, silence, 16000, &tp, &r), CW_ERR_INVALID_ARG, "no array");
    CHECK(r == NULL);
}

static void test_clips_and_carry_match_reference(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin"))) {
        if (getenv("CI")) CHECK_MSG(0, "models/tiny.en is missing (scripts/fetch-model tiny.en)");
        else printf("skipped: no model\n");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    cw_json *ref = NULL;
    if (cw_file_read_all(test_path("CW_FIXTURES_DIR", "transcribe/tiny.en-options.json"), 0, &text, &len) ||
        cw_json_parse(text, len, "tiny.en-options.json", &ref))
        CHECK_MSG(0, "fixture: %s", cw_last_error());
    free(text);
    cw_model *m = NULL;
    cw_context *ctx = NULL;
    cw_model_params mp = cw_model_default_params();
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = 2;
    CHECK(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), &mp, &m) == CW_OK);
    CHECK(m && cw_context_create(m, &cp, &ctx) == CW_OK);
    const cw_json *cases = ref ? cw_json_get(ref, "cases") : NULL;
    size_t n_run = 0;
    for (size_t i = 0; ctx && cases && i < cases->n; i++) {
        const char *file = cw_json_get_string(cases->items[i], "file");
        const char *prompt = cw_json_get_string(cw_json_get(cases->items[i], "options"), "initial_prompt");
        /* the short ones and the 189-token carried prompt; the CLI test runs them all */
        if ((file && strstr(file, "jfk.flac")) || (prompt && strlen(prompt) > 500)) {
            check_case(ctx, cases->items[i]);
            n_run++;
        }
    }
    CHECK(n_run >= 3);
    if (ctx) check_refusals(ctx);
    cw_context_free(ctx);
    cw_model_free(m);
    cw_json_free(ref);
}

int main(void)
{
    RUN(test_clips_and_carry_match_reference);
    return test_summary();
}
