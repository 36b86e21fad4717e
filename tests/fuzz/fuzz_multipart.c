/* libFuzzer target: the server's multipart/form-data parser. The input's
 * first line is the Content-Type header value, the rest the body; the body
 * is copied to an exact-size buffer so ASan sees any read past its end.
 * The parser lives in the program, not the library, so it is compiled in
 * here directly (build.sh links only src/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/serve/multipart.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    size_t hl = nl ? (size_t)(nl - data) : 0;
    char ct[257];
    memcpy(ct, data, hl);
    ct[hl] = '\0';
    const uint8_t *b = nl ? nl + 1 : data;
    size_t len = size - (size_t)(b - data);
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, b, len);
    char boundary[MP_BOUNDARY_MAX + 1];
    const char *err = NULL;
    if (mp_boundary(ct, boundary, &err) != 0) strcpy(boundary, "XX");
    mp_part parts[8];
    size_t n = 0;
    if (mp_parse(body, len, boundary, parts, 8, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            /* Every part lies inside the body, and names are terminated. */
            if (parts[i].data < body || parts[i].data + parts[i].len > body + len) abort();
            if (strlen(parts[i].name) >= MP_NAME_MAX || strlen(parts[i].filename) >= MP_FILENAME_MAX) abort();
        }
        (void)mp_find(parts, n, "file");
    } else if (!err || !*err) {
        abort();
    }
    free(body);
    return 0;
}
