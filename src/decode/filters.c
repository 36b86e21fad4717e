/* Logit filters applied to the last position's logits before each token
 * choice, in the reference order SuppressBlank -> SuppressTokens ->
 * ApplyTimestampRules, exactly as openai/whisper decoding.py (the classes of
 * the same names and DecodingTask._get_suppress_tokens). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_internal.h"
#include "util/error.h"
#include "util/vmath.h"

/* tokenizer.py Tokenizer.non_speech_tokens, computed from the shipped
 * tiktoken files (whisper-reference.md §5; checked against the installed
 * openai-whisper). */
static const int32_t k_non_speech_multilingual[] = {
    1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93,
    359, 503, 522, 542, 873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246,
    3253, 3268, 3536, 3846, 3961, 4183, 4667, 6585, 6647, 7273, 9061, 9383, 10428, 10929,
    11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618, 16553, 16604, 18362,
    18956, 20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470,
    36865, 42863, 47425, 49870, 50254};
static const int32_t k_non_speech_gpt2[] = {
    1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93,
    357, 366, 438, 532, 685, 705, 796, 930, 1058, 1220, 1267, 1279, 1303, 1343, 1377, 1391,
    1635, 1782, 1875, 2162, 2361, 2488, 3467, 4008, 4211, 4600, 4808, 5299, 5855, 6329,
    7203, 9609, 9959, 10563, 10786, 11420, 11709, 11907, 13163, 13697, 13700, 14808, 15306,
    16410, 16791, 17992, 19203, 19510, 20724, 22305, 22935, 27007, 30109, 30420, 33409,
    34949, 40283, 40493, 40549, 47282, 49146};

const int32_t *cw_non_speech_tokens(int multilingual, size_t *n)
{
    if (multilingual) {
        *n = sizeof k_non_speech_multilingual / sizeof k_non_speech_multilingual[0];
        return k_non_speech_multilingual;
    }
    *n = sizeof k_non_speech_gpt2 / sizeof k_non_speech_gpt2[0];
    return k_non_speech_gpt2;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Appends ids[0..n) to *dst (capacity ensured by the caller). */
static void append_ids(int32_t *dst, size_t *n_dst, const int32_t *ids, size_t n)
{
    if (n) memcpy(dst + *n_dst, ids, n * sizeof *ids);
    *n_dst += n;
}

/* DecodingTask._get_suppress_tokens: "-1" -> non_speech_tokens (or the model
 * config's suppress_ids), plus the listed ids, plus transcribe, translate, sot,
 * startofprev, startoflm and nospeech; sorted and unique. An empty
 * suppress_tokens disables the filter altogether (the reference tests the
 * option's truthiness), so no specials are added then either. */
static cw_status build_suppress_ids(cw_logit_filters *f, const cw_special_tokens *sp,
                                    const cw_decode_options *o)
{
    size_t n_ns = 0;
    const int32_t *ns = NULL;
    if (o->suppress_non_speech) {
        if (o->config_suppress_ids) {
            ns = o->config_suppress_ids;
            n_ns = o->n_config_suppress_ids;
        } else {
            ns = cw_non_speech_tokens(sp->multilingual, &n_ns);
        }
    }
    if (!o->suppress_non_speech && o->n_suppress_tokens == 0) return CW_OK;
    size_t cap = n_ns + o->n_suppress_tokens + 6, n = 0;
    int32_t *ids = cw_malloc(cap * sizeof *ids);
    if (!ids) return CW_ERR_NOMEM;
    append_ids(ids, &n, ns, n_ns);
    for (size_t i = 0; i < o->n_suppress_tokens; i++)
        if (o->suppress_tokens[i] >= 0) ids[n++] = o->suppress_tokens[i];
    int32_t specials[6] = {sp->transcribe, sp->translate, sp->sot, sp->startofprev,
                           sp->startoflm, sp->nospeech};
    for (size_t i = 0; i < 6; i++)
        if (specials[i] >= 0) ids[n++] = specials[i];
    qsort(ids, n, sizeof *ids, cmp_i32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= (int32_t)f->n_vocab) continue; /* ids past the vocabulary: nothing to mask */
        if (u == 0 || ids[u - 1] != ids[i]) ids[u++] = ids[i];
    }
    f->suppress_ids = ids;
    f->n_suppress = u;
    return CW_OK;
}

/* SuppressBlank ids: encode(" ") + [eot] = [220, eot], or config suppress_ids_begin. */
static cw_status build_blank_ids(cw_logit_filters *f, const cw_special_tokens *sp,
                                 const cw_decode_options *o)
{
    if (!o->suppress_blank) return CW_OK;
    size_t n = o->config_suppress_ids_begin ? o->n_config_suppress_ids_begin : 2;
    f->blank_ids = cw_malloc((n ? n : 1) * sizeof *f->blank_ids);
    if (!f->blank_ids) return CW_ERR_NOMEM;
    if (o->config_suppress_ids_begin) {
        append_ids(f->blank_ids, &f->n_blank, o->config_suppress_ids_begin, n);
    } else {
        f->blank_ids[0] = 220; /* tiktoken encode(" ") in both vocabularies */
        f->blank_ids[1] = sp->eot;
        f->n_blank = 2;
    }
    return CW_OK;
}

cw_status cw_filters_init(cw_logit_filters *f, const cw_special_tokens *sp,
                          const cw_decode_options *o, size_t sample_begin, size_t n_vocab)
{
    memset(f, 0, sizeof *f);
    f->sp = sp;
    f->n_vocab = n_vocab;
    f->sample_begin = sample_begin;
    f->max_initial_timestamp_index = -1;
    cw_status st = build_blank_ids(f, sp, o);
    if (st == CW_OK) st = build_suppress_ids(f, sp, o);
    if (st != CW_OK) {
        cw_filters_free(f);
        return st;
    }
    f->timestamp_rules = !o->without_timestamps;
    /* precision = CHUNK_LENGTH / n_audio_ctx; index = round(max_initial_timestamp / precision)
     * (Python round: half to even, as nearbyint in the default rounding mode). */
    if (f->timestamp_rules && o->max_initial_timestamp > 0 && o->n_audio_ctx > 0) {
        double precision = 30.0 / (double)o->n_audio_ctx;
        f->max_initial_timestamp_index = (long)nearbyint(o->max_initial_timestamp / precision);
    }
    return CW_OK;
}

void cw_filters_free(cw_logit_filters *f)
{
    free(f->blank_ids);
    free(f->suppress_ids);
    f->blank_ids = NULL;
    f->suppress_ids = NULL;
    f->n_blank = f->n_suppress = 0;
}

static void mask_range(float *logits, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) logits[i] = -INFINITY;
}

/* SuppressBlank.apply: only at the first sampled step. */
void cw_suppress_blank_apply(const cw_logit_filters *f, float *logits, size_t len)
{
    if (!f->blank_ids || len != f->sample_begin) return;
    for (size_t i = 0; i < f->n_blank; i++)
        if (f->blank_ids[i] >= 0 && (size_t)f->blank_ids[i] < f->n_vocab)
            logits[f->blank_ids[i]] = -INFINITY;
}

/* SuppressTokens.apply. */
void cw_suppress_tokens_apply(const cw_logit_filters *f, float *logits)
{
    for (size_t i = 0; i < f->n_suppress; i++) logits[f->suppress_ids[i]] = -INFINITY;
}

/* ApplyTimestampRules pairing and monotonicity rules for one row. */
static void timestamp_pairs(const cw_logit_filters *f, float *logits, const int32_t *seq, size_t n)
{
    const int32_t tb = f->sp->timestamp_begin;
    int last_ts = n >= 1 && seq[n - 1] >= tb;
    int penult_ts = n < 2 || seq[n - 2] >= tb;
    if (last_ts) {
        if (penult_ts) mask_range(logits, (size_t)tb, f->n_vocab); /* has to be text */
        else mask_range(logits, 0, (size_t)f->sp->eot);           /* cannot be text */
    }
    /* timestamps must not decrease, and a segment must have non-zero length */
    for (size_t i = n; i-- > 0;) {
        if (seq[i] < tb) continue;
        int32_t bound = (last_ts && !penult_ts) ? seq[i] : seq[i] + 1;
        if ((size_t)bound > f->n_vocab) bound = (int32_t)f->n_vocab;
        mask_range(logits, (size_t)tb, (size_t)bound);
        break;
    }
}

/* "if sum of probability over timestamps is above any other token, sample
 * timestamp": logsumexp(log_softmax(masked)[TB:]) > max(log_softmax(masked)[:TB]). */
static void timestamp_mass_rule(const cw_logit_filters *f, float *logits)
{
    const size_t tb = (size_t)f->sp->timestamp_begin, n = f->n_vocab;
    float mx = cw_vmax(logits, n);
    if (mx == -INFINITY) return;
    float lse = (float)(mx + log(cw_vsum_exp(logits, n, mx, 0.0f)));
    /* max(x[i] - lse) = max(x) - lse: the rounded difference is monotonic in x */
    size_t split = tb < n ? tb : n;
    float text_max = split ? cw_vmax(logits, split) - lse : -INFINITY;
    float ts_max = n > split ? cw_vmax(logits + split, n - split) - lse : -INFINITY;
    float ts_lse = -INFINITY;
    if (ts_max > -INFINITY) ts_lse = (float)(ts_max + log(cw_vsum_exp(logits + split, n - split, lse, ts_max)));
    if (ts_lse > text_max) mask_range(logits, 0, tb);
}

/* ApplyTimestampRules.apply for one row, every rule in the reference order. */
void cw_timestamp_rules_apply(const cw_logit_filters *f, float *logits,
                              const int32_t *tokens, size_t len)
{
    const cw_special_tokens *sp = f->sp;
    if (sp->notimestamps >= 0) logits[sp->notimestamps] = -INFINITY;
    size_t begin = f->sample_begin < len ? f->sample_begin : len;
    timestamp_pairs(f, logits, tokens + begin, len - begin);
    if (len == f->sample_begin) {
        /* suppress non-timestamp tokens at the beginning, and max_initial_timestamp */
        mask_range(logits, 0, (size_t)sp->timestamp_begin);
        if (f->max_initial_timestamp_index >= 0) {
            size_t last_allowed = (size_t)sp->timestamp_begin + (size_t)f->max_initial_timestamp_index;
            if (last_allowed + 1 < f->n_vocab) mask_range(logits, last_allowed + 1, f->n_vocab);
        }
    }
    timestamp_mass_rule(f, logits);
}

void cw_filters_apply(const cw_logit_filters *f, float *logits, const int32_t *tokens, size_t len)
{
    cw_suppress_blank_apply(f, logits, len);
    cw_suppress_tokens_apply(f, logits);
    if (f->timestamp_rules) cw_timestamp_rules_apply(f, logits, tokens, len);
}
