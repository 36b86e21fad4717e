/* Bench of the real 400-point FFT behind the log-mel: cwhisper's own
 * mixed-radix FFT (double, src/audio/fft.c) against FFTW 3 (float and double,
 * FFTW_MEASURE plans) and a naive DFT with a precomputed table; then the whole
 * cw_log_mel on 30 s of audio with 1 and 2 threads. Each transform is checked
 * against the naive DFT first. Run with bench/mel/run.sh. */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "audio/audio.h"
#include "audio/fft.h"

#define N 400
#define NB (N / 2 + 1)
#define FRAMES 3000 /* one 30 s window */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double sink; /* keeps the work observable */

/* (GNU C statement expression: the bench is built with -std=gnu11.)
 * Best of `reps` timings of `frames` transforms; returns microseconds per transform. */
#define TIME_IT(reps, frames, ...)                                \
    ({                                                           \
        double best = 1e30;                                      \
        for (int r_ = 0; r_ < (reps); r_++) {                    \
            double t0_ = now();                                  \
            for (int f_ = 0; f_ < (frames); f_++) { __VA_ARGS__; }    \
            double dt_ = now() - t0_;                            \
            best = dt_ < best ? dt_ : best;                      \
        }                                                        \
        best / (frames) * 1e6;                                   \
    })

int main(void)
{
    static double x[N], cosv[NB][N], sinv[NB][N];
    static float xf[N];
    for (int i = 0; i < N; i++) x[i] = sin(i * 0.37) + 0.25 * cos(i * 1.9), xf[i] = (float)x[i];
    for (int k = 0; k < NB; k++)
        for (int j = 0; j < N; j++) cosv[k][j] = cos(2 * M_PI * ((j * k) % N) / N), sinv[k][j] = -sin(2 * M_PI * ((j * k) % N) / N);

    /* naive DFT (reference) */
    static cw_cpx ref[NB];
    double t_naive = TIME_IT(3, 300, {
        for (int k = 0; k < NB; k++) {
            double re = 0, im = 0;
            for (int j = 0; j < N; j++) re += x[j] * cosv[k][j], im += x[j] * sinv[k][j];
            ref[k] = (cw_cpx){ re, im };
        }
        sink += ref[f_ % NB].re;
    });

    /* cwhisper's FFT */
    cw_rfft_plan plan;
    cw_rfft_plan_init(&plan, N);
    static cw_cpx out[NB], scratch[N];
    double t_own = TIME_IT(5, FRAMES, { cw_rfft(&plan, x, out, scratch); sink += out[f_ % NB].re; });
    double e_own = 0;
    for (int k = 0; k < NB; k++) e_own = fmax(e_own, hypot(out[k].re - ref[k].re, out[k].im - ref[k].im));

    /* FFTW float */
    float *fin = fftwf_alloc_real(N);
    fftwf_complex *fout = fftwf_alloc_complex(NB);
    fftwf_plan pf = fftwf_plan_dft_r2c_1d(N, fin, fout, FFTW_MEASURE);
    for (int i = 0; i < N; i++) fin[i] = xf[i];
    double t_fftwf = TIME_IT(5, FRAMES, { fftwf_execute(pf); sink += fout[f_ % NB][0]; });
    double e_fftwf = 0;
    for (int k = 0; k < NB; k++) e_fftwf = fmax(e_fftwf, hypot(fout[k][0] - ref[k].re, fout[k][1] - ref[k].im));

    /* FFTW double */
    double *din = fftw_alloc_real(N);
    fftw_complex *dout = fftw_alloc_complex(NB);
    fftw_plan pd = fftw_plan_dft_r2c_1d(N, din, dout, FFTW_MEASURE);
    for (int i = 0; i < N; i++) din[i] = x[i];
    double t_fftw = TIME_IT(5, FRAMES, { fftw_execute(pd); sink += dout[f_ % NB][0]; });
    double e_fftw = 0;
    for (int k = 0; k < NB; k++) e_fftw = fmax(e_fftw, hypot(dout[k][0] - ref[k].re, dout[k][1] - ref[k].im));

    printf("| transform (n = 400, real input) | us / frame | ms per 30 s (3000 frames) | max abs err vs naive |\n");
    printf("|---|---|---|---|\n");
    printf("| naive DFT, double, precomputed table | %.2f | %.1f | 0 (reference) |\n", t_naive, t_naive * 3);
    printf("| cwhisper fft.c, double, mixed radix 4·2·5·5 + real split | %.2f | %.2f | %.1e |\n", t_own, t_own * 3, e_own);
    printf("| FFTW 3 float (fftwf r2c, MEASURE) | %.2f | %.2f | %.1e |\n", t_fftwf, t_fftwf * 3, e_fftwf);
    printf("| FFTW 3 double (fftw r2c, MEASURE) | %.2f | %.2f | %.1e |\n", t_fftw, t_fftw * 3, e_fftw);

    /* the whole log-mel, 30 s of audio + 30 s padding as transcribe() does */
    size_t n = 480000;
    float *audio = malloc(n * sizeof *audio);
    for (size_t i = 0; i < n; i++) audio[i] = (float)(0.3 * sin((double)i * 0.05) + 0.05 * sin((double)i * 1.3));
    printf("\n| cw_log_mel, 30 s audio + 30 s padding (6000 frames, 80 mels) | ms (best of 5) |\n|---|---|\n");
    for (int th = 1; th <= 2; th++) {
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            float *mel;
            size_t nf;
            double t0 = now();
            cw_log_mel(audio, n, 480000, 80, th, &mel, &nf);
            best = fmin(best, now() - t0);
            sink += mel[0];
            free(mel);
        }
        printf("| %d thread%s | %.1f |\n", th, th > 1 ? "s" : "", best * 1e3);
    }
    free(audio);
    fftwf_destroy_plan(pf), fftw_destroy_plan(pd);
    fftwf_free(fin), fftwf_free(fout), fftw_free(din), fftw_free(dout);
    cw_rfft_plan_free(&plan);
    fprintf(stderr, "(sink %g)\n", sink);
    return 0;
}
