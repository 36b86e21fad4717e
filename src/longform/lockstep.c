/* OpenAI's sequential long-form algorithm on many files at once
 * (cw_transcribe_lockstep, longform.h). Each file is a sequential_file.h
 * state machine in a slot; every round, the windows that slots have just
 * cut are encoded in one encoder call (each window's cross-attention keys
 * and values computed into the slot's own window slot), and every slot
 * whose greedy temperature-0 decoding is under way feeds its next tokens
 * into one shared decoder pass (cw_slot_net.forward: the files' caches sit
 * at different lengths). Beam search steps there too, each beam an item in a
 * cache slot of its file's (group slots a file) where the net can move
 * caches between slots. The back end computes each file's rows as it would
 * alone, so tokens match a one-file run bit for bit; whatever does not step
 * at temperature 0 (fallback temperatures) runs on the side decoder for that
 * window by itself, as the one-file loop would run it. */
#include <stdlib.h>
#include <string.h>

#include "longform/longform.h"
#include "longform/sequential_file.h"
#include "util/error.h"


enum { SLOT_EMPTY = 0, SLOT_NEXT, SLOT_READY, SLOT_DECODING };

typedef struct {
    int state;
    size_t file;
    cw_mel_source *mel;
    cw_lf_file f;
    cw_longform_result out;
    cw_rng rng;
    cw_decode_task *task;
} ls_slot;

typedef struct {
    const cw_encoder_net *enc;
    const cw_slot_net *net;
    const cw_longform_params *p;
    const cw_lockstep_io *io;
    cw_decode_env env; /* env.net = net->side; rng per slot */
    uint64_t seed;
    size_t batch, n_files, next_file;
    /* cache slots per file (slot s's are [s * group, (s + 1) * group)): its
     * beams where they step in lockstep, else 1 */
    size_t group;
    ls_slot *slots;
    cw_slot_item *items; /* [batch * group] */
    size_t *who;         /* [batch] slot of window j */
    float *logits, *extra; /* [batch * group, n_vocab] */
} ls_state;

static void slot_clear(ls_slot *sl)
{
    cw_decode_task_free(sl->task);
    cw_lf_file_free(&sl->f);
    cw_longform_result_free(&sl->out);
    cw_mel_source_free(sl->mel);
    memset(sl, 0, sizeof *sl);
}

static void slot_fail(ls_state *L, ls_slot *sl, cw_status rc)
{
    L->io->done(L->io->user, sl->file, rc, NULL);
    slot_clear(sl);
}

static void slot_finish(ls_state *L, ls_slot *sl)
{
    cw_status rc = cw_lf_file_finish(&sl->f);
    if (rc != CW_OK) {
        slot_fail(L, sl, rc);
        return;
    }
    cw_longform_result out = sl->out;
    memset(&sl->out, 0, sizeof sl->out);
    L->io->done(L->io->user, sl->file, CW_OK, &out); /* the callee owns out now */
    slot_clear(sl);
}

/* The next unopened file into an empty slot; 0 when none is left. */
static int admit(ls_state *L, ls_slot *sl)
{
    while (L->next_file < L->n_files) {
        sl->file = L->next_file++;
        cw_status rc = L->io->open(L->io->user, sl->file, &sl->mel);
        if (rc == CW_OK) {
            cw_rng_seed(&sl->rng, L->seed);
            cw_decode_env env = L->env;
            env.rng = &sl->rng;
            rc = cw_lf_file_begin(&sl->f, L->enc, &env, sl->mel, L->p, &sl->out);
        }
        if (rc == CW_OK) {
            sl->state = SLOT_NEXT;
            return 1;
        }
        slot_fail(L, sl, rc); /* this file only; try the next one */
    }
    return 0;
}

/* A slot past its window: its next window, or the end of its file. */
static void advance(ls_state *L, ls_slot *sl)
{
    int has = 0;
    cw_status rc = cw_lf_file_next(&sl->f, &has);
    if (rc != CW_OK) slot_fail(L, sl, rc);
    else if (!has) slot_finish(L, sl);
    else sl->state = SLOT_READY;
}

/* The window's decoding done (r, consumed): the file moves on. */
static void window_done(ls_state *L, ls_slot *sl, cw_decode_result *r)
{
    cw_status rc = cw_lf_file_window_done(&sl->f, r);
    cw_decode_result_free(r);
    if (rc != CW_OK) slot_fail(L, sl, rc);
    else sl->state = SLOT_NEXT;
}

/* The first temperature of the fallback schedule (cw_decode_with_fallback's). */
static double first_temperature(const cw_fallback_options *fb)
{
    return fb->temperatures && fb->n_temperatures ? fb->temperatures[0] : fb->temperature_start;
}

/* Starts the decoding of slot s's window, now in window slot s: a decode
 * task when it steps greedily, else the whole fallback on the side decoder. */
static cw_status start_window(ls_state *L, size_t s)
{
    ls_slot *sl = &L->slots[s];
    const cw_fallback_options *fb = &L->p->fallback;
    if (sl->f.lang_pending) { /* detected on this window: the side decoder listens to it */
        cw_status rc = L->net->side_audio(L->net->ctx, s);
        if (rc != CW_OK) return rc; /* the shared net failed */
        rc = cw_lf_file_window_language(&sl->f);
        if (rc != CW_OK) {
            slot_fail(L, sl, rc);
            return CW_OK;
        }
    }
    cw_decode_options o = sl->f.o;
    o.temperature = first_temperature(fb);
    if (o.temperature > 0) o.beam_size = 0, o.patience = 0;
    else o.best_of = 0;
    if (o.temperature == 0 && (o.beam_size == 0 || o.beam_size == L->group)) {
        cw_status rc = cw_decode_task_begin(&sl->f.env, &o, &sl->task);
        if (rc != CW_OK) slot_fail(L, sl, rc);
        else sl->state = SLOT_DECODING;
        return CW_OK;
    }
    cw_status rc = L->net->side_audio(L->net->ctx, s);
    if (rc != CW_OK) return rc; /* the shared net failed */
    cw_decode_result r;
    memset(&r, 0, sizeof r);
    rc = cw_decode_with_fallback(&sl->f.env, &sl->f.o, fb, &r);
    if (rc != CW_OK) slot_fail(L, sl, rc);
    else window_done(L, sl, &r);
    return CW_OK;
}

/* Every window cut since the last round, one encoder call each: a batch of
 * windows gains nothing on the CPU (1500-row products are efficient alone)
 * and its activations (9 MB for 4 tiny.en windows) spill out of L2, which
 * made the encoder 25% slower per window than in a one-file run. */
static cw_status encode_ready(ls_state *L)
{
    size_t k = 0;
    for (size_t s = 0; s < L->batch; s++)
        if (L->slots[s].state == SLOT_READY) L->who[k++] = s;
    cw_status rc = CW_OK;
    for (size_t j = 0; rc == CW_OK && j < k; j++) {
        const float *states = NULL;
        rc = L->enc->encode(L->enc->ctx, L->slots[L->who[j]].f.window, 1, &states);
        if (rc == CW_OK) rc = L->net->set_audio_at(L->net->ctx, states, 0, L->who[j]);
    }
    for (size_t j = 0; rc == CW_OK && j < k; j++) rc = start_window(L, L->who[j]);
    return rc;
}

/* Slot s's task after its rows' pass (logits and extra from row j0 on):
 * its step and its beams' cache moves; *done when the window is decoded.
 * A failure of the task is the file's (*r1), of the net everyone's. */
static cw_status task_step(ls_state *L, size_t s, size_t j0, int *done, cw_status *r1)
{
    ls_slot *sl = &L->slots[s];
    size_t nv = L->net->n_vocab, len = 0;
    *r1 = cw_decode_task_step(sl->task, L->logits + j0 * nv, L->extra + j0 * nv, done);
    const size_t *src = *r1 == CW_OK ? cw_decode_task_moves(sl->task, &len) : NULL;
    if (!src) return CW_OK;
    return L->net->move(L->net->ctx, s * L->group, src, cw_decode_task_rows(sl->task), len);
}

/* One decoder pass for every slot whose decoding is under way. */
static cw_status step(ls_state *L)
{
    size_t k = 0;
    for (size_t s = 0; s < L->batch; s++) {
        ls_slot *sl = &L->slots[s];
        if (sl->state != SLOT_DECODING) continue;
        for (size_t r = 0; r < cw_decode_task_rows(sl->task); r++) {
            cw_slot_item *it = &L->items[k++];
            cw_decode_task_input(sl->task, r, &it->tokens, &it->n_new, &it->pos, &it->extra_pos);
            it->slot = s * L->group + r;
            it->audio = s;
        }
    }
    if (k == 0) return CW_OK;
    cw_status rc = L->net->forward(L->net->ctx, L->items, k, L->logits, L->extra);
    for (size_t s = 0, j = 0; rc == CW_OK && s < L->batch; s++) {
        ls_slot *sl = &L->slots[s];
        if (sl->state != SLOT_DECODING) continue;
        size_t j0 = j;
        j += cw_decode_task_rows(sl->task);
        int done = 0;
        cw_status r1 = CW_OK;
        rc = task_step(L, s, j0, &done, &r1);
        if (rc != CW_OK) break;
        if (r1 != CW_OK) {
            slot_fail(L, sl, r1);
            continue;
        }
        if (!done) continue;
        cw_decode_result r;
        memset(&r, 0, sizeof r);
        r1 = cw_decode_task_end(sl->task, &r);
        sl->task = NULL;
        if (r1 == CW_OK && cw_needs_fallback(&r, &L->p->fallback)) {
            /* the later temperatures for this window alone, as the one-file loop */
            rc = L->net->side_audio(L->net->ctx, s);
            if (rc != CW_OK) {
                cw_decode_result_free(&r);
                break;
            }
            r1 = cw_decode_fallback_rest(&sl->f.env, &sl->f.o, &L->p->fallback, &r);
        }
        if (r1 != CW_OK) {
            cw_decode_result_free(&r);
            slot_fail(L, sl, r1);
        } else {
            window_done(L, sl, &r);
        }
    }
    return rc;
}

static cw_status run(ls_state *L)
{
    for (;;) {
        /* fill and move every slot up to a window to encode or decode */
        for (int moved = 1; moved;) {
            moved = 0;
            for (size_t s = 0; s < L->batch; s++) {
                ls_slot *sl = &L->slots[s];
                if (sl->state == SLOT_EMPTY && admit(L, sl)) moved = 1;
                if (sl->state == SLOT_NEXT) {
                    advance(L, sl);
                    moved = 1;
                }
            }
        }
        int live = 0;
        for (size_t s = 0; s < L->batch; s++) live |= L->slots[s].state != SLOT_EMPTY;
        if (!live) return CW_OK; /* admit() found no file left */
        cw_status rc = encode_ready(L);
        if (rc == CW_OK) rc = step(L);
        if (rc != CW_OK) return rc;
    }
}

cw_status cw_transcribe_lockstep(const cw_encoder_net *enc, const cw_slot_net *net, const cw_special_tokens *sp,
                                 const cw_text_codec *codec, uint64_t seed, const cw_longform_params *p,
                                 size_t n_files, size_t batch, const cw_lockstep_io *io)
{
    if (batch == 0 || batch > net->n_slots)
        return cw_error(CW_ERR_INVALID_ARG, "lockstep: batch of %zu files, %zu slots", batch, net->n_slots);
    ls_state L;
    memset(&L, 0, sizeof L);
    L.enc = enc, L.net = net, L.p = p, L.io = io, L.seed = seed;
    L.env = (cw_decode_env){ net->side, sp, codec, NULL };
    L.batch = batch, L.n_files = n_files;
    size_t beams = p->decode.beam_size;
    L.group = beams > 1 && net->move && batch * beams <= net->n_slots ? beams : 1;
    L.slots = cw_calloc(batch, sizeof *L.slots);
    L.items = cw_calloc(batch * L.group, sizeof *L.items);
    L.who = cw_calloc(batch, sizeof *L.who);
    L.logits = cw_malloc(batch * L.group * net->n_vocab * sizeof *L.logits);
    L.extra = cw_malloc(batch * L.group * net->n_vocab * sizeof *L.extra);
    cw_status rc = L.slots && L.items && L.who && L.logits && L.extra ? run(&L) : CW_ERR_NOMEM;
    if (rc != CW_OK) { /* what stopped everything is every open file's fate too */
        const char *msg = cw_last_error();
        char *keep = cw_strdup(msg);
        for (size_t s = 0; L.slots && s < batch; s++)
            if (L.slots[s].state != SLOT_EMPTY) {
                if (keep) cw_error(rc, "%s", keep);
                slot_fail(&L, &L.slots[s], rc);
            }
        for (; L.next_file < n_files; L.next_file++) {
            if (keep) cw_error(rc, "%s", keep);
            io->done(io->user, L.next_file, rc, NULL);
        }
        if (keep) cw_error(rc, "%s", keep);
        free(keep);
    }
    for (size_t s = 0; L.slots && s < batch; s++) slot_clear(&L.slots[s]);
    free(L.slots); free(L.items); free(L.who); free(L.logits); free(L.extra);
    return rc;
}
