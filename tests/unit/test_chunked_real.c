/* The chunked long form on the real tiny.en model: ~70 s of consecutive
 * LJSpeech sentences (LJ001-0001...) joined in memory, transcribed by the
 * sequential reference mode and by the chunked mode with batch 1 and batch 4.
 * Both chunked transcripts must stay within a few WER points of the
 * sequential one against the reference text, and close to each other;
 * segment times must be monotone and inside the file. Prints the figures. */
#include "test.h"

#include <stdlib.h>

#include "cwhisper.h"
#include "eval/eval.h"
#include "util/file.h"

#define SET "speech/ljspeech-LJ001"

static double wer(const char *ref, const char *hyp)
{
    char *r = NULL, *h = NULL;
    cw_wer_counts c;
    CHECK_EQ_INT(cw_normalize(CW_NORM_ENGLISH, ref, &r), CW_OK);
    CHECK_EQ_INT(cw_normalize(CW_NORM_ENGLISH, hyp, &h), CW_OK);
    CHECK_EQ_INT(cw_wer_align(r, h, &c), CW_OK);
    free(r);
    free(h);
    return cw_wer_rate(&c);
}

/* Joins the set's first files until 70 s: *pcm malloc'ed, *ref the joined text. */
static void build_input(float **pcm, size_t *n, char **ref)
{
    cw_transcripts t;
    CHECK_EQ_INT(cw_transcripts_read(test_path("CW_SHARED_DIR", SET "/transcripts.txt"), &t), CW_OK);
    *pcm = NULL, *n = 0;
    size_t ref_len = 1;
    *ref = calloc(1, 1);
    for (size_t i = 0; i < t.n && *n < 70 * 16000; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, SET "/audio/%s.wav", t.items[i].id);
        float *x = NULL;
        size_t m = 0;
        CHECK_EQ_INT(cw_audio_load(test_path("CW_SHARED_DIR", rel), &x, &m), CW_OK);
        *pcm = realloc(*pcm, (*n + m) * sizeof **pcm);
        memcpy(*pcm + *n, x, m * sizeof *x);
        *n += m;
        free(x);
        ref_len += strlen(t.items[i].text) + 1;
        *ref = realloc(*ref, ref_len);
        strcat(strcat(*ref, " "), t.items[i].text);
    }
    cw_transcripts_free(&t);
}

static void check_times(const cw_result *r, const char *name)
{
    double prev = 0.0, dur = cw_result_duration(r);
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        CHECK_MSG(s->start >= prev - 1e-9 && s->end >= s->start && s->end <= dur + 1e-9,
                  "%s segment %zu: %.2f..%.2f after %.2f, file %.2f s", name, i, s->start, s->end, prev, dur);
        prev = s->end;
    }
}

/* Same segments, times and tokens? (Batch 4 runs the GEMMs with 4x the rows:
 * another blocking may round differently and flip a close argmax.) */
static int same_segments(const cw_result *a, const cw_result *b)
{
    if (cw_result_n_segments(a) != cw_result_n_segments(b)) return 0;
    for (size_t i = 0; i < cw_result_n_segments(a); i++) {
        const cw_segment *x = cw_result_segment(a, i), *y = cw_result_segment(b, i);
        if (x->start != y->start || x->end != y->end || x->n_tokens != y->n_tokens ||
            memcmp(x->tokens, y->tokens, x->n_tokens * sizeof *x->tokens))
            return 0;
    }
    return 1;
}

static void test_chunked_tiny_en(void)
{
    if (!cw_file_exists(test_path("CW_MODELS_DIR", "tiny.en/model.bin")) ||
        !cw_file_exists(test_path("CW_SHARED_DIR", SET "/transcripts.txt"))) {
        if (getenv("CI")) CHECK_MSG(0, "models/tiny.en or the speech set is missing");
        else printf("skipped: no model or speech\n");
        return;
    }
    float *pcm;
    size_t n;
    char *ref;
    build_input(&pcm, &n, &ref);
    cw_model *model = NULL;
    cw_context *ctx = NULL;
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = 2;
    CHECK_EQ_INT(cw_model_load(test_path("CW_MODELS_DIR", "tiny.en"), NULL, &model), CW_OK);
    CHECK_EQ_INT(cw_context_create(model, &cp, &ctx), CW_OK);
    cw_transcribe_params p = cw_transcribe_default_params();
    cw_result *seq = NULL, *b1 = NULL, *b4 = NULL, *seq2 = NULL;
    CHECK_EQ_INT(cw_transcribe_pcm(ctx, pcm, n, &p, &seq), CW_OK);
    p.long_form = CW_LONG_FORM_CHUNKED;
    CHECK_EQ_INT(cw_transcribe_pcm(ctx, pcm, n, &p, &b1), CW_OK);
    p.batch_size = 4; /* grows the context's net */
    CHECK_EQ_INT(cw_transcribe_pcm(ctx, pcm, n, &p, &b4), CW_OK);
    /* the grown net (same weights, new encoder and decoder) as before */
    cw_transcribe_params ps = cw_transcribe_default_params();
    CHECK_EQ_INT(cw_transcribe_pcm(ctx, pcm, n, &ps, &seq2), CW_OK);
    if (seq && seq2) CHECK_MSG(same_segments(seq, seq2), "sequential after the net grew differs from before");
    if (seq && b1 && b4) {
        double ws = wer(ref, cw_result_text(seq)), w1 = wer(ref, cw_result_text(b1)),
               w4 = wer(ref, cw_result_text(b4)), w14 = wer(cw_result_text(b1), cw_result_text(b4));
        printf("%.1f s: WER sequential %.2f%%, chunked b1 %.2f%%, chunked b4 %.2f%%, b1 vs b4 %.2f%% (%s)\n",
               (double)n / 16000.0, 100 * ws, 100 * w1, 100 * w4, 100 * w14,
               same_segments(b1, b4) ? "identical segments and tokens" : "segments differ");
        CHECK_MSG(w1 <= ws + 0.03 && w4 <= ws + 0.03, "chunked WER %.3f / %.3f vs sequential %.3f", w1, w4, ws);
        CHECK_MSG(w14 <= 0.02, "batch 1 and batch 4 differ by %.3f WER", w14);
        CHECK(cw_result_n_segments(b1) > 2);
        check_times(seq, "sequential");
        check_times(b1, "chunked b1");
        check_times(b4, "chunked b4");
    }
    cw_result_free(seq);
    cw_result_free(b1);
    cw_result_free(b4);
    cw_result_free(seq2);
    cw_context_free(ctx);
    cw_model_free(model);
    free(pcm);
    free(ref);
}

int main(void)
{
    RUN(test_chunked_tiny_en);
    return test_summary();
}
