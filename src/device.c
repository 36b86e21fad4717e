/* The public device functions (cwhisper.h): parsing "cpu" / "cuda" /
 * "cuda:N" and asking the back ends whether a device can run here. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cwhisper.h"
#include "util/error.h"

cw_status cw_device_parse(const char *name, cw_device *device, int *index)
{
    if (name && strcmp(name, "cpu") == 0) {
        *device = CW_DEVICE_CPU;
        *index = 0;
        return CW_OK;
    }
    if (name && strncmp(name, "cuda", 4) == 0 && (name[4] == '\0' || name[4] == ':')) {
        long n = 0;
        if (name[4] == ':') {
            const char *d = name + 5;
            char *end;
            errno = 0;
            n = *d >= '0' && *d <= '9' ? strtol(d, &end, 10) : -1;
            if (n < 0 || errno || *end || n > INT_MAX) n = -1;
        }
        if (n >= 0) {
            *device = CW_DEVICE_CUDA;
            *index = (int)n;
            return CW_OK;
        }
    }
    return cw_error(CW_ERR_INVALID_ARG, "device '%s' is not cpu, cuda or cuda:N", name ? name : "(null)");
}

cw_status cw_device_check(cw_device device, int index)
{
    switch (device) {
    case CW_DEVICE_CPU: return CW_OK;
    case CW_DEVICE_CUDA:
        if (index < 0) return cw_error(CW_ERR_INVALID_ARG, "CUDA device index %d is negative", index);
        return cw_backend_probe(CW_BACKEND_CUDA, index);
    }
    return cw_error(CW_ERR_INVALID_ARG, "device %d is not cpu or cuda", (int)device);
}
