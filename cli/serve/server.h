/* `cwhisper serve`: an HTTP server speaking OpenAI's audio API over the
 * public C API. Pieces: multipart.c (pure form parser), sbuf.c (bodies and
 * JSON), pool.c (contexts shared by the requests), handlers.c (one function
 * per route: request -> reply), http.c (libmicrohttpd: connections, uploads,
 * signals). cli/cmd_serve.c parses the command line and starts it. */
#ifndef CW_SERVE_SERVER_H
#define CW_SERVE_SERVER_H

#include <stddef.h>

#include "cwhisper.h"
#include "sbuf.h"

typedef struct {
    const char *host;          /* address to bind ("127.0.0.1", "0.0.0.0", "::") */
    int port;                  /* 0: any free port (printed at start) */
    const char *model_dir;     /* resolved model directory */
    const char *model_name;    /* what /v1/models lists and `model` may name */
    int parallel;              /* contexts in the pool */
    cw_context_params cp;
    size_t max_request_bytes;  /* larger bodies get 413 */
    const char *api_key;       /* NULL: no authentication */
    unsigned timeout_s;        /* idle connection timeout */
    int quiet;                 /* no per-request log lines */
} serve_options;

/* Loads the model, creates the pool and serves until SIGINT or SIGTERM.
 * Returns the program's exit status. */
int serve_run(const serve_options *opt);

/* ---- context pool (pool.c) ---- */

typedef struct serve_pool serve_pool;

/* n contexts over model; CW_OK or the failing status (cw_last_error()). */
cw_status pool_create(const cw_model *model, const cw_context_params *cp, int n, serve_pool **out);
/* Waits for a free context, first come first served; NULL once stopping. */
cw_context *pool_acquire(serve_pool *p);
void pool_release(serve_pool *p, cw_context *ctx);
/* Wakes every waiter (they get NULL); contexts in use are kept until released. */
void pool_stop(serve_pool *p);
void pool_stats(serve_pool *p, int *size, int *busy, int *waiting);
void pool_free(serve_pool *p);

/* ---- routes (handlers.c) ---- */

typedef struct {
    const serve_options *opt;
    const cw_model *model;
    serve_pool *pool;
} serve_state;

typedef struct {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    sbuf body;
} serve_reply;

/* OpenAI's error object: {"error": {"message", "type", "param", "code"}}.
 * param and code may be NULL (JSON null). */
void reply_error(serve_reply *r, int status, const char *type, const char *param, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* POST /v1/audio/transcriptions and /translations: body[len] as received,
 * content_type the request's Content-Type header (may be NULL). */
void handle_audio(const serve_state *st, cw_task task, const char *content_type, const char *body,
                  size_t len, serve_reply *r);
void handle_models(const serve_state *st, const char *id, serve_reply *r); /* id NULL: the list */
void handle_health(const serve_state *st, serve_reply *r);

#endif
