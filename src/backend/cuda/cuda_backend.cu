/* The CUDA back end (backend.h's op table on an NVIDIA GPU, compute
 * capability 8.0 and up). Host code in the C subset of C++, no C++ runtime
 * (no new, no exceptions); the kernels are kernels.h, shared with the host
 * shim of tests/unit/test_cuda_kernels.c; checks and scratch plans are
 * cuda_plan.c (plain C, tested everywhere).
 *
 * One context = one handle: one stream, one cuBLAS handle on it, one
 * grow-only scratch allocation (cuda_plan.h), so once the first window has
 * run no op allocates. Ops are queued on the stream; download waits for them.
 * cuBLAS is dlopened (the toolkit has no static cuBLAS, and a machine without
 * it must still run the CPU back end); the runtime is linked statically and
 * loads the driver itself, so no driver is an error from cw_cuda_probe.
 *
 * STATUS: compiled and its host logic and kernel index arithmetic tested on
 * machines without a GPU; see cuda/README.md for what has run where. */
extern "C" {
#include "backend/backend.h"
#include "backend/cuda/cuda_plan.h"
#include "util/error.h"
}

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/kernels_cuda.h"
#include "backend/cuda/kernels.h"

/* ---- cuBLAS, loaded at run time ----------------------------------------------------- */

/* the C entry points (the header also has C++ overloads taking cudaDataType) */
typedef cublasStatus_t (*cw_gemm_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                     const void *, const void *, cudaDataType, int, const void *, cudaDataType, int,
                                     const void *, void *, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
typedef cublasStatus_t (*cw_gemm_batched_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                             const void *, const void *, cudaDataType, int, long long, const void *,
                                             cudaDataType, int, long long, const void *, void *, cudaDataType, int,
                                             long long, int, cublasComputeType_t, cublasGemmAlgo_t);

typedef struct {
    void *lib;
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    cw_gemm_fn gemm;
    cw_gemm_batched_fn gemm_batched;
} cw_cublas;

/* CW_CUBLAS (a path) first, then the sonames of CUDA 13 and 12. */
static cw_status cublas_load(cw_cublas *b)
{
    memset(b, 0, sizeof *b);
    const char *env = getenv("CW_CUBLAS");
    const char *names[] = { env, "libcublas.so.13", "libcublas.so.12", "libcublas.so" };
    const char *why = "not found";
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !b->lib; i++) {
        if (!names[i] || !*names[i]) continue;
        b->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!b->lib && i == 0) why = dlerror();
    }
    if (!b->lib)
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: cuBLAS not found (libcublas.so.13 or .12; CW_CUBLAS=path: %s)",
                        env && *env ? why : "unset");
#define CW_SYM(field, name)                                                                              \
    do {                                                                                                 \
        void *s_ = dlsym(b->lib, name);                                                                  \
        if (!s_) {                                                                                       \
            dlclose(b->lib);                                                                             \
            b->lib = NULL;                                                                               \
            return cw_error(CW_ERR_UNSUPPORTED, "CUDA: cuBLAS lacks %s", name);                          \
        }                                                                                                \
        memcpy(&b->field, &s_, sizeof s_);                                                               \
    } while (0)
    CW_SYM(create, "cublasCreate_v2");
    CW_SYM(destroy, "cublasDestroy_v2");
    CW_SYM(set_stream, "cublasSetStream_v2");
    CW_SYM(set_math_mode, "cublasSetMathMode");
    CW_SYM(gemm, "cublasGemmEx");
    CW_SYM(gemm_batched, "cublasGemmStridedBatchedEx");
#undef CW_SYM
    return CW_OK;
}

/* ---- errors --------------------------------------------------------------------------- */

static cw_status cuda_fail(cudaError_t e, const char *what)
{
    cudaGetLastError(); /* clear it: the next op starts clean */
    return cw_error(e == cudaErrorMemoryAllocation ? CW_ERR_NOMEM : CW_ERR_INTERNAL, "CUDA: %s: %s", what,
                    cudaGetErrorString(e));
}

#define CW_CU(call, what)                                  \
    do {                                                   \
        cudaError_t e_ = (call);                           \
        if (e_ != cudaSuccess) return cuda_fail(e_, what); \
    } while (0)

static cw_status blas_fail(cublasStatus_t s, const char *what)
{
    return cw_error(s == CUBLAS_STATUS_ALLOC_FAILED ? CW_ERR_NOMEM : CW_ERR_INTERNAL, "cuBLAS: %s: status %d", what,
                    (int)s);
}

/* after a kernel launch */
static cw_status launched(const char *what)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? CW_OK : cuda_fail(e, what);
}

extern "C" cw_status cw_cuda_probe(int device)
{
    int n = 0, rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorInsufficientDriver) {
        cudaGetLastError();
        cudaDriverGetVersion(&drv);
        if (drv == 0)
            return cw_error(CW_ERR_UNSUPPORTED, "CUDA: no NVIDIA driver (libcuda) on this machine");
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: the NVIDIA driver (CUDA %d.%d) is older than this build's runtime (%d.%d)",
                        drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
        cudaGetLastError();
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: no GPU found (the driver sees none)");
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: %s", cudaGetErrorString(e));
    }
    if (device < 0 || device >= n)
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: no device %d (%d found)", device, n);
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    if (major < 8)
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: device %d has compute capability %d.%d; cwhisper needs 8.0 or more",
                        device, major, minor);
    cw_cublas b;
    cw_status s = cublas_load(&b);
    if (s == CW_OK) dlclose(b.lib);
    return s;
}

/* ---- the handle's state ------------------------------------------------------------------ */

typedef struct {
    int device;
    int lowp;
    cudaStream_t stream;
    cw_cublas blas;
    cublasHandle_t h;
    cw_cuda_pool scratch; /* every op's temporaries */
    cw_cuda_pool ids;     /* embedding ids, copied from the host */
    char desc[128];
} cw_cuda_state;

static cw_cuda_state *state(cw_backend *be) { return (cw_cuda_state *)be->impl; }

static cw_status dev_alloc(void *ctx, size_t bytes, void **out)
{
    (void)ctx;
    cudaError_t e = cudaMalloc(out, bytes);
    if (e != cudaSuccess) {
        *out = NULL;
        return cuda_fail(e, "cudaMalloc");
    }
    return CW_OK;
}

static void dev_free(void *ctx, void *p)
{
    (void)ctx;
    cudaFree(p); /* waits for the work queued before it */
}

/* Every op: the handle's GPU for this thread (contexts on several GPUs). */
static cw_status enter(cw_backend *be)
{
    CW_CU(cudaSetDevice(state(be)->device), "cudaSetDevice");
    return CW_OK;
}

static cw_cuda_buf *cbuf(cw_buf *b) { return (cw_cuda_buf *)(void *)b; }
static const cw_cuda_buf *ccbuf(const cw_buf *b) { return (const cw_cuda_buf *)(const void *)b; }

/* ---- buffers -------------------------------------------------------------------------------- */

static cw_status cuda_buf_alloc(cw_backend *be, size_t bytes, cw_buf **out)
{
    *out = NULL;
    cw_status s = enter(be);
    if (s != CW_OK) return s;
    cw_cuda_buf *b = (cw_cuda_buf *)cw_calloc(1, sizeof *b);
    if (!b) return CW_ERR_NOMEM;
    cudaError_t e = cudaMalloc(&b->dev, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        free(b);
        return cw_error(CW_ERR_NOMEM, "CUDA: out of device memory allocating %zu bytes (%s)", bytes,
                        cudaGetErrorString(e));
    }
    b->size = bytes;
    b->owned = 1;
    *out = (cw_buf *)(void *)b;
    return CW_OK;
}

static void cuda_buf_free(cw_backend *be, cw_buf *buf)
{
    if (!buf) return;
    enter(be);
    cw_cuda_buf *b = cbuf(buf);
    if (b->owned) cudaFree(b->dev);
    free(b);
}

/* A device copy of host memory (weights): synchronous, host may go after. */
static cw_status cuda_buf_wrap(cw_backend *be, const void *host, size_t bytes, cw_buf **out)
{
    cw_status s = cuda_buf_alloc(be, bytes, out);
    if (s != CW_OK || !bytes) return s;
    cudaError_t e = cudaMemcpy(cbuf(*out)->dev, host, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        cuda_buf_free(be, *out);
        *out = NULL;
        return cuda_fail(e, "copying weights to the device");
    }
    return CW_OK;
}

static size_t cuda_buf_size(const cw_buf *b) { return b ? ccbuf(b)->size : 0; }

static cw_status cuda_upload(cw_backend *be, cw_buf *dst, size_t off, const void *src, size_t bytes)
{
    cw_cuda_buf *b = cbuf(dst);
    if (!b || off > b->size || bytes > b->size - off)
        return cw_error(CW_ERR_INVALID_ARG, "upload of %zu bytes at %zu outside the buffer", bytes, off);
    cw_status s = enter(be);
    if (s != CW_OK || !bytes) return s;
    /* pageable source: returns once src is staged, so the caller may reuse it */
    CW_CU(cudaMemcpyAsync((char *)b->dev + off, src, bytes, cudaMemcpyHostToDevice, state(be)->stream), "upload");
    return CW_OK;
}

static cw_status cuda_download(cw_backend *be, void *dst, const cw_buf *src, size_t off, size_t bytes)
{
    const cw_cuda_buf *b = ccbuf(src);
    if (!b || off > b->size || bytes > b->size - off)
        return cw_error(CW_ERR_INVALID_ARG, "download of %zu bytes at %zu outside the buffer", bytes, off);
    cw_status s = enter(be);
    if (s != CW_OK || !bytes) return s;
    CW_CU(cudaMemcpyAsync(dst, (const char *)b->dev + off, bytes, cudaMemcpyDeviceToHost, state(be)->stream),
          "download");
    CW_CU(cudaStreamSynchronize(state(be)->stream), "download (waiting for the queued ops)");
    return CW_OK;
}

/* One planned cuBLAS call; ab: the type of A and B, C float32, fp32 sums. */
static cw_status run_gemm(cw_cuda_state *st, const cw_cuda_gemm *g, cudaDataType ab, const char *what)
{
    const float one = 1.0f, zero = 0.0f;
    cublasOperation_t ta = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t bs;
    if (g->batch == 1)
        bs = st->blas.gemm(st->h, ta, tb, (int)g->m, (int)g->n, (int)g->k, &one, g->a, ab, (int)g->lda, g->b, ab,
                           (int)g->ldb, &zero, g->c, CUDA_R_32F, (int)g->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    else
        bs = st->blas.gemm_batched(st->h, ta, tb, (int)g->m, (int)g->n, (int)g->k, &one, g->a, ab, (int)g->lda,
                                   (long long)g->stride_a, g->b, ab, (int)g->ldb, (long long)g->stride_b, &zero, g->c,
                                   CUDA_R_32F, (int)g->ldc, (long long)g->stride_c, (int)g->batch, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT);
    return bs == CUBLAS_STATUS_SUCCESS ? CW_OK : blas_fail(bs, what);
}

/* ---- launches ---------------------------------------------------------------------------------- */

static cw_status gather(cw_cuda_state *st, float *y, const void *table, int dt, const float *scale, const int *ids,
                        size_t n, size_t d, size_t ld, size_t per, size_t bstride)
{
    if (n == 0 || d == 0) return CW_OK;
    cw_k_gather<<<cw_cuda_blocks(n * d, CW_EW_THREADS), CW_EW_THREADS, 0, st->stream>>>(y, table, dt, scale, ids, n,
                                                                                       d, ld, per, bstride);
    return launched("gather");
}

static cw_status bias_rows(cw_cuda_state *st, float *y, const float *bias, size_t m, size_t n)
{
    if (!bias || m == 0 || n == 0) return CW_OK;
    cw_k_add_bcast<<<cw_cuda_blocks(m * n, CW_EW_THREADS), CW_EW_THREADS, 0, st->stream>>>(y, y, bias, m, n);
    return launched("bias");
}

/* y [m, N] = x [m, K] . W^T (no bias) as planned; scr: plan->scratch bytes.
 * Column-major view: y^T (N x m) = op_T(W as K x N) . x (K x m). */
static cw_status gemm_w(cw_cuda_state *st, const cw_cuda_linear_plan *p, float *y, const float *x,
                        const cw_weight *w, size_t m, char *scr)
{
    const void *a = cw_cuda_weight_ptr(w), *bx = x;
    cudaDataType_t ab = CUDA_R_32F;
    cw_status s;
    if (p->mode == CW_CUDA_GEMM_WIDEN) {
        float *wf = (float *)(void *)scr;
        s = gather(st, wf, a, (int)w->dtype, w->dtype == CW_DTYPE_I8 ? (const float *)ccbuf(w->scale)->dev : NULL,
                   NULL, w->rows, w->cols, w->cols, w->rows, 0);
        if (s != CW_OK) return s;
        a = wf;
    } else if (p->mode == CW_CUDA_GEMM_HALF) {
        unsigned short *x16 = (unsigned short *)(void *)(scr + p->widen_bytes);
        size_t n = m * w->cols;
        if (n) {
            cw_k_narrow<<<cw_cuda_blocks(n, CW_EW_THREADS), CW_EW_THREADS, 0, st->stream>>>(x16, x, (int)w->dtype, n);
            if ((s = launched("narrow")) != CW_OK) return s;
        }
        bx = x16;
        ab = w->dtype == CW_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
    }
    cw_cuda_gemm g = cw_cuda_gemm_linear(y, bx, a, m, w->rows, w->cols);
    return run_gemm(st, &g, ab, "linear GEMM");
}

/* ---- products ---------------------------------------------------------------------------------- */

static cw_status cuda_linear(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t m)
{
    cw_cuda_state *st = state(be);
    cw_cuda_linear_plan p;
    cw_status s = cw_cuda_plan_linear(w, m, st->lowp, &p);
    if (s != CW_OK) return cw_error_prefix(s, "linear");
    size_t n = w->rows, k = w->cols, mk, mn;
    if (cw_mul_size(m, k, &mk) || cw_mul_size(m, n, &mn)) return cw_error(CW_ERR_INVALID_ARG, "linear: too large");
    int ok = 1;
    float *py = cw_cuda_ref(y, mn, "linear y");
    const float *px = cw_cuda_ref(x, mk, "linear x");
    const float *pb = cw_cuda_opt(bias, n, "linear bias", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    if (m == 0 || n == 0) return CW_OK;
    if ((s = enter(be)) != CW_OK) return s;
    char *scr = (char *)cw_cuda_pool_get(&st->scratch, p.scratch);
    if (!scr) return CW_ERR_NOMEM;
    if ((s = gemm_w(st, &p, py, px, w, m, scr)) != CW_OK) return s;
    return bias_rows(st, py, pb, m, n);
}

static cw_status cuda_conv1d(cw_backend *be, cw_ref y, cw_ref x, const cw_weight *w, cw_ref bias, size_t c_in,
                             size_t t_in, size_t stride)
{
    cw_cuda_state *st = state(be);
    cw_cuda_conv_plan p;
    cw_status s = cw_cuda_plan_conv1d(w, c_in, t_in, stride, st->lowp, &p);
    if (s != CW_OK) return cw_error_prefix(s, "conv1d");
    size_t c_out = w->rows, t_out = p.t_out, ny, nx;
    if (cw_mul_size(c_out, t_out, &ny) || cw_mul_size(c_in, t_in, &nx))
        return cw_error(CW_ERR_INVALID_ARG, "conv1d: too large");
    int ok = 1;
    float *py = cw_cuda_ref(y, ny, "conv1d y");
    const float *px = cw_cuda_ref(x, nx, "conv1d x");
    const float *pb = cw_cuda_opt(bias, c_out, "conv1d bias", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    if (c_out == 0) return CW_OK;
    if (t_out > (size_t)65535 * CW_TILE || c_out > (size_t)INT32_MAX)
        return cw_error(CW_ERR_INVALID_ARG, "conv1d: %zu output columns: beyond the transpose grid", t_out);
    if ((s = enter(be)) != CW_OK) return s;
    char *scr = (char *)cw_cuda_pool_get(&st->scratch, p.scratch);
    if (!scr) return CW_ERR_NOMEM;
    float *cols = (float *)(void *)scr, *z = (float *)(void *)(scr + p.cols_bytes);
    size_t ncols = t_out * w->cols;
    if (ncols) {
        cw_k_im2col3<<<cw_cuda_blocks(ncols, CW_EW_THREADS), CW_EW_THREADS, 0, st->stream>>>(cols, px, c_in, t_in,
                                                                                            t_out, stride);
        if ((s = launched("im2col")) != CW_OK) return s;
    }
    if ((s = gemm_w(st, &p.lin, z, cols, w, t_out, scr + p.cols_bytes + p.z_bytes)) != CW_OK) return s;
    if ((s = bias_rows(st, z, pb, t_out, c_out)) != CW_OK) return s;
    dim3 grid((unsigned)((c_out + CW_TILE - 1) / CW_TILE), (unsigned)((t_out + CW_TILE - 1) / CW_TILE));
    cw_k_transpose<<<grid, dim3(CW_TILE, CW_TILE_ROWS), 0, st->stream>>>(py, z, t_out, c_out);
    return launched("conv1d transpose");
}

static cw_status cuda_attention(cw_backend *be, const cw_attn *a)
{
    cw_cuda_state *st = state(be);
    cw_cuda_attn_plan p;
    cw_status s = cw_cuda_plan_attention(a, &p);
    if (s != CW_OK) return s;
    size_t B = a->n_batch, H = a->n_head, hd = H * CW_HEAD_DIM;
    if (B == 0 || H == 0 || a->nq == 0) return CW_OK;
    if ((s = enter(be)) != CW_OK) return s;
    if (a->nkv == 0) { /* no keys: every output row is 0, as the CPU's empty sums */
        for (size_t b = 0; b < B; b++)
            CW_CU(cudaMemset2DAsync(p.o + b * a->o_bstride, a->o_ld * sizeof(float), 0, hd * sizeof(float), a->nq,
                                    st->stream),
                  "attention (no keys)");
        return CW_OK;
    }
    char *scr = (char *)cw_cuda_pool_get(&st->scratch, p.scratch);
    if (!scr) return CW_ERR_NOMEM;
    float *S = (float *)(void *)scr;
    float *kw = (float *)(void *)(scr + p.s_bytes), *vw = (float *)(void *)(scr + p.s_bytes + p.kv_bytes / 2);
    unsigned blocks;
    if ((s = cw_cuda_row_blocks(H * a->nq, &blocks)) != CW_OK) return s;
    for (size_t b = 0; b < B; b++) {
        const float *qb = p.q + b * a->q_bstride, *kb, *vb;
        float *ob = p.o + b * a->o_bstride;
        size_t ldk = a->k_ld, ldv = a->v_ld;
        if (p.kv16) { /* this sequence's K and V widened to float32 [nkv, H*64] */
            const uint16_t *k16 = (const uint16_t *)p.k + b * a->k_bstride, *v16 = (const uint16_t *)p.v + b * a->v_bstride;
            if ((s = gather(st, kw, k16, CW_K_BF16, NULL, NULL, a->nkv, hd, a->k_ld, a->nkv, 0)) != CW_OK) return s;
            if ((s = gather(st, vw, v16, CW_K_BF16, NULL, NULL, a->nkv, hd, a->v_ld, a->nkv, 0)) != CW_OK) return s;
            kb = kw, vb = vw, ldk = ldv = hd;
        } else {
            kb = (const float *)p.k + b * a->k_bstride, vb = (const float *)p.v + b * a->v_bstride;
        }
        cw_cuda_gemm g = cw_cuda_gemm_attn_qk(S, qb, a->q_ld, kb, ldk, H, a->nq, a->nkv);
        if ((s = run_gemm(st, &g, CUDA_R_32F, "attention Q.K^T")) != CW_OK) return s;
        cw_k_softmax<<<blocks, CW_ROW_THREADS, 0, st->stream>>>(S, S, H * a->nq, a->nkv, a->scale, a->causal,
                                                               a->q_pos, 0, a->nq);
        if ((s = launched("attention softmax")) != CW_OK) return s;
        g = cw_cuda_gemm_attn_pv(ob, a->o_ld, S, vb, ldv, H, a->nq, a->nkv);
        if ((s = run_gemm(st, &g, CUDA_R_32F, "attention P.V")) != CW_OK) return s;
    }
    return CW_OK;
}

/* ---- row-wise -------------------------------------------------------------------------------------- */

static size_t mulz(size_t a, size_t b)
{
    size_t r;
    return cw_mul_size(a, b, &r) ? SIZE_MAX : r;
}

static cw_status cuda_layernorm(cw_backend *be, cw_ref y, cw_ref x, cw_ref gamma, cw_ref beta, size_t rows,
                                size_t cols, float eps)
{
    int ok = 1;
    float *py = cw_cuda_ref(y, mulz(rows, cols), "layernorm y");
    const float *px = cw_cuda_ref(x, mulz(rows, cols), "layernorm x");
    const float *pg = cw_cuda_opt(gamma, cols, "layernorm gamma", &ok), *pb = cw_cuda_opt(beta, cols, "layernorm beta", &ok);
    if (!py || !px || !ok) return CW_ERR_INVALID_ARG;
    if (!rows || !cols) return CW_OK;
    unsigned blocks;
    cw_status s = cw_cuda_row_blocks(rows, &blocks);
    if (s == CW_OK) s = enter(be);
    if (s != CW_OK) return s;
    cw_k_layernorm<<<blocks, CW_ROW_THREADS, 0, state(be)->stream>>>(py, px, pg, pb, rows, cols, eps);
    return launched("layernorm");
}

static cw_status cuda_softmax(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols, float scale,
                              const cw_mask *mask)
{
    float *py = cw_cuda_ref(y, mulz(rows, cols), "softmax y");
    const float *px = cw_cuda_ref(x, mulz(rows, cols), "softmax x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    if (!rows || !cols) return CW_OK;
    unsigned blocks;
    cw_status s = cw_cuda_row_blocks(rows, &blocks);
    if (s == CW_OK) s = enter(be);
    if (s != CW_OK) return s;
    cw_k_softmax<<<blocks, CW_ROW_THREADS, 0, state(be)->stream>>>(py, px, rows, cols, scale, mask ? mask->causal : 0,
                                                                  mask ? mask->offset : 0, mask ? mask->n_valid : 0, 0);
    return launched("softmax");
}

/* ---- elementwise ------------------------------------------------------------------------------------- */

static cw_status cuda_gelu(cw_backend *be, cw_ref x, size_t n)
{
    float *px = cw_cuda_ref(x, n, "gelu x");
    if (!px) return CW_ERR_INVALID_ARG;
    cw_status s;
    if (!n || (s = enter(be)) != CW_OK) return n ? s : CW_OK;
    cw_k_gelu<<<cw_cuda_blocks(n, CW_EW_THREADS), CW_EW_THREADS, 0, state(be)->stream>>>(px, n);
    return launched("gelu");
}

static cw_status cuda_add(cw_backend *be, cw_ref y, cw_ref a, cw_ref b, size_t n)
{
    float *py = cw_cuda_ref(y, n, "add y");
    const float *pa = cw_cuda_ref(a, n, "add a"), *pb = cw_cuda_ref(b, n, "add b");
    if (!py || !pa || !pb) return CW_ERR_INVALID_ARG;
    cw_status s;
    if (!n || (s = enter(be)) != CW_OK) return n ? s : CW_OK;
    cw_k_add<<<cw_cuda_blocks(n, CW_EW_THREADS), CW_EW_THREADS, 0, state(be)->stream>>>(py, pa, pb, n);
    return launched("add");
}

static cw_status cuda_add_bcast(cw_backend *be, cw_ref y, cw_ref x, cw_ref r, size_t outer, size_t inner)
{
    float *py = cw_cuda_ref(y, mulz(outer, inner), "add_bcast y");
    const float *px = cw_cuda_ref(x, mulz(outer, inner), "add_bcast x"), *pr = cw_cuda_ref(r, inner, "add_bcast r");
    if (!py || !px || !pr) return CW_ERR_INVALID_ARG;
    size_t n = outer * inner;
    cw_status s;
    if (!n || (s = enter(be)) != CW_OK) return n ? s : CW_OK;
    cw_k_add_bcast<<<cw_cuda_blocks(n, CW_EW_THREADS), CW_EW_THREADS, 0, state(be)->stream>>>(py, px, pr, outer, inner);
    return launched("add_bcast");
}

/* ---- gathers and copies ------------------------------------------------------------------------------ */

static cw_status cuda_embedding(cw_backend *be, cw_ref y, const cw_weight *t, const int32_t *ids, size_t n)
{
    cw_status s = cw_cuda_check_weight(t);
    if (s != CW_OK) return cw_error_prefix(s, "embedding");
    float *py = cw_cuda_ref(y, mulz(n, t->cols), "embedding y");
    if (!py) return CW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= t->rows)
            return cw_error(CW_ERR_INVALID_ARG, "embedding: id %ld outside [0, %zu)", (long)ids[i], t->rows);
    if (!n || !t->cols) return CW_OK;
    if ((s = enter(be)) != CW_OK) return s;
    cw_cuda_state *st = state(be);
    int *dids = (int *)cw_cuda_pool_get(&st->ids, n * sizeof *ids);
    if (!dids) return CW_ERR_NOMEM;
    CW_CU(cudaMemcpyAsync(dids, ids, n * sizeof *ids, cudaMemcpyHostToDevice, st->stream), "embedding ids");
    return gather(st, py, cw_cuda_weight_ptr(t), (int)t->dtype,
                  t->dtype == CW_DTYPE_I8 ? (const float *)ccbuf(t->scale)->dev : NULL, dids, n, t->cols, t->cols, n, 0);
}

static cw_status cuda_copy2d(cw_backend *be, cw_ref y, size_t y_ld, cw_ref x, size_t x_ld, size_t rows, size_t cols)
{
    if (rows == 0 || cols == 0) return CW_OK;
    if (y_ld < cols || x_ld < cols) return cw_error(CW_ERR_INVALID_ARG, "copy2d: row stride below %zu", cols);
    float *py = cw_cuda_ref(y, mulz(rows - 1, y_ld) + cols, "copy2d y");
    const float *px = cw_cuda_ref(x, mulz(rows - 1, x_ld) + cols, "copy2d x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    cw_status s = enter(be);
    if (s != CW_OK) return s;
    cw_cuda_state *st = state(be);
    const float *src = px;
    size_t src_ld = x_ld;
    /* overlapping views (the CPU's memmove per row): through scratch */
    if (y.buf == x.buf && py < px + (rows - 1) * x_ld + cols && px < py + (rows - 1) * y_ld + cols) {
        float *t = (float *)cw_cuda_pool_get(&st->scratch, rows * cols * sizeof(float));
        if (!t) return CW_ERR_NOMEM;
        CW_CU(cudaMemcpy2DAsync(t, cols * sizeof(float), px, x_ld * sizeof(float), cols * sizeof(float), rows,
                                cudaMemcpyDeviceToDevice, st->stream),
              "copy2d");
        src = t, src_ld = cols;
    }
    CW_CU(cudaMemcpy2DAsync(py, y_ld * sizeof(float), src, src_ld * sizeof(float), cols * sizeof(float), rows,
                            cudaMemcpyDeviceToDevice, st->stream),
          "copy2d");
    return CW_OK;
}

static cw_status cuda_transpose(cw_backend *be, cw_ref y, cw_ref x, size_t rows, size_t cols)
{
    float *py = cw_cuda_ref(y, mulz(rows, cols), "transpose y");
    const float *px = cw_cuda_ref(x, mulz(rows, cols), "transpose x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    if (!rows || !cols) return CW_OK;
    if (rows > (size_t)65535 * CW_TILE || cols > (size_t)INT32_MAX)
        return cw_error(CW_ERR_INVALID_ARG, "transpose: [%zu, %zu] beyond the grid", rows, cols);
    cw_status s = enter(be);
    if (s != CW_OK) return s;
    dim3 grid((unsigned)((cols + CW_TILE - 1) / CW_TILE), (unsigned)((rows + CW_TILE - 1) / CW_TILE));
    cw_k_transpose<<<grid, dim3(CW_TILE, CW_TILE_ROWS), 0, state(be)->stream>>>(py, px, rows, cols);
    return launched("transpose");
}

static cw_status cuda_narrow(cw_backend *be, cw_ref y, cw_dtype dtype, cw_ref x, size_t n)
{
    if (dtype != CW_DTYPE_BF16) return cw_error(CW_ERR_INVALID_ARG, "narrow: dtype %d is not BF16", (int)dtype);
    float *py = cw_cuda_ref(y, n / 2 + n % 2, "narrow y");
    const float *px = cw_cuda_ref(x, n, "narrow x");
    if (!py || !px) return CW_ERR_INVALID_ARG;
    cw_status s;
    if (!n || (s = enter(be)) != CW_OK) return n ? s : CW_OK;
    cw_k_narrow<<<cw_cuda_blocks(n, CW_EW_THREADS), CW_EW_THREADS, 0, state(be)->stream>>>(
        (unsigned short *)(void *)py, px, CW_K_BF16, n);
    return launched("narrow");
}

/* ---- the handle ---------------------------------------------------------------------------------------- */

static void cuda_destroy(cw_backend *be)
{
    cw_cuda_state *st = state(be);
    if (st) {
        cudaSetDevice(st->device);
        if (st->stream) cudaStreamSynchronize(st->stream);
        cw_cuda_pool_free(&st->scratch);
        cw_cuda_pool_free(&st->ids);
        if (st->h) st->blas.destroy(st->h);
        if (st->blas.lib) dlclose(st->blas.lib);
        if (st->stream) cudaStreamDestroy(st->stream);
        free(st);
    }
    cw_threadpool_free(be->pool);
    free(be);
}

/* designated (C++20, in the table's order): a slot added to the table stays
 * NULL here until written, instead of shifting the others */
static const cw_backend_ops cuda_ops = {
    .name = "cuda",
    .buf_alloc = cuda_buf_alloc, .buf_wrap = cuda_buf_wrap, .buf_free = cuda_buf_free,
    .buf_size = cuda_buf_size, .upload = cuda_upload, .download = cuda_download,
    /* linear_rows NULL: cuBLAS may pick its algorithm by the row count, so rows
     * are not batch-invariant and lockstep stays off here */
    .linear = cuda_linear, .linear_rows = NULL, .linear_gelu = NULL, .logits = NULL,
    .prepare_weight = NULL, /* cuBLASLt reads W as stored */
    .conv1d = cuda_conv1d,
    .attention = cuda_attention,
    .layernorm = cuda_layernorm, .softmax = cuda_softmax,
    .gelu = cuda_gelu, .add = cuda_add, .add_bcast = cuda_add_bcast,
    .embedding = cuda_embedding, .copy2d = cuda_copy2d, .transpose = cuda_transpose,
    /* quantize_heads NULL: the decoder keeps its cross K/V in bf16 here */
    .narrow = cuda_narrow, .quantize_heads = NULL,
    .destroy = cuda_destroy,
};

extern "C" cw_status cw_cuda_backend_create(const cw_backend_params *params, cw_backend **out)
{
    *out = NULL;
    cw_status s = cw_cuda_probe(params->device);
    if (s != CW_OK) return s;
    cw_backend *be = (cw_backend *)cw_calloc(1, sizeof *be);
    cw_cuda_state *st = (cw_cuda_state *)cw_calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return CW_ERR_NOMEM;
    }
    be->ops = &cuda_ops;
    be->impl = st;
    /* host threads for the context's CPU work (log-mel): the ops do not use them */
    int nt = params->n_threads > 0 ? params->n_threads : cw_cpu_count();
    if (nt > 1 && !(be->pool = cw_threadpool_create(nt))) {
        cuda_destroy(be);
        return CW_ERR_NOMEM;
    }
    st->device = params->device;
    st->lowp = params->lowp != 0;
    st->scratch.alloc = st->ids.alloc = dev_alloc;
    st->scratch.release = st->ids.release = dev_free;
    cudaError_t e = cudaSetDevice(st->device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        s = cuda_fail(e, "creating the stream");
        cuda_destroy(be);
        return s;
    }
    if ((s = cublas_load(&st->blas)) != CW_OK) {
        cuda_destroy(be);
        return s;
    }
    cublasStatus_t bs = st->blas.create(&st->h);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = st->blas.set_stream(st->h, st->stream);
    /* fp32 products stay fp32 (no TF32): the parity mode's tokens */
    if (bs == CUBLAS_STATUS_SUCCESS) bs = st->blas.set_math_mode(st->h, CUBLAS_DEFAULT_MATH);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        st->h = NULL;
        s = blas_fail(bs, "creating the handle");
        cuda_destroy(be);
        return s;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, st->device) != cudaSuccess) prop.name[0] = 0, prop.major = prop.minor = 0;
    snprintf(st->desc, sizeof st->desc, "cuda:%d %s (cc %d.%d)", st->device, prop.name, prop.major, prop.minor);
    be->desc = st->desc;
    if (st->lowp) be->lowp_bf16_desc = be->lowp_i8_desc = "cublas (16-bit tensor cores, fp32 sums; int8 widened)";
    *out = be;
    return CW_OK;
}
