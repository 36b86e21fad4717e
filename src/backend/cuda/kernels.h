/* The CUDA back end's kernels, written in the common subset of C11 and CUDA
 * C++ so that one text serves two compilers:
 *
 *   - cuda_backend.cu includes it after kernels_cuda.h (CW_KERNEL is
 *     __global__, threads are GPU threads);
 *   - tests/unit/test_cuda_kernels.c includes it after tests/cuda_shim.h,
 *     which runs each block's threads as host threads (a barrier for
 *     __syncthreads, one per warp for the shuffles), so the index arithmetic,
 *     masks, reductions and bounds of every kernel are checked against the
 *     CPU reference on a machine without a GPU.
 *
 * The environment provides: CW_KERNEL (a kernel's "return type"), CW_DEV (a
 * device helper), blockIdx / blockDim / threadIdx / gridDim, cw_sync() (the
 * block barrier), cw_shfl_xor(v, lane_mask) (a full-warp butterfly),
 * CW_SHARED(type, name, n) (block-shared array), cw_f32_to_f16_bits(x) (RNE).
 * Every kernel is launched with blockDim.x a multiple of 32 and guards its
 * own ranges; sizes are size_t, so grids may cover more than 2^32 elements
 * through grid-stride loops. */
#ifndef CW_CUDA_KERNELS_H
#define CW_CUDA_KERNELS_H

#include "backend/cuda/kernels_geom.h"

/* ---- scalar helpers ---------------------------------------------------------- */

CW_DEV float cw_k_warp_sum(float v)
{
    for (int m = CW_WARP / 2; m > 0; m /= 2) v += cw_shfl_xor(v, m);
    return v;
}

CW_DEV float cw_k_warp_max(float v)
{
    for (int m = CW_WARP / 2; m > 0; m /= 2) {
        float o = cw_shfl_xor(v, m);
        v = o > v ? o : v;
    }
    return v;
}

/* IEEE binary16 bits -> float (subnormals, infinities and NaN included). */
CW_DEV float cw_k_f16(unsigned short h)
{
    unsigned int sign = (unsigned int)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0) {
        if (m == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            e = 113; /* 127 - 15 + 1 */
            while (!(m & 0x400u)) { m <<= 1; e--; }
            bits = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        bits = sign | 0x7f800000u | (m << 13);
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    union { unsigned int u; float f; } v;
    v.u = bits;
    return v.f;
}

CW_DEV float cw_k_bf16(unsigned short h)
{
    union { unsigned int u; float f; } v;
    v.u = (unsigned int)h << 16;
    return v.f;
}

/* float -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN, as
 * util/half.c's cw_f32_to_bf16. */
CW_DEV unsigned short cw_k_to_bf16(float f)
{
    union { unsigned int u; float f; } v;
    v.f = f;
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((v.u >> 16) | 0x40u);
    unsigned int r = v.u + 0x7fffu + ((v.u >> 16) & 1u);
    return (unsigned short)(r >> 16);
}

/* Element i of a weight row of dtype dt (I8: q / scale). */
CW_DEV float cw_k_load(const void *x, int dt, size_t i, float scale)
{
    switch (dt) {
    case CW_K_F16: return cw_k_f16(((const unsigned short *)x)[i]);
    case CW_K_BF16: return cw_k_bf16(((const unsigned short *)x)[i]);
    case CW_K_I8: return (float)((const signed char *)x)[i] / scale;
    default: return ((const float *)x)[i];
    }
}

/* The global index and stride of a 1-D grid-stride loop. */
CW_DEV size_t cw_k_gid(void) { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
CW_DEV size_t cw_k_gstride(void) { return (size_t)gridDim.x * blockDim.x; }

/* ---- row-wise: one warp per row ------------------------------------------------- */

/* y [rows, cols] = (x - mean) / sqrt(var + eps) * gamma + beta; y may be x.
 * Two passes (mean, then the centred squares), as the CPU kernels. */
CW_KERNEL cw_k_layernorm(float *y, const float *x, const float *gamma, const float *beta, size_t rows,
                         size_t cols, float eps)
{
    size_t row = (size_t)blockIdx.x * (blockDim.x / CW_WARP) + threadIdx.x / CW_WARP;
    unsigned lane = threadIdx.x % CW_WARP;
    if (row >= rows) return; /* whole warps leave together */
    const float *xr = x + row * cols;
    float *yr = y + row * cols;
    float s = 0.0f;
    for (size_t c = lane; c < cols; c += CW_WARP) s += xr[c];
    float mean = cw_k_warp_sum(s) / (float)cols;
    float v = 0.0f;
    for (size_t c = lane; c < cols; c += CW_WARP) v += (xr[c] - mean) * (xr[c] - mean);
    float inv = 1.0f / sqrtf(cw_k_warp_sum(v) / (float)cols + eps);
    for (size_t c = lane; c < cols; c += CW_WARP) {
        float t = (xr[c] - mean) * inv;
        if (gamma) t *= gamma[c];
        if (beta) t += beta[c];
        yr[c] = t;
    }
}

/* y [rows, cols] = softmax over each row of (scale * x), masked as cw_mask:
 * row r is row (r % group) of its group for the causal mask (attention
 * scores of H heads stacked: group = nq), columns >= n_valid (when non-zero)
 * and, if causal, columns > (r % group) + offset are 0. A row with every
 * column masked is all zeros. y may be x. */
CW_KERNEL cw_k_softmax(float *y, const float *x, size_t rows, size_t cols, float scale, int causal, size_t offset,
                       size_t n_valid, size_t group)
{
    size_t row = (size_t)blockIdx.x * (blockDim.x / CW_WARP) + threadIdx.x / CW_WARP;
    unsigned lane = threadIdx.x % CW_WARP;
    if (row >= rows) return;
    size_t keep = cols, i = group ? row % group : row;
    if (n_valid && n_valid < keep) keep = n_valid;
    if (causal && i + offset + 1 < keep) keep = i + offset + 1;
    const float *xr = x + row * cols;
    float *yr = y + row * cols;
    float mx = -INFINITY;
    for (size_t c = lane; c < keep; c += CW_WARP) mx = fmaxf(mx, scale * xr[c]);
    mx = cw_k_warp_max(mx);
    float s = 0.0f;
    for (size_t c = lane; c < keep; c += CW_WARP) s += expf(scale * xr[c] - mx);
    s = cw_k_warp_sum(s);
    for (size_t c = lane; c < cols; c += CW_WARP) yr[c] = c < keep ? expf(scale * xr[c] - mx) / s : 0.0f;
}

/* ---- elementwise: grid-stride loops ----------------------------------------------- */

/* x [n] = 0.5 x (1 + erf(x / sqrt 2)) (exact erf, as the CPU and torch). */
CW_KERNEL cw_k_gelu(float *x, size_t n)
{
    for (size_t i = cw_k_gid(); i < n; i += cw_k_gstride()) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

CW_KERNEL cw_k_add(float *y, const float *a, const float *b, size_t n)
{
    for (size_t i = cw_k_gid(); i < n; i += cw_k_gstride()) y[i] = a[i] + b[i];
}

/* y [outer, inner] = x + r [inner] broadcast; y may be x. */
CW_KERNEL cw_k_add_bcast(float *y, const float *x, const float *r, size_t outer, size_t inner)
{
    size_t n = outer * inner;
    for (size_t i = cw_k_gid(); i < n; i += cw_k_gstride()) y[i] = x[i] + r[i % inner];
}

/* y [n, d] float32 = rows of a table of dtype dt (I8: q / scale[row]):
 *   ids != NULL: row i of y is table row ids[i], at ids[i] * ld (embedding);
 *   ids == NULL: row i of y is row (i % per) of slab (i / per), at
 *     (i / per) * bstride + (i % per) * ld (a weight widened whole: per = n;
 *     bf16 K/V of B sequences widened to float32: per = nkv).
 * Strides count elements of dt. */
CW_KERNEL cw_k_gather(float *y, const void *table, int dt, const float *scale, const int *ids, size_t n, size_t d,
                      size_t ld, size_t per, size_t bstride)
{
    size_t total = n * d;
    for (size_t e = cw_k_gid(); e < total; e += cw_k_gstride()) {
        size_t i = e / d, c = e % d;
        size_t row = ids ? (size_t)ids[i] : i % per;
        size_t at = ids ? row * ld + c : (i / per) * bstride + row * ld + c;
        y[e] = cw_k_load(table, dt, at, dt == CW_K_I8 ? scale[row] : 1.0f);
    }
}

/* y [n] 16-bit = x [n] rounded to nearest even: dt CW_K_BF16 or CW_K_F16. */
CW_KERNEL cw_k_narrow(unsigned short *y, const float *x, int dt, size_t n)
{
    for (size_t i = cw_k_gid(); i < n; i += cw_k_gstride())
        y[i] = dt == CW_K_F16 ? cw_f32_to_f16_bits(x[i]) : cw_k_to_bf16(x[i]);
}

/* cols [t_out, c_in*3]: cols[t, c*3 + j] = x[c, t*stride + j - 1], 0 outside. */
CW_KERNEL cw_k_im2col3(float *cols, const float *x, size_t c_in, size_t t_in, size_t t_out, size_t stride)
{
    size_t kk = c_in * 3, total = t_out * kk;
    for (size_t e = cw_k_gid(); e < total; e += cw_k_gstride()) {
        size_t t = e / kk, c = e % kk / 3, j = e % 3;
        size_t pos = t * stride + j; /* position + 1 in x */
        cols[e] = pos >= 1 && pos - 1 < t_in ? x[c * t_in + pos - 1] : 0.0f;
    }
}

/* ---- transpose: 32 x 32 tiles through shared memory -------------------------------- */

/* y [cols, rows] = x [rows, cols]^T; grid (ceil(cols/32), ceil(rows/32)),
 * block (32, 8). The tile's row of 33 keeps the column reads free of bank
 * conflicts. */
CW_KERNEL cw_k_transpose(float *y, const float *x, size_t rows, size_t cols)
{
    CW_SHARED(float, tile, CW_TILE * (CW_TILE + 1));
    size_t c0 = (size_t)blockIdx.x * CW_TILE, r0 = (size_t)blockIdx.y * CW_TILE;
    for (unsigned k = threadIdx.y; k < CW_TILE; k += CW_TILE_ROWS) {
        size_t r = r0 + k, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[k * (CW_TILE + 1) + threadIdx.x] = x[r * cols + c];
    }
    cw_sync();
    for (unsigned k = threadIdx.y; k < CW_TILE; k += CW_TILE_ROWS) {
        size_t c = c0 + k, r = r0 + threadIdx.x; /* y row c, column r */
        if (r < rows && c < cols) y[c * rows + r] = tile[threadIdx.x * (CW_TILE + 1) + k];
    }
}

#endif
