/* The public model API: loading a directory (format detected from its
 * contents), freeing, queries and the `cwhisper info` description. */
#include "model/model.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cw_model_params cw_model_default_params(void)
{
    cw_model_params p = {.weights = CW_WEIGHTS_STORED, .use_mmap = 1};
    return p;
}

cw_status cw_model_open_weights(cw_model *m, const char *path, const cw_model_params *p)
{
    if (p->use_mmap) return cw_file_map_open(path, &m->map);
    char *data;
    size_t len;
    cw_status s = cw_file_read_all(path, 0, &data, &len);
    if (s) return s;
    m->map.data = (const unsigned char *)data;
    m->map.size = len;
    m->map.mapped = 0;
    return CW_OK;
}

static void free_extras(cw_model_extras *ex)
{
    free(ex->alignment_heads);
    free(ex->suppress_ids);
    free(ex->suppress_ids_begin);
    free(ex->lang_ids);
}

void cw_model_free(cw_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].name);
        free(m->tensors[i].owned);
        free(m->tensors[i].owned_scale);
    }
    free(m->tensors);
    free_extras(&m->extras);
    cw_file_map_close(&m->map);
    if (m->tok) cw_tokenizer_free(m->tok);
    free(m->dir);
    free(m);
}

static int dir_has(const char *dir, const char *name)
{
    char *p = cw_path_join(dir, name);
    int r = p && cw_file_exists(p);
    free(p);
    return r;
}

static cw_status check_alignment_heads(const cw_model *m)
{
    const cw_model_extras *ex = &m->extras;
    for (size_t i = 0; i < ex->n_alignment_heads; i++) {
        int32_t l = ex->alignment_heads[2 * i], h = ex->alignment_heads[2 * i + 1];
        if (l < 0 || l >= m->dims.n_text_layer || h < 0 || h >= m->dims.n_text_head)
            return cw_error(CW_ERR_FORMAT, "%s: alignment head [%d, %d] outside the decoder (%d layers, %d heads)",
                            m->dir, (int)l, (int)h, m->dims.n_text_layer, m->dims.n_text_head);
    }
    return CW_OK;
}

/* preprocessor_config.json (HF, and CT2 dirs converted with --copy_files)
 * gives the mel bins the feature extractor makes: they must feed conv1. */
static cw_status check_preprocessor(const cw_model *m)
{
    char *path = cw_path_join(m->dir, "preprocessor_config.json"), *text = NULL;
    if (!path) return CW_ERR_NOMEM;
    cw_status s = CW_OK;
    size_t len;
    cw_json *j = NULL;
    long fs;
    if (cw_file_exists(path) && !(s = cw_file_read_all(path, 1u << 20, &text, &len)))
        s = cw_json_parse(text, len, path, &j);
    if (!s && j && !cw_json_get_int(j, "feature_size", &fs) && fs != m->dims.n_mels)
        s = cw_error(CW_ERR_FORMAT, "%s: feature_size %ld disagrees with the model's %d mel bins", path, fs,
                     m->dims.n_mels);
    cw_json_free(j);
    free(text);
    free(path);
    return s;
}

static cw_status load_format(cw_model *m, const cw_model_params *p)
{
    if (dir_has(m->dir, "model.bin")) return cw_ct2_load(m, p);
    if (dir_has(m->dir, "model.safetensors")) return cw_safetensors_load(m, p);
    char *bin = cw_path_join(m->dir, "model.bin");
    if (!bin) return CW_ERR_NOMEM;
    cw_status s = cw_error(CW_ERR_IO, "%s: not found (nor model.safetensors): not a model directory", bin);
    free(bin);
    return s;
}

cw_status cw_model_load_flags(const char *path, const cw_model_params *params, unsigned flags,
                              cw_model **out)
{
    *out = NULL;
    if (!path) return cw_error(CW_ERR_INVALID_ARG, "model path is NULL");
    cw_model_params p = params ? *params : cw_model_default_params();
    if ((unsigned)p.weights > CW_WEIGHTS_BF16)
        return cw_error(CW_ERR_INVALID_ARG, "%s: invalid weights type %d", path, (int)p.weights);
    cw_model *m = cw_calloc(1, sizeof *m);
    if (!m) return CW_ERR_NOMEM;
    cw_status s = (m->dir = cw_strdup(path)) ? CW_OK : CW_ERR_NOMEM;
    if (!s) s = load_format(m, &p);
    if (!s) s = check_preprocessor(m);
    if (!s) s = cw_model_default_extras(m);
    if (!s) s = check_alignment_heads(m);
    if (!s) m->kind = cw_model_kind_from_vocab(m->dims.n_vocab);
    if (!s && !(flags & CW_MODEL_NO_TOKENIZER)) s = cw_tokenizer_load_dir(path, m->dims.n_vocab, &m->tok);
    if (!s && !m->map.mapped) {
        /* A file read into memory: every view into it is heap memory. */
        m->bytes_owned += m->map.size;
        m->bytes_mapped = 0;
    }
    if (s) {
        cw_model_free(m);
        return s;
    }
    *out = m;
    return CW_OK;
}

cw_status cw_model_load(const char *path, const cw_model_params *params, cw_model **out)
{
    return cw_model_load_flags(path, params, 0, out);
}

cw_model_kind cw_model_get_kind(const cw_model *m)
{
    return m->kind;
}

cw_model_dims cw_model_get_dims(const cw_model *m)
{
    return m->dims;
}

/* ---- description ---- */

typedef struct {
    char *buf;
    size_t cap, len;
} text;

static void add(text *t, const char *fmt, ...) CW_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->cap ? t->cap - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
}

static const char *kind_name(cw_model_kind k)
{
    return k == CW_MODEL_ENGLISH_ONLY ? "English-only" : k == CW_MODEL_MULTILINGUAL ? "multilingual" : "v3";
}

static void describe_dtypes(const cw_model *m, text *t)
{
    size_t stored[CW_DTYPE_COUNT] = {0}, held[CW_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < m->n_tensors; i++) {
        stored[m->tensors[i].stored_dtype]++;
        held[m->tensors[i].dtype]++;
    }
    add(t, "tensors:   %zu (stored:", m->n_tensors);
    for (int d = 0; d < CW_DTYPE_COUNT; d++)
        if (stored[d]) add(t, " %zu %s", stored[d], cw_dtype_name((cw_dtype)d));
    add(t, "; held:");
    for (int d = 0; d < CW_DTYPE_COUNT; d++)
        if (held[d]) add(t, " %zu %s", held[d], cw_dtype_name((cw_dtype)d));
    add(t, ")\n");
}

static void describe_vocab(const cw_model *m, text *t)
{
    if (!m->tok) {
        add(t, "vocabulary: %d (no tokenizer loaded)\n", m->dims.n_vocab);
        return;
    }
    const cw_special_tokens *sp = cw_tokenizer_specials(m->tok);
    int n_text = (int)sp->n_text, n_ts = sp->n_vocab - sp->timestamp_begin;
    add(t, "vocabulary: %d (%d text + %d special + %d timestamps)\n", sp->n_vocab, n_text,
        sp->n_vocab - n_text - n_ts, n_ts);
    add(t, "specials:  eot %d, sot %d, transcribe %d, translate %d, startofprev %d, nospeech %d, "
           "notimestamps %d, timestamp_begin %d, first language %d\n",
        (int)sp->eot, (int)sp->sot, (int)sp->transcribe, (int)sp->translate, (int)sp->startofprev,
        (int)sp->nospeech, (int)sp->notimestamps, (int)sp->timestamp_begin, (int)sp->lang_begin);
    add(t, "languages: %d%s\n", (int)sp->n_languages,
        m->kind == CW_MODEL_ENGLISH_ONLY ? " language tokens (the model transcribes English only)" : "");
}

size_t cw_model_describe(const cw_model *m, char *buf, size_t cap)
{
    text t = {buf, cap, 0};
    if (buf && cap) buf[0] = '\0';
    const cw_model_dims *d = &m->dims;
    add(&t, "model:     %s (%s)\n", m->dir, m->format);
    add(&t, "kind:      %s\n", kind_name(m->kind));
    add(&t, "audio:     n_mels %d, n_audio_ctx %d, n_audio_state %d, n_audio_head %d, n_audio_layer %d\n",
        d->n_mels, d->n_audio_ctx, d->n_audio_state, d->n_audio_head, d->n_audio_layer);
    add(&t, "text:      n_vocab %d, n_text_ctx %d, n_text_state %d, n_text_head %d, n_text_layer %d\n",
        d->n_vocab, d->n_text_ctx, d->n_text_state, d->n_text_head, d->n_text_layer);
    describe_dtypes(m, &t);
    describe_vocab(m, &t);
    add(&t, "alignment heads: %zu\n", m->extras.n_alignment_heads);
    add(&t, "memory:    %.1f MiB mapped, %.1f MiB allocated\n", (double)m->bytes_mapped / 1048576.0,
        (double)m->bytes_owned / 1048576.0);
    return t.len;
}
