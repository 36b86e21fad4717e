/* The srt and vtt writers with openai-whisper's word options (highlight_words,
 * max_line_width, max_line_count, max_words_per_line) against whisper.utils'
 * own writers: tests/fixtures/writers/results.json holds openai-whisper's
 * results with word timestamps on every english-fixtures file (tiny.en) and
 * synthetic edge cases; each is rebuilt with cw_result_create and written
 * with every option combination, and the bytes must equal COMBO.json's
 * (tests/fixtures/make_writer_refs.py). Also: txt and tsv ignore the options,
 * an empty word list survives cw_result_create, negative options are refused. */
#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"

static cw_json *load_json(const char *rel)
{
    char *text = NULL;
    size_t len = 0;
    cw_json *doc = NULL;
    const char *path = test_path("CW_FIXTURES_DIR", rel);
    if (cw_file_read_all(path, 0, &text, &len) != CW_OK || cw_json_parse(text, len, path, &doc) != CW_OK) {
        cw_test_fail(__FILE__, __LINE__, "cannot load %s: %s", path, cw_last_error());
        doc = NULL;
    }
    free(text);
    return doc;
}

static double item_num(const cw_json *a, size_t i)
{
    CHECK(a && a->type == CW_JSON_ARRAY && i < a->n && a->items[i]->type == CW_JSON_NUMBER);
    return a && i < a->n ? a->items[i]->number : 0.0;
}

static const char *item_str(const cw_json *a, size_t i)
{
    CHECK(a && a->type == CW_JSON_ARRAY && i < a->n && a->items[i]->type == CW_JSON_STRING);
    return a && i < a->n ? a->items[i]->str : NULL;
}

/* Fills seg from [start, end, text, words|null]; the words go to *words (malloc'ed). */
static void fill_segment(cw_segment *seg, cw_word **words, const cw_json *js, int id)
{
    memset(seg, 0, sizeof *seg);
    seg->id = id;
    seg->start = item_num(js, 0);
    seg->end = item_num(js, 1);
    seg->text = item_str(js, 2);
    const cw_json *ws = js->n > 3 ? js->items[3] : NULL;
    *words = NULL;
    if (!ws || ws->type != CW_JSON_ARRAY) return; /* null: no "words" key */
    *words = calloc(ws->n ? ws->n : 1, sizeof **words);
    CHECK(*words != NULL);
    for (size_t k = 0; *words && k < ws->n; k++) {
        const cw_json *w = ws->items[k];
        (*words)[k] = (cw_word){ item_str(w, 0), item_num(w, 1), item_num(w, 2), item_num(w, 3) };
    }
    seg->words = *words;
    seg->n_words = *words ? ws->n : 0;
}

static cw_result *build_result(const cw_json *c)
{
    const cw_json *segs = cw_json_get(c, "segments");
    size_t n = segs ? segs->n : 0;
    cw_segment *arr = calloc(n ? n : 1, sizeof *arr);
    cw_word **words = calloc(n ? n : 1, sizeof *words);
    cw_result *r = NULL;
    if (arr && words) {
        for (size_t i = 0; i < n; i++) fill_segment(&arr[i], &words[i], segs->items[i], (int)i);
        CHECK_MSG(cw_result_create(arr, n, NULL, "en", 0.0, &r) == CW_OK, "cw_result_create: %s",
                  cw_last_error());
    }
    for (size_t i = 0; words && i < n; i++) free(words[i]);
    free(words);
    free(arr);
    return r;
}

/* The writer's bytes for r in format f with info, through a stdio stream. */
static char *render(const cw_result *r, cw_output_format f, const cw_output_info *info, size_t *len)
{
    FILE *fp = tmpfile();
    char *got = NULL;
    *len = 0;
    CHECK(fp != NULL);
    if (!fp) return NULL;
    cw_status st = cw_output_write_stream(r, f, info, fp);
    CHECK_MSG(st == CW_OK, "%s", cw_last_error());
    long size = ftell(fp);
    if (st == CW_OK && size >= 0 && (got = malloc((size_t)size + 1)) != NULL) {
        rewind(fp);
        if (fread(got, 1, (size_t)size, fp) == (size_t)size) {
            got[size] = '\0';
            *len = (size_t)size;
        } else {
            free(got);
            got = NULL;
        }
    }
    fclose(fp);
    CHECK(got != NULL);
    return got;
}

/* Compares with the reference; reports the first differing line. */
static int same_bytes(const char *what, const char *got, size_t got_len, const char *want, size_t want_len)
{
    size_t i = 0, line = 1, bol = 0;
    for (; i < got_len && i < want_len && got[i] == want[i]; i++)
        if (got[i] == '\n') line++, bol = i + 1;
    if (got_len == want_len && i == got_len) return 1;
    const char *ge = memchr(got + bol, '\n', got_len - bol), *we = memchr(want + bol, '\n', want_len - bol);
    int gn = (int)((ge ? (size_t)(ge - got) : got_len) - bol), wn = (int)((we ? (size_t)(we - want) : want_len) - bol);
    cw_test_fail(__FILE__, __LINE__, "%s: differs from openai-whisper at byte %zu, line %zu:\n  got  \"%.*s\"\n"
                 "  want \"%.*s\"", what, i, line, gn, got + bol, wn, want + bol);
    return 0;
}

static cw_output_info combo_info(const cw_json *combo)
{
    cw_output_info info = { 0 };
    const cw_json *h = cw_json_get(combo, "highlight_words");
    long v;
    info.highlight_words = h && h->type == CW_JSON_TRUE;
    if (cw_json_get_int(combo, "max_line_width", &v) == 0) info.max_line_width = (int)v;
    if (cw_json_get_int(combo, "max_line_count", &v) == 0) info.max_line_count = (int)v;
    if (cw_json_get_int(combo, "max_words_per_line", &v) == 0) info.max_words_per_line = (int)v;
    return info;
}

static const cw_output_format formats[] = { CW_OUTPUT_SRT, CW_OUTPUT_VTT, CW_OUTPUT_TXT, CW_OUTPUT_TSV };

/* Every case of one combination; returns the outputs compared (*n_equal:
 * equal). txt and tsv ignore the options: their reference is in def. */
static size_t check_combo(const cw_json *combo, const cw_json *cases, const cw_json *def, size_t *n_equal)
{
    const char *name = cw_json_get_string(combo, "name");
    char rel[256];
    snprintf(rel, sizeof rel, "writers/%s.json", name ? name : "?");
    cw_json *want = load_json(rel);
    if (!want) return 0;
    cw_output_info info = combo_info(combo);
    size_t n = 0;
    for (size_t c = 0; c < cases->n; c++) {
        const char *cname = cw_json_get_string(cases->items[c], "name");
        cw_result *r = build_result(cases->items[c]);
        for (size_t f = 0; r && cname && f < sizeof formats / sizeof *formats; f++) {
            char key[256], what[600];
            snprintf(key, sizeof key, "%s.%s", cname, cw_output_format_ext(formats[f]));
            snprintf(what, sizeof what, "%s %s", name, key);
            int plain = formats[f] == CW_OUTPUT_TXT || formats[f] == CW_OUTPUT_TSV;
            const cw_json *w = cw_json_get(plain ? def : want, key);
            CHECK_MSG(w && w->type == CW_JSON_STRING, "%s: no reference", what);
            if (!w || w->type != CW_JSON_STRING) continue;
            size_t len;
            char *got = render(r, formats[f], &info, &len);
            if (got) *n_equal += (size_t)same_bytes(what, got, len, w->str, w->str_len), n++;
            free(got);
        }
        cw_result_free(r);
    }
    cw_json_free(want);
    return n;
}

static void test_writers_match_openai_whisper(void)
{
    cw_json *doc = load_json("writers/results.json");
    const cw_json *combos = doc ? cw_json_get(doc, "combos") : NULL;
    const cw_json *cases = doc ? cw_json_get(doc, "cases") : NULL;
    CHECK(combos && combos->type == CW_JSON_ARRAY && combos->n >= 5);
    CHECK(cases && cases->type == CW_JSON_ARRAY && cases->n >= 18);
    cw_json *def = load_json("writers/default.json");
    size_t total = 0, equal = 0;
    for (size_t k = 0; def && combos && cases && k < combos->n; k++) {
        size_t eq = 0, n = check_combo(combos->items[k], cases, def, &eq);
        printf("%-32s %zu/%zu outputs byte-identical\n", cw_json_get_string(combos->items[k], "name"), eq, n);
        total += n;
        equal += eq;
    }
    printf("all combinations: %zu/%zu outputs byte-identical to openai-whisper's\n", equal, total);
    CHECK(total >= 5 * 18 * 4);
    cw_json_free(def);
    cw_json_free(doc);
}

/* A segment whose word list is empty still marks the result as having words
 * (openai-whisper: "words" in segments[0]): cues come from the words; so does
 * a list in a later segment; with no list anywhere, from the segments. */
static void test_empty_word_list_kept(void)
{
    cw_word w = { " hi", 1.0, 1.5, 0.9 };
    cw_word none;
    cw_segment s[2] = { { .start = 0, .end = 1, .text = " a --> b", .words = &none, .n_words = 0 },
                        { .start = 1, .end = 2, .text = " hi", .words = &w, .n_words = 1 } };
    cw_result *r = NULL;
    CHECK(cw_result_create(s, 2, NULL, "en", 2.0, &r) == CW_OK);
    CHECK(r && cw_result_segment(r, 0)->words != NULL && cw_result_segment(r, 0)->n_words == 0);
    size_t len;
    char *got = r ? render(r, CW_OUTPUT_SRT, NULL, &len) : NULL;
    if (got) CHECK_EQ_STR(got, "1\n00:00:01,000 --> 00:00:01,500\nhi\n\n");
    free(got);
    cw_result_free(r);
    s[0].words = NULL; /* a list in any segment is enough */
    CHECK(cw_result_create(s, 2, NULL, "en", 2.0, &r) == CW_OK);
    got = r ? render(r, CW_OUTPUT_SRT, NULL, &len) : NULL;
    if (got) CHECK_EQ_STR(got, "1\n00:00:01,000 --> 00:00:01,500\nhi\n\n");
    free(got);
    cw_result_free(r);
    CHECK(cw_result_create(s, 1, NULL, "en", 2.0, &r) == CW_OK); /* no list: the segments' cues */
    got = r ? render(r, CW_OUTPUT_VTT, NULL, &len) : NULL;
    if (got) CHECK_EQ_STR(got, "WEBVTT\n\n00:00.000 --> 00:01.000\na -> b\n\n");
    free(got);
    cw_result_free(r);
}

static void test_negative_options_refused(void)
{
    cw_segment s = { .start = 0, .end = 1, .text = " a" };
    cw_result *r = NULL;
    CHECK(cw_result_create(&s, 1, NULL, "en", 1.0, &r) == CW_OK);
    cw_output_info bad[3] = { { .max_line_width = -1 }, { .max_line_count = -2 }, { .max_words_per_line = -3 } };
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    for (int i = 0; fp && r && i < 3; i++)
        CHECK_FAILS(cw_output_write_stream(r, CW_OUTPUT_SRT, &bad[i], fp), CW_ERR_INVALID_ARG, "negative");
    if (fp) fclose(fp);
    cw_result_free(r);
}

int main(void)
{
    RUN(test_writers_match_openai_whisper);
    RUN(test_empty_word_list_kept);
    RUN(test_negative_options_refused);
    return test_summary();
}
