/* Element type sizes and names. */
#include "util/dtype.h"

size_t cw_dtype_size(cw_dtype dt)
{
    static const size_t sizes[CW_DTYPE_COUNT] = {4, 1, 2, 4, 2, 2};
    return (unsigned)dt < CW_DTYPE_COUNT ? sizes[dt] : 0;
}

const char *cw_dtype_name(cw_dtype dt)
{
    static const char *names[CW_DTYPE_COUNT] = {"f32", "int8", "int16", "int32", "f16", "bf16"};
    return (unsigned)dt < CW_DTYPE_COUNT ? names[dt] : "?";
}

int cw_dtype_is_float(cw_dtype dt)
{
    return dt == CW_DTYPE_F32 || dt == CW_DTYPE_F16 || dt == CW_DTYPE_BF16;
}
