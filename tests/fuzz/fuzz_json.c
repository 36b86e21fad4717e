/* libFuzzer target: the JSON reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_json *j = NULL;
    if (cw_json_parse((const char *)data, size, "fuzz.json", &j) == CW_OK) {
        long v;
        (void)cw_json_get_int(j, "vocab_size", &v);
        (void)cw_json_get_string(j, "model_type");
        cw_json_free(j);
    }
    return 0;
}
