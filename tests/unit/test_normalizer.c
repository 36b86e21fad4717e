/* The text normalisers against openai-whisper's own output: every case in
 * tests/fixtures/normalizer/cases.json (made by make_normalizer_refs.py) must
 * match byte for byte, plus upstream's test_normalizer.py assertions. */
#include "test.h"
#include "eval/eval.h"
#include "util/file.h"
#include "util/json.h"

#include <stdlib.h>

static cw_status run_mode(const char *mode, const char *in, char **out)
{
    if (!strcmp(mode, "english")) return cw_normalize_english(in, out);
    if (!strcmp(mode, "numbers")) return cw_normalize_english_numbers(in, out);
    if (!strcmp(mode, "spelling")) return cw_normalize_english_spelling(in, out);
    if (!strcmp(mode, "basic")) return cw_normalize_basic(in, 0, out);
    if (!strcmp(mode, "basic_diacritics")) return cw_normalize_basic(in, 1, out);
    *out = NULL;
    return CW_ERR_INVALID_ARG;
}

static void test_fixture(void)
{
    char *text = NULL;
    size_t len = 0;
    const char *path = test_path("CW_FIXTURES_DIR", "normalizer/cases.json");
    CHECK(cw_file_read_all(path, 0, &text, &len) == CW_OK);
    cw_json *root = NULL;
    CHECK(text && cw_json_parse(text, len, path, &root) == CW_OK);
    size_t matched = 0, total = root ? root->n : 0;
    for (size_t i = 0; i < total; i++) {
        const char *mode = cw_json_get_string(root->items[i], "mode");
        const char *in = cw_json_get_string(root->items[i], "in");
        const char *want = cw_json_get_string(root->items[i], "out");
        char *got = NULL;
        CHECK(mode && in && want && run_mode(mode, in, &got) == CW_OK);
        if (got && want && strcmp(got, want) == 0) matched++;
        else CHECK_MSG(0, "[%s] \"%s\": got \"%s\", want \"%s\"", mode, in, got ? got : "(null)", want);
        free(got);
    }
    printf("normalizer fixture: %zu of %zu cases match\n", matched, total);
    CHECK(total >= 250);
    cw_json_free(root);
    free(text);
}

static void check_english(const char *in, const char *want)
{
    char *got = NULL;
    CHECK(cw_normalize_english(in, &got) == CW_OK);
    CHECK_EQ_STR(got, want);
    free(got);
}

/* A few of upstream's assertions spelled out, so a broken fixture cannot hide them. */
static void test_upstream(void)
{
    check_english("two point five million", "2500000");
    check_english("nineteen fifties", "1950s");
    check_english("two dollars and seventy cents", "$2.70");
    check_english("Mr. Park visited Assoc. Prof. Kim Jr.", "mister park visited associate professor kim junior");
    check_english("one triple oh one", "10001");
    check_english("$0.36", "¢36");
    check_english("RC232", "rc 232");
    char *got = NULL;
    CHECK(cw_normalize_english_spelling("mobilisation", &got) == CW_OK);
    CHECK_EQ_STR(got, "mobilization");
    free(got);
}

/* Python ints are unbounded: 999 * 10^33 + 5 must not overflow. */
static void test_big_numbers(void)
{
    check_english("nine hundred ninety nine decillion and five", "999000000000000000000000000000000005");
}

int main(void)
{
    RUN(test_fixture);
    RUN(test_upstream);
    RUN(test_big_numbers);
    return test_summary();
}
