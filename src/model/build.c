/* Format-independent model building: the list of canonical OpenAI tensors
 * with their expected shapes (model.py), materialising each from a raw file
 * variable (a view into the map when the dtype is kept and the data is
 * aligned, else one conversion at load), dims checks and config extras. */
#include "model/model.h"
#include "util/error.h"
#include "util/half.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[96];
    int rank;
    size_t shape[3];
} expected;

typedef struct {
    expected *e;
    size_t n;
} expected_list;

static void want(expected_list *l, int rank, size_t a, size_t b, size_t c, const char *fmt, ...)
    CW_PRINTF(6, 7);
static void want(expected_list *l, int rank, size_t a, size_t b, size_t c, const char *fmt, ...)
{
    if (l->e) {
        expected *x = &l->e[l->n];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->name, sizeof x->name, fmt, ap);
        va_end(ap);
        x->rank = rank;
        x->shape[0] = a;
        x->shape[1] = b;
        x->shape[2] = c;
    }
    l->n++;
}

/* q, k (no bias), v, out of one attention; k/v input width is kv_in. */
static void want_attn(expected_list *l, const char *pre, size_t d, size_t kv_in)
{
    want(l, 2, d, d, 0, "%s.query.weight", pre);
    want(l, 1, d, 0, 0, "%s.query.bias", pre);
    want(l, 2, d, kv_in, 0, "%s.key.weight", pre);
    want(l, 2, d, kv_in, 0, "%s.value.weight", pre);
    want(l, 1, d, 0, 0, "%s.value.bias", pre);
    want(l, 2, d, d, 0, "%s.out.weight", pre);
    want(l, 1, d, 0, 0, "%s.out.bias", pre);
}

static void want_ln(expected_list *l, const char *pre, size_t d)
{
    want(l, 1, d, 0, 0, "%s.weight", pre);
    want(l, 1, d, 0, 0, "%s.bias", pre);
}

static void want_mlp(expected_list *l, const char *blk, size_t d)
{
    want(l, 2, 4 * d, d, 0, "%s.mlp.0.weight", blk);
    want(l, 1, 4 * d, 0, 0, "%s.mlp.0.bias", blk);
    want(l, 2, d, 4 * d, 0, "%s.mlp.2.weight", blk);
    want(l, 1, d, 0, 0, "%s.mlp.2.bias", blk);
}

/* Every tensor of model.py's state dict: 11 + 15*enc + 24*dec entries. */
static void list_expected(const cw_model_dims *m, expected_list *l)
{
    size_t da = (size_t)m->n_audio_state, dt = (size_t)m->n_text_state;
    char blk[64], pre[96];
    want(l, 3, da, (size_t)m->n_mels, 3, "encoder.conv1.weight");
    want(l, 1, da, 0, 0, "encoder.conv1.bias");
    want(l, 3, da, da, 3, "encoder.conv2.weight");
    want(l, 1, da, 0, 0, "encoder.conv2.bias");
    want(l, 2, (size_t)m->n_audio_ctx, da, 0, "encoder.positional_embedding");
    for (int i = 0; i < m->n_audio_layer; i++) {
        snprintf(blk, sizeof blk, "encoder.blocks.%d", i);
        snprintf(pre, sizeof pre, "%s.attn", blk);
        want_attn(l, pre, da, da);
        snprintf(pre, sizeof pre, "%s.attn_ln", blk);
        want_ln(l, pre, da);
        want_mlp(l, blk, da);
        snprintf(pre, sizeof pre, "%s.mlp_ln", blk);
        want_ln(l, pre, da);
    }
    want_ln(l, "encoder.ln_post", da);
    want(l, 2, (size_t)m->n_vocab, dt, 0, "decoder.token_embedding.weight");
    want(l, 2, (size_t)m->n_text_ctx, dt, 0, "decoder.positional_embedding");
    for (int i = 0; i < m->n_text_layer; i++) {
        snprintf(blk, sizeof blk, "decoder.blocks.%d", i);
        snprintf(pre, sizeof pre, "%s.attn", blk);
        want_attn(l, pre, dt, dt);
        snprintf(pre, sizeof pre, "%s.attn_ln", blk);
        want_ln(l, pre, dt);
        snprintf(pre, sizeof pre, "%s.cross_attn", blk);
        want_attn(l, pre, dt, da);
        snprintf(pre, sizeof pre, "%s.cross_attn_ln", blk);
        want_ln(l, pre, dt);
        want_mlp(l, blk, dt);
        snprintf(pre, sizeof pre, "%s.mlp_ln", blk);
        want_ln(l, pre, dt);
    }
    want_ln(l, "decoder.ln", dt);
}

/* ---- element conversion ---- */

/* Element i of src (possibly misaligned) as float. */
static float load_f32(const unsigned char *src, cw_dtype dt, size_t i)
{
    uint16_t h;
    float f;
    switch (dt) {
    case CW_DTYPE_F16: memcpy(&h, src + 2 * i, 2); return cw_f16_to_f32(h);
    case CW_DTYPE_BF16: memcpy(&h, src + 2 * i, 2); return cw_bf16_to_f32(h);
    case CW_DTYPE_I8: return (float)(int8_t)src[i];
    default: memcpy(&f, src + 4 * i, 4); return f;
    }
}

static void store(void *dst, cw_dtype dt, size_t i, float f)
{
    uint16_t h;
    switch (dt) {
    case CW_DTYPE_F16: h = cw_f32_to_f16(f); memcpy((unsigned char *)dst + 2 * i, &h, 2); break;
    case CW_DTYPE_BF16: h = cw_f32_to_bf16(f); memcpy((unsigned char *)dst + 2 * i, &h, 2); break;
    default: ((float *)dst)[i] = f; break;
    }
}

/* dst[n] (dtype to) = src[n] (dtype from); int8 rows of row_len are divided
 * by their scale. */
static void convert(void *dst, cw_dtype to, const unsigned char *src, cw_dtype from, size_t n,
                    const unsigned char *scale, size_t row_len)
{
    if (to == from) {
        memcpy(dst, src, n * cw_dtype_size(to));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float f = load_f32(src, from, i);
        if (scale) f /= load_f32(scale, CW_DTYPE_F32, i / row_len);
        store(dst, to, i, f);
    }
}

static cw_dtype target_dtype(cw_dtype stored, cw_weight_type w)
{
    switch (w) {
    case CW_WEIGHTS_F32: return CW_DTYPE_F32;
    case CW_WEIGHTS_F16: return CW_DTYPE_F16;
    case CW_WEIGHTS_BF16: return CW_DTYPE_BF16;
    default: return stored;
    }
}

/* ---- one tensor ---- */

typedef struct {
    const unsigned char *data; /* slice start */
    size_t nbytes, n_elem, rows;
    const unsigned char *scale; /* [rows] float32 or NULL */
} slice;

static void fmt_shape(char *buf, size_t cap, int rank, const size_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%zu", i ? "," : "", shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static cw_status shape_error(const char *file, const char *src, const char *canon, int rank,
                             const size_t *got, const expected *e)
{
    char a[96], b[96];
    fmt_shape(a, sizeof a, rank, got);
    fmt_shape(b, sizeof b, e->rank, e->shape);
    return cw_error(CW_ERR_FORMAT, "%s: tensor '%s' (%s) has shape %s, expected %s", file, src, canon,
                    a, b);
}

/* Rows [part*r, (part+1)*r) of v along its first dimension, checked
 * against the expected shape, plus the int8 scale rows. */
static cw_status take_slice(const cw_raw_var *v, const cw_raw_file *raw, const char *srcname, int part,
                            int n_parts, const expected *e, const char *file, slice *sl)
{
    size_t shape[CW_MAX_RANK];
    memcpy(shape, v->shape, sizeof shape);
    if (v->rank < 1 || shape[0] % (size_t)n_parts != 0) return shape_error(file, srcname, e->name, v->rank, v->shape, e);
    size_t rows = shape[0] / (size_t)n_parts;
    shape[0] = rows;
    int ok = v->rank == e->rank;
    for (int i = 0; ok && i < e->rank; i++) ok = shape[i] == e->shape[i];
    if (!ok) return shape_error(file, srcname, e->name, v->rank, shape, e);
    size_t row_bytes = v->shape[0] ? v->nbytes / v->shape[0] : 0;
    sl->rows = rows;
    sl->nbytes = rows * row_bytes;
    sl->n_elem = v->n_elem / (size_t)n_parts;
    sl->data = v->data + (size_t)part * sl->nbytes;
    sl->scale = NULL;
    if (v->dtype != CW_DTYPE_I8) return CW_OK;
    char sname[200];
    snprintf(sname, sizeof sname, "%s_scale", srcname);
    const cw_raw_var *s = cw_raw_find(raw, sname);
    if (!s || s->dtype != CW_DTYPE_F32 || s->rank != 1 || s->shape[0] != v->shape[0])
        return cw_error(CW_ERR_FORMAT, "%s: int8 variable '%s' lacks a float32 '%s' of %zu rows", file,
                        srcname, sname, v->shape[0]);
    sl->scale = s->data + (size_t)part * rows * 4;
    return CW_OK;
}

static cw_status fill_tensor(cw_tensor *t, const cw_raw_var *v, const slice *sl,
                             const cw_model_params *p, const char *file, cw_model *m)
{
    t->stored_dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->shape, v->shape, sizeof t->shape);
    t->shape[0] = sl->rows;
    t->n_elem = sl->n_elem;
    if (!cw_dtype_is_float(v->dtype) && v->dtype != CW_DTYPE_I8)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: tensor '%s' is stored as %s, not a float or int8 type",
                        file, t->name, cw_dtype_name(v->dtype));
    t->dtype = target_dtype(v->dtype, p->weights);
    size_t esz = cw_dtype_size(t->dtype);
    if (t->dtype == v->dtype && ((uintptr_t)sl->data % esz) == 0) {
        t->data = sl->data; /* zero-copy view into the file */
        m->bytes_mapped += sl->nbytes;
    } else {
        size_t bytes = t->n_elem * esz; /* <= slice bytes * 4: no overflow */
        if (!(t->owned = cw_malloc(bytes ? bytes : 1))) return CW_ERR_NOMEM;
        size_t row_len = sl->rows ? t->n_elem / sl->rows : 1;
        convert(t->owned, t->dtype, sl->data, v->dtype, t->n_elem, t->dtype == CW_DTYPE_I8 ? NULL : sl->scale,
                row_len);
        t->data = t->owned;
        m->bytes_owned += bytes;
    }
    if (t->dtype != CW_DTYPE_I8) return CW_OK;
    if (((uintptr_t)sl->scale % 4) == 0) {
        t->scale = (const float *)(const void *)sl->scale;
        m->bytes_mapped += sl->rows * 4;
        return CW_OK;
    }
    if (!(t->owned_scale = cw_malloc(sl->rows * 4 + 4))) return CW_ERR_NOMEM;
    memcpy(t->owned_scale, sl->scale, sl->rows * 4);
    t->scale = t->owned_scale;
    m->bytes_owned += sl->rows * 4;
    return CW_OK;
}

static cw_status build_one(cw_model *m, cw_tensor *t, const expected *e, const cw_raw_file *raw,
                           cw_source_fn source, const cw_model_params *p, const char *file)
{
    char src[160];
    int part = 0, n_parts = 1;
    if (source(e->name, src, sizeof src, &part, &n_parts) != 0)
        return cw_error(CW_ERR_INTERNAL, "%s: no source for tensor '%s'", file, e->name);
    if (!(t->name = cw_strdup(e->name))) return CW_ERR_NOMEM;
    const cw_raw_var *v = cw_raw_find(raw, src);
    if (!v) return cw_error(CW_ERR_FORMAT, "%s: missing tensor '%s' (%s)", file, src, e->name);
    slice sl = {0};
    cw_status s = take_slice(v, raw, src, part, n_parts, e, file, &sl);
    if (s) return s;
    return fill_tensor(t, v, &sl, p, file, m);
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const cw_tensor *)a)->name, ((const cw_tensor *)b)->name);
}

cw_status cw_model_build_tensors(cw_model *m, const cw_raw_file *raw, cw_source_fn source,
                                 const cw_model_params *p, const char *file)
{
    expected_list l = {NULL, 0};
    list_expected(&m->dims, &l);
    if (!(l.e = cw_calloc(l.n, sizeof *l.e))) return CW_ERR_NOMEM;
    size_t n = l.n;
    l.n = 0;
    list_expected(&m->dims, &l);
    cw_status s = CW_OK;
    if (!(m->tensors = cw_calloc(n, sizeof *m->tensors))) s = CW_ERR_NOMEM;
    for (size_t i = 0; !s && i < n; i++) {
        m->n_tensors = i + 1; /* so cw_model_free releases a partial one */
        s = build_one(m, &m->tensors[i], &l.e[i], raw, source, p, file);
    }
    free(l.e);
    if (!s) qsort(m->tensors, m->n_tensors, sizeof *m->tensors, cmp_tensor);
    return s;
}

const cw_tensor *cw_model_tensor(const cw_model *m, const char *name)
{
    size_t lo = 0, hi = m->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, m->tensors[mid].name);
        if (c == 0) return &m->tensors[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* ---- dims, kind, extras ---- */

cw_status cw_model_check_dims(const cw_model_dims *d, const char *file)
{
    const int v[10] = {d->n_mels, d->n_audio_ctx, d->n_audio_state, d->n_audio_head, d->n_audio_layer,
                       d->n_vocab, d->n_text_ctx, d->n_text_state, d->n_text_head, d->n_text_layer};
    for (int i = 0; i < 10; i++)
        if (v[i] <= 0 || v[i] > (1 << 24))
            return cw_error(CW_ERR_FORMAT, "%s: implausible model dimension %d", file, v[i]);
    if (d->n_audio_layer > 1024 || d->n_text_layer > 1024 || d->n_audio_state > 65536 ||
        d->n_text_state > 65536)
        return cw_error(CW_ERR_FORMAT, "%s: implausible model size", file);
    if (d->n_audio_state % d->n_audio_head || d->n_text_state % d->n_text_head)
        return cw_error(CW_ERR_FORMAT, "%s: state %d/%d not divisible by heads %d/%d", file,
                        d->n_audio_state, d->n_text_state, d->n_audio_head, d->n_text_head);
    return CW_OK;
}

cw_model_kind cw_model_kind_from_vocab(int n_vocab)
{
    /* model.py: is_multilingual = n_vocab >= 51865; v3 adds a language (51866). */
    if (n_vocab >= 51866) return CW_MODEL_V3;
    if (n_vocab >= 51865) return CW_MODEL_MULTILINGUAL;
    return CW_MODEL_ENGLISH_ONLY;
}

static int json_int32(const cw_json *j, int32_t *out)
{
    if (!j || j->type != CW_JSON_NUMBER || j->number != (double)(int32_t)j->number) return -1;
    if (j->number < -2147483648.0 || j->number > 2147483647.0) return -1;
    *out = (int32_t)j->number;
    return 0;
}

static cw_status read_ints(const cw_json *obj, const char *key, const char *file, int32_t **out,
                           size_t *n, int pairs)
{
    *out = NULL;
    *n = 0;
    const cw_json *a = cw_json_get(obj, key);
    if (!a || a->type == CW_JSON_NULL) return CW_OK;
    if (a->type != CW_JSON_ARRAY) goto bad;
    if (a->n == 0) return CW_OK; /* nothing allocated: a later file may fill it */
    size_t per = pairs ? 2 : 1;
    int32_t *v = cw_calloc(a->n * per + 1, sizeof *v);
    if (!v) return CW_ERR_NOMEM;
    for (size_t i = 0; i < a->n; i++) {
        const cw_json *it = a->items[i];
        int bad = pairs ? (it->type != CW_JSON_ARRAY || it->n != 2 || json_int32(it->items[0], &v[2 * i]) ||
                           json_int32(it->items[1], &v[2 * i + 1]))
                        : json_int32(it, &v[i]);
        if (bad) {
            free(v);
            goto bad;
        }
    }
    *out = v;
    *n = a->n;
    return CW_OK;
bad:
    return cw_error(CW_ERR_FORMAT, "%s: '%s' must be an array of %s", file, key,
                    pairs ? "[layer, head] pairs" : "integers");
}

cw_status cw_json_read_ints(const cw_json *obj, const char *key, const char *file, int32_t **out,
                            size_t *n)
{
    return read_ints(obj, key, file, out, n, 0);
}

cw_status cw_json_read_pairs(const cw_json *obj, const char *key, const char *file, int32_t **out,
                             size_t *n_pairs)
{
    return read_ints(obj, key, file, out, n_pairs, 1);
}

/* openai-whisper's _ALIGNMENT_HEADS (whisper/__init__.py, 20250625), the
 * base85+gzip boolean masks decoded to (layer, head) pairs, keyed by the
 * dimensions that tell the checkpoints apart: mels, vocabulary, decoder
 * layers, text state. large-v1 and large-v2 share every dimension; v2 is
 * taken unless the model's folder name says v1. */
typedef struct {
    const char *name;
    int n_mels, n_vocab, n_text_layer, n_text_state;
    const int8_t *pairs; /* [n * 2] */
    size_t n;
} align_table_entry;

static const int8_t AH_TINY_EN[] = {1, 0, 2, 0, 2, 5, 3, 0, 3, 1, 3, 2, 3, 3, 3, 4};
static const int8_t AH_TINY[] = {2, 2, 3, 0, 3, 2, 3, 3, 3, 4, 3, 5};
static const int8_t AH_BASE_EN[] = {3, 3, 4, 7, 5, 1, 5, 5, 5, 7};
static const int8_t AH_BASE[] = {3, 1, 4, 2, 4, 3, 4, 7, 5, 1, 5, 2, 5, 4, 5, 6};
static const int8_t AH_SMALL_EN[] = {6, 6, 7, 0, 7, 3, 7, 8, 8, 2, 8, 5, 8, 7, 9, 0, 9, 4, 9, 8, 9, 10, 10, 0, 10, 1,
                                     10, 2, 10, 3, 10, 6, 10, 11, 11, 2, 11, 4};
static const int8_t AH_SMALL[] = {5, 3, 5, 9, 8, 0, 8, 4, 8, 7, 8, 8, 9, 0, 9, 7, 9, 9, 10, 5};
static const int8_t AH_MEDIUM_EN[] = {11, 4, 14, 1, 14, 12, 14, 14, 15, 4, 16, 0, 16, 4, 16, 9, 17, 12, 17, 14, 18, 7,
                                      18, 10, 18, 15, 20, 0, 20, 3, 20, 9, 20, 14, 21, 12};
static const int8_t AH_MEDIUM[] = {13, 15, 15, 4, 15, 15, 16, 1, 20, 0, 23, 4};
static const int8_t AH_LARGE_V1[] = {9, 19, 11, 2, 11, 4, 11, 17, 22, 7, 22, 11, 22, 17, 23, 2, 23, 15};
static const int8_t AH_LARGE_V2[] = {10, 12, 13, 17, 16, 11, 16, 12, 16, 13, 17, 15, 17, 16, 18, 4, 18, 11, 18, 19, 19,
                                     11, 21, 2, 21, 3, 22, 3, 22, 9, 22, 12, 23, 5, 23, 7, 23, 13, 25, 5, 26, 1, 26,
                                     12, 27, 15};
static const int8_t AH_LARGE_V3[] = {7, 0, 10, 17, 12, 18, 13, 12, 16, 1, 17, 14, 19, 11, 21, 4, 24, 1, 25, 6};
static const int8_t AH_TURBO[] = {2, 4, 2, 11, 3, 3, 3, 6, 3, 11, 3, 14};

#define AH(name, mels, vocab, layers, state, a) {name, mels, vocab, layers, state, a, sizeof a / 2}
static const align_table_entry ALIGN_TABLE[] = {
    AH("tiny.en", 80, 51864, 4, 384, AH_TINY_EN),
    AH("tiny", 80, 51865, 4, 384, AH_TINY),
    AH("base.en", 80, 51864, 6, 512, AH_BASE_EN),
    AH("base", 80, 51865, 6, 512, AH_BASE),
    AH("small.en", 80, 51864, 12, 768, AH_SMALL_EN),
    AH("small", 80, 51865, 12, 768, AH_SMALL),
    AH("medium.en", 80, 51864, 24, 1024, AH_MEDIUM_EN),
    AH("medium", 80, 51865, 24, 1024, AH_MEDIUM),
    AH("large-v2", 80, 51865, 32, 1280, AH_LARGE_V2), /* before v1: the default of the pair */
    AH("large-v1", 80, 51865, 32, 1280, AH_LARGE_V1),
    AH("large-v3", 128, 51866, 32, 1280, AH_LARGE_V3),
    AH("turbo", 128, 51866, 4, 1280, AH_TURBO),
};
#undef AH

/* The table's entry for m's dimensions (and, for large-v1/v2, its folder name). */
static const align_table_entry *align_table_find(const cw_model *m)
{
    const cw_model_dims *d = &m->dims;
    const align_table_entry *hit = NULL;
    const char *base = m->dir ? strrchr(m->dir, '/') : NULL; /* the folder's own name */
    base = base && base[1] ? base + 1 : m->dir;
    for (size_t i = 0; i < sizeof ALIGN_TABLE / sizeof *ALIGN_TABLE; i++) {
        const align_table_entry *e = &ALIGN_TABLE[i];
        if (e->n_mels != d->n_mels || e->n_vocab != d->n_vocab || e->n_text_layer != d->n_text_layer ||
            e->n_text_state != d->n_text_state)
            continue;
        if (!hit) hit = e;
        else if (base && strstr(base, "v1") && strcmp(e->name, "large-v1") == 0) hit = e;
    }
    return hit;
}

cw_status cw_model_default_extras(cw_model *m)
{
    cw_model_extras *ex = &m->extras;
    if (ex->n_alignment_heads) return CW_OK; /* the model's config named them */
    const align_table_entry *e = align_table_find(m);
    if (e) {
        if (!(ex->alignment_heads = cw_calloc(2 * e->n + 1, sizeof(int32_t)))) return CW_ERR_NOMEM;
        for (size_t i = 0; i < 2 * e->n; i++) ex->alignment_heads[i] = e->pairs[i];
        ex->n_alignment_heads = e->n;
        return CW_OK;
    }
    /* model.py's default (and CT2's): every head of the second half of the decoder. */
    int first = m->dims.n_text_layer / 2, heads = m->dims.n_text_head;
    size_t n = (size_t)(m->dims.n_text_layer - first) * (size_t)heads;
    if (!(ex->alignment_heads = cw_calloc(2 * n + 1, sizeof(int32_t)))) return CW_ERR_NOMEM;
    size_t k = 0;
    for (int l = first; l < m->dims.n_text_layer; l++)
        for (int h = 0; h < heads; h++) {
            ex->alignment_heads[k++] = l;
            ex->alignment_heads[k++] = h;
        }
    ex->n_alignment_heads = n;
    return CW_OK;
}
