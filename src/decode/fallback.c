/* Temperature fallback for one window, as openai/whisper transcribe.py
 * decode_with_fallback: decode at each temperature in turn and stop at the
 * first result that is neither too repetitive (compression ratio > 2.4) nor
 * too improbable (avg_logprob < -1.0), a low-probability result that is
 * probably silence (no_speech_prob > 0.6) being accepted; when every
 * temperature fails the LAST result is kept. */
#include <math.h>
#include <string.h>

#include "decode/decode.h"
#include "util/error.h"

/* transcribe()'s default temperature tuple, literally (0.6, not 3 * 0.2). */
static const double k_default_temperatures[] = {0.0, 0.2, 0.4, 0.6, 0.8, 1.0};

cw_fallback_options cw_fallback_default_options(void)
{
    cw_fallback_options f;
    memset(&f, 0, sizeof f);
    f.temperatures = k_default_temperatures;
    f.n_temperatures = sizeof k_default_temperatures / sizeof k_default_temperatures[0];
    f.temperature_start = 0.0;
    f.temperature_increment = 0.2;
    f.compression_ratio_threshold = 2.4;
    f.logprob_threshold = -1.0;
    f.no_speech_threshold = 0.6;
    return f;
}

int cw_needs_fallback(const cw_decode_result *r, const cw_fallback_options *fb)
{
    int needs = 0;
    if (!isnan(fb->compression_ratio_threshold) && r->compression_ratio > fb->compression_ratio_threshold)
        needs = 1; /* too repetitive */
    if (!isnan(fb->logprob_threshold) && r->avg_logprob < fb->logprob_threshold)
        needs = 1; /* average log probability is too low */
    if (!isnan(fb->no_speech_threshold) && r->no_speech_prob > fb->no_speech_threshold &&
        !isnan(fb->logprob_threshold) && r->avg_logprob < fb->logprob_threshold)
        needs = 0; /* silence */
    return needs;
}

/* Temperature i of the schedule; *n the schedule length. Without an explicit
 * list: start + i * increment while <= 1.0 + 1e-6 (the CLI's np.arange). */
static double temperature_at(const cw_fallback_options *fb, size_t i, size_t *n)
{
    if (fb->no_fallback) {
        *n = 1;
        return fb->temperatures && fb->n_temperatures ? fb->temperatures[0] : fb->temperature_start;
    }
    if (fb->temperatures && fb->n_temperatures) {
        *n = fb->n_temperatures;
        return fb->temperatures[i];
    }
    double inc = fb->temperature_increment;
    if (!(inc > 0)) *n = 1;
    else *n = (size_t)ceil((1.0 + 1e-6 - fb->temperature_start) / inc);
    if (*n == 0) *n = 1;
    return fb->temperature_start + (double)i * inc;
}

/* Temperatures [first, n) of the schedule; *out holds the previous result
 * (or nothing when first == 0) and gets each new one. */
static cw_status run_from(const cw_decode_env *env, const cw_decode_options *o, const cw_fallback_options *fb,
                          size_t first, cw_decode_result *out)
{
    size_t n = 1;
    temperature_at(fb, 0, &n);
    for (size_t i = first; i < n; i++) {
        cw_decode_options opt = *o;
        opt.temperature = temperature_at(fb, i, &n);
        if (opt.temperature > 0) {
            opt.beam_size = 0; /* beam_size and patience only at T = 0 */
            opt.patience = 0;
        } else {
            opt.best_of = 0;   /* best_of only at T > 0 */
        }
        cw_decode_result r;
        cw_status rc = cw_decode_run(env, &opt, 1, &r);
        if (rc != CW_OK) {
            cw_decode_result_free(out);
            return rc;
        }
        cw_decode_result_free(out);
        *out = r;
        if (!cw_needs_fallback(out, fb)) break;
    }
    return CW_OK;
}

cw_status cw_decode_with_fallback(const cw_decode_env *env, const cw_decode_options *o,
                                  const cw_fallback_options *fb, cw_decode_result *out)
{
    memset(out, 0, sizeof *out);
    return run_from(env, o, fb, 0, out);
}

cw_status cw_decode_fallback_rest(const cw_decode_env *env, const cw_decode_options *o,
                                  const cw_fallback_options *fb, cw_decode_result *out)
{
    if (!cw_needs_fallback(out, fb)) return CW_OK;
    return run_from(env, o, fb, 1, out);
}
