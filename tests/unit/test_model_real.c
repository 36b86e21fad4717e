/* Model readers on the real models in $CW_MODELS_DIR: tiny.en (CT2 fp16)
 * dims, kind and every canonical tensor; its safetensors copy made by
 * tests/fixtures/ct2_to_safetensors.py equal bit for bit; base's kind.
 * tiny.en missing: fail under CI, else "skipped: no model"; base is optional. */
#include "model/model.h"
#include "util/error.h"
#include "util/half.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* The model directory, or NULL when absent: a failure under CI for a
 * required model (tiny.en, the default), else "skipped: no model". */
static const char *model_dir_opt(const char *name, int required)
{
    char rel[64];
    snprintf(rel, sizeof rel, "%s/model.bin", name);
    if (access(test_path("CW_MODELS_DIR", rel), R_OK) == 0) return test_path("CW_MODELS_DIR", name);
    if (required && getenv("CI")) CHECK_MSG(0, "CI: model %s missing in $CW_MODELS_DIR", name);
    else printf("skipped: no model (%s)\n", name);
    return NULL;
}

static const char *model_dir(const char *name)
{
    return model_dir_opt(name, 1);
}

static cw_model *load(const char *dir, cw_weight_type w)
{
    cw_model_params p = cw_model_default_params();
    p.weights = w;
    cw_model *m = NULL;
    cw_status s = cw_model_load(dir, &p, &m);
    CHECK_MSG(s == CW_OK, "load %s: %s", dir, cw_last_error());
    return m;
}

static void check_shape(const cw_model *m, const char *name, size_t a, size_t b, size_t c)
{
    const cw_tensor *t = cw_model_tensor(m, name);
    size_t want[3] = {a, b, c};
    int rank = c ? 3 : b ? 2 : 1, ok = t && t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->shape[i] == want[i];
    CHECK_MSG(ok, "tensor %s: %s", name, t ? "wrong shape" : "missing");
}

static void check_attn(const cw_model *m, const char *pre, size_t d)
{
    static const char *w[] = {"query.weight", "key.weight", "value.weight", "out.weight"};
    static const char *b[] = {"query.bias", "value.bias", "out.bias"};
    char n[128];
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", pre, w[i]);
        check_shape(m, n, d, d, 0);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(n, sizeof n, "%s.%s", pre, b[i]);
        check_shape(m, n, d, 0, 0);
    }
}

static void check_block(const cw_model *m, const char *side, int i, size_t d)
{
    static const char *lns[] = {"attn_ln", "cross_attn_ln", "mlp_ln"};
    char pre[96], n[128];
    int dec = side[0] == 'd';
    snprintf(pre, sizeof pre, "%s.blocks.%d.attn", side, i);
    check_attn(m, pre, d);
    if (dec) {
        snprintf(pre, sizeof pre, "%s.blocks.%d.cross_attn", side, i);
        check_attn(m, pre, d);
    }
    for (int k = 0; k < 3; k++) {
        if (k == 1 && !dec) continue;
        snprintf(n, sizeof n, "%s.blocks.%d.%s.weight", side, i, lns[k]);
        check_shape(m, n, d, 0, 0);
        snprintf(n, sizeof n, "%s.blocks.%d.%s.bias", side, i, lns[k]);
        check_shape(m, n, d, 0, 0);
    }
    snprintf(n, sizeof n, "%s.blocks.%d.mlp.0.weight", side, i);
    check_shape(m, n, 4 * d, d, 0);
    snprintf(n, sizeof n, "%s.blocks.%d.mlp.0.bias", side, i);
    check_shape(m, n, 4 * d, 0, 0);
    snprintf(n, sizeof n, "%s.blocks.%d.mlp.2.weight", side, i);
    check_shape(m, n, d, 4 * d, 0);
    snprintf(n, sizeof n, "%s.blocks.%d.mlp.2.bias", side, i);
    check_shape(m, n, d, 0, 0);
}

static void check_all_tensors(const cw_model *m)
{
    cw_model_dims d = cw_model_get_dims(m);
    size_t s = (size_t)d.n_audio_state;
    CHECK_EQ_INT(m->n_tensors, 11 + 15 * d.n_audio_layer + 24 * d.n_text_layer);
    check_shape(m, "encoder.conv1.weight", s, (size_t)d.n_mels, 3);
    check_shape(m, "encoder.conv1.bias", s, 0, 0);
    check_shape(m, "encoder.conv2.weight", s, s, 3);
    check_shape(m, "encoder.conv2.bias", s, 0, 0);
    check_shape(m, "encoder.positional_embedding", 1500, s, 0);
    check_shape(m, "encoder.ln_post.weight", s, 0, 0);
    check_shape(m, "encoder.ln_post.bias", s, 0, 0);
    check_shape(m, "decoder.token_embedding.weight", (size_t)d.n_vocab, s, 0);
    check_shape(m, "decoder.positional_embedding", 448, s, 0);
    check_shape(m, "decoder.ln.weight", s, 0, 0);
    check_shape(m, "decoder.ln.bias", s, 0, 0);
    for (int i = 0; i < d.n_audio_layer; i++) check_block(m, "encoder", i, s);
    for (int i = 0; i < d.n_text_layer; i++) check_block(m, "decoder", i, s);
}

static void test_tiny_en(void)
{
    const char *dir = model_dir("tiny.en");
    if (!dir) return;
    cw_model *m = load(dir, CW_WEIGHTS_STORED);
    if (!m) return;
    cw_model_dims d = cw_model_get_dims(m);
    CHECK_EQ_INT(d.n_mels, 80);
    CHECK_EQ_INT(d.n_audio_ctx, 1500);
    CHECK_EQ_INT(d.n_audio_state, 384);
    CHECK_EQ_INT(d.n_audio_head, 6);
    CHECK_EQ_INT(d.n_audio_layer, 4);
    CHECK_EQ_INT(d.n_vocab, 51864);
    CHECK_EQ_INT(d.n_text_ctx, 448);
    CHECK_EQ_INT(d.n_text_state, 384);
    CHECK_EQ_INT(d.n_text_head, 6);
    CHECK_EQ_INT(d.n_text_layer, 4);
    CHECK(cw_model_get_kind(m) == CW_MODEL_ENGLISH_ONLY);
    check_all_tensors(m);
    for (size_t i = 0; i < m->n_tensors; i++) CHECK(m->tensors[i].stored_dtype == CW_DTYPE_F16);
    CHECK(m->extras.n_alignment_heads == 8 && m->extras.alignment_heads[0] == 1);
    CHECK(m->extras.n_suppress_ids > 0 && m->extras.n_suppress_ids_begin > 0);
    CHECK(m->tok != NULL);
    /* CT2 stores the key bias as zeros: the query bias must not be them. */
    const cw_tensor *qb = cw_model_tensor(m, "encoder.blocks.0.attn.query.bias");
    int nonzero = 0;
    for (size_t k = 0; qb && k < qb->n_elem; k++) nonzero |= ((const uint16_t *)qb->data)[k] & 0x7fff;
    CHECK(nonzero);
    char buf[4096];
    size_t n = cw_model_describe(m, buf, sizeof buf);
    CHECK(n < sizeof buf && strstr(buf, "English-only") && strstr(buf, "n_vocab 51864") &&
          strstr(buf, "ctranslate2") && strstr(buf, "MiB"));
    cw_model_free(m);
}

/* F32 load: every value equals the fp16 value widened. */
static void test_tiny_en_f32(void)
{
    const char *dir = model_dir("tiny.en");
    if (!dir) return;
    cw_model *h = load(dir, CW_WEIGHTS_STORED), *f = load(dir, CW_WEIGHTS_F32);
    if (h && f) {
        const cw_tensor *a = cw_model_tensor(h, "decoder.blocks.3.cross_attn.value.weight");
        const cw_tensor *b = cw_model_tensor(f, "decoder.blocks.3.cross_attn.value.weight");
        CHECK(a && b && b->dtype == CW_DTYPE_F32 && a->n_elem == b->n_elem);
        size_t bad = 0;
        for (size_t k = 0; a && b && k < a->n_elem; k++)
            bad += cw_f16_to_f32(((const uint16_t *)a->data)[k]) != ((const float *)b->data)[k];
        CHECK_EQ_INT(bad, 0);
    }
    cw_model_free(h);
    cw_model_free(f);
}

static void test_tiny_en_safetensors(void)
{
    const char *dir = model_dir("tiny.en");
    if (!dir) return;
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/st_tiny.en", test_tmpdir());
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'",
             test_path("CW_SOURCE_DIR", "tests/fixtures/ct2_to_safetensors.py"), dir, out);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: exit %d", cmd, rc);
    if (rc) return;
    cw_model *c = load(dir, CW_WEIGHTS_STORED), *s = load(out, CW_WEIGHTS_STORED);
    if (c && s) {
        CHECK_EQ_STR(s->format, "safetensors");
        CHECK(memcmp(&c->dims, &s->dims, sizeof c->dims) == 0);
        CHECK(s->kind == c->kind && s->n_tensors == c->n_tensors);
        CHECK(s->extras.n_alignment_heads == c->extras.n_alignment_heads);
        CHECK(s->extras.n_suppress_ids == c->extras.n_suppress_ids);
        for (size_t i = 0; i < c->n_tensors && i < s->n_tensors; i++) {
            const cw_tensor *a = &c->tensors[i], *b = &s->tensors[i];
            int same = strcmp(a->name, b->name) == 0 && a->dtype == b->dtype && a->rank == b->rank &&
                       memcmp(a->shape, b->shape, sizeof a->shape) == 0 &&
                       memcmp(a->data, b->data, a->n_elem * cw_dtype_size(a->dtype)) == 0;
            CHECK_MSG(same, "tensor %s differs between CT2 and safetensors", a->name);
        }
        /* the 8-byte aligned safetensors buffer: every tensor is a view */
        CHECK(s->bytes_owned == 0);
    }
    cw_model_free(c);
    cw_model_free(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out); /* 75 MB: do not leave it behind */
    CHECK(system(cmd) == 0);
}

static void test_base(void)
{
    const char *dir = model_dir_opt("base", 0); /* optional: CI may fetch only tiny.en */
    if (!dir) return;
    cw_model *m = load(dir, CW_WEIGHTS_STORED);
    if (!m) return;
    cw_model_dims d = cw_model_get_dims(m);
    CHECK(d.n_audio_state == 512 && d.n_audio_head == 8 && d.n_audio_layer == 6 && d.n_text_layer == 6);
    CHECK_EQ_INT(d.n_vocab, 51865);
    CHECK(cw_model_get_kind(m) == CW_MODEL_MULTILINGUAL);
    check_all_tensors(m);
    CHECK(m->extras.n_lang_ids == 99);
    cw_model_free(m);
}

int main(void)
{
    RUN(test_tiny_en);
    RUN(test_tiny_en_f32);
    RUN(test_tiny_en_safetensors);
    RUN(test_base);
    return test_summary();
}
