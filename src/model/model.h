/* The format-agnostic model: hyper-parameters, named tensors under the
 * canonical OpenAI state-dict names (model.py: "encoder.blocks.0.attn.query.weight",
 * "decoder.token_embedding.weight", ...), the config extras and the tokenizer.
 * Readers (ct2.c, safetensors.c) parse a memory buffer into a flat list of
 * raw variables; build.c turns raw variables into cw_tensor views or copies.
 * A loaded cw_model is read-only and can be shared between threads. */
#ifndef CW_MODEL_H
#define CW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cwhisper.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

#include "util/dtype.h"

#define CW_MAX_RANK 4

typedef struct {
    char *name;            /* canonical OpenAI name, owned */
    cw_dtype dtype;        /* as held in memory */
    cw_dtype stored_dtype; /* as stored in the file */
    int rank;
    size_t shape[CW_MAX_RANK]; /* row-major; Linear weights [out, in] */
    size_t n_elem;
    const void *data;      /* [n_elem] of dtype, aligned for it: into the file map or `owned` */
    const float *scale;    /* int8 only: [shape[0]] per-row scales, w = q / scale; else NULL */
    void *owned;           /* allocation behind data; NULL when data views the map */
    void *owned_scale;     /* allocation behind scale; NULL when it views the map */
} cw_tensor;

/* ---- raw variables: what a file holds, before naming/conversion ---- */
typedef struct {
    char *name;            /* the file's name, owned */
    cw_dtype dtype;
    int rank;
    size_t shape[CW_MAX_RANK];
    size_t n_elem;
    const unsigned char *data; /* [nbytes] into the parsed buffer (may be misaligned) */
    size_t nbytes;
} cw_raw_var;

typedef struct {
    cw_raw_var *vars;      /* [n], sorted by name after cw_raw_finish */
    size_t n, cap;
} cw_raw_file;

/* Parse a whole CTranslate2 model.bin held in data[0..size). Aliases are
 * resolved into extra entries that share the target's bytes. name is used in
 * error messages. On failure *out is left empty. */
cw_status cw_ct2_parse(const unsigned char *data, size_t size, const char *name, cw_raw_file *out);
/* Parse a whole model.safetensors held in data[0..size). */
cw_status cw_safetensors_parse(const unsigned char *data, size_t size, const char *name,
                               cw_raw_file *out);

cw_status cw_raw_add(cw_raw_file *f, const char *name, size_t name_len, const cw_raw_var *v);
/* Sorts by name and rejects duplicates (error names `name`). */
cw_status cw_raw_finish(cw_raw_file *f, const char *name);
const cw_raw_var *cw_raw_find(const cw_raw_file *f, const char *name);
void cw_raw_free(cw_raw_file *f);

/* ---- the model ---- */
typedef struct {
    int32_t *alignment_heads;   /* [n_alignment_heads * 2]: (layer, head) pairs */
    size_t n_alignment_heads;
    int32_t *suppress_ids;      /* [n_suppress_ids] */
    size_t n_suppress_ids;
    int32_t *suppress_ids_begin;
    size_t n_suppress_ids_begin;
    int32_t *lang_ids;          /* sorted language token ids, may be empty */
    size_t n_lang_ids;
} cw_model_extras;

struct cw_model {
    char *dir;             /* the model directory as given */
    const char *format;    /* "ctranslate2" or "safetensors" */
    cw_model_kind kind;
    cw_model_dims dims;
    cw_tensor *tensors;    /* [n_tensors], sorted by name */
    size_t n_tensors;
    cw_model_extras extras;
    cw_file_map map;       /* the weight file; tensors used as stored point into it */
    size_t bytes_mapped;   /* file bytes referenced through the map */
    size_t bytes_owned;    /* heap bytes held by converted / copied tensors */
    cw_tokenizer *tok;     /* NULL only when loaded with CW_MODEL_NO_TOKENIZER */
};

/* Tensor by canonical name, NULL if absent. */
const cw_tensor *cw_model_tensor(const cw_model *model, const char *name);

/* cw_model_load with flags (tests load synthetic models without a vocabulary). */
#define CW_MODEL_NO_TOKENIZER 1u
cw_status cw_model_load_flags(const char *path, const cw_model_params *params, unsigned flags,
                              cw_model **out);

/* ---- build.c: shared by the readers ---- */

/* Maps a canonical name to its source in one file format: writes the source
 * variable's name into buf; the tensor is rows [part*r, (part+1)*r) of the
 * source's first dimension, r = rows / n_parts (CT2's fused q/k/v). Returns 0, or -1 if the tensor is not in this format. */
typedef int (*cw_source_fn)(const char *canonical, char *buf, size_t cap, int *part, int *n_parts);

/* Fills model->tensors with every canonical tensor (names and shapes from
 * model->dims), each from its source in raw. Errors name `file`. */
cw_status cw_model_build_tensors(cw_model *model, const cw_raw_file *raw, cw_source_fn source,
                                 const cw_model_params *params, const char *file);

/* Optional int array obj[key] (absent: *n = 0, OK); wrong type: a format
 * error naming file and key. pairs: an array of [a, b] arrays, flattened. */
cw_status cw_json_read_ints(const cw_json *obj, const char *key, const char *file, int32_t **out,
                            size_t *n);
cw_status cw_json_read_pairs(const cw_json *obj, const char *key, const char *file, int32_t **out,
                             size_t *n_pairs);
/* Fills defaults where the config gave none (alignment heads: second half of decoder layers). */
cw_status cw_model_default_extras(cw_model *model);
/* Checks dims for sanity (positive, heads divide state, sizes in range). */
cw_status cw_model_check_dims(const cw_model_dims *d, const char *file);
cw_model_kind cw_model_kind_from_vocab(int n_vocab);

/* Maps (params->use_mmap) or reads the weight file into model->map. */
cw_status cw_model_open_weights(cw_model *model, const char *path, const cw_model_params *params);

/* Dims (CT2: from shapes; safetensors: model->dims already set from
 * config.json) and tensors from a parsed file; used by the loaders and the
 * fuzzers. The caller frees model (cw_model_free) either way. */
cw_status cw_ct2_build(cw_model *model, const cw_raw_file *raw, const cw_model_params *params,
                       const char *file);
cw_status cw_safetensors_build(cw_model *model, const cw_raw_file *raw, const cw_model_params *params,
                               const char *file);

/* Format loaders (model->dir set, map to be opened by them). */
cw_status cw_ct2_load(cw_model *model, const cw_model_params *params);
cw_status cw_safetensors_load(cw_model *model, const cw_model_params *params);

#endif
