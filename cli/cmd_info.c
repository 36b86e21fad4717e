/* `cwhisper info MODEL`: loads a model and prints what it is. */
#include "cli.h"
#include "cwhisper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc == 2 ? stdout : stderr, "usage: cwhisper info MODEL\n"
                "  MODEL: a model directory (CTranslate2 or safetensors) or a name (tiny.en, base)\n");
        return argc == 2 ? 0 : 2;
    }
    char *dir = cli_resolve_model(argv[1]);
    if (!dir) return 1;
    cw_model *model = NULL;
    cw_model_params mp = cw_model_default_params();
    cw_status st = cw_model_load(dir, &mp, &model);
    if (st != CW_OK) {
        fprintf(stderr, "cwhisper: %s\n", cw_last_error());
        free(dir);
        return 1;
    }
    size_t need = cw_model_describe(model, NULL, 0);
    char *text = malloc(need + 1);
    if (!text) {
        fprintf(stderr, "cwhisper: out of memory\n");
        cw_model_free(model);
        free(dir);
        return 1;
    }
    cw_model_describe(model, text, need + 1);
    fputs(text, stdout);
    free(text);
    cw_model_free(model);
    free(dir);
    return 0;
}
