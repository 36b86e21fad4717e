/* `cwhisper eval --refs R --hyps H`: corpus word error rate of hypothesis
 * transcripts against references, both "<file-id> <text>" per line, after
 * Whisper's text normaliser. The scoring itself lives in src/eval/. */
#include "cli.h"
#include "eval/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *refs, *hyps;
    cw_normalizer norm;
    int verbose;
} eval_args;

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: cwhisper eval --refs REFS --hyps HYPS [--normalizer english|basic|none] [--verbose]\n"
               "  REFS, HYPS: one '<file-id> <text>' per line; every id in REFS is scored\n"
               "  (a missing hypothesis counts as all deletions). Default normaliser: english.\n");
}

/* Returns 0 on success, 2 on a usage error (one line printed), 1 for --help. */
static int parse_args(int argc, char **argv, eval_args *a)
{
    memset(a, 0, sizeof(*a));
    a->norm = CW_NORM_ENGLISH;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return 1;
        if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) { a->verbose = 1; continue; }
        if (!has_val) { fprintf(stderr, "cwhisper eval: %s needs a value\n", o); return 2; }
        const char *v = argv[++i];
        if (!strcmp(o, "--refs")) a->refs = v;
        else if (!strcmp(o, "--hyps")) a->hyps = v;
        else if (!strcmp(o, "--normalizer")) {
            if (!strcmp(v, "english")) a->norm = CW_NORM_ENGLISH;
            else if (!strcmp(v, "basic")) a->norm = CW_NORM_BASIC;
            else if (!strcmp(v, "none")) a->norm = CW_NORM_NONE;
            else { fprintf(stderr, "cwhisper eval: unknown normalizer '%s' (english, basic, none)\n", v); return 2; }
        } else {
            fprintf(stderr, "cwhisper eval: unknown option '%s'\n", o);
            return 2;
        }
    }
    if (!a->refs || !a->hyps) {
        fprintf(stderr, "cwhisper eval: --refs and --hyps are required (see cwhisper eval --help)\n");
        return 2;
    }
    return 0;
}

static void print_rate(FILE *f, const cw_wer_counts *c)
{
    double r = cw_wer_rate(c);
    if (r < 0) fprintf(f, "WER n/a");
    else fprintf(f, "WER %.2f%%", 100.0 * r);
}

/* Normalises both sides of one file and aligns them. */
static cw_status score_one(const eval_args *a, const char *ref, const char *hyp, cw_wer_counts *c)
{
    char *nr = NULL, *nh = NULL;
    cw_status st = cw_normalize(a->norm, ref, &nr);
    if (st == CW_OK) st = cw_normalize(a->norm, hyp, &nh);
    if (st == CW_OK) st = cw_wer_align(nr, nh, c);
    free(nr);
    free(nh);
    return st;
}

static int score_all(const eval_args *a, const cw_transcripts *refs, const cw_transcripts *hyps)
{
    cw_wer_counts total = {0};
    for (size_t i = 0; i < refs->n; i++) {
        const cw_transcript *r = &refs->items[i], *h = cw_transcripts_find(hyps, r->id);
        if (!h) {
            fprintf(stderr, "cwhisper eval: %s: no hypothesis for '%s' (counted as deletions)\n", a->hyps, r->id);
        }
        cw_wer_counts c;
        if (score_one(a, r->text, h ? h->text : "", &c) != CW_OK) {
            fprintf(stderr, "cwhisper eval: %s\n", cw_last_error());
            return 1;
        }
        cw_wer_add(&total, &c);
        if (a->verbose) {
            printf("%s ", r->id);
            print_rate(stdout, &c);
            printf(" (S %zu, D %zu, I %zu, N %zu)%s\n", c.sub, c.del, c.ins, c.ref_words, h ? "" : " missing");
        }
    }
    if (total.ref_words == 0) {
        fprintf(stderr, "cwhisper eval: %s: the references have no words after normalisation\n", a->refs);
        return 1;
    }
    size_t extra = 0;
    for (size_t i = 0; i < hyps->n; i++) extra += cw_transcripts_find(refs, hyps->items[i].id) == NULL;
    if (extra) fprintf(stderr, "cwhisper eval: %s: %zu hypotheses have no reference (ignored)\n", a->hyps, extra);
    print_rate(stdout, &total);
    printf(" (%zu substitutions, %zu deletions, %zu insertions, %zu reference words, %zu files)\n",
           total.sub, total.del, total.ins, total.ref_words, refs->n);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) {
        eval_usage(stdout);
        return 0;
    }
    if (rc) return rc; /* the one-line reason is printed; no usage dump */
    cw_transcripts refs = {0}, hyps = {0};
    if (cw_transcripts_read(a.refs, &refs) != CW_OK || cw_transcripts_read(a.hyps, &hyps) != CW_OK) {
        fprintf(stderr, "cwhisper eval: %s\n", cw_last_error());
        cw_transcripts_free(&refs);
        return 1;
    }
    if (refs.n == 0) {
        fprintf(stderr, "cwhisper eval: %s: no transcripts in the reference file\n", a.refs);
        rc = 1;
    } else {
        rc = score_all(&a, &refs, &hyps);
    }
    cw_transcripts_free(&refs);
    cw_transcripts_free(&hyps);
    return rc;
}
