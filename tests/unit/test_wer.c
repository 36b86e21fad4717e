/* Word error rate: hand-computed alignments, corpus totals, and agreement with
 * jiwer on tests/fixtures/normalizer/wer_pairs.json; transcript file reading. */
#include "test.h"
#include "eval/eval.h"
#include "util/file.h"
#include "util/json.h"

#include <stdlib.h>

static cw_wer_counts align(const char *ref, const char *hyp)
{
    cw_wer_counts c;
    CHECK(cw_wer_align(ref, hyp, &c) == CW_OK);
    return c;
}

static void test_hand_cases(void)
{
    cw_wer_counts c = align("the cat sat on the mat", "the cat sat on mat");
    CHECK_EQ_INT(c.del, 1);
    CHECK_EQ_INT(c.sub + c.ins, 0);
    CHECK_EQ_INT(c.ref_words, 6);
    c = align("a b c d", "a x c d e"); /* b->x, +e */
    CHECK_EQ_INT(c.sub, 1);
    CHECK_EQ_INT(c.ins, 1);
    CHECK_EQ_INT(c.del, 0);
    CHECK_EQ_INT(c.hits, 3);
    CHECK_NEAR(cw_wer_rate(&c), 0.5, 1e-12);
    c = align("one two three", "");
    CHECK_EQ_INT(c.del, 3);
    CHECK_NEAR(cw_wer_rate(&c), 1.0, 1e-12);
    c = align("", "extra words");
    CHECK_EQ_INT(c.ins, 2);
    CHECK(cw_wer_rate(&c) < 0); /* undefined with no reference words */
    c = align("  spaced \t out\nwords ", "spaced out words");
    CHECK_EQ_INT(c.hits, 3);
    CHECK_EQ_INT(c.sub + c.del + c.ins, 0);
    c = align("café", "cafe"); /* words compare exactly */
    CHECK_EQ_INT(c.sub, 1);
}

static void test_corpus_total(void)
{
    cw_wer_counts total = {0};
    cw_wer_counts a = align("a b c d", "a b c d"), b = align("e f", "e g h");
    cw_wer_add(&total, &a);
    cw_wer_add(&total, &b);
    CHECK_EQ_INT(total.ref_words, 6);
    CHECK_EQ_INT(total.sub + total.del + total.ins, 2);
    CHECK_NEAR(cw_wer_rate(&total), 2.0 / 6.0, 1e-12); /* not the mean of per-file rates */
}

static void test_against_jiwer(void)
{
    char *text = NULL;
    size_t len = 0;
    const char *path = test_path("CW_FIXTURES_DIR", "normalizer/wer_pairs.json");
    CHECK(cw_file_read_all(path, 0, &text, &len) == CW_OK);
    cw_json *root = NULL;
    CHECK(text && cw_json_parse(text, len, path, &root) == CW_OK);
    size_t same_total = 0, same_split = 0, n = root ? root->n : 0;
    for (size_t i = 0; i < n; i++) {
        const cw_json *p = root->items[i];
        long s = 0, d = 0, ins = 0, hits = 0;
        double wer = 0;
        CHECK(cw_json_get_int(p, "sub", &s) == 0 && cw_json_get_int(p, "del", &d) == 0 &&
              cw_json_get_int(p, "ins", &ins) == 0 && cw_json_get_int(p, "hits", &hits) == 0 &&
              cw_json_get_number(p, "wer", &wer) == 0);
        cw_wer_counts c = align(cw_json_get_string(p, "ref"), cw_json_get_string(p, "hyp"));
        CHECK_NEAR(cw_wer_rate(&c), wer, 1e-12);
        same_total += (long)(c.sub + c.del + c.ins) == s + d + ins;
        int split = (long)c.sub == s && (long)c.del == d && (long)c.ins == ins && (long)c.hits == hits;
        CHECK_MSG(split, "pair %zu: S/D/I %zu/%zu/%zu, jiwer %ld/%ld/%ld", i, c.sub, c.del, c.ins, s, d, ins);
        same_split += split;
    }
    printf("jiwer pairs: %zu of %zu same edit total, %zu same S/D/I split\n", same_total, n, same_split);
    CHECK(n >= 40);
    CHECK_EQ_INT(same_total, n);
    CHECK_EQ_INT(same_split, n);
    cw_json_free(root);
    free(text);
}

static void test_transcripts(void)
{
    const char *p = test_write_file("t.txt", "a1 Hello world\n\nb2\tsecond  line\r\nc3\n", 36);
    cw_transcripts t;
    CHECK(cw_transcripts_read(p, &t) == CW_OK);
    CHECK_EQ_INT(t.n, 3);
    if (t.n == 3) {
        CHECK_EQ_STR(t.items[0].id, "a1");
        CHECK_EQ_STR(t.items[0].text, "Hello world");
        CHECK_EQ_STR(t.items[1].text, "second  line");
        CHECK_EQ_STR(t.items[2].text, "");
        CHECK(cw_transcripts_find(&t, "b2") == &t.items[1]);
    }
    cw_transcripts_free(&t);
    const char *bad = test_write_file("bad.txt", "a1 x\n no id here\n", 17);
    CHECK_FAILS(cw_transcripts_read(bad, &t), CW_ERR_FORMAT, "bad.txt: line 2");
    const char *dup = test_write_file("dup.txt", "a1 x\na1 y\n", 10);
    CHECK_FAILS(cw_transcripts_read(dup, &t), CW_ERR_FORMAT, "repeats");
    CHECK(cw_transcripts_read(test_path("CW_FIXTURES_DIR", "no/such/file.txt"), &t) != CW_OK);
    const char *refs = test_path("CW_SHARED_DIR", "speech/librispeech-test-other-100/transcripts.txt");
    CHECK(cw_transcripts_read(refs, &t) == CW_OK);
    CHECK_EQ_INT(t.n, 100);
    cw_transcripts_free(&t);
}

int main(void)
{
    RUN(test_hand_cases);
    RUN(test_corpus_total);
    RUN(test_against_jiwer);
    RUN(test_transcripts);
    return test_summary();
}
