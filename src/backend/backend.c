/* Choosing a back end: creates the handle for the kind asked for. The CUDA
 * back end exists only in builds with CUDA (cmake/cuda.cmake defines
 * CW_HAVE_CUDA for the library's sources); elsewhere asking for it fails
 * with a reason, as it does on a machine without a driver or a GPU. */
#include "backend/backend.h"

#include "util/error.h"

cw_status cw_cpu_backend_create(const cw_backend_params *params, cw_backend **out);
#ifdef CW_HAVE_CUDA
cw_status cw_cuda_backend_create(const cw_backend_params *params, cw_backend **out);
cw_status cw_cuda_probe(int device);
#endif

cw_status cw_backend_probe(cw_backend_kind kind, int device)
{
    switch (kind) {
    case CW_BACKEND_CPU: return CW_OK;
    case CW_BACKEND_CUDA:
#ifdef CW_HAVE_CUDA
        return cw_cuda_probe(device);
#else
        (void)device;
        return cw_error(CW_ERR_UNSUPPORTED, "CUDA: this cwhisper was built without CUDA (CW_CUDA=OFF, or no nvcc when it was built)");
#endif
    }
    return cw_error(CW_ERR_INVALID_ARG, "unknown back end kind %d", (int)kind);
}

cw_backend_params cw_backend_default_params(void)
{
    return (cw_backend_params){ .kind = CW_BACKEND_CPU, .n_threads = 0, .isa = CW_ISA_AUTO };
}

cw_status cw_backend_create(const cw_backend_params *params, cw_backend **out)
{
    cw_backend_params p = params ? *params : cw_backend_default_params();
    *out = NULL;
    switch (p.kind) {
    case CW_BACKEND_CPU: return cw_cpu_backend_create(&p, out);
    case CW_BACKEND_CUDA:
#ifdef CW_HAVE_CUDA
        return cw_cuda_backend_create(&p, out);
#else
        return cw_backend_probe(p.kind, p.device);
#endif
    }
    return cw_error(CW_ERR_INVALID_ARG, "unknown back end kind %d", (int)p.kind);
}

void cw_backend_free(cw_backend *be)
{
    if (be) be->ops->destroy(be);
}
