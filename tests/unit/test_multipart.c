/* The server's multipart/form-data parser (cli/serve/multipart.c): the
 * boundary from Content-Type, parts as curl and Python clients send them,
 * binary data holding CR, LF and boundary look-alikes, and each malformed
 * body refused with a message naming the problem. Also the server's JSON
 * writers (cli/serve/sbuf.c): error messages quote client-sent names, so
 * any bytes must come out as valid JSON. */
#include "multipart.h"
#include "sbuf.h"
#include "test.h"

#include <stdlib.h>

static const char *B = "----cwtest7MA4YWxk";

/* Parses a NUL-free literal body with boundary B. */
static int parse(const char *body, mp_part *parts, size_t max, size_t *n, const char **err)
{
    return mp_parse(body, strlen(body), B, parts, max, n, err);
}

static void test_boundary(void)
{
    char b[MP_BOUNDARY_MAX + 1];
    const char *err = NULL;
    CHECK(mp_boundary("multipart/form-data; boundary=abc123", b, &err) == 0);
    CHECK_EQ_STR(b, "abc123");
    CHECK(mp_boundary("Multipart/Form-Data;charset=utf-8;  BOUNDARY=\"a b;c\"", b, &err) == 0);
    CHECK_EQ_STR(b, "a b;c");
    CHECK(mp_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", b, &err) == 0);
    CHECK_EQ_STR(b, "----WebKitFormBoundary7MA4YWxkTrZu0gW");

    CHECK(mp_boundary(NULL, b, &err) == -1);
    CHECK(strstr(err, "no Content-Type") != NULL);
    CHECK(mp_boundary("application/json", b, &err) == -1);
    CHECK(strstr(err, "not multipart/form-data") != NULL);
    CHECK(mp_boundary("multipart/form-dataX; boundary=a", b, &err) == -1);
    CHECK(mp_boundary("multipart/form-data", b, &err) == -1);
    CHECK(strstr(err, "no boundary") != NULL);
    CHECK(mp_boundary("multipart/form-data; boundary=", b, &err) == -1);
    CHECK(mp_boundary("multipart/form-data; boundary=\"unterminated", b, &err) == -1);
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    CHECK(mp_boundary(longb, b, &err) == -1);
    CHECK(strstr(err, "70") != NULL);
}

static void test_curl_form(void)
{
    /* As `curl -F file=@a.flac -F model=whisper-1 -F response_format=srt`
     * sends it, with a preamble and an epilogue that must be ignored. */
    static const char body[] =
        "preamble\r\n"
        "------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.flac\"\r\n"
        "Content-Type: audio/flac\r\n"
        "\r\n"
        "fLaC\r\n\n\r--x\n------cwtest7MA4YWxk\0data\r------cwtest7MA4YWxk"
        "\r\n------cwtest7MA4YWxk\r\n"
        "content-disposition: form-data; name=model\r\n"
        "\r\n"
        "whisper-1"
        "\r\n------cwtest7MA4YWxk  \r\n"
        "Content-Disposition: form-data; name=\"response_format\"\r\n"
        "\r\n"
        "srt"
        "\r\n------cwtest7MA4YWxk--\r\nepilogue";
    mp_part parts[8];
    size_t n = 0;
    const char *err = "";
    CHECK(mp_parse(body, sizeof body - 1, B, parts, 8, &n, &err) == 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(parts[0].name, "file");
    CHECK_EQ_STR(parts[0].filename, "a.flac");
    CHECK(parts[0].has_filename);
    CHECK_EQ_STR(parts[0].content_type, "audio/flac");
    /* The data runs to the CRLF before the real boundary, NUL and the
     * look-alike boundary (followed by "NOT") included... which RFC 2046
     * forbids senders to put there; what matters is exact bytes: */
    static const char data[] = "fLaC\r\n\n\r--x\n------cwtest7MA4YWxk\0data\r------cwtest7MA4YWxk";
    CHECK_EQ_INT(parts[0].len, sizeof data - 1);
    CHECK(memcmp(parts[0].data, data, sizeof data - 1) == 0);
    CHECK_EQ_STR(parts[1].name, "model");
    CHECK(!parts[1].has_filename);
    CHECK_EQ_INT(parts[1].len, 9);
    CHECK(memcmp(parts[1].data, "whisper-1", 9) == 0);
    CHECK_EQ_STR(parts[2].name, "response_format");
    CHECK(parts[2].len == 3 && memcmp(parts[2].data, "srt", 3) == 0);
    CHECK(mp_find(parts, n, "model") == &parts[1]);
    CHECK(mp_find(parts, n, "prompt") == NULL);
}

static void test_quoting_and_empty(void)
{
    const char *body =
        "------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; filename=\"my \\\"clip\\\".wav\"; name=\"file\"\r\n"
        "\r\n"
        "\r\n------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
        "\r\n"
        "segment\r\n------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
        "\r\n"
        "word\r\n------cwtest7MA4YWxk--";
    mp_part parts[4];
    size_t n;
    const char *err = "";
    CHECK(parse(body, parts, 4, &n, &err) == 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(parts[0].filename, "my \"clip\".wav");
    CHECK_EQ_INT(parts[0].len, 0);
    CHECK_EQ_STR(parts[1].name, "timestamp_granularities[]");
    CHECK(parts[2].len == 4 && memcmp(parts[2].data, "word", 4) == 0);
    /* max_parts is enforced. */
    CHECK(parse(body, parts, 2, &n, &err) == -1);
    CHECK(strstr(err, "too many parts") != NULL);
}

static void test_long_filename_truncated(void)
{
    char body[2048];
    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(body, sizeof body,
             "------cwtest7MA4YWxk\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s.wav\"\r\n\r\n"
             "x\r\n------cwtest7MA4YWxk--\r\n", name);
    mp_part parts[2];
    size_t n;
    const char *err = "";
    CHECK(parse(body, parts, 2, &n, &err) == 0);
    CHECK_EQ_INT(strlen(parts[0].filename), MP_FILENAME_MAX - 1);
    CHECK(parts[0].len == 1 && parts[0].data[0] == 'x');
}

/* Each malformed body fails, and the message names its problem. */
static void test_malformed(void)
{
    static const struct {
        const char *body, *needle;
    } cases[] = {
        { "", "empty" },
        { "no boundary anywhere", "does not contain its boundary" },
        { "------cwtest7MA4YWxk", "truncated" },
        { "------cwtest7MA4YWxk\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "no closing boundary" },
        { "------cwtest7MA4YWxk\r\nContent-Disposition: form-data; name=\"a\"\r\n", "inside a part's headers" },
        { "------cwtest7MA4YWxk\r\nContent-Type: text/plain\r\n\r\nv\r\n------cwtest7MA4YWxk--", "no Content-Disposition name" },
        { "------cwtest7MA4YWxk\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n------cwtest7MA4YWxk--", "not form-data" },
        { "------cwtest7MA4YWxk\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n------cwtest7MA4YWxk--", "unterminated" },
        { "------cwtest7MA4YWxk\r\nno colon here\r\n\r\nv\r\n------cwtest7MA4YWxk--", "no ':'" },
        { "------cwtest7MA4YWxkjunk\r\n", "malformed" },
        { "------cwtest7MA4YWxk\r\nContent-Disposition: form-data; name=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\r\n\r\nv\r\n------cwtest7MA4YWxk--", "longer than 63" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_part parts[4];
        size_t n = 99;
        const char *err = NULL;
        int rc = parse(cases[i].body, parts, 4, &n, &err);
        CHECK_MSG(rc == -1, "case %zu parsed", i);
        CHECK_MSG(rc == -1 && err && strstr(err, cases[i].needle), "case %zu: '%s' lacks '%s'", i,
                  err ? err : "(null)", cases[i].needle);
    }
    /* Too many header lines in one part. */
    char body[4096] = "------cwtest7MA4YWxk\r\n";
    for (int i = 0; i < 40; i++) strcat(body, "X-Junk: 1\r\n");
    strcat(body, "Content-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n------cwtest7MA4YWxk--");
    mp_part parts[2];
    size_t n;
    const char *err = NULL;
    CHECK(parse(body, parts, 2, &n, &err) == -1 && strstr(err, "too many header lines"));
}

/* Every prefix of a valid body either fails cleanly or parses the parts that
 * are complete; run under ASan this shows no read past the end. */
static void test_every_truncation(void)
{
    static const char full[] =
        "------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
        "Content-Type: audio/wav\r\n\r\n"
        "RIFF....WAVE"
        "\r\n------cwtest7MA4YWxk\r\n"
        "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
        "whisper-1"
        "\r\n------cwtest7MA4YWxk--\r\n";
    size_t len = sizeof full - 1;
    int ok = 0;
    for (size_t k = 0; k <= len; k++) {
        char *copy = malloc(k ? k : 1); /* exact size, so ASan sees any overrun */
        if (!copy) return;
        memcpy(copy, full, k);
        mp_part parts[4];
        size_t n = 0;
        const char *err = NULL;
        int rc = mp_parse(copy, k, B, parts, 4, &n, &err);
        if (rc == 0) {
            ok++;
            CHECK_EQ_INT(n, 2);
            CHECK(parts[1].len == 9 && memcmp(parts[1].data, "whisper-1", 9) == 0);
        } else {
            CHECK(err != NULL && *err);
        }
        free(copy);
    }
    /* Parses once the closing "--" is there: the last 2 bytes (CRLF of the
     * epilogue) are optional, so 3 prefixes succeed. */
    CHECK_EQ_INT(ok, 3);
}

static void test_json_writers(void)
{
    sbuf b = { 0 };
    sb_json_str(&b, "a\"b\\c\n\t\x01 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK_EQ_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    sb_free(&b);
    /* Invalid UTF-8 (a lone continuation byte, a truncated sequence, an
     * overlong form, a surrogate) becomes U+FFFD, one per bad byte. */
    sb_json_str(&b, "x\x80y\xe2\x82z\xc0\xafw\xed\xa0\x80");
    CHECK_EQ_STR(b.data, "\"x\\ufffdy\\ufffd\\ufffdz\\ufffd\\ufffdw\\ufffd\\ufffd\\ufffd\"");
    sb_free(&b);
    sb_json_str(&b, NULL);
    CHECK_EQ_STR(b.data, "null");
    sb_free(&b);
    /* Numbers read back exactly; integral ones keep a ".0" (OpenAI's 11.0). */
    sb_json_num(&b, 11.0);
    sb_puts(&b, " ");
    sb_json_num(&b, 0.1);
    sb_puts(&b, " ");
    sb_json_num(&b, -0.3775111304389106);
    sb_puts(&b, " ");
    sb_json_num(&b, 1e300);
    sb_puts(&b, " ");
    sb_json_num(&b, NAN);
    CHECK_EQ_STR(b.data, "11.0 0.1 -0.3775111304389106 1e+300 null");
    sb_free(&b);
    /* Growth past the first block, and printf past its small buffer. */
    for (int i = 0; i < 1000; i++) sb_printf(&b, "%04d", i);
    CHECK_EQ_INT(b.len, 4000);
    CHECK(!b.failed && memcmp(b.data + 3996, "0999", 4) == 0);
    char big[600];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sb_printf(&b, "[%s]", big);
    CHECK_EQ_INT(b.len, 4000 + 601);
    CHECK(b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
    sb_free(&b);
}

int main(void)
{
    RUN(test_boundary);
    RUN(test_curl_form);
    RUN(test_quoting_and_empty);
    RUN(test_long_filename_truncated);
    RUN(test_malformed);
    RUN(test_every_truncation);
    RUN(test_json_writers);
    return test_summary();
}
