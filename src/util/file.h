/* Reading files: whole-file reads for small text files, read-only memory maps
 * for weights. Errors name the path. */
#ifndef CW_UTIL_FILE_H
#define CW_UTIL_FILE_H

#include <stddef.h>
#include "cwhisper.h"

typedef struct {
    const unsigned char *data; /* [size] bytes, read-only */
    size_t size;
    int mapped; /* 1: munmap on close; 0: free on close */
} cw_file_map;

/* Maps path read-only (falls back to reading it when mmap fails). An empty file
 * gives size 0 and a non-NULL data pointer. */
cw_status cw_file_map_open(const char *path, cw_file_map *map);
void cw_file_map_close(cw_file_map *map);

/* Reads the whole file into a malloc'ed buffer with a NUL appended (not counted
 * in *len). max_len caps the size accepted (0: no cap). */
cw_status cw_file_read_all(const char *path, size_t max_len, char **data, size_t *len);

/* Joins dir and name with one '/'; malloc'ed, NULL on failure (error set). */
char *cw_path_join(const char *dir, const char *name);

/* 1 if path names an existing regular file, 0 otherwise. */
int cw_file_exists(const char *path);

/* Basename of a path without copying (pointer into path). */
const char *cw_path_basename(const char *path);

#endif
