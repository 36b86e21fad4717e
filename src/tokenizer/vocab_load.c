/* Vocabulary file formats -> token strings by id (cw_vocab_strings), which
 * tokenizer.c validates and turns into a tokenizer: CTranslate2's
 * vocabulary.json (array) and vocabulary.txt (lines), Hugging Face's
 * tokenizer.json (model.vocab + added_tokens) and vocab.json (object). The
 * BPE merges in those files are not needed: tiktoken merges by rank and the
 * rank of a token is its id. */
#include "tokenizer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/file.h"
#include "util/json.h"

#define MAX_VOCAB_FILE (256u << 20) /* far above the ~2.5 MB of a real tokenizer.json */

static cw_status strings_alloc(cw_vocab_strings *v, size_t n_vocab)
{
    v->n_vocab = n_vocab;
    v->str = cw_calloc(n_vocab, sizeof *v->str);
    v->len = cw_calloc(n_vocab, sizeof *v->len);
    if (v->str && v->len) return CW_OK;
    free(v->str);
    free(v->len);
    v->str = NULL;
    v->len = NULL;
    return CW_ERR_NOMEM;
}

static void strings_free(cw_vocab_strings *v)
{
    free(v->str);
    free(v->len);
}

static cw_status count_error(const char *name, size_t count, size_t n_vocab)
{
    return cw_error(CW_ERR_FORMAT, "%s: %zu tokens, but the model has %zu", name, count, n_vocab);
}

/* vocabulary.txt: one token per line, '\n' ends a line (a final one is
 * optional). Lines may be empty (the multilingual id 50256 is ""). A '\r'
 * before '\n' is dropped: it is never part of a byte-level string. */
static cw_status parse_txt(const char *data, size_t len, const char *name, cw_vocab_strings *v)
{
    if (len == 0) return cw_error(CW_ERR_FORMAT, "%s: empty vocabulary file", name);
    size_t count = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, line = end - pos;
        if (line && data[end - 1] == '\r') line--;
        if (count < v->n_vocab) {
            v->str[count] = data + pos;
            v->len[count] = line;
        }
        count++;
        pos = end + 1;
    }
    return count == v->n_vocab ? CW_OK : count_error(name, count, v->n_vocab);
}

/* vocabulary.json: a JSON array of strings, index = id. */
static cw_status take_array(const cw_json *root, const char *name, cw_vocab_strings *v)
{
    if (root->type != CW_JSON_ARRAY) return cw_error(CW_ERR_FORMAT, "%s: not a JSON array of token strings", name);
    if (root->n != v->n_vocab) return count_error(name, root->n, v->n_vocab);
    for (size_t i = 0; i < root->n; i++) {
        if (root->items[i]->type != CW_JSON_STRING)
            return cw_error(CW_ERR_FORMAT, "%s: element %zu is not a string", name, i);
        v->str[i] = root->items[i]->str;
        v->len[i] = root->items[i]->str_len;
    }
    return CW_OK;
}

/* Records id -> s; ids must be integers below n_vocab and not repeat. */
static cw_status put_id(cw_vocab_strings *v, const char *name, double id, const char *s, size_t len)
{
    if (!(id >= 0 && id < (double)v->n_vocab) || floor(id) != id)
        return cw_error(CW_ERR_FORMAT, "%s: token id %g is not an integer in [0, %zu)", name, id, v->n_vocab);
    size_t i = (size_t)id;
    if (v->str[i] && !(v->len[i] == len && memcmp(v->str[i], s, len) == 0))
        return cw_error(CW_ERR_FORMAT, "%s: token id %zu is given twice", name, i);
    v->str[i] = s;
    v->len[i] = len;
    return CW_OK;
}

/* vocab.json and tokenizer.json's model.vocab: {"token": id, ...}. */
static cw_status take_object(const cw_json *obj, const char *name, cw_vocab_strings *v)
{
    if (!obj || obj->type != CW_JSON_OBJECT)
        return cw_error(CW_ERR_FORMAT, "%s: vocabulary is not a JSON object of token -> id", name);
    for (size_t i = 0; i < obj->n; i++) {
        const cw_json *it = obj->items[i];
        if (it->type != CW_JSON_NUMBER)
            return cw_error(CW_ERR_FORMAT, "%s: the id of vocabulary entry %zu is not a number", name, i);
        cw_status st = put_id(v, name, it->number, it->key, it->key_len);
        if (st != CW_OK) return st;
    }
    return CW_OK;
}

/* tokenizer.json's added_tokens: [{"id": 50257, "content": "<|endoftext|>", ...}]
 * (the specials; timestamps are usually absent and then generated). */
static cw_status take_added(const cw_json *arr, const char *name, cw_vocab_strings *v)
{
    if (!arr) return CW_OK;
    if (arr->type != CW_JSON_ARRAY) return cw_error(CW_ERR_FORMAT, "%s: added_tokens is not an array", name);
    for (size_t i = 0; i < arr->n; i++) {
        const cw_json *id = cw_json_get(arr->items[i], "id"), *c = cw_json_get(arr->items[i], "content");
        if (!id || id->type != CW_JSON_NUMBER || !c || c->type != CW_JSON_STRING)
            return cw_error(CW_ERR_FORMAT, "%s: added_tokens[%zu] lacks a numeric id or a content string", name, i);
        cw_status st = put_id(v, name, id->number, c->str, c->str_len);
        if (st != CW_OK) return st;
    }
    return CW_OK;
}

static cw_status take_tokenizer_json(const cw_json *root, const char *name, cw_vocab_strings *v)
{
    const cw_json *model = cw_json_get(root, "model");
    if (!model || model->type != CW_JSON_OBJECT)
        return cw_error(CW_ERR_FORMAT, "%s: no \"model\" object (not a tokenizer.json?)", name);
    const char *type = cw_json_get_string(model, "type");
    if (type && strcmp(type, "BPE") != 0)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: model type \"%.20s\", expected BPE", name, type);
    cw_status st = take_object(cw_json_get(model, "vocab"), name, v);
    return st == CW_OK ? take_added(cw_json_get(root, "added_tokens"), name, v) : st;
}

static cw_status load_json(cw_vocab_format format, const char *data, size_t len, const char *name,
                           cw_vocab_strings *v, cw_tokenizer **out)
{
    cw_json *root = NULL;
    cw_status st = cw_json_parse(data, len, name, &root);
    if (st != CW_OK) return st;
    if (format == CW_VOCAB_JSON_ARRAY) st = take_array(root, name, v);
    else if (format == CW_VOCAB_HF_TOKENIZER) st = take_tokenizer_json(root, name, v);
    else st = take_object(root, name, v);
    /* The strings point into the tree, so build before freeing it. */
    if (st == CW_OK) st = cw_tokenizer_build(v, name, out);
    cw_json_free(root);
    return st;
}

cw_status cw_tokenizer_load_buffer(cw_vocab_format format, const char *data, size_t len, const char *name,
                                   int n_vocab, cw_tokenizer **out)
{
    *out = NULL;
    if (!name) name = "vocabulary";
    cw_special_tokens sp;
    if (cw_special_tokens_for(n_vocab, &sp) != 0)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: no Whisper model has n_vocab %d (51864, 51865 or 51866)",
                        name, n_vocab);
    if (format < CW_VOCAB_JSON_ARRAY || format > CW_VOCAB_HF_VOCAB)
        return cw_error(CW_ERR_INVALID_ARG, "%s: unknown vocabulary format %d", name, (int)format);
    cw_vocab_strings v;
    cw_status st = strings_alloc(&v, (size_t)n_vocab);
    if (st != CW_OK) return st;
    if (format == CW_VOCAB_TXT) {
        st = parse_txt(data, len, name, &v);
        if (st == CW_OK) st = cw_tokenizer_build(&v, name, out);
    } else if (len == 0) {
        st = cw_error(CW_ERR_FORMAT, "%s: empty vocabulary file", name);
    } else {
        st = load_json(format, data, len, name, &v, out);
    }
    strings_free(&v);
    return st;
}

cw_status cw_tokenizer_load_file(const char *path, cw_vocab_format format, int n_vocab, cw_tokenizer **out)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    cw_status st = cw_file_read_all(path, MAX_VOCAB_FILE, &data, &len);
    if (st != CW_OK) return st;
    st = cw_tokenizer_load_buffer(format, data, len, path, n_vocab, out);
    free(data);
    return st;
}

cw_status cw_tokenizer_load_dir(const char *dir, int n_vocab, cw_tokenizer **out)
{
    static const struct {
        const char *file;
        cw_vocab_format format;
    } order[] = {{"vocabulary.json", CW_VOCAB_JSON_ARRAY}, {"vocabulary.txt", CW_VOCAB_TXT},
                 {"tokenizer.json", CW_VOCAB_HF_TOKENIZER}, {"vocab.json", CW_VOCAB_HF_VOCAB}};
    *out = NULL;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char *path = cw_path_join(dir, order[i].file);
        if (!path) return CW_ERR_NOMEM;
        if (!cw_file_exists(path)) {
            free(path);
            continue;
        }
        cw_status st = cw_tokenizer_load_file(path, order[i].format, n_vocab, out);
        free(path);
        return st;
    }
    return cw_error(CW_ERR_IO, "%s: no vocabulary.json, vocabulary.txt, tokenizer.json or vocab.json", dir);
}
