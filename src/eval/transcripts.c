/* Transcript files, "<file-id> <text>" per line (the format of
 * shared/speech/SET/transcripts.txt and of `cwhisper eval --hyps`). */
#include "eval/eval.h"
#include "util/error.h"
#include "util/file.h"

#include <stdlib.h>
#include <string.h>

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static cw_status add_line(cw_transcripts *t, size_t *cap, const char *line, size_t len,
                          const char *path, size_t lineno)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) len--;
    size_t k = 0;
    while (k < len && is_blank(line[k])) k++;
    if (k == len) return CW_OK; /* blank line */
    if (k > 0) return cw_error(CW_ERR_FORMAT, "%s: line %zu has no file id (starts with whitespace)", path, lineno);
    size_t id_end = 0;
    while (id_end < len && !is_blank(line[id_end])) id_end++;
    size_t text = id_end;
    while (text < len && is_blank(line[text])) text++;
    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        cw_transcript *ni = cw_realloc(t->items, nc * sizeof(cw_transcript));
        if (!ni) return CW_ERR_NOMEM;
        t->items = ni;
        *cap = nc;
    }
    cw_transcript *e = &t->items[t->n];
    e->id = cw_malloc(id_end + 1);
    e->text = cw_malloc(len - text + 1);
    if (!e->id || !e->text) {
        free(e->id);
        free(e->text);
        return CW_ERR_NOMEM;
    }
    memcpy(e->id, line, id_end);
    e->id[id_end] = '\0';
    memcpy(e->text, line + text, len - text);
    e->text[len - text] = '\0';
    if (cw_transcripts_find(t, e->id)) {
        cw_status st = cw_error(CW_ERR_FORMAT, "%s: line %zu repeats file id '%s'", path, lineno, e->id);
        free(e->id);
        free(e->text);
        return st;
    }
    t->n++;
    return CW_OK;
}

cw_status cw_transcripts_read(const char *path, cw_transcripts *out)
{
    memset(out, 0, sizeof(*out));
    char *data = NULL;
    size_t len = 0, cap = 0;
    cw_status st = cw_file_read_all(path, 0, &data, &len);
    if (st != CW_OK) return st;
    if (memchr(data, '\0', len)) st = cw_error(CW_ERR_FORMAT, "%s: contains a NUL byte", path);
    size_t start = 0, lineno = 1;
    while (st == CW_OK && start < len) {
        const char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        st = add_line(out, &cap, data + start, end - start, path, lineno++);
        start = end + 1;
    }
    free(data);
    if (st != CW_OK) cw_transcripts_free(out);
    return st;
}

void cw_transcripts_free(cw_transcripts *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].id);
        free(t->items[i].text);
    }
    free(t->items);
    memset(t, 0, sizeof(*t));
}

const cw_transcript *cw_transcripts_find(const cw_transcripts *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].id, id) == 0) return &t->items[i];
    return NULL;
}
