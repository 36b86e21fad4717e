/* Hugging Face model directories: the model.safetensors parser (u64 header
 * length, JSON header, byte buffer), the HF -> OpenAI name mapping
 * (convert_openai_to_hf.py renames, applied backwards) and hyper-parameters
 * from config.json (+ extras from generation_config.json). */
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *code;
    cw_dtype dt;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F32", CW_DTYPE_F32}, {"F16", CW_DTYPE_F16}, {"BF16", CW_DTYPE_BF16},
    {"I8", CW_DTYPE_I8},   {"I16", CW_DTYPE_I16}, {"I32", CW_DTYPE_I32},
};

/* A non-negative integer below 2^53 (exact in a double). */
static int json_size(const cw_json *j, size_t *out)
{
    if (!j || j->type != CW_JSON_NUMBER || !(j->number >= 0) || j->number > 9007199254740992.0 ||
        j->number != (double)(unsigned long long)j->number)
        return -1;
    unsigned long long u = (unsigned long long)j->number;
    if (u > (size_t)-1) return -1;
    *out = (size_t)u;
    return 0;
}

static cw_status st_entry(const cw_json *e, const unsigned char *buf, size_t buf_size, const char *file,
                          cw_raw_var *v, size_t *begin)
{
    const char *key = e->key;
    const char *dt = cw_json_get_string(e, "dtype");
    const cw_json *shape = cw_json_get(e, "shape"), *offs = cw_json_get(e, "data_offsets");
    if (e->type != CW_JSON_OBJECT || !dt || !shape || shape->type != CW_JSON_ARRAY || !offs ||
        offs->type != CW_JSON_ARRAY || offs->n != 2)
        return cw_error(CW_ERR_FORMAT, "%s: header entry '%s' lacks dtype, shape or data_offsets", file, key);
    size_t k = 0, n = sizeof st_dtypes / sizeof *st_dtypes;
    while (k < n && strcmp(dt, st_dtypes[k].code) != 0) k++;
    if (k == n) return cw_error(CW_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype %.16s", file, key, dt);
    v->dtype = st_dtypes[k].dt;
    if (shape->n > CW_MAX_RANK)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: tensor '%s' has rank %zu (max %d)", file, key, shape->n, CW_MAX_RANK);
    v->rank = (int)shape->n;
    v->n_elem = 1;
    for (size_t i = 0; i < shape->n; i++)
        if (json_size(shape->items[i], &v->shape[i]) || cw_mul_size(v->n_elem, v->shape[i], &v->n_elem))
            return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' has an invalid shape", file, key);
    size_t b, end, want;
    if (json_size(offs->items[0], &b) || json_size(offs->items[1], &end))
        return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' has invalid data_offsets", file, key);
    if (b > end || end > buf_size)
        return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' data_offsets [%zu, %zu] outside the %zu-byte buffer",
                        file, key, b, end, buf_size);
    if (cw_mul_size(v->n_elem, cw_dtype_size(v->dtype), &want) || want != end - b)
        return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' has %zu bytes, its shape needs %zu", file, key,
                        end - b, want);
    v->data = buf + b;
    v->nbytes = end - b;
    *begin = b;
    return CW_OK;
}

/* Tensors must not share bytes: sorted by start, each begins at or after
 * the end of the previous one. */
static int cmp_data(const void *a, const void *b)
{
    const cw_raw_var *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static cw_status st_no_overlap(cw_raw_file *f, const char *file)
{
    cw_raw_var *tmp = cw_malloc((f->n ? f->n : 1) * sizeof *tmp);
    if (!tmp) return CW_ERR_NOMEM;
    if (f->n) memcpy(tmp, f->vars, f->n * sizeof *tmp);
    qsort(tmp, f->n, sizeof *tmp, cmp_data);
    cw_status s = CW_OK;
    for (size_t i = 1; !s && i < f->n; i++)
        if (tmp[i].data < tmp[i - 1].data + tmp[i - 1].nbytes)
            s = cw_error(CW_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", file, tmp[i - 1].name, tmp[i].name);
    free(tmp);
    return s;
}

cw_status cw_safetensors_parse(const unsigned char *data, size_t size, const char *name,
                               cw_raw_file *out)
{
    memset(out, 0, sizeof *out);
    if (size < 8) return cw_error(CW_ERR_FORMAT, "%s: truncated: no header length", name);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    if (hlen > size - 8)
        return cw_error(CW_ERR_FORMAT, "%s: header length %llu exceeds the file", name, (unsigned long long)hlen);
    cw_json *j = NULL;
    cw_status s = cw_json_parse((const char *)data + 8, (size_t)hlen, name, &j);
    if (!s && j->type != CW_JSON_OBJECT) s = cw_error(CW_ERR_FORMAT, "%s: header is not a JSON object", name);
    const unsigned char *buf = data + 8 + hlen;
    size_t buf_size = size - 8 - (size_t)hlen, begin;
    for (size_t i = 0; !s && i < j->n; i++) {
        const cw_json *e = j->items[i];
        if (strcmp(e->key, "__metadata__") == 0) continue;
        if (strlen(e->key) != e->key_len) {
            s = cw_error(CW_ERR_FORMAT, "%s: a tensor name holds a NUL byte", name);
            break;
        }
        cw_raw_var v = {0};
        if (!(s = st_entry(e, buf, buf_size, name, &v, &begin))) s = cw_raw_add(out, e->key, e->key_len, &v);
    }
    if (!s) s = st_no_overlap(out, name);
    if (!s) s = cw_raw_finish(out, name);
    cw_json_free(j);
    if (s) cw_raw_free(out);
    return s;
}

/* ---- OpenAI names -> HF names (convert_openai_to_hf.py, in its order) ---- */

static const char *const hf_renames[][2] = {
    {"blocks", "layers"},
    {"mlp.0", "fc1"},
    {"mlp.2", "fc2"},
    {"mlp_ln", "final_layer_norm"},
    {".attn.query", ".self_attn.q_proj"},
    {".attn.key", ".self_attn.k_proj"},
    {".attn.value", ".self_attn.v_proj"},
    {".attn.out", ".self_attn.out_proj"},
    {".attn_ln", ".self_attn_layer_norm"},
    {".cross_attn.query", ".encoder_attn.q_proj"},
    {".cross_attn.key", ".encoder_attn.k_proj"},
    {".cross_attn.value", ".encoder_attn.v_proj"},
    {".cross_attn.out", ".encoder_attn.out_proj"},
    {".cross_attn_ln", ".encoder_attn_layer_norm"},
    {"decoder.ln.", "decoder.layer_norm."},
    {"token_embedding", "embed_tokens"},
    {"encoder.positional_embedding", "encoder.embed_positions.weight"},
    {"decoder.positional_embedding", "decoder.embed_positions.weight"},
    {"ln_post", "layer_norm"},
};

/* Replaces the first occurrence of from by to in s (cap bytes). */
static void replace(char *s, size_t cap, const char *from, const char *to)
{
    char *p = strstr(s, from), tmp[192];
    if (!p) return;
    snprintf(tmp, sizeof tmp, "%s", p + strlen(from));
    snprintf(p, cap - (size_t)(p - s), "%s%s", to, tmp);
}

static int hf_source(const char *canon, char *buf, size_t cap, int *part, int *n_parts)
{
    char s[192];
    snprintf(s, sizeof s, "%s", canon);
    for (size_t i = 0; i < sizeof hf_renames / sizeof *hf_renames; i++)
        replace(s, sizeof s, hf_renames[i][0], hf_renames[i][1]);
    snprintf(buf, cap, "model.%s", s);
    *part = 0;
    *n_parts = 1;
    return 0;
}

/* ---- config.json, preprocessor_config.json ---- */

static cw_status read_json_file(const char *dir, const char *name, int required, char **path, cw_json **j)
{
    *j = NULL;
    if (!(*path = cw_path_join(dir, name))) return CW_ERR_NOMEM;
    if (!required && !cw_file_exists(*path)) return CW_OK;
    char *text;
    size_t len;
    cw_status s = cw_file_read_all(*path, 64u << 20, &text, &len);
    if (s) return s;
    s = cw_json_parse(text, len, *path, j);
    free(text);
    if (!s && (*j)->type != CW_JSON_OBJECT) s = cw_error(CW_ERR_FORMAT, "%s: expected a JSON object", *path);
    return s;
}

static cw_status cfg_int(const cw_json *j, const char *key, const char *path, int *out)
{
    long v;
    if (cw_json_get_int(j, key, &v)) return cw_error(CW_ERR_FORMAT, "%s: missing or invalid '%s'", path, key);
    /* checked before anything is sized by it: a 10^9-wide layer allocates nothing */
    if (v <= 0 || v > (1 << 24))
        return cw_error(CW_ERR_FORMAT, "%s: '%s' %ld is outside [1, %d]", path, key, v, 1 << 24);
    *out = (int)v;
    return CW_OK;
}

static cw_status hf_dims(const cw_json *j, const char *path, cw_model_dims *d)
{
    cw_status s;
    if ((s = cfg_int(j, "d_model", path, &d->n_audio_state)) ||
        (s = cfg_int(j, "encoder_layers", path, &d->n_audio_layer)) ||
        (s = cfg_int(j, "decoder_layers", path, &d->n_text_layer)) ||
        (s = cfg_int(j, "encoder_attention_heads", path, &d->n_audio_head)) ||
        (s = cfg_int(j, "decoder_attention_heads", path, &d->n_text_head)) ||
        (s = cfg_int(j, "num_mel_bins", path, &d->n_mels)) ||
        (s = cfg_int(j, "vocab_size", path, &d->n_vocab)) ||
        (s = cfg_int(j, "max_source_positions", path, &d->n_audio_ctx)) ||
        (s = cfg_int(j, "max_target_positions", path, &d->n_text_ctx)))
        return s;
    d->n_text_state = d->n_audio_state;
    return cw_model_check_dims(d, path);
}

/* HF keeps the extras under other names in config.json / generation_config.json. */
static cw_status hf_extras(cw_model_extras *ex, const cw_json *j, const char *path)
{
    cw_status s = CW_OK;
    if (!ex->n_alignment_heads)
        s = cw_json_read_pairs(j, "alignment_heads", path, &ex->alignment_heads, &ex->n_alignment_heads);
    if (!s && !ex->n_suppress_ids)
        s = cw_json_read_ints(j, "suppress_tokens", path, &ex->suppress_ids, &ex->n_suppress_ids);
    if (!s && !ex->n_suppress_ids_begin)
        s = cw_json_read_ints(j, "begin_suppress_tokens", path, &ex->suppress_ids_begin, &ex->n_suppress_ids_begin);
    if (!s && !ex->n_lang_ids) s = cw_json_read_ints(j, "lang_ids", path, &ex->lang_ids, &ex->n_lang_ids);
    return s;
}

static cw_status hf_config(cw_model *m)
{
    char *path = NULL, *gpath = NULL;
    cw_json *j = NULL, *g = NULL;
    cw_status s = read_json_file(m->dir, "config.json", 1, &path, &j);
    if (!s) s = hf_dims(j, path, &m->dims);
    if (!s) s = hf_extras(&m->extras, j, path);
    if (!s) s = read_json_file(m->dir, "generation_config.json", 0, &gpath, &g);
    if (!s && g) s = hf_extras(&m->extras, g, gpath);
    cw_json_free(j);
    cw_json_free(g);
    free(path);
    free(gpath);
    return s;
}

cw_status cw_safetensors_build(cw_model *m, const cw_raw_file *raw, const cw_model_params *p,
                               const char *file)
{
    return cw_model_build_tensors(m, raw, hf_source, p, file);
}

/* proj_out.weight, when present, must be the tied embedding: the decoder
 * only ever uses token_embedding for the logits (model.py). */
cw_status cw_safetensors_load(cw_model *m, const cw_model_params *p)
{
    char *path = cw_path_join(m->dir, "model.safetensors");
    if (!path) return CW_ERR_NOMEM;
    cw_raw_file raw = {0};
    m->format = "safetensors";
    cw_status s = hf_config(m);
    if (!s) s = cw_model_open_weights(m, path, p);
    if (!s) s = cw_safetensors_parse(m->map.data, m->map.size, path, &raw);
    if (!s) s = cw_safetensors_build(m, &raw, p, path);
    cw_raw_free(&raw);
    free(path);
    return s;
}
