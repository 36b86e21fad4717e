/* Greedy and sampling token choice (openai/whisper decoding.py GreedyDecoder),
 * the portable PRNG used for sampling, and log_softmax.
 *
 * Sampling draws from softmax(logits / T) with xoshiro256** (seeded by
 * splitmix64). PyTorch's Categorical uses another generator, so results at
 * T > 0 are reproducible here but never equal to the reference's. */
#include <math.h>
#include <string.h>

#include "decode/decode_internal.h"
#include "util/error.h"
#include "util/vmath.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cw_rng_seed(cw_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cw_rng_next(cw_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cw_rng_uniform(cw_rng *rng) { return (double)(cw_rng_next(rng) >> 11) * 0x1.0p-53; }

/* logsumexp of x [n] in float32 (max-shifted, double accumulation). */
static float log_sum_exp(const float *x, size_t n)
{
    float mx = cw_vmax(x, n);
    if (mx == -INFINITY) return NAN; /* every logit masked: log_softmax is NaN, as in PyTorch */
    return (float)(mx + log(cw_vsum_exp(x, n, mx, 0.0f)));
}

void cw_log_softmax(const float *x, size_t n, float *out)
{
    float lse = log_sum_exp(x, n);
    for (size_t i = 0; i < n; i++) out[i] = x[i] - lse;
}

/* logits.argmax(): the first maximum. */
static int32_t argmax_first(const float *x, size_t n)
{
    return (int32_t)cw_vargmax(x, n);
}

/* Categorical(logits = x / T).sample() with our generator. */
static int32_t sample_categorical(const float *x, size_t n, double temperature, cw_rng *rng)
{
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        if (x[i] > -INFINITY) total += exp(((double)x[i] - mx) / temperature);
    double u = cw_rng_uniform(rng) * total, cum = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > -INFINITY)) continue;
        double w = exp(((double)x[i] - mx) / temperature);
        if (w <= 0.0) continue;
        cum += w;
        last = i;
        if (u < cum) return (int32_t)i;
    }
    return (int32_t)last; /* rounding at the top end */
}

cw_status cw_greedy_update(cw_seqs *s, const float *logits, const size_t *rows, size_t n_rows, size_t n_vocab,
                           double temperature, int32_t eot, cw_rng *rng, int *completed)
{
    if (temperature > 0 && !rng) return cw_error(CW_ERR_INVALID_ARG, "decode: sampling needs a PRNG");
    if (s->len + 1 > s->cap) return cw_error(CW_ERR_INTERNAL, "decode: token buffer full");
    if (rows)
        for (size_t r = 0; r < s->n_seq; r++) s->tokens[r * s->cap + s->len] = eot;
    int all_eot = 1;
    for (size_t j = 0; j < n_rows; j++) {
        size_t r = rows ? rows[j] : j;
        const float *x = logits + j * n_vocab;
        int32_t *row = s->tokens + r * s->cap;
        int32_t tok = temperature == 0 ? argmax_first(x, n_vocab)
                                       : sample_categorical(x, n_vocab, temperature, rng);
        /* sum_logprobs += log_softmax(logits)[tok] * (tokens[:, -1] != eot) */
        if (row[s->len - 1] != eot) {
            s->sum_logprobs[r] += x[tok] - log_sum_exp(x, n_vocab); /* log_softmax(x)[tok] */
        } else {
            tok = eot; /* after eot keep emitting eot */
        }
        row[s->len] = tok;
        if (tok != eot) all_eot = 0;
    }
    s->len++;
    *completed = all_eot;
    return CW_OK;
}
