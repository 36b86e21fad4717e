/* The output entry points: format names, writing a result to a stream, and
 * writing it to a file atomically (a temporary file in the same directory,
 * renamed over the target only once every byte is written and closed), so an
 * interrupted or failed run never leaves a half file or clobbers an old one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/output.h"

static const char *const format_names[] = { "txt", "srt", "vtt", "json", "tsv" };
#define N_FORMATS (sizeof format_names / sizeof format_names[0])

int cw_output_format_from_name(const char *name)
{
    for (size_t i = 0; name && i < N_FORMATS; i++)
        if (strcmp(name, format_names[i]) == 0) return (int)i;
    return -1;
}

const char *cw_output_format_ext(cw_output_format format)
{
    return (size_t)format < N_FORMATS ? format_names[format] : "";
}

static cw_status check_args(const cw_result *result, cw_output_format format,
                            const cw_output_info *info, const void *dest)
{
    if (!result || !dest)
        return cw_error(CW_ERR_INVALID_ARG, "cw_output_write: NULL argument");
    if ((size_t)format >= N_FORMATS)
        return cw_error(CW_ERR_INVALID_ARG, "output format %d is not txt, srt, vtt, json or tsv",
                        (int)format);
    if (info && (info->max_line_width < 0 || info->max_line_count < 0 || info->max_words_per_line < 0))
        return cw_error(CW_ERR_INVALID_ARG, "output: max line width %d, max line count %d or max words "
                        "per line %d is negative", info->max_line_width, info->max_line_count,
                        info->max_words_per_line);
    return CW_OK;
}

/* The status of a failed sink: a writer's allocation, or the I/O. */
static cw_status sink_status(const cw_out *o)
{
    return o->err == ENOMEM ? CW_ERR_NOMEM : CW_ERR_IO;
}

/* Runs the writer for format; the sink records whether a write failed. */
static void write_format(cw_out *o, const cw_result *r, cw_output_format format,
                         const cw_output_info *info)
{
    switch (format) {
    case CW_OUTPUT_TXT: cw_write_txt(o, r); break;
    case CW_OUTPUT_SRT: cw_write_srt(o, r, info); break;
    case CW_OUTPUT_VTT: cw_write_vtt(o, r, info); break;
    case CW_OUTPUT_JSON: cw_write_json(o, r, info); break;
    case CW_OUTPUT_TSV: cw_write_tsv(o, r); break;
    }
}

static const char *reason(int err)
{
    return err ? strerror(err) : "write error";
}

cw_status cw_output_write_stream(const cw_result *result, cw_output_format format,
                                 const cw_output_info *info, void *stream)
{
    cw_status st = check_args(result, format, info, stream);
    if (st != CW_OK) return st;
    cw_out o = { stream, 0, 0 };
    write_format(&o, result, format, info);
    errno = 0;
    if (!o.failed && (fflush(o.fp) != 0 || ferror(o.fp))) o.failed = 1, o.err = errno;
    if (o.failed) return cw_error(sink_status(&o), "output stream: %s", reason(o.err));
    return CW_OK;
}

/* mkstemp creates files as 0600; a transcript should get the permissions any
 * new file gets (0666 less the umask), or the old target's if it exists.
 * The umask is read from /proc because umask() cannot read it without
 * changing it for every thread. Best effort: some file systems refuse chmod,
 * and that must not stop the transcript being written. */
static void set_mode(int fd, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        (void)fchmod(fd, sb.st_mode & 07777);
        return;
    }
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &mask) == 1) break;
        fclose(f);
    }
    (void)fchmod(fd, 0666 & ~(mode_t)mask);
}

/* Writes the result into the open temporary file tmp and closes it; on
 * failure sets the error naming path. */
static cw_status write_temp(int fd, const char *path, const cw_result *r, cw_output_format format,
                            const cw_output_info *info)
{
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int err = errno;
        close(fd);
        return cw_error(CW_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    cw_out o = { fp, 0, 0 };
    write_format(&o, r, format, info);
    errno = 0;
    if (ferror(fp) && !o.failed) o.failed = 1, o.err = errno;
    errno = 0;
    if (fclose(fp) != 0 && !o.failed) o.failed = 1, o.err = errno;
    if (o.failed) return cw_error(sink_status(&o), "%s: cannot write: %s", path, reason(o.err));
    return CW_OK;
}

cw_status cw_output_write_file(const cw_result *result, cw_output_format format,
                               const cw_output_info *info, const char *path)
{
    cw_status st = check_args(result, format, info, path);
    if (st != CW_OK) return st;
    static const char suffix[] = ".tmp.XXXXXX";
    size_t len = strlen(path);
    char *tmp = cw_malloc(len + sizeof suffix);
    if (!tmp) return CW_ERR_NOMEM;
    memcpy(tmp, path, len);
    memcpy(tmp + len, suffix, sizeof suffix);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = cw_error(CW_ERR_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    set_mode(fd, path);
    st = write_temp(fd, path, result, format, info);
    if (st == CW_OK && rename(tmp, path) != 0)
        st = cw_error(CW_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
    if (st != CW_OK) unlink(tmp);
    free(tmp);
    return st;
}
