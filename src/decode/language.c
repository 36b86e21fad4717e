/* Spoken-language detection, as openai/whisper decoding.py detect_language:
 * one decoder pass with the single token [sot] per audio, every non-language
 * id masked to -inf, argmax (first maximum) -> the language token, softmax
 * over the masked logits -> per-language probabilities. */
#include <math.h>
#include <stdlib.h>

#include "decode/decode.h"
#include "util/error.h"

/* Detects from one row of logits [n_vocab]; probs [n_languages] may be NULL. */
static int32_t detect_row(const float *x, const cw_special_tokens *sp, float *probs)
{
    size_t first = (size_t)sp->lang_begin, n = (size_t)sp->n_languages;
    size_t best = first;
    for (size_t i = first + 1; i < first + n; i++) if (x[i] > x[best]) best = i;
    if (probs) {
        double sum = 0.0, mx = x[best];
        for (size_t i = first; i < first + n; i++) sum += exp((double)x[i] - mx);
        for (size_t i = 0; i < n; i++) probs[i] = (float)(exp((double)x[first + i] - mx) / sum);
    }
    return (int32_t)best;
}

cw_status cw_detect_language(const cw_decoder_net *net, const cw_special_tokens *sp,
                             size_t n_audio, int32_t *lang_tokens, float *probs)
{
    if (!sp->multilingual || sp->n_languages <= 0)
        return cw_error(CW_ERR_INVALID_ARG,
                        "This model doesn't have language tokens so it can't perform lang id");
    size_t cells;
    if (cw_mul_size(n_audio, net->n_vocab, &cells)) return cw_error(CW_ERR_NOMEM, "lang id: too large");
    float *logits = cw_malloc(cells * sizeof *logits);
    int32_t *sot = cw_malloc(n_audio * sizeof *sot);
    cw_status rc = (logits && sot) ? CW_OK : CW_ERR_NOMEM;
    for (size_t a = 0; rc == CW_OK && a < n_audio; a++) sot[a] = sp->sot;
    if (rc == CW_OK) rc = net->reset(net->ctx, n_audio, 1);
    if (rc == CW_OK) rc = net->forward(net->ctx, sot, n_audio, 1, logits, CW_NO_POS, NULL);
    for (size_t a = 0; rc == CW_OK && a < n_audio; a++)
        lang_tokens[a] = detect_row(logits + a * net->n_vocab, sp,
                                    probs ? probs + a * (size_t)sp->n_languages : NULL);
    free(logits);
    free(sot);
    return rc;
}
