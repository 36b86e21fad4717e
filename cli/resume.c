/* What lets a batch run be interrupted and resumed: SIGINT / SIGTERM handled
 * as a stop request (polled by the library before each window, so the
 * current window finishes and no output is half written), and the clean-up
 * of temporaries a SIGKILL left behind (--skip-existing). */
#include "cli.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide because a signal handler has no other way to reach the run. */
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) { g_stop_signal = sig; }

void cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    /* SA_RESTART: reads and writes in progress go on; SA_RESETHAND: a second
     * signal takes the default action (the user insists). */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_stop_signal(void) { return g_stop_signal; }

int cli_stop_requested(void *user)
{
    (void)user;
    return g_stop_signal != 0;
}

/* cw_output_write_file writes PATH through mkstemp("PATH.tmp.XXXXXX") and a
 * rename; a run killed in between leaves that name. Only names of exactly
 * that shape are removed. */
void cli_remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    const char *base = slash ? slash + 1 : path;
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!*dir) snprintf(dir, sizeof dir, "/");
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0 || strlen(n + blen + 5) != 6)
            continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, n);
        unlink(full);
    }
    closedir(d);
}
