/* What the batched long-form modes share (chunked.c, vad_batched.c): a batch
 * of 30 s log-mel windows through the encoder and one decoding of all of
 * them, the language detected once on a first window, segments appended to
 * a result, and the result's text joined from its segments. */
#include <stdlib.h>
#include <string.h>

#include "longform/longform.h"
#include "util/error.h"

cw_status cw_batch_decode(const cw_batch_env *e, const cw_decode_options *o, const float *windows, size_t nb,
                          cw_decode_result *res)
{
    const float *states = NULL;
    cw_status rc = e->enc->encode(e->enc->ctx, windows, nb, &states);
    if (rc == CW_OK) rc = e->dec->set_audio(e->dec->ctx, states, nb);
    cw_decode_env env = {e->dec, e->sp, e->codec, NULL};
    return rc ? rc : cw_decode_run(&env, o, nb, res);
}

cw_status cw_batch_detect_language(const cw_batch_env *e, const float *window, int32_t *language)
{
    if (!e->sp->multilingual || *language >= 0) return CW_OK;
    const float *states = NULL;
    cw_status rc = e->enc->encode(e->enc->ctx, window, 1, &states);
    if (rc == CW_OK) rc = e->dec->set_audio(e->dec->ctx, states, 1);
    return rc ? rc : cw_detect_language(e->dec, e->sp, 1, language, NULL);
}

cw_status cw_longform_append(cw_longform_result *out, size_t *cap, const cw_segment *seg)
{
    if (out->n_segments == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        cw_segment *v = cw_realloc(out->segments, c * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        out->segments = v;
        *cap = c;
    }
    out->segments[out->n_segments] = *seg;
    out->segments[out->n_segments].id = (int)out->n_segments;
    out->n_segments++;
    return CW_OK;
}

cw_status cw_longform_join_text(cw_longform_result *out)
{
    size_t len = 1;
    for (size_t i = 0; i < out->n_segments; i++) len += strlen(out->segments[i].text);
    out->text = cw_malloc(len);
    if (!out->text) return CW_ERR_NOMEM;
    char *p = out->text;
    for (size_t i = 0; i < out->n_segments; i++) {
        size_t n = strlen(out->segments[i].text);
        memcpy(p, out->segments[i].text, n);
        p += n;
    }
    *p = '\0';
    return CW_OK;
}
