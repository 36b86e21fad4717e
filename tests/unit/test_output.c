/* Output writers against openai-whisper: the results in
 * tests/fixtures/output/cases.json are rebuilt with cw_result_create and
 * written in each format; txt/srt/vtt/tsv must equal, byte for byte, what
 * whisper.utils wrote for them (tests/fixtures/make_output_refs.py). JSON is
 * read back with the project's reader and checked field by field. Also: the
 * result object's copies and checks, and that failed file writes report the
 * path and leave an existing file as it was. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"

static cw_json *load_cases(void)
{
    char *text = NULL;
    size_t len = 0;
    cw_json *doc = NULL;
    const char *path = test_path("CW_FIXTURES_DIR", "output/cases.json");
    if (cw_file_read_all(path, 0, &text, &len) != CW_OK ||
        cw_json_parse(text, len, path, &doc) != CW_OK) {
        cw_test_fail(__FILE__, __LINE__, "cannot load %s: %s", path, cw_last_error());
        doc = NULL;
    }
    free(text);
    const cw_json *cases = doc ? cw_json_get(doc, "cases") : NULL;
    CHECK(cases && cases->type == CW_JSON_ARRAY && cases->n >= 5);
    return doc;
}

static double num(const cw_json *obj, const char *key)
{
    double v = NAN;
    CHECK_MSG(cw_json_get_number(obj, key, &v) == 0, "missing number \"%s\"", key);
    return v;
}

/* Fills seg from a fixture segment; its tokens are malloc'ed into *tokens. */
static void fill_segment(cw_segment *seg, int **tokens, const cw_json *js)
{
    const cw_json *tok = cw_json_get(js, "tokens");
    size_t n = tok && tok->type == CW_JSON_ARRAY ? tok->n : 0;
    *tokens = malloc((n ? n : 1) * sizeof(int));
    CHECK(*tokens != NULL);
    for (size_t t = 0; *tokens && t < n; t++) (*tokens)[t] = (int)tok->items[t]->number;
    seg->id = (int)num(js, "id");
    seg->seek = (long)num(js, "seek");
    seg->start = num(js, "start");
    seg->end = num(js, "end");
    seg->text = cw_json_get_string(js, "text");
    seg->tokens = *tokens;
    seg->n_tokens = *tokens ? n : 0;
    seg->avg_logprob = num(js, "avg_logprob");
    seg->compression_ratio = num(js, "compression_ratio");
    seg->no_speech_prob = num(js, "no_speech_prob");
    seg->temperature = num(js, "temperature");
}

/* Rebuilds a fixture case as a cw_result (NULL on failure, reported). */
static cw_result *build_result(const cw_json *c)
{
    const cw_json *segs = cw_json_get(c, "segments");
    size_t n = segs ? segs->n : 0;
    cw_segment *arr = calloc(n ? n : 1, sizeof *arr);
    int **toks = calloc(n ? n : 1, sizeof *toks);
    cw_result *r = NULL;
    if (arr && toks) {
        for (size_t i = 0; i < n; i++) fill_segment(&arr[i], &toks[i], segs->items[i]);
        cw_status st = cw_result_create(arr, n, cw_json_get_string(c, "text"),
                                        cw_json_get_string(c, "language"), num(c, "duration"), &r);
        CHECK_MSG(st == CW_OK, "cw_result_create: %s", cw_last_error());
    }
    for (size_t i = 0; toks && i < n; i++) free(toks[i]);
    free(toks);
    free(arr);
    return r;
}

static char *read_file(const char *path, size_t *len)
{
    char *data = NULL;
    if (cw_file_read_all(path, 0, &data, len) != CW_OK) {
        cw_test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, cw_last_error());
        return NULL;
    }
    return data;
}

static void check_same_bytes(const char *what, const char *got, size_t got_len, const char *want,
                             size_t want_len)
{
    size_t i = 0;
    while (i < got_len && i < want_len && got[i] == want[i]) i++;
    CHECK_MSG(got_len == want_len && i == got_len,
              "%s: differs from openai-whisper at byte %zu (lengths %zu vs %zu)", what, i, got_len,
              want_len);
}

static const cw_output_format ref_formats[] = { CW_OUTPUT_TXT, CW_OUTPUT_SRT, CW_OUTPUT_VTT,
                                                CW_OUTPUT_TSV };

/* Writes r as <name>.<ext> through the atomic file writer and compares. */
static void check_file_format(const cw_result *r, const char *name, cw_output_format f)
{
    char rel[256];
    snprintf(rel, sizeof rel, "output/%s.%s", name, cw_output_format_ext(f));
    size_t want_len = 0, got_len = 0;
    char *want = read_file(test_path("CW_FIXTURES_DIR", rel), &want_len);
    char *path = cw_path_join(test_tmpdir(), rel + 7);
    CHECK(path != NULL);
    if (want && path) {
        cw_status st = cw_output_write_file(r, f, NULL, path);
        CHECK_MSG(st == CW_OK, "%s: %s", rel, cw_last_error());
        char *got = st == CW_OK ? read_file(path, &got_len) : NULL;
        if (got) check_same_bytes(rel, got, got_len, want, want_len);
        free(got);
    }
    free(path);
    free(want);
}

/* The same through cw_output_write_stream, into a temporary stdio file. */
static void check_stream_format(const cw_result *r, const char *name, cw_output_format f)
{
    char rel[256];
    snprintf(rel, sizeof rel, "output/%s.%s", name, cw_output_format_ext(f));
    size_t want_len = 0;
    char *want = read_file(test_path("CW_FIXTURES_DIR", rel), &want_len);
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (want && fp) {
        CHECK_MSG(cw_output_write_stream(r, f, NULL, fp) == CW_OK, "%s", cw_last_error());
        long size = ftell(fp);
        char *got = malloc(size > 0 ? (size_t)size : 1);
        rewind(fp);
        if (got && size >= 0 && fread(got, 1, (size_t)size, fp) == (size_t)size)
            check_same_bytes(rel, got, (size_t)size, want, want_len);
        else
            cw_test_fail(__FILE__, __LINE__, "%s: cannot read the stream back", rel);
        free(got);
    }
    if (fp) fclose(fp);
    free(want);
}

static void test_matches_openai_whisper(void)
{
    cw_json *doc = load_cases();
    const cw_json *cases = doc ? cw_json_get(doc, "cases") : NULL;
    for (size_t c = 0; cases && c < cases->n; c++) {
        const char *name = cw_json_get_string(cases->items[c], "name");
        cw_result *r = build_result(cases->items[c]);
        for (size_t f = 0; r && name && f < sizeof ref_formats / sizeof ref_formats[0]; f++) {
            check_file_format(r, name, ref_formats[f]);
            check_stream_format(r, name, ref_formats[f]);
        }
        cw_result_free(r);
    }
    cw_json_free(doc);
}

/* Writes r as JSON into a string (malloc'ed) via a temporary file. */
static char *json_text(const cw_result *r, const cw_output_info *info, const char *file)
{
    char *path = cw_path_join(test_tmpdir(), file);
    size_t len = 0;
    char *text = NULL;
    if (path && cw_output_write_file(r, CW_OUTPUT_JSON, info, path) == CW_OK)
        text = read_file(path, &len);
    else
        cw_test_fail(__FILE__, __LINE__, "JSON write failed: %s", cw_last_error());
    free(path);
    return text;
}

static cw_json *json_parse_ok(const char *text)
{
    cw_json *j = NULL;
    if (!text) return NULL;
    CHECK_MSG(cw_json_parse(text, strlen(text), "out.json", &j) == CW_OK, "%s", cw_last_error());
    return j;
}

/* Every field of one written segment equals the result's, exactly. */
static void check_json_segment(const cw_json *js, const cw_segment *s)
{
    long id = -1;
    CHECK(cw_json_get_int(js, "id", &id) == 0 && id == s->id);
    CHECK(num(js, "start") == s->start);
    CHECK(num(js, "end") == s->end);
    CHECK_EQ_STR(cw_json_get_string(js, "text"), s->text);
    const cw_json *tok = cw_json_get(js, "tokens");
    CHECK(tok && tok->type == CW_JSON_ARRAY && tok->n == s->n_tokens);
    for (size_t t = 0; tok && t < tok->n && t < s->n_tokens; t++)
        CHECK(tok->items[t]->number == s->tokens[t]);
    CHECK(num(js, "avg_logprob") == s->avg_logprob);
    CHECK(num(js, "compression_ratio") == s->compression_ratio);
    CHECK(num(js, "no_speech_prob") == s->no_speech_prob);
    CHECK(num(js, "temperature") == s->temperature);
    CHECK_EQ_INT(js->n, 9);
}

static void check_json_result(const cw_result *r, const cw_output_info *info)
{
    char *text = json_text(r, info, "check.json");
    cw_json *j = json_parse_ok(text);
    if (j) {
        CHECK_EQ_INT(j->n, 6);
        CHECK_EQ_STR(cw_json_get_string(j, "file"), info->file);
        CHECK_EQ_STR(cw_json_get_string(j, "model"), info->model);
        CHECK_EQ_STR(cw_json_get_string(j, "language"), cw_result_language(r));
        CHECK(num(j, "duration") == cw_result_duration(r));
        CHECK_EQ_STR(cw_json_get_string(j, "text"), cw_result_text(r));
        const cw_json *segs = cw_json_get(j, "segments");
        CHECK(segs && segs->type == CW_JSON_ARRAY && segs->n == cw_result_n_segments(r));
        for (size_t i = 0; segs && i < segs->n && i < cw_result_n_segments(r); i++)
            check_json_segment(segs->items[i], cw_result_segment(r, i));
    }
    cw_json_free(j);
    free(text);
}

static void test_json_round_trip(void)
{
    cw_output_info info = { .file = "dir/ta\"b\\le\t.wav", .model = "tiny.en" };
    cw_json *doc = load_cases();
    const cw_json *cases = doc ? cw_json_get(doc, "cases") : NULL;
    for (size_t c = 0; cases && c < cases->n; c++) {
        cw_result *r = build_result(cases->items[c]);
        if (r) check_json_result(r, &info);
        cw_result_free(r);
    }
    cw_json_free(doc);
}

/* Control characters, ill-formed UTF-8, non-finite numbers, missing info. */
static void test_json_escapes(void)
{
    static const int toks[] = { 1, -2, 2147483647 };
    cw_segment s = { .id = 3, .start = 0.1, .end = 1e-7, .text = "a\x01\n\x7f\"\\\xff\xe2\x82 \xc3\xa9",
                     .tokens = toks, .n_tokens = 3, .avg_logprob = -INFINITY,
                     .compression_ratio = NAN, .no_speech_prob = -0.0, .temperature = 1.0 };
    cw_result *r = NULL;
    CHECK(cw_result_create(&s, 1, NULL, NULL, 5.0, &r) == CW_OK);
    char *text = r ? json_text(r, NULL, "esc.json") : NULL;
    cw_json *j = json_parse_ok(text);
    if (j) {
        CHECK(strstr(text, "\"a\\u0001\\u000a\x7f\\\"\\\\\xEF\xBF\xBD\xEF\xBF\xBD \xc3\xa9\"") != NULL);
        CHECK(strstr(text, "\"avg_logprob\": null, \"compression_ratio\": null") != NULL);
        CHECK(strstr(text, "\"duration\": 5.0,") != NULL);
        CHECK(strstr(text, "\"end\": 1e-07,") != NULL);
        CHECK(strstr(text, "\"tokens\": [1, -2, 2147483647]") != NULL);
        CHECK_EQ_INT(cw_json_get(j, "file")->type, CW_JSON_NULL);
        CHECK_EQ_INT(cw_json_get(j, "model")->type, CW_JSON_NULL);
        CHECK_EQ_STR(cw_json_get_string(j, "language"), "");
        const cw_json *seg = cw_json_get(j, "segments")->items[0];
        CHECK_EQ_STR(cw_json_get_string(seg, "text"), "a\x01\n\x7f\"\\\xEF\xBF\xBD\xEF\xBF\xBD \xc3\xa9");
        CHECK(num(seg, "no_speech_prob") == 0.0 && signbit(num(seg, "no_speech_prob")));
    }
    cw_json_free(j);
    free(text);
    cw_result_free(r);
}

static void test_result_copies_words(void)
{
    char w0[] = " one", w1[] = " two.";
    cw_word words[2] = { { w0, 0.0, 0.5, 0.9 }, { w1, 0.5, 1.25, 0.25 } };
    cw_segment segs[2] = { { .id = 0, .start = 0, .end = 1.5, .text = " one two.", .words = words, .n_words = 2 },
                           { .id = 1, .start = 1.5, .end = 2, .text = " -" } };
    cw_result *r = NULL;
    CHECK(cw_result_create(segs, 2, NULL, "en", 2.5, &r) == CW_OK);
    w0[1] = 'X', words[1].end = 9; /* the copy must not see the caller's buffers change */
    const cw_segment *s0 = cw_result_segment(r, 0), *s1 = cw_result_segment(r, 1);
    CHECK(s0 && s1);
    if (s0 && s1) {
        CHECK_EQ_INT(s0->n_words, 2);
        CHECK_EQ_STR(s0->words[0].word, " one");
        CHECK_EQ_STR(s0->words[1].word, " two.");
        CHECK(s0->words[1].start == 0.5 && s0->words[1].end == 1.25 && s0->words[1].probability == 0.25);
        CHECK(s1->n_words == 0 && s1->words == NULL);
    }
    cw_result_free(r);
    words[1].end = NAN;
    CHECK_FAILS(cw_result_create(segs, 2, NULL, "en", 2.5, &r), CW_ERR_INVALID_ARG, "word 1");
    words[1].end = 1.0;
    segs[1].n_words = 1; /* words NULL */
    CHECK_FAILS(cw_result_create(segs, 2, NULL, "en", 2.5, &r), CW_ERR_INVALID_ARG, "segment 1");
}

static void test_result_copies_and_checks(void)
{
    int toks[] = { 7, 8 };
    char t0[] = " one", t1[] = " two";
    cw_segment segs[2] = { { .id = 0, .start = 0, .end = 1, .text = t0, .tokens = toks, .n_tokens = 2 },
                           { .id = 1, .start = 1, .end = 2, .text = t1 } };
    cw_result *r = NULL;
    CHECK(cw_result_create(segs, 2, NULL, "en", 2.5, &r) == CW_OK);
    t0[1] = 'X', toks[0] = 99; /* the result must not see the caller's buffers change */
    if (r) {
        CHECK_EQ_INT(cw_result_n_segments(r), 2);
        CHECK_EQ_STR(cw_result_text(r), " one two");
        CHECK_EQ_STR(cw_result_language(r), "en");
        CHECK(cw_result_duration(r) == 2.5);
        CHECK_EQ_STR(cw_result_segment(r, 0)->text, " one");
        CHECK_EQ_INT(cw_result_segment(r, 0)->tokens[0], 7);
        CHECK_EQ_INT(cw_result_segment(r, 1)->n_tokens, 0);
        CHECK(cw_result_segment(r, 2) == NULL);
    }
    cw_result_free(r);
    segs[1].start = -0.5;
    CHECK_FAILS(cw_result_create(segs, 2, NULL, "en", 2.5, &r), CW_ERR_INVALID_ARG, "segment 1");
    segs[1].start = NAN;
    CHECK_FAILS(cw_result_create(segs, 2, NULL, "en", 2.5, &r), CW_ERR_INVALID_ARG, "segment 1");
    segs[1].start = 1;
    segs[1].n_tokens = 3;
    CHECK_FAILS(cw_result_create(segs, 2, NULL, "en", 2.5, &r), CW_ERR_INVALID_ARG, "segment 1");
    CHECK_FAILS(cw_result_create(segs, 1, NULL, "en", INFINITY, &r), CW_ERR_INVALID_ARG, "duration");
    CHECK(cw_result_create(NULL, 0, NULL, NULL, 0, &r) == CW_OK);
    CHECK(r && cw_result_n_segments(r) == 0 && strcmp(cw_result_text(r), "") == 0);
    cw_result_free(r);
    cw_result_free(NULL);
}

static void test_format_names(void)
{
    static const char *names[] = { "txt", "srt", "vtt", "json", "tsv" };
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(cw_output_format_from_name(names[i]), i);
        CHECK_EQ_STR(cw_output_format_ext((cw_output_format)i), names[i]);
    }
    CHECK_EQ_INT(cw_output_format_from_name("SRT"), -1);
    CHECK_EQ_INT(cw_output_format_from_name("all"), -1);
    CHECK_EQ_INT(cw_output_format_from_name(NULL), -1);
}

static cw_result *small_result(size_t text_len)
{
    char *text = malloc(text_len + 2);
    cw_result *r = NULL;
    if (!text) return NULL;
    text[0] = ' ';
    memset(text + 1, 'a', text_len);
    text[text_len + 1] = '\0';
    cw_segment s = { .start = 0, .end = 1, .text = text };
    CHECK(cw_result_create(&s, 1, NULL, "en", 1, &r) == CW_OK);
    free(text);
    return r;
}

/* Number of leftover "*.tmp.*" files in dir. */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void check_file_is(const char *path, const char *want)
{
    size_t len = 0;
    char *got = read_file(path, &len);
    CHECK_MSG(got && len == strlen(want) && memcmp(got, want, len) == 0, "%s was changed", path);
    free(got);
}

static void test_write_file_failures(void)
{
    cw_result *r = small_result(10);
    const char *plain = test_write_file("plain", "x", 1);
    char under_file[4200], no_dir[4200];
    snprintf(under_file, sizeof under_file, "%s/out.srt", plain);
    snprintf(no_dir, sizeof no_dir, "%s/no/such/dir/out.srt", test_tmpdir());
    CHECK_FAILS(cw_output_write_file(r, CW_OUTPUT_SRT, NULL, under_file), CW_ERR_IO, under_file);
    CHECK_FAILS(cw_output_write_file(r, CW_OUTPUT_SRT, NULL, no_dir), CW_ERR_IO, no_dir);
    CHECK_FAILS(cw_output_write_file(r, (cw_output_format)9, NULL, no_dir), CW_ERR_INVALID_ARG, "9");
    CHECK_FAILS(cw_output_write_file(NULL, CW_OUTPUT_SRT, NULL, no_dir), CW_ERR_INVALID_ARG, "NULL");

    /* rename() onto a directory fails after the temporary file is written. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/adir", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    CHECK_FAILS(cw_output_write_file(r, CW_OUTPUT_TXT, NULL, dir), CW_ERR_IO, dir);
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK_EQ_INT(temp_files_in(test_tmpdir()), 0);
    CHECK_FAILS(cw_output_write_stream(r, CW_OUTPUT_TXT, NULL, NULL), CW_ERR_INVALID_ARG, "NULL");
    cw_result_free(r);
}

/* A write that fails half way (file size limit: EFBIG even for root) leaves
 * the old file as it was and no temporary file behind. */
static void test_failed_write_keeps_old_file(void)
{
    const char *target = test_write_file("keep.txt", "old\n", 4);
    cw_result *r = small_result(256 * 1024);
    struct rlimit old, lim;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = 4096;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK_FAILS(cw_output_write_file(r, CW_OUTPUT_TXT, NULL, target), CW_ERR_IO, target);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, old_handler);
    check_file_is(target, "old\n");
    CHECK_EQ_INT(temp_files_in(test_tmpdir()), 0);
    cw_result_free(r);
}

static void test_write_replaces_and_keeps_mode(void)
{
    const char *target = test_write_file("replace.txt", "old\n", 4);
    CHECK(chmod(target, 0640) == 0);
    cw_result *r = small_result(3);
    CHECK(cw_output_write_file(r, CW_OUTPUT_TXT, NULL, target) == CW_OK);
    check_file_is(target, "aaa\n");
    struct stat sb;
    CHECK(stat(target, &sb) == 0 && (sb.st_mode & 07777) == 0640);
    CHECK_EQ_INT(temp_files_in(test_tmpdir()), 0);

    char fresh[4200];
    snprintf(fresh, sizeof fresh, "%s/fresh.txt", test_tmpdir());
    mode_t mask = umask(022);
    CHECK(cw_output_write_file(r, CW_OUTPUT_TXT, NULL, fresh) == CW_OK);
    umask(mask);
    CHECK(stat(fresh, &sb) == 0 && (sb.st_mode & 07777) == 0644);
    cw_result_free(r);
}

static void test_stream_write_error(void)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full) return; /* not on Linux */
    cw_result *r = small_result(10);
    CHECK_FAILS(cw_output_write_stream(r, CW_OUTPUT_VTT, NULL, full), CW_ERR_IO, "output stream");
    fclose(full);
    cw_result_free(r);
}

int main(void)
{
    RUN(test_matches_openai_whisper);
    RUN(test_json_round_trip);
    RUN(test_json_escapes);
    RUN(test_result_copies_and_checks);
    RUN(test_result_copies_words);
    RUN(test_format_names);
    RUN(test_write_file_failures);
    RUN(test_failed_write_keeps_old_file);
    RUN(test_write_replaces_and_keeps_mode);
    RUN(test_stream_write_error);
    return test_summary();
}
