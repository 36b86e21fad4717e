/* libFuzzer target: `cwhisper transcribe`'s option parser and its checks
 * (cli_transcribe_parse_only: no model, no file). The input is the argument
 * list, split at NUL bytes (at most 64 arguments). Run it with
 * -close_fd_mask=3 (run.sh does): the parser prints its refusals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    /* one copy, NUL-terminated, cut into argv[1..] */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[66];
    int argc = 0;
    argv[argc++] = "transcribe";
    for (size_t i = 0; i <= size && argc < 65;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    int rc = cli_transcribe_parse_only(argc, argv);
    if (rc != 0 && rc != 2) abort();
    free(buf);
    return 0;
}
