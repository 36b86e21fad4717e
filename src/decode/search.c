/* DecodingTask.run from openai/whisper decoding.py: initial tokens, the
 * main loop (forward, logit filters, token choice) over a batch of
 * n_audio * n_group sequences, finalisation, MaximumLikelihoodRanker and the
 * per-window result (text, avg_logprob, no_speech_prob, compression ratio). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_internal.h"
#include "util/error.h"

cw_decode_options cw_decode_default_options(void)
{
    cw_decode_options o;
    memset(&o, 0, sizeof o);
    o.language_token = -1;
    o.length_penalty = NAN;
    o.suppress_blank = 1;
    o.suppress_non_speech = 1;
    o.max_initial_timestamp = 1.0;
    o.n_text_ctx = 448;
    o.n_audio_ctx = 1500;
    return o;
}

void cw_decode_result_free(cw_decode_result *r)
{
    if (!r) return;
    free(r->tokens);
    free(r->text);
    r->tokens = NULL;
    r->text = NULL;
    r->n_tokens = 0;
}

/* DecodingTask._verify_options. */
static cw_status verify_options(const cw_decode_options *o)
{
    if (o->beam_size && o->best_of)
        return cw_error(CW_ERR_INVALID_ARG, "decode: beam_size and best_of can't be given together");
    if (o->temperature == 0 && o->best_of)
        return cw_error(CW_ERR_INVALID_ARG, "decode: best_of with greedy sampling (T=0) is not compatible");
    if (o->patience > 0 && !o->beam_size)
        return cw_error(CW_ERR_INVALID_ARG, "decode: patience requires beam_size to be given");
    if (!isnan(o->length_penalty) && !(o->length_penalty >= 0 && o->length_penalty <= 1))
        return cw_error(CW_ERR_INVALID_ARG, "decode: length_penalty (alpha) should be a value between 0 and 1");
    if (o->temperature < 0 || o->n_text_ctx < 4)
        return cw_error(CW_ERR_INVALID_ARG, "decode: invalid temperature or n_text_ctx");
    return CW_OK;
}

/* Start index of Python's list[-m:] for a list of n items (m may be <= 0). */
static size_t py_tail_start(size_t n, long m)
{
    if (m > 0) return (size_t)m >= n ? 0 : n - (size_t)m;
    if (m == 0) return 0;
    return (size_t)(-m) >= n ? n : (size_t)(-m);
}

/* DecodingTask._get_initial_tokens: [startofprev, prompt[-(n_ctx//2-1):]] +
 * sot_sequence (+ notimestamps) + prefix[-(n_ctx//2 - sample_len):] (the
 * reference's quirk: with the defaults that is prefix[-0:], i.e. all of it).
 * out must hold n_prompt + n_prefix + 5 ids. */
static size_t initial_tokens(const cw_special_tokens *sp, const cw_decode_options *o,
                             int32_t language, size_t sample_len, int32_t *out, size_t *sot_index)
{
    size_t n = 0;
    if (o->n_prompt > 0) {
        size_t from = py_tail_start(o->n_prompt, (long)(o->n_text_ctx / 2) - 1);
        out[n++] = sp->startofprev;
        for (size_t i = from; i < o->n_prompt; i++) out[n++] = o->prompt[i];
    }
    *sot_index = n;
    out[n++] = sp->sot;
    if (sp->multilingual) {
        out[n++] = language;
        out[n++] = o->translate ? sp->translate : sp->transcribe;
    }
    if (o->without_timestamps) out[n++] = sp->notimestamps;
    if (o->n_prefix > 0) {
        long max_prefix = (long)(o->n_text_ctx / 2) - (long)sample_len;
        for (size_t i = py_tail_start(o->n_prefix, max_prefix); i < o->n_prefix; i++)
            out[n++] = o->prefix[i];
    }
    return n;
}

static cw_status seqs_init(cw_seqs *s, size_t n_audio, size_t n_group, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->n_audio = n_audio;
    s->n_group = n_group;
    s->n_seq = n_audio * n_group;
    s->cap = cap;
    size_t cells;
    if (cw_mul_size(s->n_seq, cap, &cells)) return cw_error(CW_ERR_NOMEM, "decode: batch too large");
    s->tokens = cw_calloc(cells, sizeof *s->tokens);
    s->scratch = cw_calloc(cells, sizeof *s->scratch);
    s->sum_logprobs = cw_calloc(s->n_seq, sizeof *s->sum_logprobs);
    return (s->tokens && s->scratch && s->sum_logprobs) ? CW_OK : CW_ERR_NOMEM;
}

static void seqs_free(cw_seqs *s)
{
    free(s->tokens);
    free(s->scratch);
    free(s->sum_logprobs);
}

/* softmax(raw logits at sot_index)[nospeech], float32 as the reference's .tolist(). */
static double no_speech_prob(const float *x, size_t n, int32_t nospeech)
{
    if (nospeech < 0 || (size_t)nospeech >= n) return NAN;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return (double)(float)(exp((double)x[nospeech] - mx) / sum);
}

/* Everything one main loop needs. */
typedef struct {
    const cw_decode_env *env;
    const cw_decode_options *o;
    size_t n_group, sample_len, sot_index, n_vocab;
    cw_seqs seqs;
    cw_logit_filters filters;
    cw_beam_state beam;
    int use_beam;
    float *logits, *extra;                    /* [n_seq, n_vocab] each */
    int32_t *input_ids;                       /* [n_seq, len] forward input */
    size_t *live, n_live;                     /* [n_seq]: the rows still in the net, in its order */
    size_t *source;                           /* [n_seq] reorder scratch */
    double *no_speech;                        /* [n_audio] */
} search_state;

/* The no-speech probability of every audio, from the extra logits of the first pass. */
static void take_no_speech(search_state *st)
{
    for (size_t a = 0; a < st->seqs.n_audio; a++)
        st->no_speech[a] = no_speech_prob(st->extra + a * st->n_group * st->n_vocab, st->n_vocab,
                                          st->env->sp->nospeech);
}

/* One forward pass: the whole initial rows first, then the last token. */
static cw_status step_forward(search_state *st, size_t step)
{
    const cw_decoder_net *net = st->env->net;
    cw_seqs *s = &st->seqs;
    size_t k = step == 0 ? s->len : 1;
    for (size_t j = 0; j < st->n_live; j++)
        memcpy(st->input_ids + j * k, s->tokens + st->live[j] * s->cap + (s->len - k), k * sizeof(int32_t));
    cw_status rc = net->forward(net->ctx, st->input_ids, st->n_live, k, st->logits,
                                step == 0 ? st->sot_index : CW_NO_POS, st->extra);
    if (rc != CW_OK || step != 0) return rc;
    take_no_speech(st);
    return CW_OK;
}

/* Greedy at T = 0: rows that ended in eot leave the net's batch (their
 * later tokens are eot whatever the logits, as the reference's), so a batch
 * of windows costs what its unfinished rows cost. The others' results do not
 * change: every row's arithmetic is its own. At T > 0 every row stays, so
 * that the draws of the generator do not depend on when rows finish. */
static cw_status drop_finished(search_state *st)
{
    const cw_seqs *s = &st->seqs;
    int32_t eot = st->env->sp->eot;
    size_t n = 0;
    for (size_t j = 0; j < st->n_live; j++)
        if (s->tokens[st->live[j] * s->cap + s->len - 1] != eot) {
            st->source[n] = j;
            st->live[n++] = st->live[j];
        }
    if (n == st->n_live || n == 0) {
        st->n_live = n ? n : st->n_live;
        return CW_OK;
    }
    st->n_live = n;
    return st->env->net->reorder(st->env->net->ctx, st->source, n);
}

/* The rest of a main-loop iteration once st->logits hold the forward's:
 * logit filters, token choice, and whether the loop ends (*stop). */
static cw_status after_forward(search_state *st, int compact, int *stop)
{
    const cw_decode_env *env = st->env;
    cw_seqs *s = &st->seqs;
    for (size_t j = 0; j < st->n_live; j++)
        cw_filters_apply(&st->filters, st->logits + j * st->n_vocab, s->tokens + st->live[j] * s->cap, s->len);
    int completed = 0;
    cw_status rc;
    if (st->use_beam)
        rc = cw_beam_update(&st->beam, s, st->logits, st->n_vocab, env->sp->eot, env->net, &completed);
    else
        rc = cw_greedy_update(s, st->logits, compact ? st->live : NULL, st->n_live, st->n_vocab,
                              st->o->temperature, env->sp->eot, env->rng, &completed);
    *stop = completed || s->len > st->o->n_text_ctx;
    return rc;
}

/* DecodingTask._main_loop. */
static cw_status main_loop(search_state *st)
{
    const cw_decode_env *env = st->env;
    cw_seqs *s = &st->seqs;
    int compact = !st->use_beam && st->o->temperature == 0 && s->n_seq > 1;
    st->n_live = s->n_seq;
    for (size_t r = 0; r < s->n_seq; r++) st->live[r] = r;
    cw_status rc = env->net->reset(env->net->ctx, s->n_seq, st->n_group);
    for (size_t i = 0; rc == CW_OK && i < st->sample_len; i++) {
        rc = step_forward(st, i);
        if (rc != CW_OK) break;
        int stop = 0;
        rc = after_forward(st, compact, &stop);
        if (rc != CW_OK || stop) break;
        if (compact) rc = drop_finished(st);
    }
    return rc;
}

/* Number of sampled tokens of a finished row: from sample_begin to its first eot. */
static size_t sampled_length(const int32_t *row, size_t len, size_t begin, int32_t eot)
{
    size_t i = begin;
    while (i < len && row[i] != eot) i++;
    return i - begin;
}

/* MaximumLikelihoodRanker: argmax (first) of sum_logprob / penalty. */
size_t cw_rank_candidates(const cw_candidate_set *set, size_t begin, int32_t eot, double lp)
{
    size_t best = 0;
    double best_score = -INFINITY;
    for (size_t c = 0; c < set->n; c++) {
        double len = (double)sampled_length(set->items[c].tokens, set->items[c].len, begin, eot);
        double penalty = isnan(lp) ? len : pow((5.0 + len) / 6.0, lp);
        double score = (double)set->items[c].score / penalty;
        if (c == 0 || score > best_score) { best = c; best_score = score; }
    }
    return best;
}

static cw_status make_result(const search_state *st, const cw_candidate *c, size_t audio,
                             int32_t language, cw_decode_result *out)
{
    const cw_special_tokens *sp = st->env->sp;
    size_t begin = st->filters.sample_begin;
    size_t n = sampled_length(c->tokens, c->len, begin, sp->eot);
    memset(out, 0, sizeof *out);
    out->tokens = cw_malloc((n ? n : 1) * sizeof *out->tokens);
    if (!out->tokens) return CW_ERR_NOMEM;
    if (n) memcpy(out->tokens, c->tokens + begin, n * sizeof *out->tokens);
    out->n_tokens = n;
    const cw_text_codec *codec = st->env->codec;
    cw_status rc = codec->decode(codec->ctx, out->tokens, n, &out->text);
    if (rc != CW_OK) {
        cw_decode_result_free(out);
        return rc;
    }
    cw_strip_inplace(out->text);
    out->language_token = sp->multilingual ? language : -1;
    out->sum_logprob = c->score;
    out->avg_logprob = (double)c->score / (double)(n + 1);
    out->no_speech_prob = st->no_speech[audio];
    out->compression_ratio = cw_compression_ratio(out->text, strlen(out->text));
    out->temperature = st->o->temperature;
    return CW_OK;
}

/* Greedy finalize: every row of an audio's group, padded with eot. */
static cw_status greedy_candidates(const cw_seqs *s, size_t audio, int32_t eot, cw_candidate_set *set)
{
    int32_t *tmp = cw_malloc((s->len + 1) * sizeof *tmp);
    if (!tmp) return CW_ERR_NOMEM;
    cw_status rc = CW_OK;
    for (size_t g = 0; rc == CW_OK && g < s->n_group; g++) {
        size_t r = audio * s->n_group + g;
        memcpy(tmp, s->tokens + r * s->cap, s->len * sizeof *tmp);
        tmp[s->len] = eot;
        rc = cw_candidate_push(set, tmp, s->len + 1, s->sum_logprobs[r]);
    }
    free(tmp);
    return rc;
}

/* Finalize, rank and build out[n_audio]. */
static cw_status finish(search_state *st, const int32_t *languages, cw_decode_result *out)
{
    cw_seqs *s = &st->seqs;
    int32_t eot = st->env->sp->eot;
    cw_status rc = st->use_beam ? cw_beam_finalize(&st->beam, s, eot) : CW_OK;
    size_t done = 0;
    for (size_t a = 0; rc == CW_OK && a < s->n_audio; a++) {
        cw_candidate_set local = {0}, *set = st->use_beam ? &st->beam.finished[a] : &local;
        if (!st->use_beam) rc = greedy_candidates(s, a, eot, &local);
        if (rc == CW_OK && set->n == 0) rc = cw_error(CW_ERR_INTERNAL, "decode: no candidates");
        if (rc == CW_OK) {
            size_t best = cw_rank_candidates(set, st->filters.sample_begin, eot, st->o->length_penalty);
            rc = make_result(st, &set->items[best], a, languages[a], &out[a]);
            if (rc == CW_OK) done++;
        }
        cw_candidate_set_free(&local);
    }
    if (rc != CW_OK)
        for (size_t a = 0; a < done; a++) cw_decode_result_free(&out[a]);
    return rc;
}

static cw_status alloc_buffers(search_state *st, size_t n_init)
{
    size_t n_seq = st->seqs.n_seq, cells;
    if (cw_mul_size(n_seq, st->n_vocab, &cells)) return cw_error(CW_ERR_NOMEM, "decode: batch too large");
    st->logits = cw_malloc(cells * sizeof(float));
    st->extra = cw_malloc(cells * sizeof(float));
    st->input_ids = cw_malloc(n_seq * n_init * sizeof(int32_t));
    st->no_speech = cw_malloc(st->seqs.n_audio * sizeof(double));
    st->live = cw_malloc(n_seq * sizeof *st->live);
    st->source = cw_malloc(n_seq * sizeof *st->source);
    return (st->logits && st->extra && st->input_ids && st->no_speech && st->live && st->source) ? CW_OK
                                                                                               : CW_ERR_NOMEM;
}

static void free_state(search_state *st)
{
    seqs_free(&st->seqs);
    cw_filters_free(&st->filters);
    if (st->use_beam) cw_beam_free(&st->beam, st->seqs.n_audio);
    free(st->logits); free(st->extra); free(st->input_ids); free(st->no_speech);
    free(st->live); free(st->source);
}

/* Languages per audio: the option, or detect_language when it is -1
 * (multilingual only; decode() writes the token at sot_index + 1). */
static cw_status languages_for(const cw_decode_env *env, const cw_decode_options *o,
                               size_t n_audio, int32_t *langs)
{
    const cw_special_tokens *sp = env->sp;
    for (size_t a = 0; a < n_audio; a++)
        langs[a] = o->language_token >= 0 ? o->language_token : sp->lang_begin; /* "en" */
    if (!sp->multilingual || o->language_token >= 0) return CW_OK;
    return cw_detect_language(env->net, sp, n_audio, langs, NULL);
}

/* Everything of DecodingTask.run before the main loop: options, languages,
 * initial tokens, filters, buffers; st->langs [n_audio] is allocated here. */
static cw_status setup(search_state *st, const cw_decode_env *env, const cw_decode_options *o, size_t n_audio,
                       int32_t **langs_out)
{
    *langs_out = NULL;
    cw_status rc = verify_options(o);
    if (rc != CW_OK) return rc;
    if (n_audio == 0 || env->net->n_vocab != (size_t)env->sp->n_vocab)
        return cw_error(CW_ERR_INVALID_ARG, "decode: no audio or vocabulary size mismatch");
    memset(st, 0, sizeof *st);
    st->env = env;
    st->o = o;
    st->n_vocab = env->net->n_vocab;
    st->n_group = o->beam_size ? o->beam_size : o->best_of ? o->best_of : 1;
    st->sample_len = o->sample_len ? o->sample_len : o->n_text_ctx / 2;
    st->use_beam = o->beam_size > 0;
    int32_t *langs = cw_malloc(n_audio * sizeof *langs);
    int32_t *init = cw_malloc((o->n_prompt + o->n_prefix + 5) * sizeof *init);
    rc = (langs && init) ? languages_for(env, o, n_audio, langs) : CW_ERR_NOMEM;
    size_t n_init = 0;
    if (rc == CW_OK) {
        n_init = initial_tokens(env->sp, o, langs[0], st->sample_len, init, &st->sot_index);
        size_t steps = st->sample_len < o->n_text_ctx + 1 ? st->sample_len : o->n_text_ctx + 1;
        rc = seqs_init(&st->seqs, n_audio, st->n_group, n_init + steps + 1);
    }
    if (rc == CW_OK) rc = cw_filters_init(&st->filters, env->sp, o, n_init, st->n_vocab);
    if (rc == CW_OK && st->use_beam) rc = cw_beam_init(&st->beam, n_audio, o->beam_size, o->patience);
    if (rc == CW_OK) rc = alloc_buffers(st, n_init);
    if (rc == CW_OK) {
        for (size_t r = 0; r < st->seqs.n_seq; r++) {
            int32_t *row = st->seqs.tokens + r * st->seqs.cap;
            memcpy(row, init, n_init * sizeof *row);
            if (env->sp->multilingual) row[st->sot_index + 1] = langs[r / st->n_group];
        }
        st->seqs.len = n_init;
    }
    free(init);
    *langs_out = langs;
    return rc;
}

cw_status cw_decode_run(const cw_decode_env *env, const cw_decode_options *o,
                        size_t n_audio, cw_decode_result *out)
{
    search_state st;
    int32_t *langs = NULL;
    memset(&st, 0, sizeof st);
    cw_status rc = setup(&st, env, o, n_audio, &langs);
    if (rc == CW_OK) rc = main_loop(&st);
    if (rc == CW_OK) rc = finish(&st, langs, out);
    if (st.env) free_state(&st);
    free(langs);
    return rc;
}

/* ---- one window's decoding at temperature 0, step by step (lockstep) ------ */

struct cw_decode_task {
    search_state st;
    cw_decode_options o; /* st.o points here */
    /* st.env points here: env.net is the task's own, whose reorder (beam
     * search) records the moves for the caller to apply to its cache slots */
    cw_decode_env env;
    cw_decoder_net net;
    size_t *moves;       /* [n_seq] sources of this step's reorder */
    int moved;
    size_t cached;       /* positions in the rows' caches after the last pass */
    int32_t *langs;
    size_t step;
    int done;
};

static cw_status task_reorder(void *ctx, const size_t *source, size_t n_seq)
{
    cw_decode_task *t = ctx;
    if (n_seq != t->st.seqs.n_seq) return cw_error(CW_ERR_INTERNAL, "decode task: reorder of %zu rows", n_seq);
    memcpy(t->moves, source, n_seq * sizeof *source);
    t->moved = 1;
    return CW_OK;
}

cw_status cw_decode_task_begin(const cw_decode_env *env, const cw_decode_options *o, cw_decode_task **out)
{
    *out = NULL;
    if (o->temperature != 0 || o->best_of)
        return cw_error(CW_ERR_INVALID_ARG, "decode task: greedy or beam search at temperature 0 only");
    if (env->sp->multilingual && o->language_token < 0)
        return cw_error(CW_ERR_INVALID_ARG, "decode task: the language must be known");
    cw_decode_task *t = cw_calloc(1, sizeof *t);
    if (!t) return CW_ERR_NOMEM;
    t->o = *o;
    t->net = (cw_decoder_net){ .ctx = t, .n_vocab = env->net->n_vocab, .reorder = task_reorder };
    t->env = *env;
    t->env.net = &t->net;
    cw_status rc = setup(&t->st, &t->env, &t->o, 1, &t->langs);
    if (rc == CW_OK) {
        t->st.n_live = t->st.seqs.n_seq;
        for (size_t r = 0; r < t->st.n_live; r++) t->st.live[r] = r;
        t->moves = cw_malloc(t->st.seqs.n_seq * sizeof *t->moves);
        if (!t->moves) rc = CW_ERR_NOMEM;
    }
    if (rc != CW_OK) {
        cw_decode_task_free(t);
        return rc;
    }
    *out = t;
    return CW_OK;
}

size_t cw_decode_task_rows(const cw_decode_task *t) { return t->st.seqs.n_seq; }

void cw_decode_task_input(const cw_decode_task *t, size_t row, const int32_t **tokens, size_t *n_new, size_t *pos,
                          size_t *extra_pos)
{
    const cw_seqs *s = &t->st.seqs;
    size_t k = t->step == 0 ? s->len : 1;
    *tokens = s->tokens + row * s->cap + (s->len - k);
    *n_new = k;
    *pos = s->len - k;
    /* the no-speech probability reads the first row's only */
    *extra_pos = t->step == 0 && row == 0 ? t->st.sot_index : CW_NO_POS;
}

cw_status cw_decode_task_step(cw_decode_task *t, const float *logits, const float *extra, int *done)
{
    search_state *st = &t->st;
    if (t->done) return cw_error(CW_ERR_INVALID_ARG, "decode task: already finished");
    memcpy(st->logits, logits, st->seqs.n_seq * st->n_vocab * sizeof *st->logits);
    if (t->step == 0) {
        memcpy(st->extra, extra, st->n_vocab * sizeof *st->extra);
        take_no_speech(st);
    }
    t->cached = st->seqs.len;
    t->moved = 0;
    int stop = 0;
    cw_status rc = after_forward(st, 0, &stop);
    t->step++;
    t->done = rc != CW_OK || stop || t->step >= st->sample_len;
    *done = t->done;
    return rc;
}

const size_t *cw_decode_task_moves(const cw_decode_task *t, size_t *len)
{
    *len = t->cached;
    return t->moved ? t->moves : NULL;
}

cw_status cw_decode_task_end(cw_decode_task *t, cw_decode_result *out)
{
    cw_status rc = t->done ? finish(&t->st, t->langs, out)
                           : cw_error(CW_ERR_INVALID_ARG, "decode task: not finished");
    cw_decode_task_free(t);
    return rc;
}

void cw_decode_task_free(cw_decode_task *t)
{
    if (!t) return;
    if (t->st.env) free_state(&t->st);
    free(t->moves);
    free(t->langs);
    free(t);
}
