/* Pieces of the log-mel front end: the FFT against a naive double DFT, the
 * periodic Hann window, torch's reflect padding (also on inputs shorter than
 * a frame, and the documented zero-extension below 201 samples), the filter
 * banks, and identical output for any thread count. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio.h"
#include "audio/fft.h"
#include "test.h"

static uint32_t g_rng = 1;
static double urand(void) /* [-1, 1) */
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return (double)(g_rng >> 8) / (double)(1u << 23) - 1.0;
}

static void naive_dft(const cw_cpx *in, cw_cpx *out, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double re = 0, im = 0;
        for (size_t j = 0; j < n; j++) {
            double a = -2.0 * M_PI * (double)((j * k) % n) / (double)n;
            re += in[j].re * cos(a) - in[j].im * sin(a);
            im += in[j].re * sin(a) + in[j].im * cos(a);
        }
        out[k] = (cw_cpx){ re, im };
    }
}

static void check_rfft_size(size_t n)
{
    cw_rfft_plan plan;
    CHECK(cw_rfft_plan_init(&plan, n) == CW_OK);
    double *x = malloc(n * sizeof *x);
    cw_cpx *xc = malloc(n * sizeof *xc), *ref = malloc(n * sizeof *ref), *out = malloc((n / 2 + 1) * sizeof *out);
    cw_cpx *scratch = malloc(cw_rfft_scratch_len(&plan) * sizeof *scratch);
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < n; i++) x[i] = urand(), xc[i] = (cw_cpx){ x[i], 0 };
        naive_dft(xc, ref, n);
        cw_rfft(&plan, x, out, scratch);
        double err = 0;
        for (size_t k = 0; k <= n / 2; k++) {
            err = fmax(err, fabs(out[k].re - ref[k].re));
            err = fmax(err, fabs(out[k].im - ref[k].im));
        }
        CHECK_MSG(err < 1e-10 * (double)n, "rfft %zu: max err %g", n, err);
    }
    /* the complex transform of size n/2 on its own */
    size_t m = n / 2;
    for (size_t i = 0; i < m; i++) xc[i] = (cw_cpx){ urand(), urand() };
    naive_dft(xc, ref, m);
    cw_cfft(&plan, xc, out);
    double err = 0;
    for (size_t k = 0; k < m; k++) err = fmax(err, fmax(fabs(out[k].re - ref[k].re), fabs(out[k].im - ref[k].im)));
    CHECK_MSG(err < 1e-10 * (double)n, "cfft %zu: max err %g", m, err);
    free(x), free(xc), free(ref), free(out), free(scratch);
    cw_rfft_plan_free(&plan);
}

static void test_fft_against_naive_dft(void)
{
    static const size_t sizes[] = { 400, 2, 4, 6, 10, 16, 30, 48, 120, 250, 512 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_rfft_size(sizes[i]);
    cw_rfft_plan plan;
    CHECK(cw_rfft_plan_init(&plan, 14) == CW_ERR_INVALID_ARG); /* factor 7 */
    CHECK(cw_rfft_plan_init(&plan, 401) == CW_ERR_INVALID_ARG);
}

static void test_hann_window(void)
{
    double w[CW_N_FFT];
    cw_hann_window(CW_N_FFT, w);
    CHECK(w[0] == 0.0);
    CHECK_NEAR(w[200], 1.0, 1e-15);
    CHECK_NEAR(w[100], 0.5, 1e-15);
    CHECK_NEAR(w[300], 0.5, 1e-15);
    for (size_t i = 1; i < CW_N_FFT; i++) CHECK_NEAR(w[i], w[CW_N_FFT - i], 1e-15); /* periodic: w[i] = w[N-i] */
    CHECK_NEAR(w[1], 0.5 - 0.5 * cos(2 * M_PI / 400), 1e-15);
}

/* The padded signal as torch builds it: p[k] = x[200-k], p[200+i] = x[i],
 * p[L+200+j] = x[L-2-j], x zero-padded to L; for L <= 200 (torch refuses),
 * x is zero-extended to 201 samples first. */
static double *torch_padded(const float *x, size_t n, size_t L, size_t *plen)
{
    size_t Lr = L > 200 ? L : 201;
    double *xl = calloc(Lr, sizeof *xl), *p = calloc(Lr + 400, sizeof *p);
    for (size_t i = 0; i < n; i++) xl[i] = x[i];
    for (size_t k = 0; k < 200; k++) p[k] = xl[200 - k];
    for (size_t i = 0; i < Lr; i++) p[200 + i] = xl[i];
    for (size_t j = 0; j < 200; j++) p[Lr + 200 + j] = xl[Lr - 2 - j];
    free(xl);
    *plen = Lr + 400;
    return p;
}

static void check_frames(size_t n, size_t padding)
{
    float *x = malloc((n + 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(i + 1);
    size_t L = n + padding, plen;
    double *p = torch_padded(x, n, L, &plen), frame[CW_N_FFT];
    for (size_t t = 0; t < L / CW_HOP_LENGTH; t++) {
        cw_stft_frame(x, n, L, t, frame);
        CHECK(t * CW_HOP_LENGTH + CW_N_FFT <= plen);
        for (size_t k = 0; k < CW_N_FFT; k++)
            if (frame[k] != p[t * CW_HOP_LENGTH + k]) {
                CHECK_MSG(0, "n %zu pad %zu frame %zu sample %zu: %g != %g", n, padding, t, k, frame[k],
                          p[t * CW_HOP_LENGTH + k]);
                break;
            }
    }
    free(p);
    free(x);
}

static void test_reflect_padding(void)
{
    check_frames(300, 0);    /* shorter than a frame */
    check_frames(201, 0);    /* the shortest torch accepts */
    check_frames(250, 100);  /* padding zeros inside the reflection */
    check_frames(1000, 0);
    check_frames(1234, 567);
    check_frames(160, 0);    /* 0.01 s: torch raises "Padding size should be less than the
                              * corresponding input dimension"; we zero-extend to 201 first */
    check_frames(199, 1);
    /* spot values of the left edge: p[0] = x[200], p[199] = x[1] */
    float x[300];
    for (int i = 0; i < 300; i++) x[i] = (float)i;
    double f[CW_N_FFT];
    cw_stft_frame(x, 300, 300, 0, f);
    CHECK(f[0] == 200 && f[199] == 1 && f[200] == 0 && f[399] == 199);
    cw_stft_frame(x, 300, 300, 1, f); /* starts at x[-40]: 40 mirrored, ends x[359] -> x[2*299-359] = x[239] */
    CHECK(f[0] == 40 && f[40] == 0 && f[339] == 299 && f[340] == 298 && f[399] == 239);
}

static void test_short_input(void)
{
    float x[160];
    for (int i = 0; i < 160; i++) x[i] = (float)sin(i * 0.3) * 0.5f;
    static const size_t lens[] = { 0, 1, 159, 160, 161, 200, 201, 320 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        float *mel = NULL;
        size_t nf = 99;
        size_t n = lens[i] < 160 ? lens[i] : 160, pad = lens[i] - n;
        CHECK(cw_log_mel(x, n, pad, 80, 1, &mel, &nf) == CW_OK);
        CHECK_EQ_INT(nf, lens[i] / 160);
        for (size_t k = 0; mel && k < 80 * nf; k++) CHECK(isfinite(mel[k]));
        free(mel);
    }
    /* pure padding: every value log10(1e-10) = -10, then (-10 + 4) / 4 */
    float *mel = NULL;
    size_t nf = 0;
    CHECK(cw_log_mel(NULL, 0, CW_N_SAMPLES, 80, 2, &mel, &nf) == CW_OK);
    CHECK_EQ_INT(nf, CW_N_FRAMES);
    int all = 1;
    for (size_t k = 0; mel && k < 80 * nf; k++) all &= mel[k] == -1.5f;
    CHECK(all);
    free(mel);
    CHECK_FAILS(cw_log_mel(x, 160, 0, 64, 1, &mel, &nf), CW_ERR_INVALID_ARG, "n_mels");
}

static void test_filters(void)
{
    CHECK(cw_mel_filters(64) == NULL);
    static const int sizes[] = { 80, 128 };
    for (int s = 0; s < 2; s++) {
        int nm = sizes[s];
        const float *f = cw_mel_filters(nm);
        CHECK(f != NULL);
        if (!f) continue;
        int prev_first = -1;
        double area = 0;
        for (int m = 0; m < nm; m++) {
            double sum = 0;
            int first = -1;
            for (int k = 0; k < 201; k++) {
                CHECK(f[m * 201 + k] >= 0.0f);
                sum += f[m * 201 + k];
                if (first < 0 && f[m * 201 + k] > 0) first = k;
            }
            /* slaney norm: each triangle has area ~1 over Hz (bins are 40 Hz apart); the
             * narrow low filters of mel_128 are sampled coarsely (0.49 .. 1.67) */
            CHECK_MSG(sum * 40.0 > (nm == 80 ? 0.9 : 0.45) && sum * 40.0 < (nm == 80 ? 1.1 : 1.7),
                      "mel_%d row %d: sum*40 = %g", nm, m, sum * 40.0);
            area += sum * 40.0 / nm;
            CHECK(first >= prev_first);
            prev_first = first;
        }
        CHECK_NEAR(area, 1.0, 0.005);
        /* filter 0 is non-zero only on bin 1 (whisper-reference.md §1) */
        CHECK(f[0] == 0.0f && f[1] > 0.0f && f[2] == 0.0f);
        CHECK(f[200] == 0.0f); /* nothing at 8 kHz for row 0 */
    }
    CHECK(cw_mel_filters(80)[1] == 0x1.975948p-6f);
}

static void test_threads_identical(void)
{
    size_t n = 16000 * 7 + 123;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.3 * sin((double)i * 0.01) + 0.1 * urand());
    float *ref = NULL;
    size_t nf_ref = 0;
    CHECK(cw_log_mel(x, n, 16000, 80, 1, &ref, &nf_ref) == CW_OK);
    for (int th = 2; th <= 5; th++) {
        float *mel = NULL;
        size_t nf = 0;
        CHECK(cw_log_mel(x, n, 16000, 80, th, &mel, &nf) == CW_OK);
        CHECK(nf == nf_ref && memcmp(mel, ref, nf * 80 * sizeof(float)) == 0);
        free(mel);
    }
    /* and on a pool the caller owns, run twice */
    cw_threadpool *pool = cw_threadpool_create(3);
    for (int rep = 0; rep < 2; rep++) {
        float *mel = NULL;
        size_t nf = 0;
        CHECK(cw_log_mel_pool(pool, x, n, 16000, 80, &mel, &nf) == CW_OK);
        CHECK(nf == nf_ref && memcmp(mel, ref, nf * 80 * sizeof(float)) == 0);
        free(mel);
    }
    cw_threadpool_free(pool);
    free(ref);
    free(x);
}

int main(void)
{
    RUN(test_fft_against_naive_dft);
    RUN(test_hann_window);
    RUN(test_reflect_padding);
    RUN(test_short_input);
    RUN(test_filters);
    RUN(test_threads_identical);
    return test_summary();
}
