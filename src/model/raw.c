/* The raw variable list shared by the file parsers: append, sort, look up. */
#include "model/model.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

cw_status cw_raw_add(cw_raw_file *f, const char *name, size_t name_len, const cw_raw_var *v)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        cw_raw_var *p = cw_realloc(f->vars, cap * sizeof *p);
        if (!p) return CW_ERR_NOMEM;
        f->vars = p;
        f->cap = cap;
    }
    char *copy = cw_malloc(name_len + 1);
    if (!copy) return CW_ERR_NOMEM;
    memcpy(copy, name, name_len);
    copy[name_len] = '\0';
    f->vars[f->n] = *v;
    f->vars[f->n].name = copy;
    f->n++;
    return CW_OK;
}

static int cmp_var(const void *a, const void *b)
{
    return strcmp(((const cw_raw_var *)a)->name, ((const cw_raw_var *)b)->name);
}

cw_status cw_raw_finish(cw_raw_file *f, const char *name)
{
    if (f->n > 1) qsort(f->vars, f->n, sizeof *f->vars, cmp_var);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->vars[i - 1].name, f->vars[i].name) == 0)
            return cw_error(CW_ERR_FORMAT, "%s: variable '%s' appears twice", name, f->vars[i].name);
    return CW_OK;
}

const cw_raw_var *cw_raw_find(const cw_raw_file *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->vars[mid].name);
        if (c == 0) return &f->vars[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

void cw_raw_free(cw_raw_file *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->vars[i].name);
    free(f->vars);
    memset(f, 0, sizeof *f);
}
