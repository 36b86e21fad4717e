/* Model readers on synthetic files: a tiny CTranslate2 model.bin (d=8, one
 * layer each side) written here, round-tripped through the loader (dims,
 * values, q/k/v views, int8 dequantisation, fp16/bf16 conversion, aliases),
 * then corrupted one way at a time; safetensors headers that lie; the
 * half-precision converters. */
#include "model/model.h"
#include "util/error.h"
#include "util/file.h"
#include "util/half.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

enum { D = 8, MELS = 4, ACTX = 6, TCTX = 5, VOCAB = 10, HEADS = 2 };

/* ---- a growable byte buffer and the CT2 writer ---- */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(bytes *b, uint32_t v)
{
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    put(b, le, 4);
}

static void put_str(bytes *b, const char *s)
{
    size_t n = strlen(s) + 1;
    unsigned char le[2] = {(unsigned char)n, (unsigned char)(n >> 8)};
    put(b, le, 2);
    put(b, s, n);
}

/* Ways to spoil the file. */
typedef struct {
    const char *skip;      /* leave this variable out */
    const char *bad_bytes; /* write 2 bytes too many for this one */
    const char *bad_dtype; /* give this one dtype code 9 */
} spoil;

/* Value k of the variable with seed s: exact in fp16 and bf16. */
static float val(int s, size_t k)
{
    return (float)((int)((size_t)s * 7 + k) % 64 - 32) / 8.0f;
}

static int seed_of(const char *name)
{
    unsigned h = 5;
    for (; *name; name++) h = h * 31 + (unsigned char)*name;
    return (int)(h % 1000);
}

/* int8 values and per-row scales of the quantised variable. */
static int8_t q_val(size_t k) { return (int8_t)((int)(k % 11) - 5); }
static float q_scale(size_t row) { return 2.0f + (float)row; }

static void put_var(bytes *b, const spoil *sp, const char *name, cw_dtype dt, int rank, size_t d0,
                    size_t d1, size_t d2)
{
    if (sp->skip && strcmp(sp->skip, name) == 0) return;
    size_t dims[3] = {d0, d1, d2}, n = 1;
    put_str(b, name);
    unsigned char r = (unsigned char)rank, code = (unsigned char)dt;
    put(b, &r, 1);
    for (int i = 0; i < rank; i++) {
        put_u32(b, (uint32_t)dims[i]);
        n *= dims[i];
    }
    if (sp->bad_dtype && strcmp(sp->bad_dtype, name) == 0) code = 9;
    put(b, &code, 1);
    int extra = sp->bad_bytes && strcmp(sp->bad_bytes, name) == 0 ? 2 : 0;
    put_u32(b, (uint32_t)(n * cw_dtype_size(dt) + (size_t)extra));
    int s = seed_of(name);
    for (size_t k = 0; k < n; k++) {
        float f = val(s, k);
        uint16_t h;
        int8_t q;
        int16_t i16 = HEADS;
        switch (dt) {
        case CW_DTYPE_F32: put(b, &f, 4); break;
        case CW_DTYPE_F16: h = cw_f32_to_f16(f); put(b, &h, 2); break;
        case CW_DTYPE_BF16: h = cw_f32_to_bf16(f); put(b, &h, 2); break;
        case CW_DTYPE_I8: q = q_val(k); put(b, &q, 1); break;
        case CW_DTYPE_I16: put(b, &i16, 2); break;
        default: abort();
        }
    }
    put(b, "\0\0", (size_t)extra);
}

static void put_scale(bytes *b, const char *name, size_t rows)
{
    put_str(b, name);
    unsigned char r = 1, code = CW_DTYPE_F32;
    put(b, &r, 1);
    put_u32(b, (uint32_t)rows);
    put(b, &code, 1);
    put_u32(b, (uint32_t)(rows * 4));
    for (size_t i = 0; i < rows; i++) {
        float f = q_scale(i);
        put(b, &f, 4);
    }
}

static void put_ln(bytes *b, const spoil *sp, const char *pre)
{
    char n[160];
    snprintf(n, sizeof n, "%s/gamma", pre);
    put_var(b, sp, n, CW_DTYPE_F16, 1, D, 0, 0);
    snprintf(n, sizeof n, "%s/beta", pre);
    put_var(b, sp, n, CW_DTYPE_F16, 1, D, 0, 0);
}

static void put_linear(bytes *b, const spoil *sp, const char *pre, size_t out, size_t in, cw_dtype dt)
{
    char n[160];
    snprintf(n, sizeof n, "%s/weight", pre);
    put_var(b, sp, n, dt, 2, out, in, 0);
    if (dt == CW_DTYPE_I8) {
        snprintf(n, sizeof n, "%s/weight_scale", pre);
        put_scale(b, n, out);
    }
    snprintf(n, sizeof n, "%s/bias", pre);
    put_var(b, sp, n, CW_DTYPE_F16, 1, out, 0, 0);
}

static void put_layer(bytes *b, const spoil *sp, const char *side)
{
    char n[128];
    int dec = side[0] == 'd';
    snprintf(n, sizeof n, "%s/layer_0/self_attention/layer_norm", side);
    put_ln(b, sp, n);
    snprintf(n, sizeof n, "%s/layer_0/self_attention/linear_0", side);
    put_linear(b, sp, n, 3 * D, D, CW_DTYPE_F16);
    snprintf(n, sizeof n, "%s/layer_0/self_attention/linear_1", side);
    put_linear(b, sp, n, D, D, CW_DTYPE_F16);
    if (dec) {
        put_ln(b, sp, "decoder/layer_0/attention/layer_norm");
        put_linear(b, sp, "decoder/layer_0/attention/linear_0", D, D, CW_DTYPE_F16);
        put_linear(b, sp, "decoder/layer_0/attention/linear_1", 2 * D, D, CW_DTYPE_F16);
        put_linear(b, sp, "decoder/layer_0/attention/linear_2", D, D, CW_DTYPE_F16);
    }
    snprintf(n, sizeof n, "%s/layer_0/ffn/layer_norm", side);
    put_ln(b, sp, n);
    snprintf(n, sizeof n, "%s/layer_0/ffn/linear_0", side);
    put_linear(b, sp, n, 4 * D, D, dec ? CW_DTYPE_I8 : CW_DTYPE_F16); /* the decoder's is quantised */
    snprintf(n, sizeof n, "%s/layer_0/ffn/linear_1", side);
    put_linear(b, sp, n, D, 4 * D, CW_DTYPE_F16);
}

/* The variables of the synthetic model.bin (header and aliases: synth_file). */
static bytes synth_ct2(const spoil *sp)
{
    bytes vars = {0};
    put_var(&vars, sp, "encoder/num_heads", CW_DTYPE_I16, 0, 0, 0, 0);
    put_var(&vars, sp, "decoder/num_heads", CW_DTYPE_I16, 0, 0, 0, 0);
    put_var(&vars, sp, "encoder/conv1/weight", CW_DTYPE_F16, 3, D, MELS, 3);
    put_var(&vars, sp, "encoder/conv1/bias", CW_DTYPE_F32, 1, D, 0, 0);
    put_var(&vars, sp, "encoder/conv2/weight", CW_DTYPE_BF16, 3, D, D, 3);
    put_var(&vars, sp, "encoder/conv2/bias", CW_DTYPE_F16, 1, D, 0, 0);
    put_var(&vars, sp, "encoder/position_encodings/encodings", CW_DTYPE_F16, 2, ACTX, D, 0);
    put_layer(&vars, sp, "encoder");
    put_ln(&vars, sp, "encoder/layer_norm");
    put_var(&vars, sp, "decoder/embeddings/weight", CW_DTYPE_F16, 2, VOCAB, D, 0);
    put_var(&vars, sp, "decoder/position_encodings/encodings", CW_DTYPE_F16, 2, TCTX, D, 0);
    put_layer(&vars, sp, "decoder");
    put_ln(&vars, sp, "decoder/layer_norm");
    return vars;
}

static size_t count_vars(const spoil *sp)
{
    /* scalars 2 + conv 4 + pos 2 + layer_norm 4 + emb 1
     * + encoder layer (2 ln * 2 + 4 linear * 2 = 12)
     * + decoder layer (3 ln * 2 + 7 linear * 2 + 1 scale = 21) */
    size_t n = 2 + 4 + 2 + 4 + 1 + 12 + 21;
    return sp->skip ? n - 1 : n;
}

/* Header + variables + one alias; returns the byte buffer. */
static bytes synth_file(const spoil *sp)
{
    bytes vars = synth_ct2(sp), b = {0};
    put_u32(&b, 6);
    put_str(&b, "WhisperSpec");
    put_u32(&b, 3);
    put_u32(&b, (uint32_t)count_vars(sp));
    put(&b, vars.p, vars.n);
    put_u32(&b, 1);
    put_str(&b, "decoder/projection/weight");
    put_str(&b, "decoder/embeddings/weight");
    free(vars.p);
    return b;
}

/* A model directory "name" in the temp dir holding model.bin = b. */
static const char *write_model(const char *name, const bytes *b)
{
    static char dir[8][512];
    static int k;
    char *d = dir[k++ & 7];
    snprintf(d, sizeof dir[0], "%s/%s", test_tmpdir(), name);
    mkdir(d, 0755);
    char rel[600];
    snprintf(rel, sizeof rel, "%s/model.bin", name);
    test_write_file(rel, b->p, b->n);
    return d;
}

static const char *good_model(void)
{
    static const char *dir;
    if (!dir) {
        spoil sp = {0};
        bytes b = synth_file(&sp);
        dir = write_model("good", &b);
        free(b.p);
    }
    return dir;
}

static cw_model *load(const char *dir, cw_weight_type w)
{
    cw_model_params p = cw_model_default_params();
    p.weights = w;
    cw_model *m = NULL;
    cw_status s = cw_model_load_flags(dir, &p, CW_MODEL_NO_TOKENIZER, &m);
    CHECK_MSG(s == CW_OK, "load %s: %s", dir, cw_last_error());
    return m;
}

/* Element k of tensor t as float (any held dtype; int8 dequantised). */
static float elem(const cw_tensor *t, size_t k)
{
    const unsigned char *p = t->data;
    uint16_t h;
    float f;
    switch (t->dtype) {
    case CW_DTYPE_F16: memcpy(&h, p + 2 * k, 2); return cw_f16_to_f32(h);
    case CW_DTYPE_BF16: memcpy(&h, p + 2 * k, 2); return cw_bf16_to_f32(h);
    case CW_DTYPE_I8: return (float)(int8_t)p[k] / t->scale[k / (t->n_elem / t->shape[0])];
    default: memcpy(&f, p + 4 * k, 4); return f;
    }
}

/* ---- round trip ---- */

static void check_values(cw_model *m)
{
    cw_model_dims d = cw_model_get_dims(m);
    CHECK_EQ_INT(d.n_mels, MELS);
    CHECK_EQ_INT(d.n_audio_ctx, ACTX);
    CHECK_EQ_INT(d.n_audio_state, D);
    CHECK_EQ_INT(d.n_audio_head, HEADS);
    CHECK_EQ_INT(d.n_audio_layer, 1);
    CHECK_EQ_INT(d.n_vocab, VOCAB);
    CHECK_EQ_INT(d.n_text_ctx, TCTX);
    CHECK_EQ_INT(d.n_text_state, D);
    CHECK_EQ_INT(d.n_text_head, HEADS);
    CHECK_EQ_INT(d.n_text_layer, 1);
    CHECK_EQ_INT(m->n_tensors, 11 + 15 + 24);
    CHECK(cw_model_get_kind(m) == CW_MODEL_ENGLISH_ONLY);
    CHECK(cw_model_tensor(m, "encoder.blocks.0.attn.key.bias") == NULL);
    CHECK(cw_model_tensor(m, "nope") == NULL);
    /* q/k/v: rows [0,D), [D,2D), [2D,3D) of the fused [3D, D] weight */
    static const char *parts[3] = {"query", "key", "value"};
    int s = seed_of("encoder/layer_0/self_attention/linear_0/weight");
    for (int p = 0; p < 3; p++) {
        char name[96];
        snprintf(name, sizeof name, "encoder.blocks.0.attn.%s.weight", parts[p]);
        const cw_tensor *t = cw_model_tensor(m, name);
        CHECK(t && t->rank == 2 && t->shape[0] == D && t->shape[1] == D);
        for (size_t k = 0; t && k < D * D; k++) CHECK_NEAR(elem(t, k), val(s, (size_t)p * D * D + k), 0);
    }
    /* cross-attn value bias: rows [D, 2D) of linear_1's bias */
    const cw_tensor *vb = cw_model_tensor(m, "decoder.blocks.0.cross_attn.value.bias");
    s = seed_of("decoder/layer_0/attention/linear_1/bias");
    CHECK(vb && vb->rank == 1 && vb->shape[0] == D);
    for (size_t k = 0; vb && k < D; k++) CHECK_NEAR(elem(vb, k), val(s, D + k), 0);
    /* bf16 conv2 and f32 conv1 bias */
    const cw_tensor *c2 = cw_model_tensor(m, "encoder.conv2.weight");
    s = seed_of("encoder/conv2/weight");
    CHECK(c2 && c2->stored_dtype == CW_DTYPE_BF16 && c2->rank == 3 && c2->shape[2] == 3);
    for (size_t k = 0; c2 && k < D * D * 3; k++) CHECK_NEAR(elem(c2, k), val(s, k), 0);
    const cw_tensor *c1 = cw_model_tensor(m, "encoder.conv1.bias");
    s = seed_of("encoder/conv1/bias");
    CHECK(c1 && c1->stored_dtype == CW_DTYPE_F32);
    for (size_t k = 0; c1 && k < D; k++) CHECK_NEAR(elem(c1, k), val(s, k), 0);
    /* int8 with per-row scales */
    const cw_tensor *q = cw_model_tensor(m, "decoder.blocks.0.mlp.0.weight");
    CHECK(q && q->stored_dtype == CW_DTYPE_I8 && q->shape[0] == 4 * D && q->shape[1] == D);
    for (size_t k = 0; q && k < 4 * D * D; k++) {
        float want = (float)q_val(k) / q_scale(k / D);
        if (q->dtype == CW_DTYPE_F32 || q->dtype == CW_DTYPE_I8) CHECK_NEAR(elem(q, k), want, 0);
        else CHECK_NEAR(elem(q, k), want, fabsf(want) * 1e-2);
    }
}

static void test_ct2_roundtrip_stored(void)
{
    cw_model *m = load(good_model(), CW_WEIGHTS_STORED);
    if (!m) return;
    check_values(m);
    const cw_tensor *q = cw_model_tensor(m, "decoder.blocks.0.mlp.0.weight");
    CHECK(q && q->dtype == CW_DTYPE_I8 && q->scale && q->scale[3] == q_scale(3));
    const cw_tensor *c2 = cw_model_tensor(m, "encoder.conv2.weight");
    CHECK(c2 && c2->dtype == CW_DTYPE_BF16);
    CHECK_EQ_STR(m->format, "ctranslate2");
    /* Views are aligned for their dtype, wherever they live. */
    for (size_t i = 0; i < m->n_tensors; i++)
        CHECK((uintptr_t)m->tensors[i].data % cw_dtype_size(m->tensors[i].dtype) == 0);
    CHECK(m->bytes_mapped > 0);
    CHECK(m->extras.n_alignment_heads == (size_t)HEADS); /* default: second half of 1 layer */
    char buf[2048];
    size_t n = cw_model_describe(m, buf, sizeof buf);
    CHECK(n > 0 && n < sizeof buf && strstr(buf, "English-only") && strstr(buf, "n_audio_state 8"));
    CHECK(cw_model_describe(m, buf, 10) == n && strlen(buf) == 9);
    cw_model_free(m);
}

static void test_ct2_roundtrip_f32(void)
{
    cw_model *m = load(good_model(), CW_WEIGHTS_F32);
    if (!m) return;
    check_values(m);
    for (size_t i = 0; i < m->n_tensors; i++) CHECK(m->tensors[i].dtype == CW_DTYPE_F32);
    cw_model_free(m);
}

static void test_ct2_roundtrip_f16_bf16_nommap(void)
{
    cw_model_params p = cw_model_default_params();
    p.weights = CW_WEIGHTS_BF16;
    p.use_mmap = 0;
    cw_model *m = NULL;
    CHECK(cw_model_load_flags(good_model(), &p, CW_MODEL_NO_TOKENIZER, &m) == CW_OK);
    if (m) {
        check_values(m); /* values are exact in bf16 */
        CHECK(m->bytes_mapped == 0 && m->bytes_owned > 0);
        cw_model_free(m);
    }
    m = load(good_model(), CW_WEIGHTS_F16);
    if (m) {
        check_values(m);
        const cw_tensor *c2 = cw_model_tensor(m, "encoder.conv2.weight");
        CHECK(c2 && c2->dtype == CW_DTYPE_F16 && c2->owned);
        cw_model_free(m);
    }
}

static void test_ct2_alias(void)
{
    spoil sp = {0};
    bytes b = synth_file(&sp);
    cw_raw_file raw;
    CHECK(cw_ct2_parse(b.p, b.n, "model.bin", &raw) == CW_OK);
    const cw_raw_var *a = cw_raw_find(&raw, "decoder/projection/weight");
    const cw_raw_var *t = cw_raw_find(&raw, "decoder/embeddings/weight");
    CHECK(a && t && a->data == t->data && a->nbytes == t->nbytes && a->shape[0] == VOCAB);
    const cw_raw_var *h = cw_raw_find(&raw, "decoder/num_heads");
    CHECK(h && h->rank == 0 && h->dtype == CW_DTYPE_I16 && h->n_elem == 1);
    cw_raw_free(&raw);
    free(b.p);
}

/* The fixture script on the synthetic model (int8 dequantised to f32 by the
 * script, fused q/k/v split) and the safetensors reader: every tensor equals
 * the CT2 one loaded as f32. */
static void test_safetensors_roundtrip(void)
{
    const char *ct2 = good_model();
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/st_good", test_tmpdir());
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'",
             test_path("CW_SOURCE_DIR", "tests/fixtures/ct2_to_safetensors.py"), ct2, out);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: exit %d", cmd, rc);
    if (rc) return;
    cw_model *c = load(ct2, CW_WEIGHTS_F32), *s = load(out, CW_WEIGHTS_F32);
    if (c && s) {
        CHECK_EQ_STR(s->format, "safetensors");
        CHECK(memcmp(&c->dims, &s->dims, sizeof c->dims) == 0 && s->n_tensors == c->n_tensors);
        for (size_t i = 0; i < c->n_tensors && i < s->n_tensors; i++) {
            const cw_tensor *a = &c->tensors[i], *b = &s->tensors[i];
            int same = strcmp(a->name, b->name) == 0 && a->rank == b->rank &&
                       memcmp(a->shape, b->shape, sizeof a->shape) == 0;
            for (size_t k = 0; same && k < a->n_elem; k++) same = elem(a, k) == elem(b, k);
            CHECK_MSG(same, "tensor %s differs", a->name);
        }
        const cw_tensor *q = cw_model_tensor(s, "decoder.blocks.0.mlp.0.weight");
        CHECK(q && q->stored_dtype == CW_DTYPE_F32);
    }
    cw_model_free(c);
    cw_model_free(s);
    /* preprocessor_config.json must agree with conv1 */
    char rel0[600];
    snprintf(rel0, sizeof rel0, "%s/preprocessor_config.json", cw_path_basename(out));
    test_write_file(rel0, "{\"feature_size\": 128}", 21);
    cw_model *pm = NULL;
    CHECK_FAILS(cw_model_load_flags(out, NULL, CW_MODEL_NO_TOKENIZER, &pm), CW_ERR_FORMAT,
                "preprocessor_config.json");
    /* A config.json that is not JSON. */
    char rel[600];
    snprintf(rel, sizeof rel, "%s/config.json", cw_path_basename(out));
    test_write_file(rel, "{\"d_model\": 8,", 14);
    cw_model *m = NULL;
    CHECK_FAILS(cw_model_load_flags(out, NULL, CW_MODEL_NO_TOKENIZER, &m), CW_ERR_FORMAT, "config.json");
    CHECK(m == NULL);
}

/* ---- bad input ---- */

static cw_status load_status(const char *dir)
{
    cw_model *m = NULL;
    cw_status s = cw_model_load_flags(dir, NULL, CW_MODEL_NO_TOKENIZER, &m);
    if (m) cw_model_free(m);
    CHECK(s == CW_OK || m == NULL);
    return s;
}

static void test_bad_no_model_bin(void)
{
    char d[512];
    snprintf(d, sizeof d, "%s/empty", test_tmpdir());
    mkdir(d, 0755);
    CHECK_FAILS(load_status(d), CW_ERR_IO, "model.bin");
}

static void test_bad_truncated(void)
{
    spoil sp = {0};
    bytes b = synth_file(&sp);
    size_t full = b.n;
    b.n = full / 2;
    CHECK_FAILS(load_status(write_model("trunc", &b)), CW_ERR_FORMAT, "model.bin");
    CHECK_FAILS(load_status(write_model("trunc", &b)), CW_ERR_FORMAT, "truncated");
    b.n = full - 3; /* inside the alias table */
    CHECK_FAILS(load_status(write_model("trunc2", &b)), CW_ERR_FORMAT, "model.bin");
    b.n = 0;
    CHECK_FAILS(load_status(write_model("trunc3", &b)), CW_ERR_FORMAT, "model.bin");
    free(b.p);
}

static void test_bad_byte_count(void)
{
    spoil sp = {.bad_bytes = "encoder/conv2/bias"};
    bytes b = synth_file(&sp);
    CHECK_FAILS(load_status(write_model("bytes", &b)), CW_ERR_FORMAT, "model.bin");
    CHECK_FAILS(load_status(write_model("bytes", &b)), CW_ERR_FORMAT, "encoder/conv2/bias");
    free(b.p);
}

static void test_bad_dtype(void)
{
    spoil sp = {.bad_dtype = "decoder/layer_norm/beta"};
    bytes b = synth_file(&sp);
    CHECK_FAILS(load_status(write_model("dtype", &b)), CW_ERR_FORMAT, "model.bin");
    CHECK_FAILS(load_status(write_model("dtype", &b)), CW_ERR_FORMAT, "unknown dtype code 9");
    free(b.p);
}

static void test_bad_missing_tensor(void)
{
    spoil sp = {.skip = "decoder/layer_0/attention/linear_2/bias"};
    bytes b = synth_file(&sp);
    CHECK_FAILS(load_status(write_model("missing", &b)), CW_ERR_FORMAT, "model.bin");
    CHECK_FAILS(load_status(write_model("missing", &b)), CW_ERR_FORMAT, "decoder.blocks.0.cross_attn.out.bias");
    free(b.p);
    sp.skip = "encoder/num_heads";
    b = synth_file(&sp);
    CHECK_FAILS(load_status(write_model("missing2", &b)), CW_ERR_FORMAT, "encoder/num_heads");
    free(b.p);
}

static void test_bad_config_json(void)
{
    spoil sp = {0};
    bytes b = synth_file(&sp);
    write_model("badcfg", &b);
    free(b.p);
    const char *cfg = "{\"alignment_heads\": [[1, 0], oops";
    test_write_file("badcfg/config.json", cfg, strlen(cfg));
    char d[512];
    snprintf(d, sizeof d, "%s/badcfg", test_tmpdir());
    CHECK_FAILS(load_status(d), CW_ERR_FORMAT, "config.json");
    cfg = "{\"suppress_ids\": [1, \"x\"]}";
    test_write_file("badcfg/config.json", cfg, strlen(cfg));
    CHECK_FAILS(load_status(d), CW_ERR_FORMAT, "suppress_ids");
    cfg = "{\"alignment_heads\": [[7, 0]], \"suppress_ids\": [1, 2], \"lang_ids\": [3]}";
    test_write_file("badcfg/config.json", cfg, strlen(cfg));
    CHECK_FAILS(load_status(d), CW_ERR_FORMAT, "alignment head");
    cfg = "{\"alignment_heads\": [[0, 1]], \"suppress_ids\": [1, 2], \"suppress_ids_begin\": [220, 9], \"lang_ids\": [3]}";
    test_write_file("badcfg/config.json", cfg, strlen(cfg));
    cw_model *m = NULL;
    CHECK(cw_model_load_flags(d, NULL, CW_MODEL_NO_TOKENIZER, &m) == CW_OK);
    if (m) {
        CHECK(m->extras.n_alignment_heads == 1 && m->extras.alignment_heads[1] == 1);
        CHECK(m->extras.n_suppress_ids == 2 && m->extras.suppress_ids[1] == 2);
        CHECK(m->extras.n_suppress_ids_begin == 2 && m->extras.suppress_ids_begin[0] == 220);
        CHECK(m->extras.n_lang_ids == 1 && m->extras.lang_ids[0] == 3);
        cw_model_free(m);
    }
}

/* A safetensors buffer: u64 header length, header, then data_len bytes. */
static cw_status st_parse(const char *header, size_t data_len, cw_raw_file *raw)
{
    size_t h = strlen(header);
    unsigned char *buf = calloc(1, 8 + h + data_len + 1);
    if (!buf) abort();
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    cw_status s = cw_safetensors_parse(buf, 8 + h + data_len, "model.safetensors", raw);
    free(buf);
    return s;
}

static void test_bad_safetensors_offsets(void)
{
    cw_raw_file raw;
    CHECK(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[8,12]},\"__metadata__\":{}}",
                   12, &raw) == CW_OK);
    CHECK(raw.n == 2 && cw_raw_find(&raw, "b") && cw_raw_find(&raw, "b")->dtype == CW_DTYPE_BF16);
    cw_raw_free(&raw);
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,100]}}", 8, &raw),
                CW_ERR_FORMAT, "model.safetensors");
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, &raw),
                CW_ERR_FORMAT, "model.safetensors");
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, &raw),
                CW_ERR_FORMAT, "overlap");
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, &raw),
                CW_ERR_FORMAT, "model.safetensors");
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, &raw),
                CW_ERR_FORMAT, "model.safetensors");
    CHECK_FAILS(st_parse("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, &raw),
                CW_ERR_UNSUPPORTED, "model.safetensors");
    CHECK_FAILS(st_parse("[1, 2]", 8, &raw), CW_ERR_FORMAT, "model.safetensors");
    CHECK_FAILS(st_parse("{\"a\": 1", 8, &raw), CW_ERR_FORMAT, "model.safetensors");
    unsigned char lie[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_FAILS(cw_safetensors_parse(lie, sizeof lie, "model.safetensors", &raw), CW_ERR_FORMAT,
                "model.safetensors");
}

/* ---- half precision ---- */

static void test_half(void)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = cw_f16_to_f32((uint16_t)h);
        if (f != f) continue; /* NaN */
        if (cw_f32_to_f16(f) != h) {
            CHECK_MSG(0, "f16 %04x round trip", (unsigned)h);
            break;
        }
        if (cw_f32_to_bf16(cw_bf16_to_f32((uint16_t)h)) != h && cw_bf16_to_f32((uint16_t)h) == cw_bf16_to_f32((uint16_t)h))
            CHECK_MSG(0, "bf16 %04x round trip", (unsigned)h);
    }
    CHECK(cw_f16_to_f32(0x3c00) == 1.0f && cw_f16_to_f32(0xc000) == -2.0f);
    CHECK(cw_f16_to_f32(0x0001) == 0x1p-24f && cw_f16_to_f32(0x7bff) == 65504.0f);
    /* ties go to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 */
    CHECK(cw_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);
    CHECK(cw_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);
    CHECK(cw_f32_to_f16(65519.0f) == 0x7bff && cw_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(cw_f32_to_f16(0x1p-25f) == 0x0000 && cw_f32_to_f16(0x1.8p-25f) == 0x0001);
    CHECK(cw_f32_to_f16(3 * 0x1p-25f) == 0x0002); /* 1.5 ulp subnormal -> 2 (even) */
    CHECK((cw_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (cw_f32_to_f16(NAN) & 0x3ff) != 0);
    CHECK(cw_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && cw_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
    CHECK(cw_bf16_to_f32(0x3f80) == 1.0f);
}

/* The n-at-once converters (F16C where the CPU has it) give the scalar ones'
 * bits for every fp16 / bf16 value (quiet NaNs for fp16 NaNs), at every
 * offset and length around the 8-wide steps; f32 -> bf16 too, ties and NaN. */
static void test_half_n(void)
{
    enum { N = 0x10000 + 13 };
    uint16_t *h = malloc(N * sizeof *h), *b = malloc(N * sizeof *b);
    float *y = malloc(N * sizeof *y), *x = malloc(N * sizeof *x);
    for (size_t i = 0; i < N; i++) h[i] = (uint16_t)(i * 40503u);
    for (size_t off = 0; off < 9; off++) {
        size_t n = N - off - (off * 3) % 8;
        cw_f16_to_f32_n(y, h + off, n);
        for (size_t i = 0; i < n; i++) {
            float r = cw_f16_to_f32(h[off + i]);
            uint32_t a, c;
            memcpy(&a, &y[i], 4), memcpy(&c, &r, 4);
            if (r != r ? (a | 0x400000u) != (c | 0x400000u) : a != c) {
                CHECK_MSG(0, "f16 %04x at offset %zu: %08x vs %08x", h[off + i], off, a, c);
                break;
            }
        }
        cw_bf16_to_f32_n(y, h + off, n);
        for (size_t i = 0; i < n; i++) {
            float r = cw_bf16_to_f32(h[off + i]);
            if (memcmp(&y[i], &r, 4) != 0) {
                CHECK_MSG(0, "bf16 %04x at offset %zu", h[off + i], off);
                break;
            }
        }
    }
    for (size_t i = 0; i < N; i++) {
        uint32_t u = (uint32_t)i * 2654435761u;
        memcpy(&x[i], &u, 4);
    }
    x[0] = 1.0f + 0x1p-8f, x[1] = 1.0f + 3 * 0x1p-8f, x[2] = NAN, x[3] = -INFINITY, x[4] = -0.0f;
    cw_f32_to_bf16_n(b, x, N);
    for (size_t i = 0; i < N; i++)
        if (b[i] != cw_f32_to_bf16(x[i])) {
            CHECK_MSG(0, "f32 -> bf16 [%zu]: %04x vs %04x", i, b[i], cw_f32_to_bf16(x[i]));
            break;
        }
    free(h), free(b), free(y), free(x);
}

int main(void)
{
    RUN(test_half);
    RUN(test_half_n);
    RUN(test_ct2_roundtrip_stored);
    RUN(test_ct2_roundtrip_f32);
    RUN(test_ct2_roundtrip_f16_bf16_nommap);
    RUN(test_ct2_alias);
    RUN(test_safetensors_roundtrip);
    RUN(test_bad_no_model_bin);
    RUN(test_bad_truncated);
    RUN(test_bad_byte_count);
    RUN(test_bad_dtype);
    RUN(test_bad_missing_tensor);
    RUN(test_bad_config_json);
    RUN(test_bad_safetensors_offsets);
    return test_summary();
}
