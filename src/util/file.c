/* File reading and mapping. */

#include "util/file.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static cw_status read_fd(int fd, const char *path, size_t size, unsigned char *buf)
{
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return cw_error(CW_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        }
        if (r == 0) return cw_error(CW_ERR_IO, "%s: file shrank while reading", path);
        got += (size_t)r;
    }
    return CW_OK;
}

static cw_status open_regular(const char *path, int *fd_out, size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cw_error(CW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return cw_error(CW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return cw_error(CW_ERR_IO, "%s: is a directory, expected a file", path);
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return CW_OK;
}

cw_status cw_file_map_open(const char *path, cw_file_map *map)
{
    memset(map, 0, sizeof *map);
    int fd;
    size_t size;
    cw_status s = open_regular(path, &fd, &size);
    if (s) return s;
    if (size > 0) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            close(fd);
            map->data = p;
            map->size = size;
            map->mapped = 1;
            return CW_OK;
        }
    }
    unsigned char *buf = cw_malloc(size + 1);
    if (!buf) {
        close(fd);
        return CW_ERR_NOMEM;
    }
    s = read_fd(fd, path, size, buf);
    close(fd);
    if (s) {
        free(buf);
        return s;
    }
    map->data = buf;
    map->size = size;
    map->mapped = 0;
    return CW_OK;
}

void cw_file_map_close(cw_file_map *map)
{
    if (!map->data) return;
    if (map->mapped) munmap((void *)map->data, map->size);
    else free((void *)map->data);
    memset(map, 0, sizeof *map);
}

cw_status cw_file_read_all(const char *path, size_t max_len, char **data, size_t *len)
{
    int fd;
    size_t size;
    cw_status s = open_regular(path, &fd, &size);
    if (s) return s;
    if (max_len && size > max_len) {
        close(fd);
        return cw_error(CW_ERR_FORMAT, "%s: file is %zu bytes, more than the %zu expected", path,
                        size, max_len);
    }
    char *buf = cw_malloc(size + 1);
    if (!buf) {
        close(fd);
        return CW_ERR_NOMEM;
    }
    s = read_fd(fd, path, size, (unsigned char *)buf);
    close(fd);
    if (s) {
        free(buf);
        return s;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return CW_OK;
}

char *cw_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = cw_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t n = a;
    if (n > 0 && p[n - 1] != '/') p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return p;
}

int cw_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cw_path_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}
