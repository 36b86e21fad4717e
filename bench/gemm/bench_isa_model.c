/* One encoder window and 20 decoder steps of 5 beams on a real model, with
 * the AVX2 and the AVX-512 kernel tables, interleaved, best of R runs of
 * process CPU time (less disturbed by other load than wall time; at 1 thread
 * it is the ops' time, at 2 the sum over both threads). The mel input is a
 * fixed pseudo-random pattern: the kernels' speed does not depend on it.
 * Needs the library built (make, at the root).
 *
 *   make bench_isa_model && ./bench_isa_model ../../models/base 1 3 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/error.h"
#include "../common/bench_net.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { N_BEAMS = 5, N_STEPS = 20 };

/* FP32 (the exact mode) on the given kernel table, N_BEAMS sequences. */
static int net_create(bench_net *n, const cw_model *model, cw_isa isa, int threads)
{
    cw_backend_params bp = cw_backend_default_params();
    bp.isa = isa;
    bp.n_threads = threads;
    return bench_net_create(n, model, &bp, CW_COMPUTE_FP32, N_BEAMS);
}

/* Seconds of one encoder run and of one decoder step (mean of N_STEPS after a
 * 3-token prompt per beam). */
static void run_once(bench_net *n, const float *mel, float *logits, double *t_enc, double *t_step)
{
    double t0 = cpu_now();
    cw_encoder_run(n->enc, mel, 1);
    *t_enc = cpu_now() - t0;
    cw_decoder_set_audio(n->dec, cw_encoder_output(n->enc), 1);
    cw_decoder_reset(n->dec, N_BEAMS, NULL);
    int32_t prompt[N_BEAMS * 3];
    for (int b = 0; b < N_BEAMS; b++) prompt[b * 3] = 50258, prompt[b * 3 + 1] = 50259, prompt[b * 3 + 2] = 50359;
    cw_decoder_forward(n->dec, prompt, N_BEAMS, 3, logits, -1, NULL);
    t0 = cpu_now();
    for (int s = 0; s < N_STEPS; s++) {
        int32_t tok[N_BEAMS];
        for (int b = 0; b < N_BEAMS; b++) tok[b] = 440 + s + b;
        cw_decoder_forward(n->dec, tok, N_BEAMS, 1, logits, -1, NULL);
    }
    *t_step = (cpu_now() - t0) / N_STEPS;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_DIR THREADS REPS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]), reps = atoi(argv[3]);
    cw_model_params mp = cw_model_default_params();
    cw_model *model = NULL;
    if (cw_model_load(argv[1], &mp, &model)) {
        fprintf(stderr, "%s\n", cw_last_error());
        return 1;
    }
    size_t n_mel = (size_t)model->dims.n_mels * 3000, n_vocab = (size_t)model->dims.n_vocab;
    float *mel = malloc(n_mel * sizeof *mel), *logits = malloc(N_BEAMS * n_vocab * sizeof *logits);
    for (size_t i = 0; i < n_mel; i++) mel[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    static const cw_isa isas[2] = { CW_ISA_AVX2, CW_ISA_AVX512 };
    bench_net nets[2];
    for (int i = 0; i < 2; i++)
        if (net_create(&nets[i], model, isas[i], threads)) return 1;
    double best_enc[2] = { 1e30, 1e30 }, best_step[2] = { 1e30, 1e30 };
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2; i++) {
            double te, ts;
            run_once(&nets[i], mel, logits, &te, &ts);
            if (te < best_enc[i]) best_enc[i] = te;
            if (ts < best_step[i]) best_step[i] = ts;
        }
    printf("%s thr%d: encoder avx2 %.1f ms avx512 %.1f ms | decoder step (%d beams) avx2 %.2f ms avx512 %.2f ms"
           "  (CPU time, best of %d)\n", argv[1], threads, best_enc[0] * 1e3, best_enc[1] * 1e3, N_BEAMS,
           best_step[0] * 1e3, best_step[1] * 1e3, reps);
    for (int i = 0; i < 2; i++) bench_net_free(&nets[i]);
    cw_model_free(model);
    free(mel);
    free(logits);
    return 0;
}
