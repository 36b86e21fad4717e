/* libFuzzer target: bytes as a converted Silero VAD file
 * (silero_vad_v6.safetensors) through the safetensors parser and
 * cw_silero_load_memory's checks of names, dtypes and shapes; when a file
 * passes, one short signal through the network. */
#include "vad/vad.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_silero *m = NULL;
    if (cw_silero_load_memory(data, size, "silero_vad_v6.safetensors", &m) != CW_OK) return 0;
    float x[700] = {0}, *p = NULL;
    size_t n = 0;
    for (size_t i = 0; i < 700; i++) x[i] = (float)(i % 7) * 0.1f - 0.3f;
    if (cw_silero_probs(m, NULL, x, 700, &p, &n) == CW_OK) free(p);
    cw_silero_free(m);
    return 0;
}
