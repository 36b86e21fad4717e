/* CTranslate2 model directories (what faster-whisper loads): the model.bin
 * parser (specs/model_spec.py _serialize, binary_version 4..6), the mapping
 * of CT2 variable names to OpenAI names (fused q/k/v split into row views),
 * hyper-parameters derived from tensor shapes, and config.json extras. */
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounds-checked little-endian cursor over the file. */
typedef struct {
    const unsigned char *p;
    size_t left;
    const char *name;
} cursor;

static cw_status truncated(const cursor *c, const char *what)
{
    return cw_error(CW_ERR_FORMAT, "%s: truncated while reading %s", c->name, what);
}

static cw_status rd_bytes(cursor *c, size_t n, const unsigned char **out, const char *what)
{
    if (n > c->left) return truncated(c, what);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return CW_OK;
}

static cw_status rd_u32(cursor *c, uint32_t *v, const char *what)
{
    const unsigned char *b = NULL;
    cw_status s = rd_bytes(c, 4, &b, what);
    if (s) return s;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return CW_OK;
}

static cw_status rd_u8(cursor *c, uint8_t *v, const char *what)
{
    const unsigned char *b = NULL;
    cw_status s = rd_bytes(c, 1, &b, what);
    if (s) return s;
    *v = b[0];
    return CW_OK;
}

/* str = u16 length including a trailing NUL, then the bytes. */
static cw_status rd_str(cursor *c, const char **str, size_t *len, const char *what)
{
    const unsigned char *b = NULL;
    cw_status s = rd_bytes(c, 2, &b, what);
    if (s) return s;
    size_t n = (size_t)b[0] | (size_t)b[1] << 8;
    if ((s = rd_bytes(c, n, &b, what))) return s;
    if (n == 0 || b[n - 1] != '\0' || memchr(b, '\0', n - 1))
        return cw_error(CW_ERR_FORMAT, "%s: malformed string in %s", c->name, what);
    *str = (const char *)b;
    *len = n - 1;
    return CW_OK;
}

static cw_status rd_header(cursor *c)
{
    uint32_t version, rev;
    cw_status s = rd_u32(c, &version, "the header");
    if (s) return s;
    if (version < 4 || version > 6)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: CTranslate2 binary_version %u not supported (4 to 6)",
                        c->name, (unsigned)version);
    const char *spec;
    size_t len;
    if ((s = rd_str(c, &spec, &len, "the spec name"))) return s;
    if (strcmp(spec, "WhisperSpec") != 0)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: spec '%.64s' is not a Whisper model", c->name, spec);
    return rd_u32(c, &rev, "the spec revision");
}

static cw_status rd_variable(cursor *c, cw_raw_file *out)
{
    const char *name;
    size_t len;
    uint8_t rank, dt;
    uint32_t u;
    cw_raw_var v = {0};
    cw_status s = rd_str(c, &name, &len, "a variable name");
    if (s) return s;
    if ((s = rd_u8(c, &rank, name))) return s;
    if (rank > CW_MAX_RANK)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: variable '%s' has rank %u (max %d)", c->name, name,
                        (unsigned)rank, CW_MAX_RANK);
    v.rank = rank;
    v.n_elem = 1;
    for (int i = 0; i < rank; i++) {
        if ((s = rd_u32(c, &u, name))) return s;
        v.shape[i] = u;
        if (cw_mul_size(v.n_elem, u, &v.n_elem))
            return cw_error(CW_ERR_FORMAT, "%s: variable '%s' shape overflows", c->name, name);
    }
    if ((s = rd_u8(c, &dt, name))) return s;
    if (cw_dtype_size((cw_dtype)dt) == 0)
        return cw_error(CW_ERR_FORMAT, "%s: variable '%s' has unknown dtype code %u", c->name, name,
                        (unsigned)dt);
    v.dtype = (cw_dtype)dt;
    if ((s = rd_u32(c, &u, name))) return s;
    size_t want;
    if (cw_mul_size(v.n_elem, cw_dtype_size(v.dtype), &want) || want != u)
        return cw_error(CW_ERR_FORMAT, "%s: variable '%s' has %u bytes, its shape needs %zu", c->name,
                        name, (unsigned)u, want);
    v.nbytes = u;
    if ((s = rd_bytes(c, v.nbytes, &v.data, name))) return s;
    return cw_raw_add(out, name, len, &v);
}

/* Looks a name up among the first n_vars (sorted, real) variables only:
 * aliases of aliases are not produced by the converter. */
static const cw_raw_var *find_real(const cw_raw_file *out, size_t n_vars, const char *name)
{
    cw_raw_file view = *out;
    view.n = n_vars;
    return cw_raw_find(&view, name);
}

/* An alias shares its target's bytes; "<alias>_scale" follows "<target>_scale". */
static cw_status add_alias(cw_raw_file *out, size_t n_vars, const char *alias, size_t la,
                           const char *target, const char *file)
{
    const cw_raw_var *t = find_real(out, n_vars, target);
    if (!t) return cw_error(CW_ERR_FORMAT, "%s: alias '%s' names no variable ('%s')", file, alias, target);
    cw_raw_var v = *t; /* copied: cw_raw_add may move the array */
    cw_status s = cw_raw_add(out, alias, la, &v);
    if (s) return s;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s_scale", alias);
    snprintf(b, sizeof b, "%s_scale", target);
    t = find_real(out, n_vars, b);
    if (!t) return CW_OK;
    v = *t;
    return cw_raw_add(out, a, strlen(a), &v);
}

static cw_status rd_aliases(cursor *c, cw_raw_file *out)
{
    uint32_t n;
    cw_status s = rd_u32(c, &n, "the alias count");
    size_t n_vars = out->n;
    for (uint32_t i = 0; !s && i < n; i++) {
        const char *alias, *target;
        size_t la, lt;
        if ((s = rd_str(c, &alias, &la, "an alias"))) return s;
        if ((s = rd_str(c, &target, &lt, "an alias target"))) return s;
        s = add_alias(out, n_vars, alias, la, target, c->name);
    }
    return s;
}

cw_status cw_ct2_parse(const unsigned char *data, size_t size, const char *name, cw_raw_file *out)
{
    memset(out, 0, sizeof *out);
    cursor c = {data, size, name};
    uint32_t n;
    cw_status s = rd_header(&c);
    if (!s) s = rd_u32(&c, &n, "the variable count");
    for (uint32_t i = 0; !s && i < n; i++) s = rd_variable(&c, out);
    /* Sorted before aliases so targets can be found by binary search. */
    if (!s) s = cw_raw_finish(out, name);
    if (!s) s = rd_aliases(&c, out);
    if (!s) s = cw_raw_finish(out, name);
    if (!s && c.left != 0)
        s = cw_error(CW_ERR_FORMAT, "%s: %zu unexpected bytes after the aliases", name, c.left);
    if (s) cw_raw_free(out);
    return s;
}

/* ---- CT2 names -> OpenAI names ---- */

typedef struct {
    const char *canon, *ct2;
    int part, n_parts;
} name_map;

static const name_map ct2_top[] = {
    {"encoder.conv1.weight", "encoder/conv1/weight", 0, 1},
    {"encoder.conv1.bias", "encoder/conv1/bias", 0, 1},
    {"encoder.conv2.weight", "encoder/conv2/weight", 0, 1},
    {"encoder.conv2.bias", "encoder/conv2/bias", 0, 1},
    {"encoder.positional_embedding", "encoder/position_encodings/encodings", 0, 1},
    {"encoder.ln_post.weight", "encoder/layer_norm/gamma", 0, 1},
    {"encoder.ln_post.bias", "encoder/layer_norm/beta", 0, 1},
    {"decoder.token_embedding.weight", "decoder/embeddings/weight", 0, 1},
    {"decoder.positional_embedding", "decoder/position_encodings/encodings", 0, 1},
    {"decoder.ln.weight", "decoder/layer_norm/gamma", 0, 1},
    {"decoder.ln.bias", "decoder/layer_norm/beta", 0, 1},
};

/* Per block, after "blocks.N.". Self-attention q/k/v are fused rows
 * [q; k; v] of linear_0 ([3d, d]); cross-attention k/v are [k; v] of
 * linear_1 ([2d, d]). The k bias rows are zeros and have no OpenAI name. */
static const name_map ct2_block[] = {
    {"attn.query.weight", "self_attention/linear_0/weight", 0, 3},
    {"attn.query.bias", "self_attention/linear_0/bias", 0, 3},
    {"attn.key.weight", "self_attention/linear_0/weight", 1, 3},
    {"attn.value.weight", "self_attention/linear_0/weight", 2, 3},
    {"attn.value.bias", "self_attention/linear_0/bias", 2, 3},
    {"attn.out.weight", "self_attention/linear_1/weight", 0, 1},
    {"attn.out.bias", "self_attention/linear_1/bias", 0, 1},
    {"attn_ln.weight", "self_attention/layer_norm/gamma", 0, 1},
    {"attn_ln.bias", "self_attention/layer_norm/beta", 0, 1},
    {"cross_attn.query.weight", "attention/linear_0/weight", 0, 1},
    {"cross_attn.query.bias", "attention/linear_0/bias", 0, 1},
    {"cross_attn.key.weight", "attention/linear_1/weight", 0, 2},
    {"cross_attn.value.weight", "attention/linear_1/weight", 1, 2},
    {"cross_attn.value.bias", "attention/linear_1/bias", 1, 2},
    {"cross_attn.out.weight", "attention/linear_2/weight", 0, 1},
    {"cross_attn.out.bias", "attention/linear_2/bias", 0, 1},
    {"cross_attn_ln.weight", "attention/layer_norm/gamma", 0, 1},
    {"cross_attn_ln.bias", "attention/layer_norm/beta", 0, 1},
    {"mlp.0.weight", "ffn/linear_0/weight", 0, 1},
    {"mlp.0.bias", "ffn/linear_0/bias", 0, 1},
    {"mlp.2.weight", "ffn/linear_1/weight", 0, 1},
    {"mlp.2.bias", "ffn/linear_1/bias", 0, 1},
    {"mlp_ln.weight", "ffn/layer_norm/gamma", 0, 1},
    {"mlp_ln.bias", "ffn/layer_norm/beta", 0, 1},
};

static int ct2_source(const char *canon, char *buf, size_t cap, int *part, int *n_parts)
{
    for (size_t i = 0; i < sizeof ct2_top / sizeof *ct2_top; i++)
        if (strcmp(canon, ct2_top[i].canon) == 0) {
            snprintf(buf, cap, "%s", ct2_top[i].ct2);
            *part = 0;
            *n_parts = 1;
            return 0;
        }
    char side[16];
    int layer, used = 0;
    if (sscanf(canon, "%15[a-z].blocks.%d.%n", side, &layer, &used) != 2 || used == 0) return -1;
    for (size_t i = 0; i < sizeof ct2_block / sizeof *ct2_block; i++)
        if (strcmp(canon + used, ct2_block[i].canon) == 0) {
            snprintf(buf, cap, "%s/layer_%d/%s", side, layer, ct2_block[i].ct2);
            *part = ct2_block[i].part;
            *n_parts = ct2_block[i].n_parts;
            return 0;
        }
    return -1;
}

/* ---- hyper-parameters from shapes ---- */

static cw_status need(const cw_raw_file *raw, const char *name, int rank, const char *file,
                      const cw_raw_var **out)
{
    const cw_raw_var *v = cw_raw_find(raw, name);
    if (!v) return cw_error(CW_ERR_FORMAT, "%s: missing variable '%s'", file, name);
    if (v->rank != rank)
        return cw_error(CW_ERR_FORMAT, "%s: variable '%s' has rank %d, expected %d", file, name, v->rank, rank);
    for (int i = 0; i < rank; i++)
        if (v->shape[i] == 0 || v->shape[i] > (1u << 24))
            return cw_error(CW_ERR_FORMAT, "%s: variable '%s' has an implausible shape", file, name);
    *out = v;
    return CW_OK;
}

static cw_status scalar_int(const cw_raw_file *raw, const char *name, const char *file, int *out)
{
    const cw_raw_var *v = cw_raw_find(raw, name);
    if (!v) return cw_error(CW_ERR_FORMAT, "%s: missing variable '%s'", file, name);
    if (v->n_elem != 1)
        return cw_error(CW_ERR_FORMAT, "%s: variable '%s' is not a scalar", file, name);
    int16_t i16;
    int32_t i32;
    float f;
    switch (v->dtype) {
    case CW_DTYPE_I8: *out = (int8_t)v->data[0]; break;
    case CW_DTYPE_I16: memcpy(&i16, v->data, 2); *out = i16; break;
    case CW_DTYPE_I32: memcpy(&i32, v->data, 4); *out = i32; break;
    case CW_DTYPE_F32: memcpy(&f, v->data, 4); *out = (f > -1e9f && f < 1e9f) ? (int)f : -1; break;
    default: return cw_error(CW_ERR_FORMAT, "%s: scalar '%s' has dtype %s", file, name, cw_dtype_name(v->dtype));
    }
    return CW_OK;
}

static int count_layers(const cw_raw_file *raw, const char *side)
{
    char name[96];
    int n = 0;
    for (; n <= 1024; n++) {
        snprintf(name, sizeof name, "%s/layer_%d/self_attention/linear_0/weight", side, n);
        if (!cw_raw_find(raw, name)) break;
    }
    return n;
}

static cw_status ct2_dims(const cw_raw_file *raw, const char *file, cw_model_dims *d)
{
    const cw_raw_var *conv1 = NULL, *epos = NULL, *emb = NULL, *dpos = NULL;
    cw_status s;
    if ((s = need(raw, "encoder/conv1/weight", 3, file, &conv1)) ||
        (s = need(raw, "encoder/position_encodings/encodings", 2, file, &epos)) ||
        (s = need(raw, "decoder/embeddings/weight", 2, file, &emb)) ||
        (s = need(raw, "decoder/position_encodings/encodings", 2, file, &dpos)) ||
        (s = scalar_int(raw, "encoder/num_heads", file, &d->n_audio_head)) ||
        (s = scalar_int(raw, "decoder/num_heads", file, &d->n_text_head)))
        return s;
    d->n_audio_state = (int)conv1->shape[0];
    d->n_mels = (int)conv1->shape[1];
    d->n_audio_ctx = (int)epos->shape[0];
    d->n_vocab = (int)emb->shape[0];
    d->n_text_state = (int)emb->shape[1];
    d->n_text_ctx = (int)dpos->shape[0];
    d->n_audio_layer = count_layers(raw, "encoder");
    d->n_text_layer = count_layers(raw, "decoder");
    return cw_model_check_dims(d, file);
}

/* ---- config.json ---- */

static cw_status ct2_config(cw_model *m)
{
    char *path = cw_path_join(m->dir, "config.json"), *text = NULL;
    if (!path) return CW_ERR_NOMEM;
    cw_status s = CW_OK;
    size_t len;
    cw_json *j = NULL;
    /* Old converters wrote no config.json: the defaults then apply. */
    if (cw_file_exists(path) && !(s = cw_file_read_all(path, 64u << 20, &text, &len)))
        s = cw_json_parse(text, len, path, &j);
    cw_model_extras *ex = &m->extras;
    if (!s && j && j->type != CW_JSON_OBJECT)
        s = cw_error(CW_ERR_FORMAT, "%s: expected a JSON object", path);
    if (!s && j) s = cw_json_read_pairs(j, "alignment_heads", path, &ex->alignment_heads, &ex->n_alignment_heads);
    if (!s && j) s = cw_json_read_ints(j, "suppress_ids", path, &ex->suppress_ids, &ex->n_suppress_ids);
    if (!s && j)
        s = cw_json_read_ints(j, "suppress_ids_begin", path, &ex->suppress_ids_begin, &ex->n_suppress_ids_begin);
    if (!s && j) s = cw_json_read_ints(j, "lang_ids", path, &ex->lang_ids, &ex->n_lang_ids);
    cw_json_free(j);
    free(text);
    free(path);
    return s;
}

cw_status cw_ct2_build(cw_model *m, const cw_raw_file *raw, const cw_model_params *p, const char *file)
{
    cw_status s = ct2_dims(raw, file, &m->dims);
    return s ? s : cw_model_build_tensors(m, raw, ct2_source, p, file);
}

cw_status cw_ct2_load(cw_model *m, const cw_model_params *p)
{
    char *path = cw_path_join(m->dir, "model.bin");
    if (!path) return CW_ERR_NOMEM;
    cw_raw_file raw = {0};
    cw_status s = cw_model_open_weights(m, path, p);
    if (!s) s = cw_ct2_parse(m->map.data, m->map.size, path, &raw);
    if (!s) s = cw_ct2_build(m, &raw, p, path);
    if (!s) s = ct2_config(m);
    m->format = "ctranslate2";
    cw_raw_free(&raw);
    free(path);
    return s;
}
