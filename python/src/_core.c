/* cwhisper._core: the CPython binding of include/cwhisper.h, and nothing more.
 *
 * Two types: Model (a loaded cw_model with one cw_context, serialised by a
 * lock so Python threads may share it) and Result (an owned cw_result). The
 * transcription runs with the GIL released; the progress callback takes it
 * back for each call. Every cw_status other than CW_OK becomes a
 * cwhisper.CwhisperError carrying cw_last_error() and the status. The Python
 * layer (cwhisper/__init__.py and friends) turns options and results into
 * friendly objects; this file only maps them field for field.
 */
#define PY_SSIZE_T_CLEAN
#define _POSIX_C_SOURCE 200809L
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cwhisper.h"

static PyObject *CwhisperError; /* cwhisper.CwhisperError */

/* Raises CwhisperError(message) with .status (int) and .status_name. Reads
 * cw_last_error() of this thread, so call it on the thread that failed. */
static PyObject *raise_status(cw_status s)
{
    PyObject *exc = PyObject_CallFunction(CwhisperError, "s", cw_last_error());
    if (!exc) return NULL;
    PyObject *code = PyLong_FromLong((long)s);
    PyObject *name = PyUnicode_FromString(cw_status_string(s));
    if (code && name && PyObject_SetAttrString(exc, "status", code) == 0 &&
        PyObject_SetAttrString(exc, "status_name", name) == 0)
        PyErr_SetObject(CwhisperError, exc);
    Py_XDECREF(code);
    Py_XDECREF(name);
    Py_DECREF(exc);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Result                                                                    */

typedef struct {
    PyObject_HEAD
    cw_result *r;
} ResultObject;

static PyTypeObject ResultType;

static void Result_dealloc(ResultObject *self)
{
    cw_result_free(self->r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *utf8(const char *s)
{
    /* A segment may end inside a multi-byte character that the next one
     * completes (the tokens are bytes); openai-whisper decodes with
     * errors="replace", so do we. */
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)strlen(s ? s : ""), "replace");
}

/* A segment's words: None when word timestamps were not asked for (words
 * NULL), else a tuple of (word, start, end, probability), possibly empty. */
static PyObject *segment_words(const cw_segment *s)
{
    if (!s->words) Py_RETURN_NONE;
    PyObject *words = PyTuple_New((Py_ssize_t)s->n_words);
    if (!words) return NULL;
    for (size_t k = 0; k < s->n_words; k++) {
        const cw_word *w = &s->words[k];
        PyObject *item = Py_BuildValue("(Nddd)", utf8(w->word), w->start, w->end, w->probability);
        if (!item) {
            Py_DECREF(words);
            return NULL;
        }
        PyTuple_SET_ITEM(words, (Py_ssize_t)k, item);
    }
    return words;
}

/* segments() -> list of (id, seek, start, end, text, tokens, avg_logprob,
 * compression_ratio, no_speech_prob, temperature, words) tuples; words is
 * segment_words(). */
static PyObject *Result_segments(ResultObject *self, PyObject *Py_UNUSED(arg))
{
    size_t n = cw_result_n_segments(self->r);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        const cw_segment *s = cw_result_segment(self->r, i);
        PyObject *tokens = PyTuple_New((Py_ssize_t)s->n_tokens);
        PyObject *text = utf8(s->text);
        if (!tokens || !text) {
            Py_XDECREF(tokens);
            Py_XDECREF(text);
            Py_DECREF(list);
            return NULL;
        }
        for (size_t k = 0; k < s->n_tokens; k++) {
            PyObject *t = PyLong_FromLong(s->tokens[k]);
            if (!t) {
                Py_DECREF(tokens);
                Py_DECREF(text);
                Py_DECREF(list);
                return NULL;
            }
            PyTuple_SET_ITEM(tokens, (Py_ssize_t)k, t);
        }
        PyObject *words = segment_words(s);
        if (!words) {
            Py_DECREF(tokens);
            Py_DECREF(text);
            Py_DECREF(list);
            return NULL;
        }
        PyObject *item = Py_BuildValue("(ilddNNddddN)", s->id, s->seek, s->start, s->end, text, tokens,
                                       s->avg_logprob, s->compression_ratio, s->no_speech_prob, s->temperature,
                                       words);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *Result_text(ResultObject *self, void *Py_UNUSED(c)) { return utf8(cw_result_text(self->r)); }
static PyObject *Result_language(ResultObject *self, void *Py_UNUSED(c))
{
    return utf8(cw_result_language(self->r));
}
static PyObject *Result_duration(ResultObject *self, void *Py_UNUSED(c))
{
    return PyFloat_FromDouble(cw_result_duration(self->r));
}

static int format_arg(const char *name)
{
    int f = cw_output_format_from_name(name);
    if (f < 0) PyErr_Format(PyExc_ValueError, "output format '%s' is not txt, srt, vtt, json or tsv", name);
    return f;
}

/* format(fmt, file=None, model=None, highlight_words=False, max_line_width=0,
 * max_line_count=0, max_words_per_line=0) -> str: the writer's output in
 * memory (the four: cw_output_info's srt/vtt word options, 0 = not given). */
static PyObject *Result_format(ResultObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "format", "file", "model", "highlight_words", "max_line_width", "max_line_count",
                             "max_words_per_line", NULL };
    const char *fmt, *file = NULL, *model = NULL;
    cw_output_info info = { 0 };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzpiii:format", names, &fmt, &file, &model,
                                     &info.highlight_words, &info.max_line_width, &info.max_line_count,
                                     &info.max_words_per_line))
        return NULL;
    int f = format_arg(fmt);
    if (f < 0) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return PyErr_NoMemory();
    info.file = file;
    info.model = model;
    cw_status s = cw_output_write_stream(self->r, (cw_output_format)f, &info, mem);
    fclose(mem);
    if (s) {
        free(buf);
        return raise_status(s);
    }
    PyObject *out = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)len, "replace");
    free(buf);
    return out;
}

/* write(path, fmt, file=None, model=None, <the four options of format>):
 * atomic file output. */
static PyObject *Result_write(ResultObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "path", "format", "file", "model", "highlight_words", "max_line_width",
                             "max_line_count", "max_words_per_line", NULL };
    PyObject *path_obj;
    const char *fmt, *file = NULL, *model = NULL;
    cw_output_info info = { 0 };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&s|zzpiii:write", names, PyUnicode_FSConverter, &path_obj, &fmt,
                                     &file, &model, &info.highlight_words, &info.max_line_width,
                                     &info.max_line_count, &info.max_words_per_line))
        return NULL;
    int f = format_arg(fmt);
    if (f < 0) {
        Py_DECREF(path_obj);
        return NULL;
    }
    info.file = file;
    info.model = model;
    cw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = cw_output_write_file(self->r, (cw_output_format)f, &info, PyBytes_AS_STRING(path_obj));
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (s) return raise_status(s);
    Py_RETURN_NONE;
}

static PyMethodDef Result_methods[] = {
    { "segments", (PyCFunction)Result_segments, METH_NOARGS,
      "segments() -> list of (id, seek, start, end, text, tokens, avg_logprob, compression_ratio, "
      "no_speech_prob, temperature, words); words: None, or a tuple of (word, start, end, probability)" },
    { "format", (PyCFunction)(void (*)(void))Result_format, METH_VARARGS | METH_KEYWORDS,
      "format(fmt, file=None, model=None, highlight_words=False, max_line_width=0, max_line_count=0, "
      "max_words_per_line=0) -> str: the transcript as txt, srt, vtt, json or tsv" },
    { "write", (PyCFunction)(void (*)(void))Result_write, METH_VARARGS | METH_KEYWORDS,
      "write(path, fmt, file=None, model=None, highlight_words=False, max_line_width=0, max_line_count=0, "
      "max_words_per_line=0): writes the transcript to path atomically" },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Result_getset[] = {
    { "text", (getter)Result_text, NULL, "the whole transcript", NULL },
    { "language", (getter)Result_language, NULL, "language code (\"en\", ...)", NULL },
    { "duration", (getter)Result_duration, NULL, "seconds of audio", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cwhisper._core.Result",
    .tp_basicsize = sizeof(ResultObject),
    .tp_dealloc = (destructor)Result_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A transcription result (cw_result); made by Model.transcribe.",
    .tp_methods = Result_methods,
    .tp_getset = Result_getset,
};

/* ------------------------------------------------------------------------ */
/* Model                                                                     */

typedef struct {
    PyObject_HEAD
    cw_model *model;
    cw_context *ctx;
    PyThread_type_lock lock; /* one transcription at a time on ctx */
} ModelObject;

static void Model_dealloc(ModelObject *self)
{
    cw_context_free(self->ctx);
    cw_model_free(self->model);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Model(path, dtype="fp32", threads=0, int8_attention=False, device="cpu"):
 * loads a model directory. A device that cannot run here ("cuda" without a
 * GPU) raises CwhisperError with the library's one-line reason before the
 * model loads. */
static int Model_init(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "path", "dtype", "threads", "int8_attention", "device", NULL };
    PyObject *path_obj;
    const char *dtype = "fp32", *device = "cpu";
    int threads = 0, int8_attention = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sips:Model", names, PyUnicode_FSConverter, &path_obj, &dtype,
                                     &threads, &int8_attention, &device))
        return -1;
    int dt = cw_compute_dtype_from_name(dtype);
    if (dt < 0) {
        Py_DECREF(path_obj);
        PyErr_Format(PyExc_ValueError, "dtype '%s' is not fp32, fp16, bf16 or int8", dtype);
        return -1;
    }
    if (self->ctx || self->model) {
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialised");
        Py_DECREF(path_obj);
        return -1;
    }
    if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(path_obj);
        PyErr_NoMemory();
        return -1;
    }
    cw_model_params mp = cw_model_default_params();
    cw_context_params cp = cw_context_default_params();
    cp.n_threads = threads;
    cp.dtype = (cw_compute_dtype)dt;
    cp.int8_attention = int8_attention;
    if (cw_device_parse(device, &cp.device, &cp.device_index) != CW_OK || cw_context_params_check(&cp) != CW_OK) {
        Py_DECREF(path_obj); /* a bad argument, before the model loads */
        PyErr_SetString(PyExc_ValueError, cw_last_error());
        return -1;
    }
    cw_status s = cw_device_check(cp.device, cp.device_index);
    if (s) {
        Py_DECREF(path_obj);
        raise_status(s);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    s = cw_model_load(PyBytes_AS_STRING(path_obj), &mp, &self->model);
    if (!s) s = cw_context_create(self->model, &cp, &self->ctx);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (s) {
        raise_status(s);
        cw_model_free(self->model);
        self->model = NULL;
        return -1;
    }
    return 0;
}

static int ready(ModelObject *self)
{
    if (self->ctx) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Model is not initialised");
    return 0;
}

/* The options dict maps cw_transcribe_params field names to values; strings
 * are kept alive by the dict while the GIL is released (the caller passes a
 * dict it made and does not touch during the call). */
static int set_options(PyObject *opts, cw_transcribe_params *p)
{
    if (opts == Py_None) return 0;
    if (!PyDict_Check(opts)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(opts, &pos, &key, &value)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (!k) return -1;
        double *d = NULL;
        int *i = NULL;
        static const struct { const char *name; size_t off; } strs[] = {
            { "language", offsetof(cw_transcribe_params, language) },
            { "initial_prompt", offsetof(cw_transcribe_params, initial_prompt) },
            { "vad_model", offsetof(cw_transcribe_params, vad_params) + offsetof(cw_vad_params, model) },
            { "prepend_punctuations", offsetof(cw_transcribe_params, prepend_punctuations) },
            { "append_punctuations", offsetof(cw_transcribe_params, append_punctuations) },
        };
        size_t si = 0;
        while (si < sizeof strs / sizeof *strs && strcmp(k, strs[si].name) != 0) si++;
        if (si < sizeof strs / sizeof *strs) {
            const char *s = NULL;
            if (value != Py_None && !(s = PyUnicode_AsUTF8(value))) return -1;
            *(const char **)(void *)((char *)p + strs[si].off) = s;
            continue;
        }
        if (strcmp(k, "clip_timestamps") == 0) { /* bytes of native doubles, kept alive by the dict */
            if (!PyBytes_Check(value) || PyBytes_GET_SIZE(value) % (Py_ssize_t)sizeof(double) != 0 ||
                (uintptr_t)PyBytes_AS_STRING(value) % _Alignof(double) != 0) {
                PyErr_SetString(PyExc_TypeError, "clip_timestamps must be bytes of packed doubles");
                return -1;
            }
            p->clip_timestamps = (const double *)(const void *)PyBytes_AS_STRING(value);
            p->n_clip_timestamps = (size_t)PyBytes_GET_SIZE(value) / sizeof(double);
            continue;
        }
        if (strcmp(k, "seed") == 0) {
            unsigned long long v = PyLong_AsUnsignedLongLong(value);
            if (PyErr_Occurred()) return -1;
            p->seed = v;
            continue;
        }
        if (strcmp(k, "temperature") == 0) d = &p->temperature;
        else if (strcmp(k, "temperature_increment") == 0) d = &p->temperature_increment;
        else if (strcmp(k, "patience") == 0) d = &p->patience;
        else if (strcmp(k, "length_penalty") == 0) d = &p->length_penalty;
        else if (strcmp(k, "compression_ratio_threshold") == 0) d = &p->compression_ratio_threshold;
        else if (strcmp(k, "logprob_threshold") == 0) d = &p->logprob_threshold;
        else if (strcmp(k, "no_speech_threshold") == 0) d = &p->no_speech_threshold;
        else if (strcmp(k, "max_initial_timestamp") == 0) d = &p->max_initial_timestamp;
        else if (strcmp(k, "chunk_length") == 0) d = &p->chunk_length;
        else if (strcmp(k, "stride_length") == 0) d = &p->stride_length;
        else if (strcmp(k, "vad_threshold") == 0) d = &p->vad_params.threshold;
        else if (strcmp(k, "vad_min_speech_ms") == 0) d = &p->vad_params.min_speech_duration_ms;
        else if (strcmp(k, "vad_min_silence_ms") == 0) d = &p->vad_params.min_silence_duration_ms;
        else if (strcmp(k, "vad_speech_pad_ms") == 0) d = &p->vad_params.speech_pad_ms;
        else if (strcmp(k, "vad_max_speech_s") == 0) d = &p->vad_params.max_speech_duration_s;
        else if (strcmp(k, "hallucination_silence_threshold") == 0) d = &p->hallucination_silence_threshold;
        else if (strcmp(k, "vad") == 0) i = &p->vad;
        else if (strcmp(k, "vad_batched_timestamps") == 0) i = &p->vad_batched_timestamps;
        else if (strcmp(k, "task") == 0) i = (int *)&p->task;
        else if (strcmp(k, "long_form") == 0) i = (int *)&p->long_form;
        else if (strcmp(k, "no_fallback") == 0) i = &p->no_fallback;
        else if (strcmp(k, "beam_size") == 0) i = &p->beam_size;
        else if (strcmp(k, "best_of") == 0) i = &p->best_of;
        else if (strcmp(k, "condition_on_previous_text") == 0) i = &p->condition_on_previous_text;
        else if (strcmp(k, "carry_initial_prompt") == 0) i = &p->carry_initial_prompt;
        else if (strcmp(k, "suppress_blank") == 0) i = &p->suppress_blank;
        else if (strcmp(k, "without_timestamps") == 0) i = &p->without_timestamps;
        else if (strcmp(k, "batch_size") == 0) i = &p->batch_size;
        else if (strcmp(k, "word_timestamps") == 0) i = &p->word_timestamps;
        else {
            PyErr_Format(PyExc_TypeError, "unknown transcription option '%s'", k);
            return -1;
        }
        if (d) {
            double v = PyFloat_AsDouble(value);
            if (v == -1.0 && PyErr_Occurred()) return -1;
            *d = v;
        } else {
            long v = PyLong_AsLong(value);
            if (v == -1 && PyErr_Occurred()) return -1;
            if (v < -1000000 || v > 1000000) {
                PyErr_Format(PyExc_ValueError, "option '%s' = %ld is out of range", k, v);
                return -1;
            }
            *i = (int)v;
        }
    }
    return 0;
}

/* The progress trampoline: runs on the transcribing thread without the GIL.
 * A callback that raises is not called again and its exception is raised
 * when the transcription returns (the C library cannot be stopped midway). */
typedef struct {
    PyObject *callback;
    PyObject *type, *value, *traceback; /* the callback's exception, if any */
} progress_state;

static void progress_trampoline(double done_s, double total_s, void *user)
{
    progress_state *ps = user;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!ps->type) {
        PyObject *r = PyObject_CallFunction(ps->callback, "dd", done_s, total_s);
        if (r) Py_DECREF(r);
        else PyErr_Fetch(&ps->type, &ps->value, &ps->traceback);
    }
    PyGILState_Release(g);
}

/* transcribe(audio, options=None, progress=None) -> Result. audio: a path
 * (str, bytes or os.PathLike) decoded by FFmpeg, or an object exposing a
 * 1-D C-contiguous float32 buffer of 16 kHz mono samples (numpy array,
 * array.array('f'), memoryview). */
static PyObject *Model_transcribe(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "audio", "options", "progress", NULL };
    PyObject *audio, *opts = Py_None, *progress = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:transcribe", names, &audio, &opts, &progress)) return NULL;
    if (!ready(self)) return NULL;
    if (progress != Py_None && !PyCallable_Check(progress)) {
        PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
        return NULL;
    }
    cw_transcribe_params p = cw_transcribe_default_params();
    if (set_options(opts, &p)) return NULL;
    Py_INCREF(opts); /* keeps the option strings alive without the GIL */

    PyObject *path_obj = NULL;
    Py_buffer view = { 0 };
    int have_view = 0;
    if (PyUnicode_Check(audio) || PyBytes_Check(audio) || PyObject_HasAttrString(audio, "__fspath__")) {
        if (!PyUnicode_FSConverter(audio, &path_obj)) goto fail;
    } else {
        if (PyObject_GetBuffer(audio, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        have_view = 1;
        const char *f = view.format ? view.format : "B";
        if (*f == '<' || *f == '=' || *f == '@') f++;
        if (view.ndim != 1 || view.itemsize != (Py_ssize_t)sizeof(float) || strcmp(f, "f") != 0) {
            PyErr_SetString(PyExc_TypeError, "audio samples must be a 1-D contiguous float32 array (16 kHz mono)");
            goto fail;
        }
    }
    progress_state ps = { .callback = progress };
    if (progress != Py_None) {
        p.progress = progress_trampoline;
        p.progress_user = &ps;
    }
    cw_result *r = NULL;
    cw_status s;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    if (path_obj) s = cw_transcribe_file(self->ctx, PyBytes_AS_STRING(path_obj), &p, &r);
    else s = cw_transcribe_pcm(self->ctx, view.buf, (size_t)view.len / sizeof(float), &p, &r);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    if (ps.type) {
        cw_result_free(r);
        PyErr_Restore(ps.type, ps.value, ps.traceback);
        goto fail;
    }
    if (s) {
        raise_status(s);
        goto fail;
    }
    Py_XDECREF(path_obj);
    if (have_view) PyBuffer_Release(&view);
    Py_DECREF(opts);
    ResultObject *out = PyObject_New(ResultObject, &ResultType);
    if (!out) {
        cw_result_free(r);
        return NULL;
    }
    out->r = r;
    return (PyObject *)out;
fail:
    Py_XDECREF(path_obj);
    if (have_view) PyBuffer_Release(&view);
    Py_DECREF(opts);
    return NULL;
}

/* CW_HAVE_TRANSCRIBE_FILES: python/CMakeLists.txt found cw_transcribe_files_cb
 * in cwhisper.h (the lockstep entry point, added on its own branch); without
 * it Model has no transcribe_files and the Python layer loops over files. The
 * condition can go once both are on main. */
#ifdef CW_HAVE_TRANSCRIBE_FILES
/* What cw_transcribe_files_cb reports per file, kept without the GIL (the
 * done callback runs on the transcribing thread): the result, or the status
 * and a copy of cw_last_error() taken during the failing file's call. */
typedef struct {
    cw_result **results; /* [n] */
    cw_status *statuses; /* [n] */
    char **errors;       /* [n] malloc'ed messages of failed files */
} files_state;

static void files_done(size_t i, cw_status s, cw_result *r, void *user)
{
    files_state *fs = user;
    fs->results[i] = r;
    fs->statuses[i] = s;
    if (s) fs->errors[i] = strdup(cw_last_error());
}

/* An exception instance (not raised) for a failed file. */
static PyObject *status_exception(cw_status s, const char *msg)
{
    PyObject *exc = PyObject_CallFunction(CwhisperError, "s", msg ? msg : cw_status_string(s));
    if (!exc) return NULL;
    PyObject *code = PyLong_FromLong((long)s), *name = PyUnicode_FromString(cw_status_string(s));
    int bad = !code || !name || PyObject_SetAttrString(exc, "status", code) < 0 ||
              PyObject_SetAttrString(exc, "status_name", name) < 0;
    Py_XDECREF(code);
    Py_XDECREF(name);
    if (bad) Py_CLEAR(exc);
    return exc;
}

/* transcribe_files(paths, options=None, progress=None) -> list of Result or
 * CwhisperError instances, in order: cw_transcribe_files_cb, so that with
 * options["batch_size"] = N > 1 in the sequential mode N files run in
 * lockstep (each result equal to transcribing that file alone). A failing
 * file does not stop the others; its entry is the exception, not raised. */
static PyObject *Model_transcribe_files(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "paths", "options", "progress", NULL };
    PyObject *seq, *opts = Py_None, *progress = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:transcribe_files", names, &seq, &opts, &progress)) return NULL;
    if (!ready(self)) return NULL;
    if (progress != Py_None && !PyCallable_Check(progress)) {
        PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "paths must be a sequence of paths");
    if (!fast) return NULL;
    size_t n = (size_t)PySequence_Fast_GET_SIZE(fast);
    cw_transcribe_params p = cw_transcribe_default_params();
    PyObject *out = NULL, **bytes = calloc(n ? n : 1, sizeof *bytes);
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    files_state fs = { calloc(n ? n : 1, sizeof *fs.results), calloc(n ? n : 1, sizeof *fs.statuses),
                       calloc(n ? n : 1, sizeof *fs.errors) };
    if (!bytes || !paths || !fs.results || !fs.statuses || !fs.errors) {
        PyErr_NoMemory();
        goto done;
    }
    if (set_options(opts, &p)) goto done;
    for (size_t i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(fast, (Py_ssize_t)i), &bytes[i])) goto done;
        paths[i] = PyBytes_AS_STRING(bytes[i]);
    }
    progress_state ps = { .callback = progress };
    if (progress != Py_None) {
        p.progress = progress_trampoline;
        p.progress_user = &ps;
    }
    cw_status s;
    Py_INCREF(opts);
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    s = cw_transcribe_files_cb(self->ctx, paths, n, &p, files_done, &fs);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(opts);
    if (ps.type) {
        PyErr_Restore(ps.type, ps.value, ps.traceback);
        goto done;
    }
    if (s) {
        raise_status(s);
        goto done;
    }
    if (!(out = PyList_New((Py_ssize_t)n))) goto done;
    for (size_t i = 0; i < n; i++) {
        PyObject *item;
        if (fs.results[i]) {
            ResultObject *r = PyObject_New(ResultObject, &ResultType);
            if (r) {
                r->r = fs.results[i];
                fs.results[i] = NULL;
            }
            item = (PyObject *)r;
        } else {
            item = status_exception(fs.statuses[i] ? fs.statuses[i] : CW_ERR_INTERNAL, fs.errors[i]);
        }
        if (!item) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
done:
    for (size_t i = 0; i < n; i++) {
        if (bytes) Py_XDECREF(bytes[i]);
        if (fs.results) cw_result_free(fs.results[i]);
        if (fs.errors) free(fs.errors[i]);
    }
    free(bytes);
    free(paths);
    free(fs.results);
    free(fs.statuses);
    free(fs.errors);
    Py_DECREF(fast);
    return out;
}
#endif

static PyObject *Model_describe(ModelObject *self, PyObject *Py_UNUSED(arg))
{
    if (!ready(self)) return NULL;
    char buf[2048];
    cw_model_describe(self->model, buf, sizeof buf);
    return utf8(buf);
}

static PyObject *Model_kernels(ModelObject *self, PyObject *Py_UNUSED(arg))
{
    if (!ready(self)) return NULL;
    char buf[1024];
    cw_context_describe(self->ctx, buf, sizeof buf);
    return utf8(buf);
}

static PyObject *Model_multilingual(ModelObject *self, void *Py_UNUSED(c))
{
    if (!ready(self)) return NULL;
    return PyBool_FromLong(cw_model_get_kind(self->model) != CW_MODEL_ENGLISH_ONLY);
}

static PyMethodDef Model_methods[] = {
    { "transcribe", (PyCFunction)(void (*)(void))Model_transcribe, METH_VARARGS | METH_KEYWORDS,
      "transcribe(audio, options=None, progress=None) -> Result (GIL released while it runs)" },
#ifdef CW_HAVE_TRANSCRIBE_FILES
    { "transcribe_files", (PyCFunction)(void (*)(void))Model_transcribe_files, METH_VARARGS | METH_KEYWORDS,
      "transcribe_files(paths, options=None, progress=None) -> list of Result or CwhisperError (not raised); "
      "options['batch_size'] = N > 1 (sequential): N files in lockstep" },
#endif
    { "describe", (PyCFunction)Model_describe, METH_NOARGS,
      "describe() -> str: kind, dimensions, dtypes, vocabulary, memory" },
    { "kernels", (PyCFunction)Model_kernels, METH_NOARGS, "kernels() -> str: the kernels the context runs" },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Model_getset[] = {
    { "multilingual", (getter)Model_multilingual, NULL, "True for multilingual models", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cwhisper._core.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Model(path, dtype='fp32', threads=0): a loaded model directory and one context.",
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_init = (initproc)Model_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------ */
/* Module                                                                    */

static PyObject *mod_version(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(arg))
{
    return PyUnicode_FromString(cw_version());
}

/* load_audio(path) -> bytes of float32 samples, mono 16 kHz (cw_audio_load). */
static PyObject *mod_load_audio(PyObject *Py_UNUSED(m), PyObject *arg)
{
    PyObject *path_obj;
    if (!PyUnicode_FSConverter(arg, &path_obj)) return NULL;
    float *samples = NULL;
    size_t n = 0;
    cw_status s;
    Py_BEGIN_ALLOW_THREADS
    s = cw_audio_load(PyBytes_AS_STRING(path_obj), &samples, &n);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (s) return raise_status(s);
    PyObject *out = PyBytes_FromStringAndSize((const char *)samples, (Py_ssize_t)(n * sizeof(float)));
    free(samples);
    return out;
}

static PyMethodDef module_methods[] = {
    { "version", mod_version, METH_NOARGS, "version() -> the library's version string" },
    { "load_audio", mod_load_audio, METH_O,
      "load_audio(path) -> bytes: float32 mono 16 kHz samples of any file FFmpeg reads" },
    { NULL, NULL, 0, NULL }
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "cwhisper._core", "Binding of the cwhisper C library (include/cwhisper.h).", -1,
    module_methods, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__core(void)
{
    if (PyType_Ready(&ResultType) < 0 || PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    CwhisperError = PyErr_NewExceptionWithDoc(
        "cwhisper.CwhisperError",
        "A cwhisper library call failed: str(e) is cw_last_error(); e.status is the cw_status code and "
        "e.status_name its name.",
        PyExc_RuntimeError, NULL);
    if (!CwhisperError) goto fail;
    Py_INCREF(CwhisperError);
    if (PyModule_AddObject(m, "CwhisperError", CwhisperError) < 0) goto fail;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) goto fail;
    Py_INCREF(&ResultType);
    if (PyModule_AddObject(m, "Result", (PyObject *)&ResultType) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
