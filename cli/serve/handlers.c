/* The routes of `cwhisper serve`, each a function from a parsed request to a
 * reply (status, content type, body), in the shapes OpenAI's API answers:
 *
 *   POST /v1/audio/transcriptions, /v1/audio/translations (multipart form):
 *     file (required, a file part), model, language, prompt, response_format
 *     (json | text | srt | verbose_json | vtt), temperature,
 *     timestamp_granularities[] (segment, word: verbose_json only; with word
 *     the transcription runs with word timestamps and the reply has OpenAI's
 *     top-level "words" [{word, start, end}], and "segments" only when
 *     segment was asked for too)
 *   GET /v1/models, /v1/models/{id}, /health
 *
 * Uploaded audio goes to a temporary file (named with the upload's
 * extension) and through cw_transcribe_file, as the command line reads
 * files, once a context is free; the file is removed whatever happens.
 * Every failure is OpenAI's error object with a 4xx/5xx status. */
#include "multipart.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 64
#define MAX_FIELD 65536 /* bytes of a text field (the prompt is the long one) */

void reply_error(serve_reply *r, int status, const char *type, const char *param, const char *code,
                 const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sb_free(&r->body);
    r->status = status;
    r->content_type = "application/json";
    sb_puts(&r->body, "{\"error\":{\"message\":");
    sb_json_str(&r->body, msg);
    sb_puts(&r->body, ",\"type\":");
    sb_json_str(&r->body, type);
    sb_puts(&r->body, ",\"param\":");
    sb_json_str(&r->body, param);
    sb_puts(&r->body, ",\"code\":");
    sb_json_str(&r->body, code);
    sb_puts(&r->body, "}}\n");
}

static void bad_request(serve_reply *r, const char *param, const char *code, const char *msg)
{
    reply_error(r, 400, "invalid_request_error", param, code, "%s", msg);
}

/* ---- form fields ---- */

typedef enum { FMT_JSON, FMT_TEXT, FMT_SRT, FMT_VERBOSE_JSON, FMT_VTT } response_format;

static const char *const format_names[] = { "json", "text", "srt", "verbose_json", "vtt" };

typedef struct {
    const mp_part *file;
    char *model, *language, *prompt, *response_format, *temperature;
    response_format fmt;
    double temp;
    int words, segments; /* timestamp_granularities[] asked for word / segment */
} form;

static void form_free(form *f)
{
    free(f->model), free(f->language), free(f->prompt), free(f->response_format), free(f->temperature);
}

/* The text field name as a C string: NULL if absent; *bad set when it is
 * too long or holds a NUL byte. */
static char *field(const mp_part *parts, size_t n, const char *name, const char **bad)
{
    const mp_part *p = mp_find(parts, n, name);
    if (!p) return NULL;
    if (p->len > MAX_FIELD || memchr(p->data, '\0', p->len)) {
        *bad = name;
        return NULL;
    }
    char *s = malloc(p->len + 1);
    if (!s) {
        *bad = name;
        return NULL;
    }
    memcpy(s, p->data, p->len);
    s[p->len] = '\0';
    return s;
}

static int model_known(const serve_state *st, const char *m)
{
    return strcmp(m, "whisper-1") == 0 || strcmp(m, st->opt->model_name) == 0;
}

/* Reads and checks every field; 0, or -1 with the error reply set. */
static int read_form(const serve_state *st, const mp_part *parts, size_t n, form *f, serve_reply *r)
{
    const char *bad = NULL;
    f->model = field(parts, n, "model", &bad);
    f->language = field(parts, n, "language", &bad);
    f->prompt = field(parts, n, "prompt", &bad);
    f->response_format = field(parts, n, "response_format", &bad);
    f->temperature = field(parts, n, "temperature", &bad);
    if (bad) {
        reply_error(r, 400, "invalid_request_error", bad, "invalid_value",
                    "field '%s' is longer than %d bytes, holds a NUL byte, or could not be stored", bad,
                    MAX_FIELD);
        return -1;
    }
    f->file = mp_find(parts, n, "file");
    if (!f->file) {
        bad_request(r, "file", "missing_file",
                    "no audio: send the audio as a multipart/form-data file field named 'file'");
        return -1;
    }
    if (!f->file->has_filename) {
        bad_request(r, "file", "invalid_type",
                    "field 'file' must be a file upload (a multipart part with a filename), not a text field");
        return -1;
    }
    if (f->file->len == 0) {
        reply_error(r, 400, "invalid_request_error", "file", "empty_file", "the uploaded file '%s' is empty",
                    f->file->filename);
        return -1;
    }
    if (f->model && !model_known(st, f->model)) {
        reply_error(r, 400, "invalid_request_error", "model", "model_not_found",
                    "model '%s' is not served here; use 'whisper-1' or '%s' (GET /v1/models)", f->model,
                    st->opt->model_name);
        return -1;
    }
    f->fmt = FMT_JSON;
    if (f->response_format) {
        int k = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(f->response_format, format_names[i]) == 0) k = i;
        if (k < 0) {
            reply_error(r, 400, "invalid_request_error", "response_format", "invalid_value",
                        "response_format '%s' is not json, text, srt, verbose_json or vtt", f->response_format);
            return -1;
        }
        f->fmt = (response_format)k;
    }
    f->temp = 0;
    if (f->temperature && *f->temperature) {
        char *end;
        errno = 0;
        f->temp = strtod(f->temperature, &end);
        if (errno || end == f->temperature || *end || !(f->temp >= 0 && f->temp <= 1)) {
            reply_error(r, 400, "invalid_request_error", "temperature", "invalid_value",
                        "temperature '%s' is not a number in [0, 1]", f->temperature);
            return -1;
        }
    }
    if (f->language && *f->language && strcmp(f->language, "auto") != 0 &&
        !cw_language_full_name(f->language)) {
        reply_error(r, 400, "invalid_request_error", "language", "invalid_language",
                    "language '%s' is not a language Whisper knows (an ISO-639-1 code such as 'en')",
                    f->language);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(parts[i].name, "timestamp_granularities[]") != 0 &&
            strcmp(parts[i].name, "timestamp_granularities") != 0)
            continue;
        const char *v = parts[i].data;
        size_t len = parts[i].len;
        if (len == 7 && memcmp(v, "segment", 7) == 0) {
            f->segments = 1;
            continue;
        }
        if (len == 4 && memcmp(v, "word", 4) == 0) {
            f->words = 1;
            continue;
        }
        reply_error(r, 400, "invalid_request_error", "timestamp_granularities[]", "invalid_value",
                    "timestamp_granularities[] '%.*s' is not segment or word", len > 40 ? 40 : (int)len, v);
        return -1;
    }
    if (f->words && f->fmt != FMT_VERBOSE_JSON) {
        bad_request(r, "timestamp_granularities[]", "invalid_value",
                    "timestamp_granularities[] word needs response_format verbose_json");
        return -1;
    }
    if (!f->words) f->segments = 1; /* the default granularity */
    return 0;
}

/* ---- audio ---- */

/* The upload's extension (letters and digits only, so it is safe in a path)
 * helps FFmpeg pick the container; "" if there is none. */
static void safe_ext(const char *filename, char *ext, size_t cap)
{
    ext[0] = '\0';
    const char *dot = strrchr(filename, '.');
    if (!dot || !dot[1] || strlen(dot) > 9 || cap < 10) return;
    for (const char *p = dot + 1; *p; p++)
        if (!isalnum((unsigned char)*p)) return;
    snprintf(ext, cap, "%s", dot);
}

/* Replaces the temporary path in msg with the client's file name. */
static void rename_in(const char *msg, const char *tmp, const char *name, char *out, size_t cap)
{
    const char *at = strstr(msg, tmp);
    if (!at) {
        snprintf(out, cap, "%s", msg);
        return;
    }
    snprintf(out, cap, "%.*s%s%s", (int)(at - msg), msg, name, at + strlen(tmp));
}

/* Writes the upload to a temporary file named like it (its extension helps
 * FFmpeg); 0 with path set, or -1 with the reply set. */
static int save_upload(const mp_part *file, char *path, size_t cap, serve_reply *r)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char ext[16];
    safe_ext(file->filename, ext, sizeof ext);
    int w = snprintf(path, cap, "%s/cwhisper-serve-XXXXXX%s", dir, ext);
    int fd = w > 0 && (size_t)w < cap ? mkstemps(path, (int)strlen(ext)) : -1;
    if (fd < 0) {
        reply_error(r, 500, "server_error", NULL, NULL, "cannot create a temporary file in %s: %s", dir,
                    strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < file->len) {
        ssize_t k = write(fd, file->data + done, file->len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        done += (size_t)k;
    }
    int werr = errno;
    if (close(fd) != 0 && done == file->len) done = 0, werr = errno;
    if (done != file->len) {
        unlink(path);
        reply_error(r, 500, "server_error", NULL, NULL, "cannot write the upload to %s: %s", dir,
                    strerror(werr ? werr : EIO));
        return -1;
    }
    return 0;
}

/* The reply for a failed cw_transcribe_file on the upload at path. */
static void transcribe_error(cw_status s, const char *msg, const char *path, const mp_part *file, serve_reply *r)
{
    char why[700];
    rename_in(msg, path, file->filename[0] ? file->filename : "upload", why, sizeof why);
    if (s == CW_ERR_AUDIO || s == CW_ERR_UNSUPPORTED || s == CW_ERR_FORMAT)
        reply_error(r, 400, "invalid_request_error", "file", "invalid_file",
                    "the uploaded file '%s' is not audio cwhisper can decode (%s)", file->filename, why);
    else if (s == CW_ERR_INVALID_ARG)
        reply_error(r, 400, "invalid_request_error", NULL, "invalid_value", "%s", why);
    else if (s == CW_ERR_NOMEM)
        reply_error(r, 503, "server_error", NULL, NULL, "out of memory: %s", why);
    else
        reply_error(r, 500, "server_error", NULL, NULL, "transcription failed: %s", why);
}

/* ---- bodies ---- */

/* The whole transcript without the leading space Whisper's tokens give, as
 * OpenAI's "text" field. */
static void json_text(sbuf *b, const char *text)
{
    while (*text == ' ' || *text == '\n') text++;
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\n')) n--;
    char *t = strndup(text, n);
    if (!t) { b->failed = 1; return; }
    sb_json_str(b, t);
    free(t);
}

/* OpenAI's top-level "words": every segment's words, text stripped of the
 * spaces Whisper's tokens give. */
static void json_words(const cw_result *res, sbuf *b)
{
    sb_puts(b, ",\"words\":[");
    int first = 1;
    for (size_t i = 0; i < cw_result_n_segments(res); i++) {
        const cw_segment *s = cw_result_segment(res, i);
        for (size_t k = 0; k < s->n_words; k++) {
            sb_puts(b, first ? "{\"word\":" : ",{\"word\":");
            first = 0;
            json_text(b, s->words[k].word);
            sb_puts(b, ",\"start\":");
            sb_json_num(b, s->words[k].start);
            sb_puts(b, ",\"end\":");
            sb_json_num(b, s->words[k].end);
            sb_puts(b, "}");
        }
    }
    sb_puts(b, "]");
}

static void verbose_json(const cw_result *res, cw_task task, const form *f, sbuf *b)
{
    const char *lang = cw_result_language(res);
    const char *full = cw_language_full_name(lang);
    sb_puts(b, "{\"task\":");
    sb_json_str(b, task == CW_TASK_TRANSLATE ? "translate" : "transcribe");
    sb_puts(b, ",\"language\":");
    sb_json_str(b, full ? full : lang);
    sb_puts(b, ",\"duration\":");
    sb_json_num(b, cw_result_duration(res));
    sb_puts(b, ",\"text\":");
    json_text(b, cw_result_text(res));
    if (f->words) json_words(res, b);
    if (!f->segments) {
        sb_puts(b, "}\n");
        return;
    }
    sb_puts(b, ",\"segments\":[");
    for (size_t i = 0; i < cw_result_n_segments(res); i++) {
        const cw_segment *s = cw_result_segment(res, i);
        sb_printf(b, "%s{\"id\":%d,\"seek\":%ld,\"start\":", i ? "," : "", s->id, s->seek);
        sb_json_num(b, s->start);
        sb_puts(b, ",\"end\":");
        sb_json_num(b, s->end);
        sb_puts(b, ",\"text\":");
        sb_json_str(b, s->text);
        sb_puts(b, ",\"tokens\":[");
        for (size_t k = 0; k < s->n_tokens; k++) sb_printf(b, "%s%d", k ? "," : "", s->tokens[k]);
        sb_puts(b, "],\"temperature\":");
        sb_json_num(b, s->temperature);
        sb_puts(b, ",\"avg_logprob\":");
        sb_json_num(b, s->avg_logprob);
        sb_puts(b, ",\"compression_ratio\":");
        sb_json_num(b, s->compression_ratio);
        sb_puts(b, ",\"no_speech_prob\":");
        sb_json_num(b, s->no_speech_prob);
        sb_puts(b, "}");
    }
    sb_puts(b, "]}\n");
}

/* txt, srt and vtt through the library's writers (openai-whisper's bytes). */
static int writer_body(const cw_result *res, cw_output_format f, sbuf *b)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return -1;
    cw_status s = cw_output_write_stream(res, f, NULL, m);
    int rc = fclose(m);
    if (!s && rc == 0) sb_putn(b, buf ? buf : "", len);
    free(buf);
    return s || rc ? -1 : 0;
}

static void render(const cw_result *res, cw_task task, const form *f, serve_reply *r)
{
    response_format fmt = f->fmt;
    r->status = 200;
    int rc = 0;
    switch (fmt) {
    case FMT_JSON:
        r->content_type = "application/json";
        sb_puts(&r->body, "{\"text\":");
        json_text(&r->body, cw_result_text(res));
        sb_puts(&r->body, "}\n");
        break;
    case FMT_VERBOSE_JSON:
        r->content_type = "application/json";
        verbose_json(res, task, f, &r->body);
        break;
    case FMT_TEXT: { /* as OpenAI's API: the whole transcript, one string, then a newline */
        r->content_type = "text/plain; charset=utf-8";
        const char *t = cw_result_text(res);
        while (*t == ' ' || *t == '\n') t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\n')) n--;
        sb_printf(&r->body, "%.*s\n", (int)n, t);
        break;
    }
    case FMT_SRT:
        r->content_type = "text/plain; charset=utf-8";
        rc = writer_body(res, CW_OUTPUT_SRT, &r->body);
        break;
    case FMT_VTT:
        r->content_type = "text/vtt; charset=utf-8";
        rc = writer_body(res, CW_OUTPUT_VTT, &r->body);
        break;
    }
    if (rc || r->body.failed) reply_error(r, 500, "server_error", NULL, NULL, "out of memory writing the reply");
}

/* ---- routes ---- */

void handle_audio(const serve_state *st, cw_task task, const char *content_type, const char *body,
                  size_t len, serve_reply *r)
{
    char boundary[MP_BOUNDARY_MAX + 1];
    const char *err = NULL;
    mp_part *parts = calloc(MAX_PARTS, sizeof *parts);
    size_t n = 0;
    if (!parts) {
        reply_error(r, 503, "server_error", NULL, NULL, "out of memory");
        return;
    }
    if (mp_boundary(content_type, boundary, &err) || mp_parse(body, len, boundary, parts, MAX_PARTS, &n, &err)) {
        bad_request(r, NULL, "invalid_multipart", err);
        free(parts);
        return;
    }
    form f = { 0 };
    char path[4096];
    if (read_form(st, parts, n, &f, r) || save_upload(f.file, path, sizeof path, r)) {
        form_free(&f);
        free(parts);
        return;
    }
    cw_transcribe_params tp = cw_transcribe_default_params();
    tp.task = task;
    if (f.language && *f.language && strcmp(f.language, "auto") != 0) tp.language = f.language;
    if (f.prompt && *f.prompt) tp.initial_prompt = f.prompt;
    tp.temperature = f.temp; /* 0: OpenAI's "automatic" = the fallback ladder from 0 */
    tp.word_timestamps = f.words;

    /* Decoded only once a context is free: cw_transcribe_file streams the
     * audio and its log-mel, so a queue of long uploads holds files on
     * disk, not their samples in memory. A bad upload fails in the first
     * milliseconds of that call. */
    cw_context *ctx = pool_acquire(st->pool);
    if (!ctx) {
        reply_error(r, 503, "server_error", NULL, "shutting_down", "the server is shutting down");
    } else {
        cw_result *res = NULL;
        cw_status s = cw_transcribe_file(ctx, path, &tp, &res);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cw_last_error()); /* before another call on this thread */
        pool_release(st->pool, ctx);
        if (s)
            transcribe_error(s, msg, path, f.file, r);
        else
            render(res, task, &f, r);
        cw_result_free(res);
    }
    unlink(path);
    form_free(&f);
    free(parts);
}

static void model_object(const char *id, sbuf *b)
{
    sb_puts(b, "{\"id\":");
    sb_json_str(b, id);
    sb_puts(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"cwhisper\"}");
}

void handle_models(const serve_state *st, const char *id, serve_reply *r)
{
    r->status = 200;
    r->content_type = "application/json";
    if (id) {
        if (!model_known(st, id)) {
            reply_error(r, 404, "invalid_request_error", "model", "model_not_found",
                        "The model '%s' does not exist", id);
            return;
        }
        model_object(id, &r->body);
        sb_puts(&r->body, "\n");
    } else {
        sb_puts(&r->body, "{\"object\":\"list\",\"data\":[");
        model_object("whisper-1", &r->body);
        if (strcmp(st->opt->model_name, "whisper-1") != 0) {
            sb_puts(&r->body, ",");
            model_object(st->opt->model_name, &r->body);
        }
        sb_puts(&r->body, "]}\n");
    }
    if (r->body.failed) reply_error(r, 500, "server_error", NULL, NULL, "out of memory");
}

void handle_health(const serve_state *st, serve_reply *r)
{
    int size, busy, waiting;
    pool_stats(st->pool, &size, &busy, &waiting);
    r->status = 200;
    r->content_type = "application/json";
    sb_puts(&r->body, "{\"status\":\"ok\",\"model\":");
    sb_json_str(&r->body, st->opt->model_name);
    sb_printf(&r->body, ",\"contexts\":%d,\"busy\":%d,\"queued\":%d}\n", size, busy, waiting);
    if (r->body.failed) reply_error(r, 500, "server_error", NULL, NULL, "out of memory");
}
