/* The tokenizer on the real tiny.en (gpt2) and base (multilingual) vocabularies:
 * special ids, every vocabulary format agreeing, and encode / decode /
 * decode_with_timestamps / non_speech_tokens against the reference ids in
 * tests/fixtures/tokenizer/refs.txt (made by make_tokenizer_refs.py). */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/file.h"

typedef struct {
    cw_tokenizer *tok[2]; /* [0] gpt2 (tiny.en), [1] multilingual (base) */
    char *refs;
    size_t refs_len;
} fixture;

static fixture fx;
static int have_models;

/* ---- fixture parsing ------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes a hex field ("-" = empty) into a malloc'ed buffer. */
static char *unhex(const char *s, size_t *len)
{
    size_t n = strcspn(s, "\n");
    char *out = malloc(n / 2 + 1);
    if (!out) return NULL;
    *len = 0;
    if (n == 1 && s[0] == '-') n = 0;
    for (size_t i = 0; i + 1 < n + 1 && i < n; i += 2) out[(*len)++] = (char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
    out[*len] = '\0';
    return out;
}

/* Parses space-separated ids up to the end of the line. */
static size_t parse_ids(const char *s, int32_t *ids, size_t cap)
{
    size_t n = 0;
    char *end;
    for (;;) {
        while (*s == ' ') s++;
        if (*s == '\n' || *s == '\0') break;
        long v = strtol(s, &end, 10);
        if (end == s || n == cap) break;
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : p + strlen(p);
}

/* ---- set-up --------------------------------------------------------------- */

static void setup(void)
{
    const char *tiny = test_path("CW_MODELS_DIR", "tiny.en"), *base = test_path("CW_MODELS_DIR", "base");
    char *p1 = cw_path_join(tiny, "config.json"), *p2 = cw_path_join(base, "config.json");
    have_models = cw_file_exists(p1) && cw_file_exists(p2);
    free(p1);
    free(p2);
    CHECK(cw_file_read_all(test_path("CW_FIXTURES_DIR", "tokenizer/refs.txt"), 0, &fx.refs, &fx.refs_len) == CW_OK);
    if (!have_models) return;
    CHECK_MSG(cw_tokenizer_load_dir(tiny, 51864, &fx.tok[0]) == CW_OK, "%s", cw_last_error());
    CHECK_MSG(cw_tokenizer_load_dir(base, 51865, &fx.tok[1]) == CW_OK, "%s", cw_last_error());
    if (!fx.tok[0] || !fx.tok[1]) have_models = 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void check_token(const cw_tokenizer *t, int32_t id, const char *want)
{
    size_t len = 0;
    const char *b = cw_tokenizer_token_bytes(t, id, &len);
    CHECK_MSG(b && len == strlen(want) && memcmp(b, want, len) == 0, "token %d is \"%.*s\", want \"%s\"", (int)id,
              b ? (int)len : 0, b ? b : "", want);
}

static void test_specials(void)
{
    if (!have_models) return;
    const cw_special_tokens *en = cw_tokenizer_specials(fx.tok[0]), *ml = cw_tokenizer_specials(fx.tok[1]);
    CHECK_EQ_INT(en->eot, 50256);
    CHECK_EQ_INT(en->sot, 50257);
    CHECK_EQ_INT(en->lang_begin, 50258);
    CHECK_EQ_INT(en->translate, 50357);
    CHECK_EQ_INT(en->transcribe, 50358);
    CHECK_EQ_INT(en->startoflm, 50359);
    CHECK_EQ_INT(en->startofprev, 50360);
    CHECK_EQ_INT(en->nospeech, 50361);
    CHECK_EQ_INT(en->notimestamps, 50362);
    CHECK_EQ_INT(en->timestamp_begin, 50363);
    CHECK_EQ_INT(en->multilingual, 0);
    CHECK_EQ_INT(cw_tokenizer_n_text(fx.tok[0]), 50256);
    CHECK_EQ_INT(ml->eot, 50257);
    CHECK_EQ_INT(ml->sot, 50258);
    CHECK_EQ_INT(ml->lang_begin, 50259);
    CHECK_EQ_INT(ml->translate, 50358);
    CHECK_EQ_INT(ml->transcribe, 50359);
    CHECK_EQ_INT(ml->nospeech, 50362);
    CHECK_EQ_INT(ml->notimestamps, 50363);
    CHECK_EQ_INT(ml->timestamp_begin, 50364);
    CHECK_EQ_INT(ml->n_vocab, 51865);
    CHECK_EQ_INT(ml->n_languages, 99);
    CHECK_EQ_INT(cw_tokenizer_n_text(fx.tok[1]), 50257);
    check_token(fx.tok[0], 50256, "<|endoftext|>");
    check_token(fx.tok[0], 50361, "<|nospeech|>"); /* the file says <|nocaptions|> */
    check_token(fx.tok[0], 50278, "<|he|>");       /* the file says <|iw|> */
    check_token(fx.tok[1], 50259, "<|en|>");
    check_token(fx.tok[1], 50357, "<|su|>");
    check_token(fx.tok[1], 50364, "<|0.00|>");
    check_token(fx.tok[1], 50364 + 62, "<|1.24|>");
    check_token(fx.tok[1], 51864, "<|30.00|>");
    check_token(fx.tok[0], 51863, "<|30.00|>");
    check_token(fx.tok[1], 50256, "");
    check_token(fx.tok[0], 220, " ");
    check_token(fx.tok[1], 198, "\n");
    size_t len;
    CHECK(cw_tokenizer_token_bytes(fx.tok[1], 51865, &len) == NULL);
    CHECK(cw_tokenizer_token_bytes(fx.tok[1], -1, &len) == NULL);
    CHECK_EQ_INT(cw_tokenizer_language_token(fx.tok[1], cw_language_index("fr")), 50265);
    CHECK_EQ_INT(cw_tokenizer_language_token(fx.tok[1], cw_language_index("yue")), -1);
    CHECK_EQ_INT(cw_tokenizer_lookup(fx.tok[0], " Hello", 6), 18435);
}

/* Every format of the same model must give the same token bytes. */
static void compare_formats(const cw_tokenizer *a, const char *dir, const char *file, cw_vocab_format f, int n_vocab)
{
    char *path = cw_path_join(dir, file);
    cw_tokenizer *b = NULL;
    CHECK_MSG(cw_tokenizer_load_file(path, f, n_vocab, &b) == CW_OK, "%s", cw_last_error());
    for (int32_t id = 0; b && id < n_vocab; id++) {
        size_t la, lb;
        const char *x = cw_tokenizer_token_bytes(a, id, &la), *y = cw_tokenizer_token_bytes(b, id, &lb);
        if (la != lb || memcmp(x, y, la) != 0) {
            CHECK_MSG(0, "%s: token %d differs", path, (int)id);
            break;
        }
    }
    cw_tokenizer_free(b);
    free(path);
}

static void test_formats_agree(void)
{
    if (!have_models) return;
    compare_formats(fx.tok[0], test_path("CW_MODELS_DIR", "tiny.en"), "tokenizer.json", CW_VOCAB_HF_TOKENIZER, 51864);
    compare_formats(fx.tok[1], test_path("CW_MODELS_DIR", "base"), "tokenizer.json", CW_VOCAB_HF_TOKENIZER, 51865);
}

static int tok_index(char k)
{
    return k == 'G' ? 0 : 1;
}

/* E lines followed by G and M lines. */
static void test_encode_refs(void)
{
    if (!have_models || !fx.refs) return;
    static int32_t want[8192];
    size_t n_strings = 0, n_checked = 0;
    char *text = NULL;
    size_t text_len = 0;
    for (const char *p = fx.refs; *p; p = next_line(p)) {
        if (p[0] == 'E') {
            free(text);
            text = unhex(p + 2, &text_len);
            n_strings++;
        } else if ((p[0] == 'G' || p[0] == 'M') && text) {
            size_t nw = parse_ids(p + 1, want, 8192), n = 0;
            int32_t *ids = NULL;
            CHECK(cw_tokenizer_encode(fx.tok[tok_index(p[0])], text, text_len, &ids, &n) == CW_OK);
            int same = ids && n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
            CHECK_MSG(same, "%c encode of \"%s\": %zu ids, want %zu (first %d vs %d)", p[0], text, n, nw,
                      n ? (int)ids[0] : -1, nw ? (int)want[0] : -1);
            free(ids);
            n_checked++;
        }
    }
    free(text);
    CHECK_MSG(n_strings >= 120 && n_checked == 2 * n_strings, "%zu strings, %zu encodings", n_strings, n_checked);
    fprintf(stderr, "  encode: %zu strings x 2 vocabularies\n", n_strings);
}

/* D / W / K lines followed by the expected text on a T line. */
static void test_decode_refs(void)
{
    if (!have_models || !fx.refs) return;
    static int32_t ids[8192];
    size_t n_checked = 0;
    for (const char *p = fx.refs; *p; p = next_line(p)) {
        if ((p[0] != 'D' && p[0] != 'W' && p[0] != 'K') || p[1] != ' ') continue;
        const cw_tokenizer *t = fx.tok[tok_index(p[2])];
        size_t n = parse_ids(p + 3, ids, 8192), want_len;
        const char *tl = next_line(p);
        if (tl[0] != 'T') continue;
        char *want = unhex(tl + 2, &want_len), *got = NULL;
        cw_status st = p[0] == 'D'   ? cw_tokenizer_decode(t, ids, n, &got)
                       : p[0] == 'W' ? cw_tokenizer_decode_with_timestamps(t, ids, n, &got)
                                     : cw_tokenizer_decode_reference(t, ids, n, &got);
        CHECK_MSG(st == CW_OK && got && strlen(got) == want_len && memcmp(got, want, want_len) == 0,
                  "%.60s: got \"%s\", want \"%s\"", p, got ? got : "(null)", want);
        free(got);
        free(want);
        n_checked++;
    }
    CHECK(n_checked > 100);
    fprintf(stderr, "  decode: %zu id lists\n", n_checked);
}

static void test_non_speech_refs(void)
{
    if (!have_models || !fx.refs) return;
    static int32_t want[256];
    int seen = 0;
    for (const char *p = fx.refs; *p; p = next_line(p)) {
        if (p[0] != 'S') continue;
        size_t nw = parse_ids(p + 3, want, 256), n = 0;
        int32_t *ids = NULL;
        CHECK(cw_tokenizer_non_speech_tokens(fx.tok[tok_index(p[2])], &ids, &n) == CW_OK);
        CHECK_MSG(ids && n == nw && memcmp(ids, want, n * sizeof *ids) == 0, "%c: %zu non-speech ids, want %zu",
                  p[2], n, nw);
        free(ids);
        seen++;
    }
    CHECK_EQ_INT(seen, 2);
}

/* The test from openai-whisper's test_tokenizer.py, spelled out. */
static void test_split_character(void)
{
    if (!have_models) return;
    int32_t ids[] = {8404, 871, 287, 6, 246, 526, 3210, 20378};
    char *text = NULL;
    CHECK(cw_tokenizer_decode(fx.tok[1], ids, 8, &text) == CW_OK);
    CHECK_EQ_STR(text, " elle est l'\xEF\xBF\xBD\xC3\xA9ritoire");
    free(text);
    int32_t with_specials[] = {50258, 50259, 50359, 50364, 8404, 50257};
    CHECK(cw_tokenizer_decode(fx.tok[1], with_specials, 6, &text) == CW_OK);
    CHECK_EQ_STR(text, " elle");
    free(text);
    int32_t bad[] = {1, 51865};
    CHECK_FAILS(cw_tokenizer_decode(fx.tok[1], bad, 2, &text), CW_ERR_INVALID_ARG, "51865");
    int32_t *out = NULL;
    size_t n = 99;
    CHECK(cw_tokenizer_encode(fx.tok[0], "", 0, &out, &n) == CW_OK && n == 0);
    free(out);
    CHECK(cw_tokenizer_encode(fx.tok[0], " ", 1, &out, &n) == CW_OK && n == 1 && out[0] == 220);
    free(out);
}

/* Long input must stay linear-ish: 1 MB of prose and a 200 kB single word. */
static void test_speed(void)
{
    if (!have_models) return;
    static const char sentence[] = "And so, my fellow Americans: ask not what your country can do for you \xE2\x80\x94 ask "
                                   "what you can do for your country. \xE4\xBD\xA0\xE5\xA5\xBD 12345\n";
    size_t n = 1 << 20, k = sizeof sentence - 1;
    char *text = malloc(n);
    if (!text) return;
    for (size_t i = 0; i < n; i++) text[i] = sentence[i % k];
    clock_t t0 = clock();
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK(cw_tokenizer_encode(fx.tok[1], text, n - n % k, &ids, &n_ids) == CW_OK);
    free(ids);
    memset(text, 'q', 200000);
    CHECK(cw_tokenizer_encode(fx.tok[0], text, 200000, &ids, &n_ids) == CW_OK && n_ids > 0);
    free(ids);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    fprintf(stderr, "  1 MB prose + 200 kB word: %.3f s\n", s);
    CHECK(s < 3.0);
    free(text);
}

int main(void)
{
    setup();
    if (!have_models) {
        if (getenv("CI")) {
            fprintf(stderr, "test_tokenizer: models missing under $CW_MODELS_DIR (tiny.en, base) and CI is set\n");
            return 1;
        }
        printf("skipped: no model\n");
        free(fx.refs);
        return 0;
    }
    RUN(test_specials);
    RUN(test_formats_agree);
    RUN(test_encode_refs);
    RUN(test_decode_refs);
    RUN(test_non_speech_refs);
    RUN(test_split_character);
    RUN(test_speed);
    cw_tokenizer_free(fx.tok[0]);
    cw_tokenizer_free(fx.tok[1]);
    free(fx.refs);
    return test_summary();
}
