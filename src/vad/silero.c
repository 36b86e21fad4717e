/* The Silero VAD v6 network in plain C (the graph of faster-whisper 1.2's
 * silero_vad_v6.onnx; scripts/silero_vad_convert.py checks it node by node):
 *
 *   x [576] = 64 samples of context + a 512-sample window
 *   reflect-pad 128 both sides           -> [832]
 *   STFT: basis [258, 256] at stride 128 -> [258, 5]; frames 1..4 kept,
 *         magnitude of (ch c, ch 129 + c) -> [129, 4]
 *   conv k3 p1: 129->128 s1, 128->64 s2, 64->64 s2, 64->128 s1, each + ReLU
 *                                         -> [128] (one frame left)
 *   LSTM 128 (state carried from window to window), ReLU,
 *   head: dot with [128] + bias, sigmoid  -> the window's speech probability
 *
 * Everything up to the LSTM's input projection is independent per window and
 * runs on the thread pool, a block of windows at a time; only the recurrence
 * is sequential. Activations are kept time-major ([T, C], channels
 * contiguous) so every product is "row of inputs times a transposed weight
 * matrix [K, N]": rows accumulate whole output rows (contiguous, vectorised
 * by the compiler) and skip zero inputs, which the ReLUs make common. */
#include "vad/vad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/error.h"
#include "util/file.h"

#define N_IN (CW_VAD_CONTEXT + CW_VAD_WINDOW) /* 576 */
#define PAD 128
#define N_PAD (N_IN + 2 * PAD)                /* 832 */
#define N_FFT 256
#define HOP 128
#define N_BINS 129
#define N_FRAMES 4                            /* frames 1..4 of 5 */
#define HID 128
#define GATES (4 * HID)
#define BLOCK 1024                            /* windows per parallel block */

static const int conv_cin[4] = {N_BINS, 128, 64, 64};
static const int conv_cout[4] = {128, 64, 64, 128};
static const int conv_stride[4] = {1, 2, 2, 1};

struct cw_silero {
    float *basis_t;        /* [256, 258]: STFT basis transposed */
    float *conv_t[4];      /* [3 * C_in, C_out]: row k * C_in + ci = w[:, ci, k] */
    float *conv_b[4];      /* [C_out] */
    float *w_ih_t;         /* [128, 512], gates i, f, g, o (PyTorch order) */
    float *w_hh_t;         /* [128, 512] */
    float *bias;           /* [512] = bias_ih + bias_hh */
    float head_w[HID];
    float head_b;
};

void cw_silero_free(cw_silero *m)
{
    if (!m) return;
    free(m->basis_t);
    for (int i = 0; i < 4; i++) free(m->conv_t[i]), free(m->conv_b[i]);
    free(m->w_ih_t);
    free(m->w_hh_t);
    free(m->bias);
    free(m);
}

/* The float32 tensor `key` of exactly the shape given, copied (the file's
 * bytes may be misaligned) into *out (malloc'ed). */
static cw_status get_tensor(const cw_raw_file *f, const char *name, const char *key, int rank, const size_t *shape,
                           float **out)
{
    const cw_raw_var *v = cw_raw_find(f, key);
    if (!v) return cw_error(CW_ERR_FORMAT, "%s: no tensor '%s' (not a converted Silero VAD v6?)", name, key);
    int ok = v->dtype == CW_DTYPE_F32 && v->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = v->shape[i] == shape[i];
    if (!ok) return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' has the wrong dtype or shape", name, key);
    float *p = cw_malloc(v->n_elem * sizeof *p);
    if (!p) return CW_ERR_NOMEM;
    memcpy(p, v->data, v->n_elem * sizeof *p);
    *out = p;
    return CW_OK;
}

/* dst [cols, rows] = src [rows, cols]^T */
static float *transposed(const float *src, size_t rows, size_t cols)
{
    float *t = cw_malloc(rows * cols * sizeof *t);
    if (!t) return NULL;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) t[c * rows + r] = src[r * cols + c];
    return t;
}

static cw_status build(cw_silero *m, const cw_raw_file *f, const char *name)
{
    float *tmp = NULL;
    cw_status s = get_tensor(f, name, "stft.basis", 2, (size_t[]){2 * N_BINS, N_FFT}, &tmp);
    if (s) return s;
    m->basis_t = transposed(tmp, 2 * N_BINS, N_FFT);
    free(tmp);
    if (!m->basis_t) return CW_ERR_NOMEM;
    for (int l = 0; l < 4; l++) {
        char key[32];
        size_t ci = (size_t)conv_cin[l], co = (size_t)conv_cout[l];
        snprintf(key, sizeof key, "encoder.%d.weight", l);
        if ((s = get_tensor(f, name, key, 3, (size_t[]){co, ci, 3}, &tmp))) return s;
        m->conv_t[l] = cw_malloc(3 * ci * co * sizeof(float));
        if (!m->conv_t[l]) { free(tmp); return CW_ERR_NOMEM; }
        for (size_t o = 0; o < co; o++)
            for (size_t i = 0; i < ci; i++)
                for (size_t k = 0; k < 3; k++) m->conv_t[l][(k * ci + i) * co + o] = tmp[(o * ci + i) * 3 + k];
        free(tmp);
        snprintf(key, sizeof key, "encoder.%d.bias", l);
        if ((s = get_tensor(f, name, key, 1, (size_t[]){co}, &m->conv_b[l]))) return s;
    }
    float *b2 = NULL;
    if ((s = get_tensor(f, name, "lstm.weight_ih", 2, (size_t[]){GATES, HID}, &tmp))) return s;
    m->w_ih_t = transposed(tmp, GATES, HID);
    free(tmp);
    if (!m->w_ih_t) return CW_ERR_NOMEM;
    if ((s = get_tensor(f, name, "lstm.weight_hh", 2, (size_t[]){GATES, HID}, &tmp))) return s;
    m->w_hh_t = transposed(tmp, GATES, HID);
    free(tmp);
    if (!m->w_hh_t) return CW_ERR_NOMEM;
    if ((s = get_tensor(f, name, "lstm.bias_ih", 1, (size_t[]){GATES}, &m->bias))) return s;
    if ((s = get_tensor(f, name, "lstm.bias_hh", 1, (size_t[]){GATES}, &b2))) return s;
    for (size_t i = 0; i < GATES; i++) m->bias[i] += b2[i];
    free(b2);
    if ((s = get_tensor(f, name, "head.weight", 1, (size_t[]){HID}, &tmp))) return s;
    memcpy(m->head_w, tmp, sizeof m->head_w);
    free(tmp);
    if ((s = get_tensor(f, name, "head.bias", 1, (size_t[]){1}, &tmp))) return s;
    m->head_b = tmp[0];
    free(tmp);
    return CW_OK;
}

cw_status cw_silero_load_memory(const unsigned char *data, size_t size, const char *name, cw_silero **out)
{
    *out = NULL;
    cw_raw_file f;
    cw_status s = cw_safetensors_parse(data, size, name, &f);
    if (s) return s;
    cw_silero *m = cw_calloc(1, sizeof *m);
    if (!m) s = CW_ERR_NOMEM;
    if (!s) s = build(m, &f, name);
    cw_raw_free(&f);
    if (s) {
        cw_silero_free(m);
        return s;
    }
    *out = m;
    return CW_OK;
}

cw_status cw_silero_load(const char *path, cw_silero **out)
{
    *out = NULL;
    char *file = NULL;
    size_t len = strlen(path);
    if (len < 12 || strcmp(path + len - 12, ".safetensors") != 0) /* a folder */
        file = cw_path_join(path, "silero_vad_v6.safetensors");
    else
        file = cw_strdup(path);
    if (!file) return CW_ERR_NOMEM;
    if (!cw_file_exists(file)) {
        cw_status s = cw_error(CW_ERR_IO, "VAD model %s not found (run scripts/fetch-model silero-vad)", file);
        free(file);
        return s;
    }
    cw_file_map map;
    cw_status s = cw_file_map_open(file, &map);
    if (!s) {
        s = cw_silero_load_memory(map.data, map.size, file, out);
        cw_file_map_close(&map);
    }
    free(file);
    return s;
}

/* y [n] = bias [n] (or 0) + x [k] . wt [k, n], skipping zero inputs. Most of
 * the network's time: cloned for AVX-512 and AVX2 (picked at load by the
 * CPU, ifunc) so the inner loop runs 16 or 8 lanes wide instead of SSE2's 4;
 * every y[c] still gets the same additions in the same order. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void row_product(float *y, const float *x, size_t k, const float *wt, size_t n, const float *bias)
{
    if (bias) memcpy(y, bias, n * sizeof *y);
    else memset(y, 0, n * sizeof *y);
    /* columns 64 at a time, their sums held in acc (registers) across the
     * inputs instead of loaded and stored for each input */
    size_t c0 = 0;
    for (; c0 + 64 <= n; c0 += 64) {
        float acc[64];
        memcpy(acc, y + c0, sizeof acc);
        for (size_t j = 0; j < k; j++) {
            float a = x[j];
            if (a == 0.0f) continue;
            const float *w = wt + j * n + c0;
            for (size_t c = 0; c < 64; c++) acc[c] += a * w[c];
        }
        memcpy(y + c0, acc, sizeof acc);
    }
    for (size_t j = 0; c0 < n && j < k; j++) {
        float a = x[j];
        if (a == 0.0f) continue;
        const float *w = wt + j * n;
        for (size_t c = c0; c < n; c++) y[c] += a * w[c];
    }
}

/* y [t_out, co] = ReLU(conv1d(x [t_in, ci])), kernel 3, zero padding 1. */
static void conv_relu(const cw_silero *m, int l, const float *x, size_t t_in, float *y, float *col)
{
    size_t ci = (size_t)conv_cin[l], co = (size_t)conv_cout[l], st = (size_t)conv_stride[l];
    size_t t_out = (t_in - 1) / st + 1;
    for (size_t t = 0; t < t_out; t++) {
        for (size_t k = 0; k < 3; k++) { /* im2col: tap k reads input frame t*st + k - 1 */
            long src = (long)(t * st + k) - 1;
            if (src < 0 || src >= (long)t_in) memset(col + k * ci, 0, ci * sizeof *col);
            else memcpy(col + k * ci, x + (size_t)src * ci, ci * sizeof *col);
        }
        float *yt = y + t * co;
        row_product(yt, col, 3 * ci, m->conv_t[l], co, m->conv_b[l]);
        for (size_t c = 0; c < co; c++) yt[c] = yt[c] > 0.0f ? yt[c] : 0.0f;
    }
}

/* gates [512] = W_ih . encoder(x [576]) + b_ih + b_hh */
static void encode_window(const cw_silero *m, const float *x, float *gates)
{
    float xp[N_PAD], spec[2 * N_BINS], mag[N_FRAMES * N_BINS];
    float col[3 * N_BINS], a[N_FRAMES * 128], b[2 * 64], c[64], d[128];
    for (int j = 0; j < N_PAD; j++) { /* reflect padding (no edge repeat) */
        int i = j - PAD;
        if (i < 0) i = -i;
        if (i >= N_IN) i = 2 * (N_IN - 1) - i;
        xp[j] = x[i];
    }
    for (int t = 0; t < N_FRAMES; t++) {
        row_product(spec, xp + (t + 1) * HOP, N_FFT, m->basis_t, 2 * N_BINS, NULL);
        for (int k = 0; k < N_BINS; k++)
            mag[t * N_BINS + k] = sqrtf(spec[k] * spec[k] + spec[N_BINS + k] * spec[N_BINS + k]);
    }
    conv_relu(m, 0, mag, N_FRAMES, a, col);
    conv_relu(m, 1, a, N_FRAMES, b, col);
    conv_relu(m, 2, b, 2, c, col);
    conv_relu(m, 3, c, 1, d, col);
    row_product(gates, d, HID, m->w_ih_t, GATES, m->bias);
}

typedef struct {
    const cw_silero *m;
    const float *audio;
    size_t n, n_win, w0, count;
    float *gates; /* [count, 512] */
} enc_job;

/* The 576 inputs of window w (see cw_silero_probs). */
static void window_input(const float *audio, size_t n, size_t n_win, size_t w, float *x)
{
    for (size_t j = 0; j < N_IN; j++) {
        size_t pos = w * CW_VAD_WINDOW + j; /* sample pos - 64 */
        x[j] = pos >= CW_VAD_CONTEXT && pos - CW_VAD_CONTEXT < n ? audio[pos - CW_VAD_CONTEXT] : 0.0f;
    }
    if (w + 1 == n_win) memset(x + N_IN - CW_VAD_CONTEXT, 0, CW_VAD_CONTEXT * sizeof *x);
}

static void enc_part(int ith, int nth, void *arg)
{
    enc_job *j = arg;
    size_t b = j->count * (size_t)ith / (size_t)nth, e = j->count * (size_t)(ith + 1) / (size_t)nth;
    float x[N_IN];
    for (size_t i = b; i < e; i++) {
        window_input(j->audio, j->n, j->n_win, j->w0 + i, x);
        encode_window(j->m, x, j->gates + i * GATES);
    }
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

cw_status cw_silero_probs(const cw_silero *m, cw_threadpool *pool, const float *samples, size_t n,
                          float **probs, size_t *n_probs)
{
    *probs = NULL;
    *n_probs = 0;
    size_t n_win = n / CW_VAD_WINDOW + 1;
    float *p = cw_malloc(n_win * sizeof *p);
    float *gates = cw_malloc((n_win < BLOCK ? n_win : BLOCK) * GATES * sizeof *gates);
    if (!p || !gates) {
        free(p);
        free(gates);
        return CW_ERR_NOMEM;
    }
    float h[HID] = {0}, c[HID] = {0}, g[GATES];
    for (size_t w0 = 0; w0 < n_win; w0 += BLOCK) {
        enc_job job = {m, samples, n, n_win, w0, n_win - w0 < BLOCK ? n_win - w0 : BLOCK, gates};
        cw_threadpool_run(pool, enc_part, &job);
        for (size_t i = 0; i < job.count; i++) {
            row_product(g, h, HID, m->w_hh_t, GATES, gates + i * GATES); /* g = gates + W_hh h */
            float out = m->head_b;
            for (size_t k = 0; k < HID; k++) {
                float ig = sigmoidf(g[k]), fg = sigmoidf(g[HID + k]);
                float gg = tanhf(g[2 * HID + k]), og = sigmoidf(g[3 * HID + k]);
                c[k] = fg * c[k] + ig * gg;
                h[k] = og * tanhf(c[k]);
                out += m->head_w[k] * (h[k] > 0.0f ? h[k] : 0.0f);
            }
            p[w0 + i] = sigmoidf(out);
        }
    }
    free(gates);
    *probs = p;
    *n_probs = n_win;
    return CW_OK;
}
