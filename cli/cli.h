/* Shared pieces of the cwhisper program: subcommand entry points and model
 * name resolution. */
#ifndef CW_CLI_H
#define CW_CLI_H

int cmd_info(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Turns a model argument into a directory: an existing directory is used as
 * is; a known name (tiny.en, base, ...) maps to <models dir>/NAME, fetched with
 * scripts/fetch-model on first use. Returns a malloc'ed path, or NULL after
 * printing a one-line error. */
char *cli_resolve_model(const char *arg);

#endif
