/* `cwhisper serve [options]`: command line and startup of the HTTP server
 * speaking OpenAI's audio API (cli/serve/). Built only when libmicrohttpd
 * was found; otherwise the command says so in one line. */
#include "cli.h"
#include "cwhisper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CW_HAVE_MHD
#include "serve/server.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: cwhisper serve [options]\n"
        "  HTTP server speaking OpenAI's audio API: POST /v1/audio/transcriptions and\n"
        "  /v1/audio/translations (multipart: file, model, language, prompt, response_format\n"
        "  json|text|srt|verbose_json|vtt, temperature, timestamp_granularities[]=segment),\n"
        "  GET /v1/models, GET /health. Stops cleanly on SIGINT or SIGTERM.\n\n"
        "  --host ADDR              address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
        "  --port N                 port (default 8000; 0: any free port, printed at start)\n"
        "  --model NAME|DIR         tiny.en (default), base, or a model directory\n"
        "  --dtype fp32|fp16|bf16|int8  weight/compute type (default fp32)\n"
        "  --int8-attention         with --dtype int8|bf16: the encoder's attention in int8 too\n"
        "  --device cpu|cuda|cuda:N where to compute (default cpu; cuda: an NVIDIA GPU, cc >= 8.0)\n"
        "  --parallel N             contexts, i.e. requests transcribed at once (default 1);\n"
        "                           more requests wait in arrival order\n"
        "  --threads N              threads per context (default: CPUs / parallel)\n"
        "  --max-request-bytes N    larger requests get 413 (default 26214400, OpenAI's 25 MB)\n"
        "  --api-key KEY            require 'Authorization: Bearer KEY' on /v1/ (default: none;\n"
        "                           also read from $CWHISPER_API_KEY)\n"
        "  --timeout S              close connections idle this long (default 60)\n"
        "  --quiet                  no log line per request\n");
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cwhisper serve: %s: '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    serve_options o = { .host = "127.0.0.1", .port = 8000, .parallel = 1,
                        .cp = cw_context_default_params(), .max_request_bytes = 25u << 20,
                        .timeout_s = 60 };
    const char *model = "tiny.en";
    const char *env_key = getenv("CWHISPER_API_KEY");
    if (env_key && *env_key) o.api_key = env_key;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) { o.quiet = 1; continue; }
        if (strcmp(a, "--int8-attention") == 0) { o.cp.int8_attention = 1; continue; }
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "cwhisper serve: %s: unknown option or missing value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0) o.host = v;
        else if (strcmp(a, "--model") == 0) model = v;
        else if (strcmp(a, "--api-key") == 0) o.api_key = *v ? v : NULL;
        else if (strcmp(a, "--port") == 0) {
            if (parse_long(a, v, 0, 65535, &n)) return 2;
            o.port = (int)n;
        } else if (strcmp(a, "--parallel") == 0) {
            if (parse_long(a, v, 1, 256, &n)) return 2;
            o.parallel = (int)n;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_long(a, v, 1, 1024, &n)) return 2;
            threads = (int)n;
        } else if (strcmp(a, "--timeout") == 0) {
            if (parse_long(a, v, 1, 86400, &n)) return 2;
            o.timeout_s = (unsigned)n;
        } else if (strcmp(a, "--max-request-bytes") == 0) {
            if (parse_long(a, v, 1024, 1L << 40, &n)) return 2;
            o.max_request_bytes = (size_t)n;
        } else if (strcmp(a, "--device") == 0) {
            if (cw_device_parse(v, &o.cp.device, &o.cp.device_index) != CW_OK) {
                fprintf(stderr, "cwhisper serve: --device: %s\n", cw_last_error());
                return 2;
            }
        } else if (strcmp(a, "--dtype") == 0) {
            int d = cw_compute_dtype_from_name(v);
            if (d < 0) {
                fprintf(stderr, "cwhisper serve: --dtype: '%s' is not fp32, fp16, bf16 or int8\n", v);
                return 2;
            }
            o.cp.dtype = (cw_compute_dtype)d;
        } else {
            fprintf(stderr, "cwhisper serve: unknown option %s (see cwhisper serve --help)\n", a);
            return 2;
        }
    }
    /* before loading the model: the options, and whether the device can run here */
    if (cw_context_params_check(&o.cp) != CW_OK || cw_device_check(o.cp.device, o.cp.device_index) != CW_OK) {
        fprintf(stderr, "cwhisper serve: %s\n", cw_last_error());
        return 2;
    }
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > o.parallel ? (int)(cpus / o.parallel) : 1;
    }
    o.cp.n_threads = threads;
    char *dir = cli_resolve_model(model);
    if (!dir) return 1;
    /* What clients may name in `model` besides whisper-1: the argument's
     * last path component ("tiny.en", or a directory's name). */
    size_t len = strlen(model);
    while (len > 1 && model[len - 1] == '/') len--;
    const char *base = model;
    for (size_t k = 0; k < len; k++)
        if (model[k] == '/' && k + 1 < len) base = model + k + 1;
    char *name = strndup(base, (size_t)(model + len - base));
    if (!name) {
        free(dir);
        fprintf(stderr, "cwhisper serve: out of memory\n");
        return 1;
    }
    o.model_dir = dir;
    o.model_name = name;
    int rc = serve_run(&o);
    free(name);
    free(dir);
    return rc;
}

#else

int cmd_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "cwhisper serve: not built: libmicrohttpd was not found at build time "
                    "(install libmicrohttpd-dev, e.g. scripts/install-deps, and rebuild)\n");
    return 1;
}

#endif
