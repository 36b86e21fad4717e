/* How far a compute dtype's model is from float32's, token by token, with the
 * noise of whole transcripts taken out: for each file (its first 30 s, one
 * window), float32 decodes greedily (no filters, English, no timestamps, up
 * to MAX_STEPS tokens); then both models are fed those same tokens step by
 * step, and each step's next-token distributions (over the text tokens and
 * end-of-text) are compared: mean KL(fp32 || dtype), and how often the two
 * pick the same token. Also the encoder output's RMS error relative to its
 * RMS. Word error rates move by a few words per thousand between
 * equivalent roundings, so choices about low-precision arithmetic were made
 * on these numbers, on files outside the WER sets
 * (librispeech-train-clean-100-noref).
 *
 * The logits' int4 screen (lowp.h) is switched off: it ranks the vocabulary
 * and gives only approximate logits outside its candidates, which would
 * dominate the KL without changing any greedy choice.
 *
 *   make divergence && ./divergence ../../models/base int8 40
 *   (DTYPE: fp16, bf16 or int8; N: the first N files of the set) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "audio/audio.h"
#include "backend/backend.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/error.h"
#include "../common/bench_net.h"

enum { MAX_STEPS = 120, N_SAMPLES = 480000, N_FRAMES = 3000 };

static void die(const char *what)
{
    fprintf(stderr, "divergence: %s: %s\n", what, cw_last_error());
    exit(1);
}

static void net_make(bench_net *n, const cw_model *m, cw_compute_dtype dt)
{
    cw_backend_params p = cw_backend_default_params();
    p.n_threads = 2;
    p.lowp = dt == CW_COMPUTE_BF16 || dt == CW_COMPUTE_INT8;
    if (bench_net_create(n, m, &p, dt, 1)) exit(1);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted paths of dir's files, at most max. */
static size_t list_files(const char *dir, char **out, size_t max)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 4096;
    char **all = malloc(cap * sizeof *all);
    for (struct dirent *e; all && (e = readdir(d)) && n < cap;) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if ((all[n] = malloc(len))) snprintf(all[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!all) return 0;
    qsort(all, n, sizeof *all, by_name);
    size_t k = n < max ? n : max;
    for (size_t i = 0; i < n; i++) {
        if (i < k) out[i] = all[i];
        else free(all[i]);
    }
    free(all);
    return k;
}

/* One window's log-mel [80, 3000]: the first 30 s of the file, zero-padded. */
static float *window_mel(const char *path)
{
    float *x = NULL, *mel = NULL;
    size_t n = 0, nf = 0;
    if (cw_audio_load(path, &x, &n)) die(path);
    if (n > N_SAMPLES) n = N_SAMPLES;
    if (cw_log_mel(x, n, N_SAMPLES - n, 80, 2, &mel, &nf) || nf < N_FRAMES) die(path);
    float *w = malloc(80 * N_FRAMES * sizeof *w);
    if (!w) die("memory");
    for (size_t r = 0; r < 80; r++) memcpy(w + r * N_FRAMES, mel + r * nf, N_FRAMES * sizeof *w);
    free(x);
    free(mel);
    return w;
}

/* log-softmax of l [n] into lp. Returns the argmax. */
static size_t log_softmax(const float *l, size_t n, double *lp)
{
    size_t best = 0;
    for (size_t v = 1; v < n; v++) best = l[v] > l[best] ? v : best;
    double z = 0;
    for (size_t v = 0; v < n; v++) z += exp((double)l[v] - l[best]);
    for (size_t v = 0; v < n; v++) lp[v] = (double)l[v] - l[best] - log(z);
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: divergence MODEL_DIR fp16|bf16|int8 [N_FILES (40)] [AUDIO_DIR]\n");
        return 2;
    }
    int dt = cw_compute_dtype_from_name(argv[2]);
    size_t max_files = argc > 3 ? (size_t)atol(argv[3]) : 40;
    const char *dir = argc > 4 ? argv[4] : "../../../shared/speech/librispeech-train-clean-100-noref/audio";
    if (dt < 0 || dt == CW_COMPUTE_FP32) {
        fprintf(stderr, "divergence: dtype '%s': fp16, bf16 or int8\n", argv[2]);
        return 2;
    }
    setenv("CW_LOGITS_SCREEN", "0", 1); /* read when a back end is made */
    cw_model_params mp = cw_model_default_params();
    cw_model *m = NULL;
    if (cw_model_load(argv[1], &mp, &m)) die(argv[1]);
    char **files = malloc(max_files * sizeof *files);
    size_t nfiles = files ? list_files(dir, files, max_files) : 0;
    if (!nfiles) {
        fprintf(stderr, "divergence: no audio files in %s\n", dir);
        return 1;
    }
    bench_net a, b;
    net_make(&a, m, CW_COMPUTE_FP32);
    net_make(&b, m, (cw_compute_dtype)dt);
    const cw_special_tokens *sp = cw_tokenizer_specials(m->tok);
    size_t nv = (size_t)sp->eot + 1, V = (size_t)m->dims.n_vocab;
    size_t D = (size_t)m->dims.n_audio_state, C = (size_t)m->dims.n_audio_ctx;
    int32_t prompt[4] = { sp->sot, sp->lang_begin, sp->transcribe, sp->notimestamps };
    size_t np = 4;
    if (!sp->multilingual) prompt[1] = sp->notimestamps, np = 2;
    float *la = malloc(V * sizeof *la), *lb = malloc(V * sizeof *lb);
    float *ea = malloc(C * D * sizeof *ea), *eb = malloc(C * D * sizeof *eb);
    double *pa = malloc(nv * sizeof *pa), *pb = malloc(nv * sizeof *pb);
    if (!la || !lb || !ea || !eb || !pa || !pb) die("memory");
    double kl_sum = 0, enc_sum = 0;
    size_t steps = 0, same = 0;
    for (size_t f = 0; f < nfiles; f++) {
        float *mel = window_mel(files[f]);
        bench_net *ns[2] = { &a, &b };
        float *es[2] = { ea, eb };
        for (int i = 0; i < 2; i++) {
            bench_net *n = ns[i];
            if (cw_encoder_run(n->enc, mel, 1) ||
                n->be->ops->download(n->be, es[i], cw_encoder_output(n->enc), 0, C * D * sizeof *ea) ||
                cw_decoder_set_audio(n->dec, cw_encoder_output(n->enc), 1) || cw_decoder_reset(n->dec, 1, NULL) ||
                cw_decoder_forward(n->dec, prompt, 1, np, i ? lb : la, -1, NULL))
                die(files[f]);
        }
        double e2 = 0, r2 = 0;
        for (size_t i = 0; i < C * D; i++) e2 += ((double)ea[i] - eb[i]) * ((double)ea[i] - eb[i]), r2 += (double)ea[i] * ea[i];
        enc_sum += sqrt(e2 / r2);
        for (int s = 0; s < MAX_STEPS; s++) {
            size_t ta = log_softmax(la, nv, pa), tb = log_softmax(lb, nv, pb);
            double kl = 0;
            for (size_t v = 0; v < nv; v++) kl += exp(pa[v]) * (pa[v] - pb[v]);
            kl_sum += kl, steps++, same += ta == tb;
            if ((int32_t)ta == sp->eot) break;
            int32_t t = (int32_t)ta; /* float32's choice, fed to both */
            if (cw_decoder_forward(a.dec, &t, 1, 1, la, -1, NULL) || cw_decoder_forward(b.dec, &t, 1, 1, lb, -1, NULL))
                die(files[f]);
        }
        free(mel);
        free(files[f]);
    }
    printf("%s %s vs fp32: %zu files, encoder output RMS error %.2f%% of its RMS; %zu decoder steps: mean KL %.6f, "
           "same next token %.2f%% (%zu differ)\n",
           argv[1], argv[2], nfiles, 100.0 * enc_sum / (double)nfiles, steps, kl_sum / (double)steps,
           100.0 * (double)same / (double)steps, steps - same);
    bench_net_free(&a);
    bench_net_free(&b);
    cw_model_free(m);
    free(files), free(la), free(lb), free(ea), free(eb), free(pa), free(pb);
    return 0;
}
