/* Beam search with patience, exactly as openai/whisper decoding.py
 * BeamSearchDecoder: per audio, the top beam_size+1 log-probabilities of each
 * live beam become candidates keyed by their whole token sequence (a later
 * duplicate overwrites score and source but keeps the first one's place, as a
 * Python dict), ranked by a stable descending sort; candidates ending in eot
 * are finished, the others the next beams until beam_size are kept. Finished
 * sets hold max_candidates = round(beam_size * patience) sequences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_internal.h"
#include "util/error.h"

cw_status cw_candidate_push(cw_candidate_set *set, const int32_t *tokens, size_t len, float score)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        cw_candidate *items = cw_realloc(set->items, cap * sizeof *items);
        if (!items) return CW_ERR_NOMEM;
        set->items = items;
        set->cap = cap;
    }
    int32_t *copy = cw_malloc((len ? len : 1) * sizeof *copy);
    if (!copy) return CW_ERR_NOMEM;
    if (len) memcpy(copy, tokens, len * sizeof *copy);
    set->items[set->n++] = (cw_candidate){copy, len, score};
    return CW_OK;
}

void cw_candidate_set_free(cw_candidate_set *set)
{
    for (size_t i = 0; i < set->n; i++) free(set->items[i].tokens);
    free(set->items);
    memset(set, 0, sizeof *set);
}

cw_status cw_beam_init(cw_beam_state *b, size_t n_audio, size_t beam_size, double patience)
{
    memset(b, 0, sizeof *b);
    double p = patience > 0 ? patience : 1.0;
    double mc = nearbyint((double)beam_size * p); /* Python round(): half to even */
    if (beam_size == 0 || !(mc > 0))
        return cw_error(CW_ERR_INVALID_ARG, "decode: invalid beam size (%zu) or patience (%g)",
                        beam_size, patience);
    b->beam_size = beam_size;
    b->max_candidates = (size_t)mc;
    b->finished = cw_calloc(n_audio, sizeof *b->finished);
    return b->finished ? CW_OK : CW_ERR_NOMEM;
}

void cw_beam_free(cw_beam_state *b, size_t n_audio)
{
    if (b->finished)
        for (size_t i = 0; i < n_audio; i++) cw_candidate_set_free(&b->finished[i]);
    free(b->finished);
    b->finished = NULL;
}

/* One step-1 candidate: source row and appended token; its key is
 * row(source)[0..len) + token. */
typedef struct {
    size_t source;
    int32_t token;
    float score;
    size_t order; /* insertion order, for the stable sort */
} beam_cand;

/* Indices of the k largest values of x [n], descending, lower index first on
 * ties (torch.topk on CPU). idx [k]. */
static void topk(const float *x, size_t n, size_t k, size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == k && !(x[i] > x[idx[k - 1]])) continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && x[i] > x[idx[j - 1]]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
}

static int same_key(const cw_seqs *s, const beam_cand *a, size_t src, int32_t tok)
{
    if (a->token != tok) return 0;
    if (a->source == src) return 1;
    return memcmp(s->tokens + a->source * s->cap, s->tokens + src * s->cap,
                  s->len * sizeof(int32_t)) == 0;
}

static int cand_cmp(const void *pa, const void *pb)
{
    const beam_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* STEP 1 for audio i: candidates from each live beam, deduplicated by key. */
static size_t collect_candidates(const cw_beam_state *b, const cw_seqs *s, size_t audio,
                                 const float *logits, size_t n_vocab, float *logprobs,
                                 size_t *top, beam_cand *cands)
{
    size_t nc = 0, k = b->beam_size + 1 < n_vocab ? b->beam_size + 1 : n_vocab;
    for (size_t j = 0; j < b->beam_size; j++) {
        size_t idx = audio * b->beam_size + j;
        cw_log_softmax(logits + idx * n_vocab, n_vocab, logprobs);
        topk(logprobs, n_vocab, k, top);
        for (size_t t = 0; t < k; t++) {
            float score = s->sum_logprobs[idx] + logprobs[top[t]];
            int32_t tok = (int32_t)top[t];
            size_t c = 0;
            while (c < nc && !same_key(s, &cands[c], idx, tok)) c++;
            if (c == nc) { cands[nc] = (beam_cand){idx, tok, score, nc}; nc++; }
            else { cands[c].source = idx; cands[c].score = score; }
        }
    }
    qsort(cands, nc, sizeof *cands, cand_cmp);
    return nc;
}

/* STEP 2 for one audio: new beams into rows [audio*beam_size ...) of
 * s->scratch; newly finished candidates (already best first) into the
 * audio's finished set while it holds fewer than max_candidates. */
static cw_status select_beams(cw_beam_state *b, cw_seqs *s, size_t audio, const beam_cand *cands,
                              size_t nc, int32_t eot, float *new_sums, size_t *sources)
{
    size_t saved = 0;
    cw_candidate_set *fin = &b->finished[audio];
    for (size_t c = 0; c < nc && saved < b->beam_size; c++) {
        const int32_t *src = s->tokens + cands[c].source * s->cap;
        if (cands[c].token == eot) {
            if (fin->n >= b->max_candidates) continue; /* the candidate list is full */
            int32_t *tmp = cw_malloc((s->len + 1) * sizeof *tmp);
            if (!tmp) return CW_ERR_NOMEM;
            memcpy(tmp, src, s->len * sizeof *tmp);
            tmp[s->len] = eot;
            cw_status st = cw_candidate_push(fin, tmp, s->len + 1, cands[c].score);
            free(tmp);
            if (st != CW_OK) return st;
        } else {
            size_t dst = audio * b->beam_size + saved++;
            int32_t *row = s->scratch + dst * s->cap;
            memcpy(row, src, s->len * sizeof *row);
            row[s->len] = cands[c].token;
            new_sums[dst] = cands[c].score;
            sources[dst] = cands[c].source;
        }
    }
    if (saved != b->beam_size) return cw_error(CW_ERR_INTERNAL, "beam search: too few candidates");
    return CW_OK;
}

cw_status cw_beam_update(cw_beam_state *b, cw_seqs *s, const float *logits, size_t n_vocab,
                         int32_t eot, const cw_decoder_net *net, int *completed)
{
    if (s->n_seq != s->n_audio * b->beam_size || s->len + 1 > s->cap)
        return cw_error(CW_ERR_INTERNAL, "beam search: bad batch");
    size_t k = b->beam_size + 1, max_c = b->beam_size * k;
    float *logprobs = cw_malloc(n_vocab * sizeof *logprobs);
    size_t *top = cw_malloc(k * sizeof *top), *sources = cw_malloc(s->n_seq * sizeof *sources);
    beam_cand *cands = cw_malloc(max_c * sizeof *cands);
    float *new_sums = cw_malloc(s->n_seq * sizeof *new_sums);
    cw_status st = (logprobs && top && sources && cands && new_sums) ? CW_OK : CW_ERR_NOMEM;
    for (size_t a = 0; st == CW_OK && a < s->n_audio; a++) {
        size_t nc = collect_candidates(b, s, a, logits, n_vocab, logprobs, top, cands);
        st = select_beams(b, s, a, cands, nc, eot, new_sums, sources);
    }
    if (st == CW_OK) {
        int32_t *t = s->tokens;
        s->tokens = s->scratch;
        s->scratch = t;
        s->len++;
        memcpy(s->sum_logprobs, new_sums, s->n_seq * sizeof *new_sums);
        int identity = 1;
        for (size_t i = 0; i < s->n_seq; i++) identity &= sources[i] == i;
        if (!identity) st = net->reorder(net->ctx, sources, s->n_seq);
        *completed = 1;
        for (size_t a = 0; a < s->n_audio; a++)
            if (b->finished[a].n < b->max_candidates) *completed = 0;
    }
    free(logprobs); free(top); free(sources); free(cands); free(new_sums);
    return st;
}

/* Ascending stable argsort of v [n] into idx [n] (insertion sort; n = beam_size). */
static void argsort_stable(const float *v, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && v[idx[j - 1]] > v[i]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
}

/* BeamSearchDecoder.finalize: when an audio has fewer than beam_size finished
 * sequences, add live beams + eot by descending score
 * (list(np.argsort(sum_logprobs[i]))[::-1]; ties: higher index first). */
cw_status cw_beam_finalize(cw_beam_state *b, const cw_seqs *s, int32_t eot)
{
    size_t *idx = cw_malloc(b->beam_size * sizeof *idx);
    int32_t *tmp = cw_malloc((s->len + 1) * sizeof *tmp);
    cw_status st = (idx && tmp) ? CW_OK : CW_ERR_NOMEM;
    for (size_t a = 0; st == CW_OK && a < s->n_audio; a++) {
        cw_candidate_set *fin = &b->finished[a];
        if (fin->n >= b->beam_size) continue;
        const float *sums = s->sum_logprobs + a * b->beam_size;
        argsort_stable(sums, b->beam_size, idx);
        for (size_t r = b->beam_size; st == CW_OK && r-- > 0;) {
            size_t row = a * b->beam_size + idx[r];
            memcpy(tmp, s->tokens + row * s->cap, s->len * sizeof *tmp);
            tmp[s->len] = eot;
            st = cw_candidate_push(fin, tmp, s->len + 1, sums[idx[r]]);
            if (fin->n >= b->beam_size) break;
        }
    }
    free(idx);
    free(tmp);
    return st;
}
