/* Element types shared by the model readers and the back ends. The values are
 * CTranslate2's dtype codes, so a model.bin code maps onto them directly. */
#ifndef CW_UTIL_DTYPE_H
#define CW_UTIL_DTYPE_H

#include <stddef.h>

typedef enum {
    CW_DTYPE_F32 = 0,
    CW_DTYPE_I8 = 1,   /* with one float32 scale per row where it is a weight: w = q / scale */
    CW_DTYPE_I16 = 2,
    CW_DTYPE_I32 = 3,
    CW_DTYPE_F16 = 4,  /* IEEE binary16 */
    CW_DTYPE_BF16 = 5, /* upper half of a float32 */
    CW_DTYPE_COUNT
} cw_dtype;

size_t cw_dtype_size(cw_dtype dt);      /* bytes per element; 0 for an invalid code */
const char *cw_dtype_name(cw_dtype dt); /* "f32", "int8", ...; "?" for an invalid code */
int cw_dtype_is_float(cw_dtype dt);

#endif
