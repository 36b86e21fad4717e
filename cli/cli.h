/* Shared pieces of the cwhisper program: subcommand entry points and model
 * name resolution. */
#ifndef CW_CLI_H
#define CW_CLI_H

int cmd_info(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* `cwhisper transcribe`'s option parsing and checks alone, without running:
 * 0 (usable, or --help), 2 (refused, one line on stderr). For the fuzz target. */
int cli_transcribe_parse_only(int argc, char **argv);

/* Turns a model argument into a directory: an existing directory is used as
 * is; a known name (tiny.en, base, ...) maps to <models dir>/NAME, fetched with
 * scripts/fetch-model on first use. Returns a malloc'ed path, or NULL after
 * printing a one-line error. */
char *cli_resolve_model(const char *arg);

/* Resuming batch runs (cli/resume.c). SIGINT and SIGTERM ask the run to
 * stop: cli_catch_stop_signals installs handlers that only record the signal
 * (reset by their first call, so a second ^C kills at once);
 * cli_stop_signal() is that signal or 0; cli_stop_requested is a
 * cw_transcribe_params.cancel function polling it. */
void cli_catch_stop_signals(void);
int cli_stop_signal(void);
int cli_stop_requested(void *user);

/* Removes the temporary files a killed cw_output_write_file left for path
 * (path.tmp.XXXXXX in its directory). */
void cli_remove_stale_temps(const char *path);

#endif
