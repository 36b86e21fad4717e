/* The pieces of the CPU logits op (cw_backend_ops.logits) that are not
 * kernels: the 4-bit screen of an int8 vocabulary projection, made once from
 * its int8 rows, and the choice of the rows to compute exactly.
 *
 * Why: a decoder step of the int8 mode reads the whole [n_vocab, d] token
 * embedding for its logits (20 MB for tiny.en, 26 MB for base), 1.0-1.2 ms a
 * token on one core of the Xeon where it was measured, a third of a tiny.en run;
 * the search then looks at a handful of them. The screen reads half the bytes
 * to rank the text tokens; the best `keep` of them by that ranking, and every
 * special token, are then computed exactly (the int8 product's bits). The
 * bf16 mode's projection (40 MB for tiny.en, most of what its decoder step
 * reads) is screened the same way, from its rows quantized to int8 first;
 * its kept columns are then the bf16 product's. */
#include "backend/cpu/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/half.h"
#include "util/quant.h"
#include "util/vmath.h"

void cw_cpu_screen_free(cw_cpu_screen *sc)
{
    free(sc->q);
    free(sc->d);
    memset(sc, 0, sizeof *sc);
}

/* Row w [k] (w = q8 / wscale) into its nibbles dst [ld] and steps d [ld / 16]:
 * each group of 32 as q4 = round(q8 * 7 / max |q8|), step max |q8| / 7 / wscale
 * (rounded to fp16 first, and q4 made against the rounded step). */
static void screen_row(uint8_t *dst, uint16_t *d, const int8_t *w, float wscale, size_t k, size_t ld)
{
    memset(dst, 0x88, ld); /* q = 0 (+ 8) in both nibbles, past k too */
    for (size_t g = 0; g < ld / 16; g++) {
        size_t e0 = 32 * g, e1 = e0 + 32 < k ? e0 + 32 : k;
        int amax = 0;
        for (size_t e = e0; e < e1; e++) {
            int v = w[e] < 0 ? -w[e] : w[e];
            if (v > amax) amax = v;
        }
        d[g] = cw_f32_to_f16((float)amax / 7.0f / wscale);
        float step = cw_f16_to_f32(d[g]);
        if (amax == 0 || !(step > 0.0f) || isinf(step)) { /* nothing, or beyond fp16: left out */
            d[g] = 0;
            continue;
        }
        float f = 1.0f / (step * wscale); /* q8 units per step */
        for (size_t e = e0; e < e1; e++) {
            /* round to nearest even (|w f| <= 7 up to rounding), as lrintf
             * without its call per element */
            float v = ((float)w[e] * f + 12582912.0f) - 12582912.0f;
            int q = v < -7.0f ? -7 : v > 7.0f ? 7 : (int)v;
            uint8_t nib = (uint8_t)(q + 8);
            uint8_t *b = dst + e / 32 * 16 + e % 16;
            *b = e % 32 < 16 ? (uint8_t)((*b & 0xf0u) | nib) : (uint8_t)((*b & 0x0fu) | (nib << 4));
        }
    }
}

/* sc's buffers for n rows of k; its row stride is returned in *ld. */
static cw_status screen_alloc(cw_cpu_screen *sc, size_t n, size_t k, size_t *ld)
{
    cw_cpu_screen_free(sc);
    size_t bytes;
    *ld = (k + CW_SCREEN_GROUP - 1) / CW_SCREEN_GROUP * 64;
    if (cw_mul_size(n, *ld, &bytes)) return cw_error(CW_ERR_NOMEM, "logits screen too large");
    sc->q = malloc(bytes ? bytes : 1);
    sc->d = malloc(bytes / 8 + 16); /* + 8 steps: kernels widen 8 at a time */
    if (!sc->q || !sc->d) {
        cw_cpu_screen_free(sc);
        return cw_error(CW_ERR_NOMEM, "logits screen: out of memory (%zu bytes)", bytes);
    }
    return CW_OK;
}

cw_status cw_cpu_screen_alloc(cw_cpu_screen *sc, const void *w, size_t n, size_t k)
{
    size_t ld;
    cw_status s = screen_alloc(sc, n, k, &ld);
    if (s) return s;
    sc->wdata = w;
    sc->s = (cw_i4_screen){ .n = n, .k = k, .ld = ld, .q = sc->q, .d = sc->d };
    return CW_OK;
}

void cw_cpu_screen_rows(cw_cpu_screen *sc, const float *wscale, size_t r0, size_t r1, float *f, int8_t *q)
{
    size_t k = sc->s.k, ld = sc->s.ld;
    if (wscale) {
        const int8_t *w = sc->wdata;
        for (size_t r = r0; r < r1; r++) screen_row(sc->q + r * ld, sc->d + r * (ld / 16), w + r * k, wscale[r], k, ld);
        return;
    }
    const uint16_t *w = sc->wdata;
    for (size_t r = r0; r < r1; r++) {
        cw_bf16_to_f32_n(f, w + r * k, k);
        float scale = cw_quantize_row_i8(q, f, k); /* a zero row: q = 0, scale 1; its groups are left out */
        screen_row(sc->q + r * ld, sc->d + r * (ld / 16), q, scale, k, ld);
    }
}

static cw_status screen_build(cw_cpu_screen *sc, const void *w, const float *wscale, size_t n, size_t k)
{
    cw_status s = cw_cpu_screen_alloc(sc, w, n, k);
    if (s) return s;
    float *f = malloc((k ? k : 1) * sizeof *f);
    int8_t *q = malloc(k ? k : 1);
    if (!f || !q) {
        free(f), free(q);
        cw_cpu_screen_free(sc);
        return cw_error(CW_ERR_NOMEM, "logits screen: out of memory");
    }
    cw_cpu_screen_rows(sc, wscale, 0, n, f, q);
    free(f), free(q);
    return CW_OK;
}

cw_status cw_cpu_screen_build(cw_cpu_screen *sc, const int8_t *w, const float *wscale, size_t n, size_t k)
{
    return screen_build(sc, w, wscale, n, k);
}

cw_status cw_cpu_screen_build_bf16(cw_cpu_screen *sc, const uint16_t *w, size_t n, size_t k)
{
    return screen_build(sc, w, NULL, n, k);
}

/* Min-heap of (value, index) on the value: the root is the smallest kept. */
static void sift_down(float *v, uint32_t *ix, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < n && v[l] < v[s]) s = l;
        if (r < n && v[r] < v[s]) s = r;
        if (s == i) return;
        float tv = v[i];
        v[i] = v[s], v[s] = tv;
        uint32_t ti = ix[i];
        ix[i] = ix[s], ix[s] = ti;
        i = s;
    }
}

/* Blocks of this many values whose maximum does not beat the heap's root are
 * skipped whole: after the first few thousand values nearly all are. */
enum { TOP_BLOCK = 256 };

size_t cw_cpu_top(const float *y, size_t n, size_t keep, uint32_t *idx, float *val)
{
    if (keep > n) keep = n;
    if (keep == 0) return 0;
    size_t h = 0;
    for (size_t b = 0; b < n; b += TOP_BLOCK) {
        size_t e = n - b < TOP_BLOCK ? n : b + TOP_BLOCK;
        if (h == keep && !(cw_vmax(y + b, e - b) > val[0])) continue;
        for (size_t j = b; j < e; j++) {
            if (h < keep) { /* filling: push, then restore the heap from the bottom */
                size_t i = h++;
                val[i] = y[j], idx[i] = (uint32_t)j;
                while (i > 0 && val[(i - 1) / 2] > val[i]) {
                    size_t p = (i - 1) / 2;
                    float tv = val[i];
                    val[i] = val[p], val[p] = tv;
                    uint32_t ti = idx[i];
                    idx[i] = idx[p], idx[p] = ti;
                    i = p;
                }
            } else if (y[j] > val[0]) {
                val[0] = y[j], idx[0] = (uint32_t)j;
                sift_down(val, idx, h, 0);
            }
        }
    }
    return h;
}
