/* The cwhisper program: dispatches subcommands. Logic a library user would
 * also need lives in the library, not here. */
#include "cli.h"
#include "cwhisper.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "cwhisper %s: OpenAI's Whisper speech recognition in C\n\n"
               "usage: cwhisper COMMAND [options]\n\n"
               "commands:\n"
               "  transcribe [options] FILE...  transcribe audio (see cwhisper transcribe --help)\n"
               "  info MODEL     describe a model (kind, dimensions, dtypes, tokens, memory)\n"
               "  eval           word error rate of transcripts (--refs FILE --hyps FILE)\n"
               "  serve [options]  HTTP server speaking OpenAI's audio API (see cwhisper serve --help)\n"
               "  version        print the version\n",
            cw_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "transcribe") == 0) return cmd_transcribe(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("cwhisper %s\n", cw_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "cwhisper: unknown command '%s' (try cwhisper --help)\n", cmd);
    return 2;
}
