/* The smallest cwhisper program: load a model once, transcribe the files on
 * the command line, print each segment with its times. Uses only the public
 * header.
 *
 *   examples/transcribe MODEL_DIR FILE...
 */
#include <stdio.h>

#include "cwhisper.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR FILE...\n", argv[0]);
        return 2;
    }
    cw_model_params mp = cw_model_default_params();
    cw_model *model = NULL;
    if (cw_model_load(argv[1], &mp, &model) != CW_OK) {
        fprintf(stderr, "%s\n", cw_last_error());
        return 1;
    }
    cw_context *ctx = NULL;
    cw_context_params cp = cw_context_default_params();
    if (cw_context_create(model, &cp, &ctx) != CW_OK) {
        fprintf(stderr, "%s\n", cw_last_error());
        cw_model_free(model);
        return 1;
    }
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        cw_transcribe_params tp = cw_transcribe_default_params();
        cw_result *result = NULL;
        if (cw_transcribe_file(ctx, argv[i], &tp, &result) != CW_OK) {
            fprintf(stderr, "%s\n", cw_last_error());
            rc = 1;
            continue;
        }
        printf("%s (%s, %.1f s)\n", argv[i], cw_result_language(result), cw_result_duration(result));
        for (size_t k = 0; k < cw_result_n_segments(result); k++) {
            const cw_segment *s = cw_result_segment(result, k);
            printf("[%8.2f -> %8.2f]%s\n", s->start, s->end, s->text);
        }
        cw_result_free(result);
    }
    cw_context_free(ctx);
    cw_model_free(model);
    return rc;
}
