/* Word-timestamp pieces (src/timing/) against openai-whisper's timing.py on
 * tiny synthetic inputs (tests/fixtures/make_timing_refs.py): the median
 * filter, DTW with its backtrace, find_alignment's matrix, punctuation
 * merging and the tokenizer's split into words (tiny.en's vocabulary). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "cwhisper.h"
#include "decode/decode.h"
#include "model/model.h"
#include "timing/timing.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

static cw_json *refs;

static const cw_json *section(const char *name)
{
    const cw_json *a = cw_json_get(refs, name);
    CHECK(a && a->type == CW_JSON_ARRAY && a->n > 0);
    return a;
}

static size_t num(const cw_json *o, const char *key)
{
    long v = -1;
    CHECK(cw_json_get_int(o, key, &v) == 0);
    return v < 0 ? 0 : (size_t)v;
}

/* obj[key] as a malloc'ed double array of its length. */
static double *numbers(const cw_json *o, const char *key, size_t *n)
{
    const cw_json *a = cw_json_get(o, key);
    *n = a ? a->n : 0;
    double *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = a->items[i]->number;
    return v;
}

static void test_median_filter(void)
{
    const cw_json *a = section("median");
    for (size_t c = 0; c < a->n; c++) {
        const cw_json *o = a->items[c];
        size_t rows = num(o, "rows"), n = num(o, "n"), width = num(o, "width"), nx, ny;
        double *x = numbers(o, "x", &nx), *y = numbers(o, "y", &ny);
        CHECK_EQ_INT(nx, rows * n);
        float *v = malloc(nx * sizeof *v);
        for (size_t i = 0; i < nx; i++) v[i] = (float)x[i];
        CHECK(cw_median_filter(v, rows, n, width) == CW_OK);
        for (size_t i = 0; i < nx && i < ny; i++) CHECK_MSG(v[i] == (float)y[i], "case %zu [%zu]: %g vs %g", c, i, v[i], y[i]);
        free(v);
        free(x);
        free(y);
    }
}

static void test_dtw(void)
{
    const cw_json *a = section("dtw");
    for (size_t c = 0; c < a->n; c++) {
        const cw_json *o = a->items[c];
        size_t N = num(o, "N"), M = num(o, "M"), nx, nt, nj, len = 0;
        double *x = numbers(o, "x", &nx), *text = numbers(o, "text", &nt), *time = numbers(o, "time", &nj);
        long *ti = NULL, *tj = NULL;
        CHECK(cw_dtw(x, N, M, &ti, &tj, &len) == CW_OK);
        CHECK_EQ_INT(len, nt);
        for (size_t i = 0; i < len && i < nt; i++)
            CHECK_MSG(ti[i] == (long)text[i] && tj[i] == (long)time[i], "case %zu step %zu: (%ld, %ld) vs (%g, %g)", c, i,
                      ti[i], tj[i], text[i], time[i]);
        free(ti);
        free(tj);
        free(x);
        free(text);
        free(time);
    }
}

static void test_alignment_matrix(void)
{
    const cw_json *a = section("matrix");
    for (size_t c = 0; c < a->n; c++) {
        const cw_json *o = a->items[c];
        size_t H = num(o, "H"), n_tok = num(o, "n_tok"), M = num(o, "M"), nq, no;
        double *qk = numbers(o, "qk", &nq), *ref = numbers(o, "out", &no);
        CHECK_EQ_INT(nq, H * n_tok * M);
        CHECK_EQ_INT(no, (n_tok - 2) * M);
        float *v = malloc(nq * sizeof *v), *out = malloc(no * sizeof *out);
        for (size_t i = 0; i < nq; i++) v[i] = (float)qk[i];
        CHECK(cw_alignment_matrix(v, H, n_tok, M, 7, 1, n_tok - 2, out) == CW_OK);
        for (size_t i = 0; i < no; i++) CHECK_NEAR(out[i], ref[i], 1e-5);
        free(v);
        free(out);
        free(qk);
        free(ref);
    }
}

static void test_merge_punctuations(void)
{
    const cw_json *a = section("merge");
    for (size_t c = 0; c < a->n; c++) {
        const cw_json *o = a->items[c], *words = cw_json_get(o, "words"), *out = cw_json_get(o, "out");
        size_t n = words->n, nt, nout;
        double *toks = numbers(o, "n_tokens", &nt), *out_toks = numbers(o, "out_n_tokens", &nout);
        cw_word_timing *w = calloc(n, sizeof *w);
        for (size_t i = 0; i < n; i++) {
            w[i].word = strdup(words->items[i]->str);
            w[i].n_tokens = (size_t)toks[i];
        }
        CHECK(cw_merge_punctuations(w, n, "\"'\u201c\u00bf([{-", "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001") ==
              CW_OK);
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_STR(w[i].word, out->items[i]->str);
            CHECK_EQ_INT(w[i].n_tokens, (size_t)out_toks[i]);
        }
        cw_word_timings_free(w, n);
        free(toks);
        free(out_toks);
    }
}

static void test_split_words(void)
{
    cw_tokenizer *tok = NULL;
    if (cw_tokenizer_load_dir(test_path("CW_MODELS_DIR", "tiny.en"), 51864, &tok) != CW_OK) {
        CHECK_MSG(0, "tiny.en tokenizer: %s", cw_last_error());
        return;
    }
    cw_text_codec codec = cw_text_codec_tokenizer(tok);
    const cw_json *a = section("split");
    for (size_t c = 0; c < a->n; c++) {
        const cw_json *o = a->items[c], *words = cw_json_get(o, "words"), *uni = cw_json_get(o, "unicode");
        size_t n, nn;
        double *t = numbers(o, "tokens", &n), *counts = numbers(o, "n_tokens", &nn);
        int32_t *ids = malloc(n * sizeof *ids);
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)t[i];
        cw_word_timing *w = NULL;
        size_t nw = 0;
        CHECK(cw_split_word_tokens(&codec, cw_tokenizer_specials(tok)->eot, ids, n, uni->type == CW_JSON_TRUE, &w,
                                   &nw) == CW_OK);
        CHECK_EQ_INT(nw, nn); /* the eot word included */
        for (size_t i = 0; i < nw && i < nn; i++) {
            if (i < words->n) CHECK_EQ_STR(w[i].word, words->items[i]->str);
            CHECK_EQ_INT(w[i].n_tokens, (size_t)counts[i]);
        }
        cw_word_timings_free(w, nw);
        free(ids);
        free(t);
        free(counts);
    }
    cw_tokenizer_free(tok);
}

static void test_round2_and_substring(void)
{
    CHECK(cw_round2(0.125) == 0.12);   /* binary 0.125 exactly: ties to even */
    CHECK(cw_round2(1.005) == 1.0);    /* 1.005 is 1.00499999... in binary */
    CHECK(cw_round2(2.675) == 2.67);
    CHECK(cw_round2(0.76) == 0.76);
    CHECK(cw_str_in("", "abc") && cw_str_in("bc", "abc") && !cw_str_in("ac", "abc"));
}

/* Without heads in the model's config: openai-whisper's table by the
 * model's dimensions (large-v1 only by its folder name), else the last half
 * of the decoder's heads. */
static void test_alignment_heads_table(void)
{
    static const struct {
        const char *dir;
        int mels, vocab, layers, state, heads;
        size_t n;
        int32_t first[2], last[2];
    } cases[] = {
        {"m/tiny.en", 80, 51864, 4, 384, 6, 8, {1, 0}, {3, 4}},
        {"m/base", 80, 51865, 6, 512, 8, 8, {3, 1}, {5, 6}},
        {"m/large-v2", 80, 51865, 32, 1280, 20, 23, {10, 12}, {27, 15}},
        {"m/whisper-large-v1", 80, 51865, 32, 1280, 20, 9, {9, 19}, {23, 15}},
        {"m/turbo", 128, 51866, 4, 1280, 20, 6, {2, 4}, {3, 14}},
        {"m/odd", 80, 51865, 4, 256, 4, 8, {2, 0}, {3, 3}}, /* no entry: the last half */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cw_model m;
        memset(&m, 0, sizeof m);
        m.dir = (char *)cases[i].dir;
        m.dims = (cw_model_dims){cases[i].mels, 1500, cases[i].state, cases[i].heads, cases[i].layers,
                                 cases[i].vocab, 448, cases[i].state, cases[i].heads, cases[i].layers};
        CHECK(cw_model_default_extras(&m) == CW_OK);
        const cw_model_extras *ex = &m.extras;
        CHECK_EQ_INT(ex->n_alignment_heads, cases[i].n);
        if (ex->n_alignment_heads == cases[i].n && cases[i].n) {
            CHECK(ex->alignment_heads[0] == cases[i].first[0] && ex->alignment_heads[1] == cases[i].first[1]);
            CHECK(ex->alignment_heads[2 * cases[i].n - 2] == cases[i].last[0] &&
                  ex->alignment_heads[2 * cases[i].n - 1] == cases[i].last[1]);
        }
        free(m.extras.alignment_heads);
        free(m.extras.suppress_ids);
        free(m.extras.suppress_ids_begin);
        free(m.extras.lang_ids);
    }
}

int main(void)
{
    char *text = NULL;
    size_t len = 0;
    if (cw_file_read_all(test_path("CW_FIXTURES_DIR", "timing/refs.json"), 1u << 24, &text, &len) != CW_OK ||
        cw_json_parse(text, len, "refs.json", &refs) != CW_OK) {
        fprintf(stderr, "timing/refs.json: %s\n", cw_last_error());
        return 1;
    }
    RUN(test_median_filter);
    RUN(test_dtw);
    RUN(test_alignment_matrix);
    RUN(test_merge_punctuations);
    RUN(test_split_words);
    RUN(test_round2_and_substring);
    RUN(test_alignment_heads_table);
    cw_json_free(refs);
    free(text);
    return test_summary();
}
