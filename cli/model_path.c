/* Model argument resolution for the program: a path, or a name looked up in
 * the models folder ($CWHISPER_MODELS, else the source tree's models/) and
 * fetched on first use. */

#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef CW_SOURCE_DIR
#define CW_SOURCE_DIR "."
#endif

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *models_dir(void)
{
    const char *env = getenv("CWHISPER_MODELS");
    return env && *env ? env : CW_SOURCE_DIR "/models";
}

/* Runs scripts/fetch-model NAME DEST; returns its exit status. */
static int fetch(const char *name, const char *dest)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/scripts/fetch-model", CW_SOURCE_DIR);
    struct stat st;
    if (stat(script, &st) != 0) return -1;
    char *argv_cmd = NULL;
    size_t n = strlen(script) + strlen(name) + strlen(dest) + 16;
    argv_cmd = malloc(n);
    if (!argv_cmd) return -1;
    /* Names are checked against a fixed alphabet by the caller, and dest is
     * built from them, so the command line needs no further quoting. */
    snprintf(argv_cmd, n, "'%s' '%s' '%s' >&2", script, name, dest);
    int rc = system(argv_cmd);
    free(argv_cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

static int plain_name(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

char *cli_resolve_model(const char *arg)
{
    if (is_dir(arg) || !plain_name(arg)) {
        if (!is_dir(arg)) {
            struct stat st;
            fprintf(stderr, "cwhisper: %s: %s\n", arg,
                    stat(arg, &st) == 0 ? "not a model directory (a model is a directory holding model.bin or model.safetensors)"
                                        : "no such model directory");
            return NULL;
        }
        char *p = strdup(arg);
        if (!p) fprintf(stderr, "cwhisper: out of memory\n");
        return p;
    }
    size_t n = strlen(models_dir()) + strlen(arg) + 2;
    char *path = malloc(n);
    if (!path) {
        fprintf(stderr, "cwhisper: out of memory\n");
        return NULL;
    }
    snprintf(path, n, "%s/%s", models_dir(), arg);
    char marker[4096];
    snprintf(marker, sizeof marker, "%s/.complete", path);
    struct stat st;
    if (is_dir(path) && stat(marker, &st) == 0) return path;
    if (is_dir(path)) return path; /* a model placed by hand */
    int rc = fetch(arg, path);
    if (rc != 0 || !is_dir(path)) {
        fprintf(stderr, "cwhisper: model '%s' is not in %s and could not be fetched%s\n", arg,
                models_dir(), rc == -1 ? " (scripts/fetch-model not found)" : "");
        free(path);
        return NULL;
    }
    return path;
}
