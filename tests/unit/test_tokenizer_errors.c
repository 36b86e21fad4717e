/* The tokenizer without real models: the language table, loading synthetic
 * vocabularies in every format, and one-line errors naming the file for
 * each kind of bad input (missing, empty, not JSON, wrong shape, characters
 * outside the byte-level alphabet, counts that disagree with n_vocab). */
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

/* ---- synthetic vocabularies --------------------------------------------- */

/* A growable text buffer; the tests abort on allocation failure. */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        b->cap = (b->n + len + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* GPT-2's bytes_to_unicode for one byte, as UTF-8. */
static void byte_char(int b, char out[4])
{
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)))
        cp = 256 + (b <= 32 ? b : b <= 160 ? 33 + b - 127 : 67);
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

/* Token `id` of a synthetic vocabulary of n_vocab tokens, in file form. */
static void token_string(int n_vocab, int id, char *out, size_t cap)
{
    int n_text = n_vocab == 51864 ? 50256 : 50257, n_lang = n_vocab == 51866 ? 100 : 99;
    static const char *const tail[] = {"translate", "transcribe", "startoflm", "startofprev", "nocaptions", "notimestamps"};
    if (id < 256) byte_char(id, out);
    else if (id == 50256 && n_text == 50257) out[0] = '\0';
    else if (id < n_text) snprintf(out, cap, "t%d", id);
    else if (id == n_text) snprintf(out, cap, "<|endoftext|>");
    else if (id == n_text + 1) snprintf(out, cap, "<|startoftranscript|>");
    else if (id < n_text + 2 + n_lang) snprintf(out, cap, "<|%s|>", cw_language_code(id - n_text - 2));
    else if (id < n_text + 8 + n_lang) snprintf(out, cap, "<|%s|>", tail[id - n_text - 2 - n_lang]);
    else snprintf(out, cap, "<|%.2f|>", (id - n_text - 8 - n_lang) * 0.02);
}

/* vocabulary.txt text with token `bad_id` replaced by `bad` (bad_id -1: none). */
static sbuf make_txt(int n_vocab, int bad_id, const char *bad)
{
    sbuf b = {0};
    char tok[64];
    for (int id = 0; id < n_vocab; id++) {
        token_string(n_vocab, id, tok, sizeof tok);
        puts_(&b, id == bad_id ? bad : tok);
        puts_(&b, "\n");
    }
    return b;
}

static void put_json_string(sbuf *b, const char *s)
{
    puts_(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') puts_(b, "\\");
        put(b, s, 1);
    }
    puts_(b, "\"");
}

/* tokenizer.json (or, with hf_vocab, vocab.json) with the plain tokens and
 * <|endoftext|> in the vocab and the other specials as added tokens. */
static sbuf make_hf(int n_vocab, int hf_vocab)
{
    sbuf b = {0};
    char tok[64], num[32];
    int n_text = n_vocab == 51864 ? 50256 : 50257;
    puts_(&b, hf_vocab ? "{" : "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int id = 0; id <= n_text; id++) {
        token_string(n_vocab, id, tok, sizeof tok);
        put_json_string(&b, tok);
        snprintf(num, sizeof num, ": %d%s", id, id < n_text ? ", " : "");
        puts_(&b, num);
    }
    if (hf_vocab) {
        puts_(&b, "}");
        return b;
    }
    puts_(&b, "}, \"merges\": []}, \"added_tokens\": [");
    for (int id = n_text; id < n_text + 107; id++) {
        token_string(n_vocab, id, tok, sizeof tok);
        snprintf(num, sizeof num, "%s{\"id\": %d, \"content\": ", id > n_text ? ", " : "", id);
        puts_(&b, num);
        put_json_string(&b, tok);
        puts_(&b, "}");
    }
    puts_(&b, "]}");
    return b;
}

static const char *make_dir(const char *name)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ & 7];
    snprintf(p, sizeof path[0], "%s/%s", test_tmpdir(), name);
    mkdir(p, 0755);
    return p;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_language_table(void)
{
    CHECK_EQ_INT(cw_language_count_table(), 100);
    CHECK_EQ_STR(cw_language_code(0), "en");
    CHECK_EQ_STR(cw_language_code(1), "zh");
    CHECK_EQ_STR(cw_language_code(98), "su");
    CHECK_EQ_STR(cw_language_code(99), "yue");
    CHECK(cw_language_code(100) == NULL);
    CHECK(cw_language_code(-1) == NULL);
    CHECK_EQ_STR(cw_language_name(0), "english");
    CHECK_EQ_STR(cw_language_name(80), "haitian creole");
    CHECK_EQ_STR(cw_language_name(99), "cantonese");
    CHECK_EQ_INT(cw_language_index("de"), 2);
    CHECK_EQ_INT(cw_language_index("German"), 2);
    CHECK_EQ_INT(cw_language_index("EN"), 0);
    CHECK_EQ_INT(cw_language_index("haw"), 93);
    CHECK_EQ_INT(cw_language_index("mandarin"), 1);
    CHECK_EQ_INT(cw_language_index("castilian"), 3);
    CHECK_EQ_INT(cw_language_index("moldovan"), cw_language_index("ro"));
    CHECK_EQ_INT(cw_language_index("burmese"), cw_language_index("my"));
    CHECK_EQ_INT(cw_language_index("haitian"), cw_language_index("ht"));
    CHECK_EQ_INT(cw_language_index("haitian creole"), cw_language_index("ht"));
    CHECK_EQ_INT(cw_language_index("klingon"), -1);
    CHECK_EQ_INT(cw_language_index(""), -1);
    CHECK_EQ_INT(cw_language_index(NULL), -1);
}

static void load_ok(cw_vocab_format f, const sbuf *b, int n_vocab, const char *what)
{
    cw_tokenizer *t = NULL;
    CHECK_MSG(cw_tokenizer_load_buffer(f, b->p, b->n, what, n_vocab, &t) == CW_OK, "%s: %s", what, cw_last_error());
    if (!t) return;
    const cw_special_tokens *sp = cw_tokenizer_specials(t);
    CHECK_EQ_INT(sp->n_vocab, n_vocab);
    size_t len;
    const char *s = cw_tokenizer_token_bytes(t, sp->timestamp_begin + 1500, &len);
    CHECK(s && len == 9 && memcmp(s, "<|30.00|>", 9) == 0);
    s = cw_tokenizer_token_bytes(t, 300, &len);
    CHECK(s && len == 4 && memcmp(s, "t300", 4) == 0);
    s = cw_tokenizer_token_bytes(t, 32, &len); /* "Ġ" back to a space */
    CHECK(s && len == 1 && s[0] == ' ');
    int32_t *ids = NULL;
    size_t n = 0;
    /* No merges apply ("t300" is split into "t" and "300"): one id per byte. */
    CHECK(cw_tokenizer_encode(t, "t300 x", 6, &ids, &n) == CW_OK && n == 6 && ids[0] == 't' && ids[4] == ' ');
    char *text = NULL;
    CHECK(ids && cw_tokenizer_decode(t, ids, n, &text) == CW_OK);
    CHECK_EQ_STR(text, "t300 x");
    free(text);
    free(ids);
    cw_tokenizer_free(t);
}

static void test_synthetic_formats(void)
{
    static const int kinds[] = {51864, 51865, 51866};
    for (int k = 0; k < 3; k++) {
        sbuf txt = make_txt(kinds[k], -1, NULL), hf = make_hf(kinds[k], 0), vj = make_hf(kinds[k], 1);
        load_ok(CW_VOCAB_TXT, &txt, kinds[k], "vocabulary.txt");
        load_ok(CW_VOCAB_HF_TOKENIZER, &hf, kinds[k], "tokenizer.json");
        load_ok(CW_VOCAB_HF_VOCAB, &vj, kinds[k], "vocab.json");
        /* The same vocabulary as a JSON array. */
        sbuf arr = {0};
        puts_(&arr, "[");
        for (char *line = txt.p; *line;) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            if (line != txt.p) puts_(&arr, ",");
            put_json_string(&arr, line);
            line = nl + 1;
        }
        puts_(&arr, "]");
        load_ok(CW_VOCAB_JSON_ARRAY, &arr, kinds[k], "vocabulary.json");
        free(txt.p);
        free(hf.p);
        free(vj.p);
        free(arr.p);
    }
}

static void test_dir_order_and_missing(void)
{
    cw_tokenizer *t = (cw_tokenizer *)1;
    const char *empty = make_dir("empty_model");
    CHECK_FAILS(cw_tokenizer_load_dir(empty, 51864, &t), CW_ERR_IO, "empty_model");
    CHECK(t == NULL);
    /* vocabulary.json comes first even when a valid vocabulary.txt is there. */
    make_dir("both");
    sbuf txt = make_txt(51864, -1, NULL);
    test_write_file("both/vocabulary.txt", txt.p, txt.n);
    test_write_file("both/vocabulary.json", "[1]", 3);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/both", test_tmpdir());
    CHECK_FAILS(cw_tokenizer_load_dir(dir, 51864, &t), CW_ERR_FORMAT, "both/vocabulary.json");
    make_dir("txt_only");
    test_write_file("txt_only/vocabulary.txt", txt.p, txt.n);
    snprintf(dir, sizeof dir, "%s/txt_only", test_tmpdir());
    CHECK(cw_tokenizer_load_dir(dir, 51864, &t) == CW_OK);
    cw_tokenizer_free(t);
    CHECK_FAILS(cw_tokenizer_load_dir(dir, 51865, &t), CW_ERR_FORMAT, "51864 tokens, but the model has 51865");
    CHECK_FAILS(cw_tokenizer_load_dir(dir, 50000, &t), CW_ERR_UNSUPPORTED, "50000");
    free(txt.p);
}

static void test_bad_files(void)
{
    cw_tokenizer *t = NULL;
    const char *p = test_write_file("vocabulary.txt", "", 0);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_TXT, 51864, &t), CW_ERR_FORMAT, "vocabulary.txt: empty");
    p = test_write_file("empty.json", "", 0);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_JSON_ARRAY, 51864, &t), CW_ERR_FORMAT, "empty.json: empty");
    p = test_write_file("short.txt", "a\nb\nc\n", 6);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_TXT, 51864, &t), CW_ERR_FORMAT, "short.txt: 3 tokens");
    p = test_write_file("notjson.json", "[\"a\", ", 6);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_JSON_ARRAY, 51864, &t), CW_ERR_FORMAT, "notjson.json");
    p = test_write_file("object.json", "{\"a\": 1}", 8);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_JSON_ARRAY, 51864, &t), CW_ERR_FORMAT, "object.json: not a JSON array");
    p = test_write_file("numbers.json", "[1, 2]", 6);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_JSON_ARRAY, 51864, &t), CW_ERR_FORMAT, "numbers.json: 2 tokens");
    p = test_write_file("nomodel.json", "{\"version\": \"1.0\"}", 18);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_HF_TOKENIZER, 51864, &t), CW_ERR_FORMAT, "nomodel.json: no \"model\"");
    p = test_write_file("range.json", "{\"a\": 60000}", 12);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_HF_VOCAB, 51864, &t), CW_ERR_FORMAT, "range.json: token id 60000");
    p = test_write_file("dup.json", "{\"a\": 1, \"b\": 1}", 16);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_HF_VOCAB, 51864, &t), CW_ERR_FORMAT, "dup.json: token id 1 is given twice");
    p = test_write_file("frac.json", "{\"a\": 1.5}", 10);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_HF_VOCAB, 51864, &t), CW_ERR_FORMAT, "frac.json");
    p = test_write_file("sparse.json", "{\"a\": 1}", 8);
    CHECK_FAILS(cw_tokenizer_load_file(p, CW_VOCAB_HF_VOCAB, 51864, &t), CW_ERR_FORMAT, "sparse.json: token 0 is missing");
    CHECK_FAILS(cw_tokenizer_load_file("/nonexistent/vocabulary.txt", CW_VOCAB_TXT, 51864, &t), CW_ERR_IO,
                "/nonexistent/vocabulary.txt");
    CHECK_FAILS(cw_tokenizer_load_buffer((cw_vocab_format)9, "x", 1, "fmt", 51864, &t), CW_ERR_INVALID_ARG, "fmt");
    CHECK(t == NULL);
}

/* Full-size vocabularies with one bad token. */
static void check_bad_token(int n_vocab, int id, const char *s, const char *needle)
{
    sbuf b = make_txt(n_vocab, id, s);
    cw_tokenizer *t = NULL;
    CHECK_FAILS(cw_tokenizer_load_buffer(CW_VOCAB_TXT, b.p, b.n, "bad/vocabulary.txt", n_vocab, &t), CW_ERR_FORMAT,
                needle);
    CHECK(t == NULL);
    free(b.p);
}

static void test_bad_tokens(void)
{
    check_bad_token(51864, 300, "ab\x01", "token 300 \"ab?\" has U+0001, outside the byte-level alphabet");
    check_bad_token(51864, 300, "\xC3\xA9\xE2\x82\xAC", "U+20AC, outside"); /* é fine, € not */
    check_bad_token(51864, 301, "\xFF", "token 301 \"\xFF\" is not valid UTF-8");
    check_bad_token(51864, 302, "", "token 302 is empty");
    check_bad_token(51864, 65, "t_not_A", "no token for the byte 0x41");
    check_bad_token(51864, 50257, "<|foo|>", "token 50257 is \"<|foo|>\", expected \"<|startoftranscript|>\"");
    check_bad_token(51865, 50257, "<|startoftranscript|>", "expected \"<|endoftext|>\"");
    check_bad_token(51865, 51864, "<|29.99|>", "expected \"<|30.00|>\"");
    check_bad_token(51864, 400, "a\"b\x7f", "token 400 \"a?b?\"");
}

/* Python's errors="replace": one U+FFFD per maximal ill-formed subpart. */
static void test_replacement_rule(void)
{
    sbuf b = make_txt(51864, -1, NULL);
    cw_tokenizer *t = NULL;
    CHECK(cw_tokenizer_load_buffer(CW_VOCAB_TXT, b.p, b.n, "v", 51864, &t) == CW_OK);
    free(b.p);
    if (!t) return;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xE2\x82", "\xEF\xBF\xBD"},                         /* truncated 3-byte: one */
        {"\xE2\x82" "a", "\xEF\xBF\xBD" "a"},
        {"\xF0\x9F\x98", "\xEF\xBF\xBD"},                     /* truncated 4-byte: one */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},             /* overlong lead: two */
        {"\xE0\x80\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF5", "\xEF\xBF\xBD"},
        {"\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t ids[8];
        size_t n = 0;
        for (const char *p = cases[i].in; *p; p++) {
            ids[n++] = (unsigned char)*p; /* make_txt gives byte b the id b */
        }
        char *got = NULL;
        CHECK(cw_tokenizer_decode(t, ids, n, &got) == CW_OK);
        CHECK_MSG(got && strcmp(got, cases[i].out) == 0, "case %zu", i);
        free(got);
    }
    cw_tokenizer_free(t);
}

int main(void)
{
    RUN(test_language_table);
    RUN(test_synthetic_formats);
    RUN(test_dir_order_and_missing);
    RUN(test_bad_files);
    RUN(test_bad_tokens);
    RUN(test_replacement_rule);
    return test_summary();
}
