/* The JSON reader: values, escapes, nesting, and clear errors on bad input. */
#include "test.h"
#include "util/error.h"
#include "util/json.h"

static cw_json *parse(const char *s)
{
    cw_json *j = NULL;
    cw_status st = cw_json_parse(s, strlen(s), "t.json", &j);
    CHECK_MSG(st == CW_OK, "parse failed: %s", cw_last_error());
    return j;
}

static void test_values(void)
{
    cw_json *j = parse(" {\"a\": 1.5e2, \"b\": [true, false, null, -0, 12], \"c\": \"x\\ty\"} ");
    if (!j) return;
    CHECK_EQ_INT(j->type, CW_JSON_OBJECT);
    CHECK_EQ_INT(j->n, 3);
    double a = 0;
    CHECK(cw_json_get_number(j, "a", &a) == 0);
    CHECK_NEAR(a, 150.0, 0);
    const cw_json *b = cw_json_get(j, "b");
    CHECK(b && b->type == CW_JSON_ARRAY && b->n == 5);
    if (b && b->n == 5) {
        CHECK_EQ_INT(b->items[0]->type, CW_JSON_TRUE);
        CHECK_EQ_INT(b->items[1]->type, CW_JSON_FALSE);
        CHECK_EQ_INT(b->items[2]->type, CW_JSON_NULL);
        CHECK_NEAR(b->items[4]->number, 12, 0);
    }
    CHECK_EQ_STR(cw_json_get_string(j, "c"), "x\ty");
    long v;
    CHECK(cw_json_get_int(j, "a", &v) == 0 && v == 150);
    CHECK(cw_json_get_int(j, "c", &v) == -1);
    CHECK(cw_json_get(j, "zz") == NULL);
    cw_json_free(j);
}

static void test_unicode_escapes(void)
{
    /* \u00e9 = é (2 bytes), \u4e2d = 中 (3), surrogate pair = 😀 (4), \u0000 kept. */
    cw_json *j = parse("[\"\\u00e9\\u4e2d\\ud83d\\ude00\", \"a\\u0000b\", \"\\ud800x\"]");
    if (!j) return;
    CHECK_EQ_STR(j->items[0]->str, "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
    CHECK_EQ_INT(j->items[1]->str_len, 3);
    CHECK(memcmp(j->items[1]->str, "a\0b", 3) == 0);
    CHECK_EQ_STR(j->items[2]->str, "\xEF\xBF\xBDx"); /* lone surrogate -> U+FFFD */
    cw_json_free(j);
}

static void test_bad_input(void)
{
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "[1 2]", "tru", "01x",
                         "{\"a\":1} x", "\"\\x\"", "[\"\x01\"]", "-", "1.", "1e"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cw_json *j = NULL;
        CHECK_FAILS(cw_json_parse(bad[i], strlen(bad[i]), "config.json", &j), CW_ERR_FORMAT,
                    "config.json: invalid JSON at line");
        CHECK(j == NULL);
    }
}

static void test_depth_cap(void)
{
    char buf[2 * (CW_JSON_MAX_DEPTH + 10) + 1];
    size_t n = 0;
    for (int i = 0; i < CW_JSON_MAX_DEPTH + 10; i++) buf[n++] = '[';
    for (int i = 0; i < CW_JSON_MAX_DEPTH + 10; i++) buf[n++] = ']';
    cw_json *j = NULL;
    CHECK_FAILS(cw_json_parse(buf, n, "deep.json", &j), CW_ERR_FORMAT, "nesting too deep");
}

static void test_error_position(void)
{
    cw_json *j = NULL;
    const char *s = "{\n  \"a\": 1,\n  \"b\": x\n}";
    CHECK_FAILS(cw_json_parse(s, strlen(s), "c.json", &j), CW_ERR_FORMAT, "line 3, column 8");
}

int main(void)
{
    RUN(test_values);
    RUN(test_unicode_escapes);
    RUN(test_bad_input);
    RUN(test_depth_cap);
    RUN(test_error_position);
    return test_summary();
}
