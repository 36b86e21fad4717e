/* Stitching the token sequences of overlapping chunks into segments, as the
 * Hugging Face ASR pipeline does for Whisper (transformers
 * models/whisper/tokenization_whisper.py _decode_asr and
 * _find_longest_common_sequence), which whisper-jax uses unchanged:
 *   - a pair of timestamps outside the strides closes a segment;
 *   - timestamps inside a chunk's right stride (and always its last one) are
 *     skipped: the next chunk, which hears that audio with context on both
 *     sides, resolves them; timestamps inside the left stride are skipped
 *     while text from the previous chunk is pending;
 *   - the text runs of the chunks a segment spans are joined by sliding each
 *     run over the previous one and cutting both at the middle of the best
 *     aligned overlap.
 * Times are on the file's timeline: a chunk's timestamp tokens plus the
 * chunk's start (the pipeline's time_offset), rounded to 10 ms as it does.
 * The merge is incremental (one chunk at a time, in order), so the caller
 * never holds more than one batch of decoded chunks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "longform/longform.h"
#include "util/error.h"

cw_status cw_token_run_push(cw_token_run *a, const int32_t *x, size_t n)
{
    if (a->n + n > a->cap) {
        size_t cap = a->cap ? a->cap : 64;
        while (cap < a->n + n) cap *= 2;
        int32_t *v = cw_realloc(a->v, cap * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        a->v = v;
        a->cap = cap;
    }
    if (n) memcpy(a->v + a->n, x, n * sizeof *x);
    a->n += n;
    return CW_OK;
}

/* _find_longest_common_sequence (whisper version, without word timestamps)
 * for one pair: every overlap i = 1 .. nl + nr - 1 of the end of left with
 * the start of right; score = matches / i + i / 10000 (the epsilon favours
 * long perfect matches), kept only with more than one match; the first best
 * wins. No match: plain concatenation (left_mid = nl, right_mid = 0). */
void cw_lcs_cut(const int32_t *left, size_t nl, const int32_t *right, size_t nr, size_t *left_mid,
                size_t *right_mid)
{
    double best = 0.0;
    size_t ls_best = nl, le_best = nl, rs_best = 0, re_best = 0;
    for (size_t i = 1; i < nl + nr; i++) {
        size_t ls = nl > i ? nl - i : 0;
        size_t le = nl + nr - i < nl ? nl + nr - i : nl;
        size_t rs = i > nl ? i - nl : 0;
        size_t re = i < nr ? i : nr;
        size_t matches = 0;
        for (size_t k = 0; k < le - ls; k++) matches += left[ls + k] == right[rs + k];
        double score = (double)matches / (double)i + (double)i / 10000.0;
        if (matches > 1 && score > best) {
            best = score;
            ls_best = ls, le_best = le, rs_best = rs, re_best = re;
        }
    }
    *left_mid = (ls_best + le_best) / 2;
    *right_mid = (rs_best + re_best) / 2;
}

/* The pending runs folded pairwise left to right into one token list. */
static cw_status resolve_runs(const cw_chunk_merger *m, cw_token_run *out)
{
    memset(out, 0, sizeof *out);
    if (m->n_runs == 0) return CW_OK;
    const int32_t *left = m->runs[0].v;
    size_t nl = m->runs[0].n;
    for (size_t r = 1; r < m->n_runs; r++) {
        size_t lm, rm;
        cw_lcs_cut(left, nl, m->runs[r].v, m->runs[r].n, &lm, &rm);
        if (cw_token_run_push(out, left, lm)) return CW_ERR_NOMEM;
        left = m->runs[r].v + rm;
        nl = m->runs[r].n - rm;
    }
    return cw_token_run_push(out, left, nl);
}

static void clear_runs(cw_chunk_merger *m)
{
    for (size_t r = 0; r < m->n_runs; r++) free(m->runs[r].v);
    m->n_runs = 0;
}

/* previous_tokens.append(current_tokens); current starts empty. */
static cw_status close_run(cw_chunk_merger *m)
{
    if (m->n_runs == m->cap_runs) {
        size_t cap = m->cap_runs ? 2 * m->cap_runs : 4;
        cw_token_run *v = cw_realloc(m->runs, cap * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        m->runs = v;
        m->cap_runs = cap;
    }
    m->runs[m->n_runs++] = m->current;
    memset(&m->current, 0, sizeof m->current);
    return CW_OK;
}

/* Resolves the pending runs into a piece [seg_start, end]. */
static cw_status emit(cw_chunk_merger *m, double end)
{
    if (m->n_pieces == m->cap_pieces) {
        size_t cap = m->cap_pieces ? 2 * m->cap_pieces : 8;
        cw_merge_piece *v = cw_realloc(m->pieces, cap * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        m->pieces = v;
        m->cap_pieces = cap;
    }
    cw_token_run t;
    cw_status rc = resolve_runs(m, &t);
    if (rc) {
        free(t.v);
        return rc;
    }
    m->pieces[m->n_pieces++] = (cw_merge_piece){t.v, t.n, m->has_start ? m->seg_start : NAN, end,
                                                m->start_chunk};
    clear_runs(m);
    m->has_start = 0;
    return CW_OK;
}

void cw_chunk_merger_init(cw_chunk_merger *m, int32_t timestamp_begin, int32_t eot, double time_precision)
{
    memset(m, 0, sizeof *m);
    m->timestamp_begin = timestamp_begin;
    m->eot = eot;
    m->time_precision = time_precision;
}

/* The pipeline's "last_timestamp": scanning back from the end, the earliest
 * of the trailing timestamps that lie in the right stride, and at least the
 * very last timestamp. -1: none (no right stride, or no timestamp). */
static int32_t right_stride_timestamp(const cw_chunk_merger *m, const int32_t *tokens, size_t n,
                                      double right_stride_start)
{
    int32_t last = -1;
    for (size_t i = n; i-- > 0;) {
        int32_t t = tokens[i];
        if (t < m->timestamp_begin) continue;
        if (last >= 0 && (double)(t - m->timestamp_begin) * m->time_precision < right_stride_start) break;
        last = t;
    }
    return last;
}

cw_status cw_chunk_merger_add(cw_chunk_merger *m, const int32_t *tokens, size_t n, const cw_chunk_span *c)
{
    const int32_t tb = m->timestamp_begin;
    /* Timestamps below first_ts fall in the left stride. */
    double first_ts = c->stride_left > 0 ? c->stride_left / m->time_precision + tb : tb;
    int32_t last_ts = c->stride_right > 0 ? right_stride_timestamp(m, tokens, n, c->length - c->stride_right) : -1;
    cw_status rc = CW_OK;
    for (size_t i = 0; rc == CW_OK && i < n; i++) {
        int32_t t = tokens[i];
        if (t < m->eot) {
            rc = cw_token_run_push(&m->current, &t, 1);
            continue;
        }
        if (t < tb) continue; /* other special tokens */
        double time = nearbyint((c->start + (double)(t - tb) * m->time_precision) * 100.0) / 100.0;
        if (last_ts >= 0 && t >= last_ts) {
            m->skip = 1; /* in the right stride: the next chunk resolves it */
        } else if (m->skip || (m->n_runs > 0 && (double)t < first_ts)) {
            m->skip = 0;
        } else if (!m->has_start) {
            m->seg_start = time;
            m->has_start = 1;
            m->start_chunk = m->n_chunks;
        } else if (time != m->seg_start) { /* equal: a repeated opening timestamp */
            rc = close_run(m);
            if (rc == CW_OK) rc = emit(m, time);
        }
    }
    if (rc) return rc;
    if (m->current.n > 0) rc = close_run(m);
    else if (m->n_runs == 0) m->has_start = 0; /* nothing pending: forget a dangling start */
    m->n_chunks++;
    return rc;
}

cw_status cw_chunk_merger_finish(cw_chunk_merger *m)
{
    if (m->current.n > 0) {
        cw_status rc = close_run(m);
        if (rc) return rc;
    }
    return m->n_runs > 0 ? emit(m, NAN) : CW_OK;
}

void cw_chunk_merger_clear_pieces(cw_chunk_merger *m)
{
    for (size_t i = 0; i < m->n_pieces; i++) free(m->pieces[i].tokens);
    m->n_pieces = 0;
}

void cw_chunk_merger_free(cw_chunk_merger *m)
{
    if (!m) return;
    cw_chunk_merger_clear_pieces(m);
    free(m->pieces);
    clear_runs(m);
    free(m->runs);
    free(m->current.v);
    memset(m, 0, sizeof *m);
}
