/* The chunked long form (src/longform/chunked.c, merge.c): the
 * longest-common-sequence cut of _find_longest_common_sequence, the
 * _decode_asr stitching of chunk token streams (timestamps in the strides,
 * overlapping text, empty chunks, no timestamps, a dangling end), and the
 * whole loop on a scripted network: chunk plan, batches, mel windows and
 * their padding, segments on the file's timeline. And the merge against
 * transformers' own _decode_asr on real tiny.en chunk outputs
 * (tests/fixtures/make_chunked_merge_refs.py). */
#include <stdlib.h>

#include "longform/longform.h"
#include "fake_net.h"
#include "test.h"
#include "util/file.h"
#include "util/json.h"

#define TBE 50363 /* .en timestamp_begin */
#define EOT 50256
#define A(c) ((int32_t)((c) - 33)) /* printable ASCII -> GPT-2 single-byte token */

static void check_cut(const int32_t *l, size_t nl, const int32_t *r, size_t nr, size_t lm, size_t rm)
{
    size_t a = 99, b = 99;
    cw_lcs_cut(l, nl, r, nr, &a, &b);
    CHECK_EQ_INT(a, lm);
    CHECK_EQ_INT(b, rm);
}

/* Expected values worked out by the reference's rules (the midpoints of the
 * best aligned overlap; at least two matches). */
static void test_lcs_cut(void)
{
    int32_t l1[] = {1, 2, 3, 4, 5}, r1[] = {4, 5, 6, 7};
    check_cut(l1, 5, r1, 4, 4, 1); /* [1 2 3 4] + [5 6 7] */
    int32_t l2[] = {1, 2, 3}, r2[] = {7, 8};
    check_cut(l2, 3, r2, 2, 3, 0); /* no overlap: concatenation */
    int32_t r3[] = {3, 9};
    check_cut(l2, 3, r3, 2, 3, 0); /* one match is not enough */
    int32_t l4[] = {1, 2, 3, 4, 5, 6}, r4[] = {3, 4, 9, 6, 7, 8};
    check_cut(l4, 6, r4, 6, 4, 2); /* 3 of 4 aligned: [1 2 3 4] + [9 6 7 8] */
    int32_t l5[] = {5, 6, 7, 8}, r5[] = {5, 6, 7, 8, 9};
    check_cut(l5, 4, r5, 5, 2, 2); /* the whole left repeated: cut in its middle */
    check_cut(NULL, 0, r1, 4, 0, 0);
    check_cut(l1, 5, NULL, 0, 5, 0);
}

typedef struct {
    const char *text;
    double start, end;
} want_piece;

/* Feeds chunks to a merger and compares the pieces (text tokens as letters). */
static void run_merge(const int32_t *const *chunks, const size_t *n, const cw_chunk_span *spans, size_t n_chunks,
                      const want_piece *want, size_t n_want)
{
    cw_chunk_merger m;
    cw_chunk_merger_init(&m, TBE, EOT, 0.02);
    size_t got = 0;
    for (size_t c = 0; c <= n_chunks; c++) {
        cw_status s = c < n_chunks ? cw_chunk_merger_add(&m, chunks[c], n[c], &spans[c]) : cw_chunk_merger_finish(&m);
        CHECK_EQ_INT(s, CW_OK);
        for (size_t i = 0; i < m.n_pieces; i++, got++) {
            const cw_merge_piece *p = &m.pieces[i];
            char text[64];
            size_t k = 0;
            for (; k < p->n_tokens && k < 63; k++) text[k] = (char)(p->tokens[k] + 33);
            text[k] = 0;
            CHECK_MSG(got < n_want, "extra piece '%s'", text);
            if (got >= n_want) continue;
            CHECK_EQ_STR(text, want[got].text);
            if (isnan(want[got].start)) CHECK(isnan(p->start));
            else CHECK_NEAR(p->start, want[got].start, 1e-9);
            if (isnan(want[got].end)) CHECK(isnan(p->end));
            else CHECK_NEAR(p->end, want[got].end, 1e-9);
        }
        cw_chunk_merger_clear_pieces(&m);
    }
    CHECK_EQ_INT(got, n_want);
    cw_chunk_merger_free(&m);
}

/* Three 30 s chunks at 0, 20 and 40 s with 5 s strides: a segment crossing
 * each border, its text overlapping by two tokens; timestamps in the right
 * strides and the left ones are skipped. */
static void test_merge_overlaps(void)
{
    const int32_t c0[] = {TBE, A('a'), A('b'), TBE + 250, TBE + 250, A('c'), A('d'), A('e'), TBE + 1400};
    const int32_t c1[] = {TBE, A('d'), A('e'), A('f'), TBE + 300, TBE + 300, A('g'), TBE + 1000, TBE + 1000,
                          A('h'), A('i'), A('k'), TBE + 1450};
    const int32_t c2[] = {TBE, A('i'), A('k'), A('j'), TBE + 700};
    const int32_t *chunks[] = {c0, c1, c2};
    size_t n[] = {9, 13, 5};
    cw_chunk_span spans[] = {{0, 30, 0, 5}, {20, 30, 5, 5}, {40, 30, 5, 0}};
    want_piece want[] = {{"ab", 0, 5}, {"cdef", 5, 26}, {"g", 26, 40}, {"hikj", 40, 54}};
    run_merge(chunks, n, spans, 3, want, 4);
}

/* Timestamps: several trailing ones in the right stride are all skipped, and
 * the skip carries over to the next chunk's first timestamp (as _decode_asr's
 * flag does); an empty chunk in between forgets the dangling start; text
 * before the first kept timestamp joins that segment; a repeated opening
 * timestamp is ignored; a stream that ends without a closing timestamp gives
 * a piece with end NAN. */
static void test_merge_empty_and_dangling(void)
{
    const int32_t c0[] = {TBE, A('a'), TBE + 100, TBE + 100, TBE + 1300, TBE + 1300, TBE + 1400};
    const int32_t c2[] = {TBE, A('x'), TBE + 300, TBE + 300, A('y')};
    const int32_t *chunks[] = {c0, NULL, c2};
    size_t n[] = {7, 0, 5};
    cw_chunk_span spans[] = {{0, 30, 0, 5}, {20, 30, 5, 5}, {40, 25, 5, 0}};
    want_piece want[] = {{"a", 0, 2}, {"xy", 46, NAN}};
    run_merge(chunks, n, spans, 3, want, 2);
}

/* Without timestamps (or with none inside the chunks) every chunk's text is
 * merged at the end into one piece without times. */
static void test_merge_no_timestamps(void)
{
    const int32_t c0[] = {A('a'), A('b'), A('c'), A('d'), A('e')};
    const int32_t c1[] = {A('d'), A('e'), A('f'), A('g')};
    const int32_t c2[] = {A('x'), A('y')};
    const int32_t *chunks[] = {c0, c1, c2};
    size_t n[] = {5, 4, 2};
    cw_chunk_span spans[] = {{0, 30, 0, 5}, {20, 30, 5, 5}, {40, 30, 5, 0}};
    want_piece want[] = {{"abcdefgxy", NAN, NAN}};
    run_merge(chunks, n, spans, 3, want, 1);
    want_piece none[1] = {{NULL, 0, 0}};
    run_merge(chunks, (size_t[]){0, 0, 0}, spans, 3, none, 0); /* all empty: nothing */
}

/* A repeated opening timestamp does not close the segment (_decode_asr's
 * "duplicate token" rule); special tokens other than timestamps are ignored. */
static void test_merge_duplicate_start(void)
{
    const int32_t c0[] = {TBE + 50, TBE + 50, A('a'), EOT + 3, A('b'), TBE + 150};
    const int32_t *chunks[] = {c0};
    size_t n[] = {6};
    cw_chunk_span spans[] = {{10, 12, 0, 0}};
    want_piece want[] = {{"ab", 11, 13}};
    run_merge(chunks, n, spans, 1, want, 1);
}

static int32_t *json_ints(const cw_json *a, size_t *n)
{
    *n = a ? a->n : 0;
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = (int32_t)a->items[i]->number;
    return v;
}

static void check_case(const cw_json *c)
{
    const char *name = cw_json_get_string(c, "name");
    const cw_json *chunks = cw_json_get(c, "chunks"), *want = cw_json_get(c, "pieces");
    cw_chunk_merger m;
    cw_chunk_merger_init(&m, TBE, EOT, 0.02);
    size_t got = 0;
    for (size_t k = 0; k <= chunks->n; k++) {
        if (k < chunks->n) {
            const cw_json *ch = chunks->items[k], *st = cw_json_get(ch, "stride");
            size_t n;
            int32_t *toks = json_ints(cw_json_get(ch, "tokens"), &n);
            cw_chunk_span span = {0, st->items[0]->number, st->items[1]->number, st->items[2]->number};
            cw_json_get_number(ch, "start", &span.start);
            CHECK_EQ_INT(cw_chunk_merger_add(&m, toks, n, &span), CW_OK);
            free(toks);
        } else {
            CHECK_EQ_INT(cw_chunk_merger_finish(&m), CW_OK);
        }
        for (size_t i = 0; i < m.n_pieces; i++, got++) {
            CHECK_MSG(got < want->n, "%s: extra piece %zu", name, got);
            if (got >= want->n) continue;
            const cw_json *w = want->items[got], *ws = cw_json_get(w, "start"), *we = cw_json_get(w, "end");
            const cw_merge_piece *p = &m.pieces[i];
            if (ws->type == CW_JSON_NULL) CHECK(isnan(p->start));
            else CHECK_MSG(p->start == ws->number, "%s piece %zu: start %.2f, reference %.2f", name, got, p->start, ws->number);
            if (we->type == CW_JSON_NULL) CHECK(isnan(p->end));
            else CHECK_MSG(p->end == we->number, "%s piece %zu: end %.2f, reference %.2f", name, got, p->end, we->number);
            size_t n;
            int32_t *wt = json_ints(cw_json_get(w, "tokens"), &n);
            CHECK_MSG(n == p->n_tokens && (n == 0 || memcmp(wt, p->tokens, n * sizeof *wt) == 0),
                      "%s piece %zu: tokens differ from _decode_asr's", name, got);
            free(wt);
        }
        cw_chunk_merger_clear_pieces(&m);
    }
    CHECK_MSG(got == want->n, "%s: %zu pieces, reference %zu", name, got, want->n);
    cw_chunk_merger_free(&m);
}

static void test_merge_matches_transformers(void)
{
    char *text = NULL;
    size_t len = 0;
    cw_json *ref = NULL;
    if (cw_file_read_all(test_path("CW_FIXTURES_DIR", "decode/chunked_merge_refs.json"), 0, &text, &len) ||
        cw_json_parse(text, len, "chunked_merge_refs.json", &ref)) {
        CHECK_MSG(0, "fixture: %s", cw_last_error());
        free(text);
        return;
    }
    const cw_json *cases = cw_json_get(ref, "cases");
    CHECK(cases && cases->n >= 2);
    for (size_t i = 0; cases && i < cases->n; i++) check_case(cases->items[i]);
    cw_json_free(ref);
    free(text);
}

/* ---- the loop on a scripted network ----------------------------------------- */

typedef struct {
    long start;      /* chunk start frame (mel[0][start] = start + 1) */
    int32_t toks[16];
    size_t n;
} chunk_script;

typedef struct {
    const cw_special_tokens *sp;
    const chunk_script *c;
    size_t n_c;
} ch_script;

static void ch_logits(void *user, size_t run, const float *audio, const int32_t *hist, size_t len, float *out)
{
    (void)run;
    const ch_script *s = user;
    fake_fill(out, (size_t)s->sp->n_vocab, -INFINITY);
    long start = (long)audio[0] - 1;
    const chunk_script *c = NULL;
    for (size_t i = 0; i < s->n_c; i++) if (s->c[i].start == start) c = &s->c[i];
    size_t n0 = 0;
    while (n0 < len && hist[n0] != s->sp->sot) n0++;
    size_t step = len - n0 - 1; /* .en with timestamps: [sot] only */
    /* no script: one timestamp (the rules force one first), then the end */
    out[c && step < c->n ? c->toks[step] : step == 0 ? s->sp->timestamp_begin : s->sp->eot] = 0.0f;
}

static void test_chunked_loop(void)
{
    cw_special_tokens sp = fake_specials(0);
    const chunk_script cs[] = {
        {0, {TBE, A('a'), A('b'), TBE + 250, TBE + 250, A('c'), A('d'), A('e'), TBE + 1400}, 9},
        {2000, {TBE, A('d'), A('e'), A('f'), TBE + 300, TBE + 300, A('g'), TBE + 1000, TBE + 1000, A('h'), A('i'),
                A('k'), TBE + 1450}, 13},
        {4000, {TBE, A('i'), A('k'), A('j'), TBE + 700}, 5},
    };
    ch_script script = {&sp, cs, 3};
    size_t content = 6500, n_frames = content + 3000;
    float *mel = malloc(2 * n_frames * sizeof *mel);
    for (size_t t = 0; t < n_frames; t++) {
        mel[t] = t < content ? (float)(t + 1) : -0.5f;
        mel[n_frames + t] = 0.25f;
    }
    for (size_t batch = 1; batch <= 4; batch++) {
        fake_decoder *dec = calloc(1, sizeof *dec);
        dec->n_vocab = (size_t)sp.n_vocab;
        dec->fn = ch_logits;
        dec->user = &script;
        cw_decoder_net net = fake_decoder_net(dec);
        fake_encoder es = {.n_mels = 2};
        cw_encoder_net enc = {&es, 2, fake_encode};
        fake_codec_ctx cc = {sp.n_text};
        cw_text_codec codec = {&cc, fake_codec_decode, fake_codec_encode, NULL};
        cw_chunked_params p = cw_chunked_default_params();
        p.batch_size = batch;
        cw_longform_result r;
        CHECK_EQ_INT(cw_transcribe_chunked(&enc, &net, &sp, &codec, mel, n_frames, &p, &r), CW_OK);
        CHECK_EQ_INT(es.calls, (3 + batch - 1) / batch);
        CHECK_EQ_INT(dec->run_nseq[0], batch < 3 ? batch : 3);
        CHECK_EQ_INT(dec->errors, 0);
        /* the last chunk (4000..7000) reads 500 frames of the zero tail's log-mel */
        CHECK_NEAR(es.out[(2 % batch)][1], -0.5, 0);
        CHECK_NEAR(r.duration, 65.0, 1e-12);
        CHECK_EQ_INT(r.n_segments, 4);
        const char *texts[] = {"ab", "cdef", "g", "hikj"};
        double times[] = {0, 5, 26, 40, 54};
        long seeks[] = {0, 0, 2000, 2000};
        for (size_t i = 0; i < 4 && i < r.n_segments; i++) {
            CHECK_EQ_STR(r.segments[i].text, texts[i]);
            CHECK_NEAR(r.segments[i].start, times[i], 1e-9);
            CHECK_NEAR(r.segments[i].end, times[i + 1], 1e-9);
            CHECK_EQ_INT(r.segments[i].seek, seeks[i]);
            CHECK_EQ_INT(r.segments[i].id, i);
        }
        CHECK_EQ_STR(r.text, "abcdefghikj");
        CHECK_EQ_INT(r.language_token, -1);
        cw_longform_result_free(&r);
        free(dec);
    }
    free(mel);
}

/* Shorter chunks are padded with 0.0 past chunk_length; bad lengths fail. */
static void test_chunked_lengths(void)
{
    cw_special_tokens sp = fake_specials(0);
    ch_script script = {&sp, NULL, 0};
    size_t content = 2500, n_frames = content + 3000;
    float *mel = malloc(2 * n_frames * sizeof *mel);
    for (size_t t = 0; t < 2 * n_frames; t++) mel[t] = 1.0f;
    fake_decoder *dec = calloc(1, sizeof *dec);
    dec->n_vocab = (size_t)sp.n_vocab;
    dec->fn = ch_logits;
    dec->user = &script;
    cw_decoder_net net = fake_decoder_net(dec);
    fake_encoder es = {.n_mels = 2};
    cw_encoder_net enc = {&es, 2, fake_encode};
    fake_codec_ctx cc = {sp.n_text};
    cw_text_codec codec = {&cc, fake_codec_decode, fake_codec_encode, NULL};
    cw_chunked_params p = cw_chunked_default_params();
    p.batch_size = 8;
    p.chunk_length = 10; /* stride 10/6 s: step 1000 - 2 * 167 = 666 frames -> 4 chunks */
    cw_longform_result r;
    CHECK_EQ_INT(cw_transcribe_chunked(&enc, &net, &sp, &codec, mel, n_frames, &p, &r), CW_OK);
    CHECK_EQ_INT(es.calls, 1);
    CHECK_EQ_INT(dec->run_nseq[0], 4);
    CHECK_NEAR(es.out[0][2], 1000.0, 1e-3); /* 1000 frames of 1.0, then zeros */
    CHECK_NEAR(es.out[0][1], 0.0, 0);
    CHECK_EQ_INT(r.n_segments, 0);
    CHECK_EQ_STR(r.text, "");
    cw_longform_result_free(&r);
    p.chunk_length = 10, p.stride_length = 5;
    CHECK_FAILS(cw_transcribe_chunked(&enc, &net, &sp, &codec, mel, n_frames, &p, &r), CW_ERR_INVALID_ARG, "stride");
    p.chunk_length = 31, p.stride_length = 0;
    CHECK_FAILS(cw_transcribe_chunked(&enc, &net, &sp, &codec, mel, n_frames, &p, &r), CW_ERR_INVALID_ARG, "chunk");
    free(dec);
    free(mel);
}

int main(void)
{
    RUN(test_lcs_cut);
    RUN(test_merge_overlaps);
    RUN(test_merge_empty_and_dangling);
    RUN(test_merge_no_timestamps);
    RUN(test_merge_duplicate_start);
    RUN(test_merge_matches_transformers);
    RUN(test_chunked_loop);
    RUN(test_chunked_lengths);
    return test_summary();
}
