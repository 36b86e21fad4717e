/* The HTTP side of `cwhisper serve`, on libmicrohttpd: one thread per
 * connection (a request waits for a context in its own thread, so /health
 * and queued requests never block each other), request bodies streamed to
 * an unlinked temporary file (memory stays flat whatever the uploads), the
 * size limit checked on the declared length before any byte is read, and
 * SIGINT/SIGTERM taken by sigwait in the main thread for a clean stop:
 * stop accepting, fail queued requests with 503, let running ones finish. */
#include "server.h"

#include <microhttpd.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum { R_NONE, R_TRANSCRIBE, R_TRANSLATE, R_MODELS, R_MODEL, R_HEALTH } route;

typedef struct {
    route route;
    int fd;          /* the body, for the audio routes; -1 until the first byte */
    size_t len;      /* bytes received */
    int too_big;     /* the body passed the limit while streaming (no Content-Length) */
    int io_error;    /* writing the body failed */
    double t0;
} request;

#define DRAIN_MAX ((size_t)256 << 20) /* past the limit, discard this much before hanging up */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const serve_state *st, const char *method,
                                  const char *url, request *rq, serve_reply *r)
{
    if (r->body.failed) {
        sb_free(&r->body);
        r->status = 500;
    }
    struct MHD_Response *resp;
    if (r->body.len) {
        resp = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
        if (resp) r->body.data = NULL, r->body.len = r->body.cap = 0; /* MHD frees it */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    sb_free(&r->body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (r->status == 405)
        MHD_add_response_header(resp, "Allow", rq->route == R_TRANSCRIBE || rq->route == R_TRANSLATE ? "POST" : "GET");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (!st->opt->quiet)
        fprintf(stderr, "cwhisper serve: %s %s %d %.3f s\n", method, url, r->status, now_s() - rq->t0);
    return ok;
}

static route route_of(const char *url, const char **model_id)
{
    *model_id = NULL;
    if (strcmp(url, "/v1/audio/transcriptions") == 0) return R_TRANSCRIBE;
    if (strcmp(url, "/v1/audio/translations") == 0) return R_TRANSLATE;
    if (strcmp(url, "/v1/models") == 0) return R_MODELS;
    if (strncmp(url, "/v1/models/", 11) == 0 && url[11] && !strchr(url + 11, '/')) {
        *model_id = url + 11;
        return R_MODEL;
    }
    if (strcmp(url, "/health") == 0) return R_HEALTH;
    return R_NONE;
}

/* Constant-time comparison, so the key cannot be guessed byte by byte. */
static int same_key(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

/* Appends upload bytes to the request's body file. */
static void store(request *rq, const char *data, size_t n)
{
    if (rq->io_error) return;
    if (rq->fd < 0) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
        rq->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (rq->fd < 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/cwhisper-body-XXXXXX", dir);
            rq->fd = mkostemp(path, O_CLOEXEC);
            if (rq->fd >= 0) unlink(path);
        }
        if (rq->fd < 0) {
            rq->io_error = errno ? errno : EIO;
            return;
        }
    }
    while (n) {
        ssize_t k = write(rq->fd, data, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            rq->io_error = k < 0 ? errno : EIO;
            return;
        }
        data += k, n -= (size_t)k;
    }
}

/* The audio route once the whole body is in: map it and hand it over. */
static void finish_audio(const serve_state *st, struct MHD_Connection *c, request *rq, serve_reply *r)
{
    if (rq->io_error) {
        reply_error(r, 500, "server_error", NULL, NULL, "cannot store the request body: %s", strerror(rq->io_error));
        return;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    void *body = NULL;
    if (rq->len) {
        body = mmap(NULL, rq->len, PROT_READ, MAP_PRIVATE, rq->fd, 0);
        if (body == MAP_FAILED) {
            reply_error(r, 500, "server_error", NULL, NULL, "cannot map the request body: %s", strerror(errno));
            return;
        }
    }
    handle_audio(st, rq->route == R_TRANSLATE ? CW_TASK_TRANSLATE : CW_TASK_TRANSCRIBE, ct, body, rq->len, r);
    if (body) munmap(body, rq->len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    const serve_state *st = cls;
    request *rq = *con_cls;
    serve_reply r = { 0 };
    const char *model_id;
    if (!rq) {
        /* First call: headers only. Errors known now are answered before
         * the body is read (a client sending Expect: 100-continue then
         * never sends it). */
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->fd = -1;
        rq->t0 = now_s();
        rq->route = route_of(url, &model_id);
        *con_cls = rq;
        int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        int audio = rq->route == R_TRANSCRIBE || rq->route == R_TRANSLATE;
        if (rq->route == R_NONE) {
            reply_error(&r, 404, "invalid_request_error", NULL, "unknown_url", "Invalid URL (%s %s)", method, url);
            return send_reply(c, st, method, url, rq, &r);
        }
        if ((audio && !post) || (!audio && !get)) {
            reply_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed",
                        "%s is not allowed on %s (use %s)", method, url, audio ? "POST" : "GET");
            return send_reply(c, st, method, url, rq, &r);
        }
        if (st->opt->api_key && rq->route != R_HEALTH) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
            if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !same_key(auth + 7, st->opt->api_key)) {
                reply_error(&r, 401, "invalid_request_error", NULL, "invalid_api_key",
                            auth ? "Incorrect API key provided" :
                                   "You didn't provide an API key: send 'Authorization: Bearer KEY'");
                return send_reply(c, st, method, url, rq, &r);
            }
        }
        if (audio) {
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            char *end;
            errno = 0;
            unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
            const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            int too_big = cl && !errno && end != cl && n > st->opt->max_request_bytes;
            /* A client that waits for 100 Continue gets the 413 at once; one
             * that sends its body regardless (Python's clients) would see a
             * broken pipe instead of the reply, so a body up to DRAIN_MAX
             * over the limit is read and dropped first. */
            if (too_big && !expect && n <= st->opt->max_request_bytes + DRAIN_MAX) {
                rq->too_big = 1;
                return MHD_YES;
            }
            if (too_big) {
                reply_error(&r, 413, "invalid_request_error", "file", "request_too_large",
                            "the request is %llu bytes, over this server's limit of %zu bytes "
                            "(--max-request-bytes)", n, st->opt->max_request_bytes);
                return send_reply(c, st, method, url, rq, &r);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->route == R_TRANSCRIBE || rq->route == R_TRANSLATE) {
            if (rq->len + n > st->opt->max_request_bytes) rq->too_big = 1;
            /* Past the limit the rest is read and dropped, so the client
             * gets its 413 instead of a reset; a body far past it is cut. */
            if (rq->too_big && rq->len + n > st->opt->max_request_bytes + DRAIN_MAX) return MHD_NO;
            if (!rq->too_big) store(rq, upload_data, n);
            rq->len += n;
        }
        return MHD_YES;
    }
    /* Last call: the whole body is in. */
    switch (rq->route) {
    case R_TRANSCRIBE:
    case R_TRANSLATE:
        if (rq->too_big)
            reply_error(&r, 413, "invalid_request_error", "file", "request_too_large",
                        "the request is %zu bytes, over this server's limit of %zu bytes (--max-request-bytes)",
                        rq->len, st->opt->max_request_bytes);
        else
            finish_audio(st, c, rq, &r);
        break;
    case R_MODELS: handle_models(st, NULL, &r); break;
    case R_MODEL: route_of(url, &model_id); handle_models(st, model_id, &r); break;
    case R_HEALTH: handle_health(st, &r); break;
    case R_NONE: reply_error(&r, 404, "invalid_request_error", NULL, "unknown_url", "Invalid URL"); break;
    }
    return send_reply(c, st, method, url, rq, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    request *rq = *con_cls;
    if (!rq) return;
    if (rq->fd >= 0) close(rq->fd);
    free(rq);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    fprintf(stderr, "cwhisper serve: libmicrohttpd: %s\n", msg);
}

static struct MHD_Daemon *start(const serve_options *opt, serve_state *st, unsigned *port_out)
{
    char port[16];
    snprintf(port, sizeof port, "%d", opt->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(opt->host, port, &hints, &ai);
    if (g) {
        fprintf(stderr, "cwhisper serve: --host %s: %s\n", opt->host, gai_strerror(g));
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)opt->port, NULL, NULL, on_request, st,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, or MHD warns */
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, opt->timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "cwhisper serve: cannot listen on %s port %d (in use, or not an address of this machine)\n",
                opt->host, opt->port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = info ? info->port : (unsigned)opt->port;
    return d;
}

int serve_run(const serve_options *opt)
{
    /* Every thread created from here on (contexts' workers, libmicrohttpd's)
     * inherits the blocked signals, so only sigwait below sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    cw_model *model = NULL;
    serve_pool *pool = NULL;
    cw_model_params mp = cw_model_default_params();
    double t0 = now_s();
    cw_status s = cw_model_load(opt->model_dir, &mp, &model);
    if (!s) s = pool_create(model, &opt->cp, opt->parallel, &pool);
    if (s) {
        fprintf(stderr, "cwhisper serve: %s\n", s == CW_ERR_NOMEM ? "out of memory" : cw_last_error());
        cw_model_free(model);
        return 1;
    }
    serve_state st = { .opt = opt, .model = model, .pool = pool };
    unsigned port = 0;
    struct MHD_Daemon *d = start(opt, &st, &port);
    if (!d) {
        pool_free(pool);
        cw_model_free(model);
        return 1;
    }
    int threads = opt->cp.n_threads;
    fprintf(stderr,
            "cwhisper serve: listening on http://%s%s%s:%u (model %s, %d context%s x %d threads, dtype %s, "
            "loaded in %.1f s)\n",
            strchr(opt->host, ':') ? "[" : "", opt->host, strchr(opt->host, ':') ? "]" : "", port,
            opt->model_name, opt->parallel, opt->parallel == 1 ? "" : "s", threads,
            cw_compute_dtype_name(opt->cp.dtype), now_s() - t0);
    fflush(stderr);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {}
    fprintf(stderr, "cwhisper serve: %s: stopping (running requests finish, queued ones get 503)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    pool_stop(pool);
    MHD_stop_daemon(d); /* joins every connection thread */
    pool_free(pool);
    cw_model_free(model);
    fprintf(stderr, "cwhisper serve: stopped\n");
    return 0;
}
