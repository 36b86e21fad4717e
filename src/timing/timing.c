/* find_alignment and its pieces, as openai/whisper timing.py (20250625).
 * The matrix is computed in float32 as the reference's torch code does
 * (sums in double); the DTW keeps its cost table in float32 as dtw_cpu. */
#include "timing/timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define TOKENS_PER_SECOND 50.0 /* audio.py: 16000 / (160 * 2) */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

cw_status cw_median_filter(float *x, size_t rows, size_t n, size_t width)
{
    size_t pad = width / 2;
    if (n <= pad || width < 1 || width % 2 == 0) return CW_OK;
    float *row = cw_malloc((n + 2 * pad) * sizeof *row), *win = cw_malloc(width * sizeof *win);
    if (!row || !win) {
        free(row);
        free(win);
        return CW_ERR_NOMEM;
    }
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * n;
        /* F.pad(mode="reflect"): [x_pad .. x_1, x_0 .. x_{n-1}, x_{n-2} .. x_{n-1-pad}] */
        for (size_t i = 0; i < pad; i++) {
            row[i] = xr[pad - i];
            row[pad + n + i] = xr[n - 2 - i];
        }
        memcpy(row + pad, xr, n * sizeof *xr);
        for (size_t i = 0; i < n; i++) {
            memcpy(win, row + i, width * sizeof *win);
            qsort(win, width, sizeof *win, cmp_float);
            xr[i] = win[pad];
        }
    }
    free(row);
    free(win);
    return CW_OK;
}

/* backtrace(): from (N, M) to (0, 0); trace [N+1, M+1] with its first row
 * set to 2 and first column to 1. */
static cw_status backtrace(signed char *trace, size_t N, size_t M, long **text, long **time, size_t *len)
{
    size_t W = M + 1;
    for (size_t j = 0; j <= M; j++) trace[j] = 2;
    for (size_t i = 0; i <= N; i++) trace[i * W] = 1;
    size_t cap = N + M + 1, k = 0;
    long *ti = cw_malloc(cap * sizeof *ti), *tj = cw_malloc(cap * sizeof *tj);
    if (!ti || !tj) {
        free(ti);
        free(tj);
        return CW_ERR_NOMEM;
    }
    size_t i = N, j = M;
    while (i > 0 || j > 0) {
        ti[k] = (long)i - 1;
        tj[k] = (long)j - 1;
        k++;
        signed char t = trace[i * W + j];
        if (t == 0) i--, j--;
        else if (t == 1) i--;
        else j--;
    }
    for (size_t a = 0, b = k ? k - 1 : 0; a < b; a++, b--) { /* result[::-1] */
        long x = ti[a]; ti[a] = ti[b]; ti[b] = x;
        x = tj[a]; tj[a] = tj[b]; tj[b] = x;
    }
    *text = ti;
    *time = tj;
    *len = k;
    return CW_OK;
}

cw_status cw_dtw(const double *x, size_t N, size_t M, long **text, long **time, size_t *len)
{
    size_t W = M + 1;
    float *cost = cw_malloc((N + 1) * W * sizeof *cost);
    signed char *trace = cw_malloc((N + 1) * W);
    if (!cost || !trace) {
        free(cost);
        free(trace);
        return CW_ERR_NOMEM;
    }
    for (size_t i = 0; i < (N + 1) * W; i++) cost[i] = INFINITY, trace[i] = -1;
    cost[0] = 0.0f;
    for (size_t j = 1; j <= M; j++)
        for (size_t i = 1; i <= N; i++) {
            float c0 = cost[(i - 1) * W + j - 1], c1 = cost[(i - 1) * W + j], c2 = cost[i * W + j - 1], c;
            signed char t;
            if (c0 < c1 && c0 < c2) c = c0, t = 0;
            else if (c1 < c0 && c1 < c2) c = c1, t = 1;
            else c = c2, t = 2;
            cost[i * W + j] = (float)(x[(i - 1) * M + j - 1] + (double)c); /* float64 sum stored in float32 */
            trace[i * W + j] = t;
        }
    free(cost);
    cw_status s = backtrace(trace, N, M, text, time, len);
    free(trace);
    return s;
}

cw_status cw_alignment_matrix(float *qk, size_t H, size_t n_tok, size_t M, size_t medfilt, size_t row0,
                              size_t n_rows, float *out)
{
    if (row0 + n_rows > n_tok) return cw_error(CW_ERR_INTERNAL, "alignment: rows %zu + %zu of %zu", row0, n_rows, n_tok);
    for (size_t r = 0; r < H * n_tok; r++) { /* softmax over frames */
        float *x = qk + r * M, mx = -INFINITY;
        for (size_t f = 0; f < M; f++) mx = x[f] > mx ? x[f] : mx;
        double sum = 0.0;
        for (size_t f = 0; f < M; f++) {
            x[f] = expf(x[f] - mx);
            sum += x[f];
        }
        for (size_t f = 0; f < M; f++) x[f] = (float)(x[f] / sum);
    }
    for (size_t h = 0; h < H; h++) /* std_mean over tokens, unbiased=False */
        for (size_t f = 0; f < M; f++) {
            float *x = qk + h * n_tok * M + f;
            double mean = 0.0, var = 0.0;
            for (size_t t = 0; t < n_tok; t++) mean += x[t * M];
            mean /= (double)n_tok;
            for (size_t t = 0; t < n_tok; t++) var += ((double)x[t * M] - mean) * ((double)x[t * M] - mean);
            float m = (float)mean, sd = (float)sqrt(var / (double)n_tok);
            for (size_t t = 0; t < n_tok; t++) x[t * M] = (x[t * M] - m) / sd;
        }
    cw_status s = cw_median_filter(qk, H * n_tok, M, medfilt);
    for (size_t r = 0; !s && r < n_rows; r++) /* mean over heads */
        for (size_t f = 0; f < M; f++) {
            double sum = 0.0;
            for (size_t h = 0; h < H; h++) sum += qk[(h * n_tok + row0 + r) * M + f];
            out[r * M + f] = (float)(sum / (double)H);
        }
    return s;
}

void cw_word_timings_free(cw_word_timing *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++) free(w[i].word);
    free(w);
}

int cw_str_in(const char *needle, const char *haystack) { return strstr(haystack, needle) != NULL; }

double cw_round2(double x)
{
    char buf[64];
    if (!isfinite(x)) return x;
    snprintf(buf, sizeof buf, "%.2f", x);
    return strtod(buf, NULL);
}

int cw_timing_splits_on_unicode(const char *lang)
{
    static const char *const L[] = {"zh", "ja", "th", "lo", "my", "yue"};
    for (size_t i = 0; lang && i < sizeof L / sizeof *L; i++)
        if (strcmp(lang, L[i]) == 0) return 1;
    return 0;
}

/* UTF-8 to code points ([*n], malloc'ed); a stray byte counts as one. */
static cw_status code_points(const char *s, uint32_t **cp, size_t *n)
{
    size_t len = strlen(s), k = 0;
    uint32_t *v = cw_malloc((len + 1) * sizeof *v);
    if (!v) return CW_ERR_NOMEM;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t m = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + m > len) m = 1;
        uint32_t u = m == 1 ? c : c & (0x7fu >> m);
        for (size_t j = 1; j < m; j++) u = (u << 6) | ((unsigned char)s[i + j] & 0x3fu);
        v[k++] = u;
        i += m;
    }
    *cp = v;
    *n = k;
    return CW_OK;
}

static cw_status decode_all(const cw_text_codec *codec, const int32_t *ids, size_t n, char **text)
{
    return (codec->decode_all ? codec->decode_all : codec->decode)(codec->ctx, ids, n, text);
}

static cw_status push_word(cw_word_timing **w, size_t *n, size_t *cap, char *word, size_t n_tokens)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        cw_word_timing *v = cw_realloc(*w, c * sizeof *v);
        if (!v) return CW_ERR_NOMEM;
        *w = v;
        *cap = c;
    }
    (*w)[(*n)++] = (cw_word_timing){word, n_tokens, 0.0, 0.0, 0.0};
    return CW_OK;
}

/* split_tokens_on_unicode: a word ends where the decoded tokens so far hold
 * no U+FFFD, or where the full decoding has one at that place too. */
static cw_status split_unicode(const cw_text_codec *codec, const int32_t *tokens, size_t n, cw_word_timing **out,
                               size_t *n_out, size_t **first)
{
    char *full_s = NULL;
    uint32_t *full = NULL, *cp = NULL;
    size_t n_full = 0, n_words = 0, cap = 0, offset = 0, start = 0;
    cw_word_timing *w = NULL;
    size_t *fst = cw_malloc((n + 1) * sizeof *fst);
    cw_status s = fst ? decode_all(codec, tokens, n, &full_s) : CW_ERR_NOMEM;
    if (!s) s = code_points(full_s, &full, &n_full);
    for (size_t i = 0; !s && i < n; i++) {
        char *dec = NULL;
        size_t n_cp = 0, rep = 0;
        s = decode_all(codec, tokens + start, i + 1 - start, &dec);
        if (!s) s = code_points(dec, &cp, &n_cp);
        while (!s && rep < n_cp && cp[rep] != 0xFFFDu) rep++;
        int done = !s && (rep == n_cp || (offset + rep < n_full && full[offset + rep] == 0xFFFDu));
        free(cp);
        cp = NULL;
        if (done) {
            fst[n_words] = start;
            s = push_word(&w, &n_words, &cap, dec, i + 1 - start);
            if (!s) dec = NULL;
            offset += n_cp;
            start = i + 1;
        }
        free(dec);
    }
    free(full_s);
    free(full);
    if (s) {
        cw_word_timings_free(w, n_words);
        free(fst);
        return s;
    }
    *out = w;
    *n_out = n_words;
    *first = fst;
    return CW_OK;
}

static const char PUNCTUATION[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"; /* string.punctuation */

cw_status cw_split_word_tokens(const cw_text_codec *codec, int32_t eot, const int32_t *tokens, size_t n,
                               int by_unicode, cw_word_timing **words, size_t *n_words)
{
    cw_word_timing *sub = NULL;
    size_t n_sub = 0, *first = NULL;
    *words = NULL;
    *n_words = 0;
    cw_status s = split_unicode(codec, tokens, n, &sub, &n_sub, &first);
    if (s || by_unicode) {
        free(first);
        if (!s) *words = sub, *n_words = n_sub;
        return s;
    }
    /* split_tokens_on_spaces: subwords joined unless special, spaced or punctuation */
    size_t k = 0;
    for (size_t i = 0; !s && i < n_sub; i++) {
        char *probe = cw_strdup(sub[i].word);
        if (!probe) {
            s = CW_ERR_NOMEM;
            break;
        }
        int special = tokens[first[i]] >= eot, spaced = sub[i].word[0] == ' ';
        int punct = cw_str_in(cw_strip_inplace(probe), PUNCTUATION);
        free(probe);
        if (special || spaced || punct || k == 0) {
            char *word = sub[i].word;
            sub[i].word = NULL;
            sub[k] = sub[i];
            sub[k++].word = word;
            continue;
        }
        size_t a = strlen(sub[k - 1].word), b = strlen(sub[i].word);
        char *joined = cw_realloc(sub[k - 1].word, a + b + 1);
        if (!joined) {
            s = CW_ERR_NOMEM;
            break;
        }
        memcpy(joined + a, sub[i].word, b + 1);
        sub[k - 1].word = joined;
        sub[k - 1].n_tokens += sub[i].n_tokens;
        free(sub[i].word);
        sub[i].word = NULL;
    }
    free(first);
    if (s) {
        for (size_t i = 0; i < n_sub; i++)
            if (i >= k) free(sub[i].word);
        cw_word_timings_free(sub, k);
        return s;
    }
    *words = sub;
    *n_words = k;
    return CW_OK;
}

/* a + b into a fresh string. */
static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = cw_malloc(la + lb + 1);
    if (!r) return NULL;
    memcpy(r, a, la);
    memcpy(r + la, b, lb + 1);
    return r;
}

cw_status cw_merge_punctuations(cw_word_timing *w, size_t n, const char *prepended, const char *appended)
{
    if (n < 2) return CW_OK;
    /* prepended punctuation joins the following word */
    for (long i = (long)n - 2, j = (long)n - 1; i >= 0; i--) {
        cw_word_timing *prev = &w[i], *next = &w[j];
        char *probe = cw_strdup(prev->word);
        if (!probe) return CW_ERR_NOMEM;
        int merge = prev->word[0] == ' ' && cw_str_in(cw_strip_inplace(probe), prepended);
        free(probe);
        if (merge) {
            char *joined = concat(prev->word, next->word);
            if (!joined) return CW_ERR_NOMEM;
            free(next->word);
            next->word = joined;
            next->n_tokens += prev->n_tokens;
            prev->word[0] = '\0';
            prev->n_tokens = 0;
        } else {
            j = i;
        }
    }
    /* appended punctuation joins the previous word */
    for (size_t i = 0, j = 1; j < n; j++) {
        cw_word_timing *prev = &w[i], *next = &w[j];
        size_t lp = strlen(prev->word);
        if (!(lp > 0 && prev->word[lp - 1] == ' ') && cw_str_in(next->word, appended)) {
            char *joined = concat(prev->word, next->word);
            if (!joined) return CW_ERR_NOMEM;
            free(prev->word);
            prev->word = joined;
            prev->n_tokens += next->n_tokens;
            next->word[0] = '\0';
            next->n_tokens = 0;
        } else {
            i = j;
        }
    }
    return CW_OK;
}

/* The network part: tokens [sot_seq, no_timestamps, text, eot] through the
 * decoder, the alignment matrix, its DTW path. */
static cw_status align_path(const cw_decoder_net *net, const cw_special_tokens *sp, const int32_t *sot_seq,
                            size_t n_sot, const int32_t *text, size_t n_text, size_t M, long **ti, long **tj,
                            size_t *len, float *probs)
{
    size_t n_tok = n_sot + n_text + 2, H = net->n_align_heads, N = n_text + 1;
    int32_t *tok = cw_malloc(n_tok * sizeof *tok), *want = cw_malloc(n_tok * sizeof *want);
    float *qk = cw_malloc((H * n_tok * M + 1) * sizeof *qk), *mat = cw_malloc((N * M + 1) * sizeof *mat);
    double *cost = cw_malloc((N * M + 1) * sizeof *cost);
    cw_status s = tok && want && qk && mat && cost ? CW_OK : CW_ERR_NOMEM;
    if (!s) {
        memcpy(tok, sot_seq, n_sot * sizeof *tok);
        tok[n_sot] = sp->notimestamps;
        memcpy(tok + n_sot + 1, text, n_text * sizeof *tok);
        tok[n_tok - 1] = sp->eot;
        /* logits[len(sot_sequence) + i] give text token i */
        for (size_t i = 0; i < n_tok; i++) want[i] = i >= n_sot && i < n_sot + n_text ? text[i - n_sot] : -1;
        s = net->align(net->ctx, tok, n_tok, M, qk, want, (size_t)sp->eot, probs);
    }
    if (!s) s = cw_alignment_matrix(qk, H, n_tok, M, 7, n_sot, N, mat);
    for (size_t i = 0; !s && i < N * M; i++) cost[i] = -(double)mat[i];
    if (!s) s = cw_dtw(cost, N, M, ti, tj, len);
    free(tok);
    free(want);
    free(qk);
    free(mat);
    free(cost);
    return s;
}

/* Word times from the path's jumps and mean token probabilities. */
static void word_times(cw_word_timing *w, size_t n_words, const long *ti, const long *tj, size_t len,
                       const float *probs, size_t n_sot)
{
    double *jump = cw_malloc((len + 1) * sizeof *jump);
    size_t n_jump = 0;
    for (size_t k = 0; jump && k < len; k++)
        if (k == 0 || ti[k] != ti[k - 1]) jump[n_jump++] = (double)tj[k] / TOKENS_PER_SECOND;
    size_t b = 0; /* word_boundaries[i] */
    for (size_t i = 0; i + 1 < n_words; i++) {
        size_t e = b + w[i].n_tokens;
        w[i].start = jump && b < n_jump ? jump[b] : NAN;
        w[i].end = jump && e < n_jump ? jump[e] : NAN;
        double sum = 0.0;
        for (size_t t = b; t < e; t++) sum += (double)probs[n_sot + t];
        w[i].probability = e > b ? sum / (double)(e - b) : NAN;
        b = e;
    }
    free(jump);
}

cw_status cw_find_alignment(const cw_decoder_net *net, const cw_text_codec *codec, const cw_special_tokens *sp,
                            const char *language_code, const int32_t *sot_seq, size_t n_sot,
                            const int32_t *text, size_t n_text, size_t num_frames, cw_word_timing **out,
                            size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n_text == 0) return CW_OK;
    if (!net->align || net->n_align_heads == 0)
        return cw_error(CW_ERR_UNSUPPORTED, "word timestamps: this network cannot give its attention weights");
    size_t M = num_frames / 2, n_tok = n_sot + n_text + 2;
    if (M == 0) return cw_error(CW_ERR_INVALID_ARG, "word timestamps: a window of %zu frames", num_frames);
    long *ti = NULL, *tj = NULL;
    size_t len = 0, n_words = 0;
    float *probs = cw_malloc(n_tok * sizeof *probs);
    int32_t *toks = cw_malloc((n_text + 1) * sizeof *toks);
    cw_word_timing *w = NULL;
    cw_status s = probs && toks ? align_path(net, sp, sot_seq, n_sot, text, n_text, M, &ti, &tj, &len, probs)
                                : CW_ERR_NOMEM;
    if (!s) {
        memcpy(toks, text, n_text * sizeof *toks);
        toks[n_text] = sp->eot;
        s = cw_split_word_tokens(codec, sp->eot, toks, n_text + 1, cw_timing_splits_on_unicode(language_code), &w,
                                 &n_words);
    }
    if (!s && n_words > 1) {
        word_times(w, n_words, ti, tj, len, probs, n_sot);
        free(w[n_words - 1].word); /* the eot "word" has no time */
        *out = w;
        *n_out = n_words - 1;
        w = NULL;
    }
    cw_word_timings_free(w, n_words);
    free(ti);
    free(tj);
    free(probs);
    free(toks);
    return s;
}
