/* libFuzzer target: model.safetensors bytes through the parser and the
 * builder, against the dims of test_model.c's synthetic model (d=8, one layer each). */
#include "model/model.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_raw_file raw;
    if (cw_safetensors_parse(data, size, "model.safetensors", &raw) != CW_OK) return 0;
    cw_model *m = calloc(1, sizeof *m);
    if (m) {
        cw_model_params p = cw_model_default_params();
        p.weights = CW_WEIGHTS_F16;
        m->dims = (cw_model_dims){.n_mels = 4, .n_audio_ctx = 6, .n_audio_state = 8, .n_audio_head = 2,
                                  .n_audio_layer = 1, .n_vocab = 10, .n_text_ctx = 5, .n_text_state = 8,
                                  .n_text_head = 2, .n_text_layer = 1};
        (void)cw_safetensors_build(m, &raw, &p, "model.safetensors");
        cw_model_free(m);
    }
    cw_raw_free(&raw);
    return 0;
}
