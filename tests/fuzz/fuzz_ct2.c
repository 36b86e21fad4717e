/* libFuzzer target: CTranslate2 model.bin bytes through the parser and the
 * model builder (dims from shapes, canonical tensors, conversions). */
#include "model/model.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_raw_file raw;
    if (cw_ct2_parse(data, size, "model.bin", &raw) != CW_OK) return 0;
    /* Both a view-keeping and a converting build. */
    for (int w = 0; w < 2; w++) {
        cw_model *m = calloc(1, sizeof *m);
        if (!m) break;
        cw_model_params p = cw_model_default_params();
        p.weights = w ? CW_WEIGHTS_F32 : CW_WEIGHTS_STORED;
        if (cw_ct2_build(m, &raw, &p, "model.bin") == CW_OK)
            (void)cw_model_tensor(m, "decoder.token_embedding.weight");
        cw_model_free(m);
    }
    cw_raw_free(&raw);
    return 0;
}
