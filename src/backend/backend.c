/* Choosing a back end: creates the handle for the kind asked for (only the
 * CPU exists yet) and the dtype helpers every back end shares. */
#include "backend/backend.h"

#include "util/error.h"

cw_status cw_cpu_backend_create(const cw_backend_params *params, cw_backend **out);

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
    case CW_BACKEND_CUDA: return cw_error(CW_ERR_UNSUPPORTED, "the CUDA back end is not written yet");
    }
    return cw_error(CW_ERR_INVALID_ARG, "unknown back end kind %d", (int)p.kind);
}

void cw_backend_free(cw_backend *be)
{
    if (be) be->ops->destroy(be);
}
