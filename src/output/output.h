/* Internals of src/output/: a write sink with a sticky error flag (so every
 * write is checked without an if after each call), the text and timestamp
 * helpers that reproduce openai-whisper's whisper/utils.py, and one writer
 * function per format. Only output.c and the writers include this. */
#ifndef CW_OUTPUT_OUTPUT_H
#define CW_OUTPUT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cwhisper.h"
#include "util/error.h"

/* Times a result may hold: finite, >= 0 and small enough that the
 * millisecond count is an exact integer in a double and a long long. */
#define CW_OUTPUT_MAX_SECONDS 1e12

/* A stdio stream plus the first failure: writers call cw_out_* freely and the
 * caller checks `failed` once at the end. */
typedef struct {
    FILE *fp;
    int failed; /* non-zero once any write failed; later writes are skipped */
    int err;    /* errno of the first failure (0 if stdio did not set one) */
} cw_out;

void cw_out_bytes(cw_out *o, const char *p, size_t n);
void cw_out_str(cw_out *o, const char *s);
void cw_out_printf(cw_out *o, const char *fmt, ...) CW_PRINTF(2, 3);
/* Marks the sink failed with errno value err (ENOMEM: a writer's scratch). */
void cw_out_fail(cw_out *o, int err);

/* A byte range of a NUL-terminated string (not itself terminated). */
typedef struct {
    const char *p;
    size_t n;
} cw_out_span;

/* Python's str.strip(): drops leading and trailing Unicode whitespace (every
 * code point for which str.isspace() is true). Invalid UTF-8 is kept. */
cw_out_span cw_out_strip(const char *s);

/* Writes s with every non-overlapping `from` replaced by `to`, scanning left
 * to right as Python's str.replace() does. */
void cw_out_replace(cw_out *o, cw_out_span s, const char *from, const char *to);

/* Python's round(seconds * 1000.0): the same double product, rounded half to
 * even. seconds must be in [0, CW_OUTPUT_MAX_SECONDS]. */
long long cw_out_round_ms(double seconds);

/* whisper.utils.format_timestamp: "[HH:]MM:SS<marker>mmm"; hours are written
 * when always_hours is set or they are non-zero. buf holds at least 48 bytes. */
void cw_out_timestamp(char *buf, size_t cap, double seconds, int always_hours, char marker);

/* How srt and vtt differ: timestamps "HH:MM:SS,mmm" or "[HH:]MM:SS.mmm",
 * and srt's cue numbers. */
typedef struct {
    int always_hours;
    char decimal_marker;
    int numbered;
} cw_subtitle_style;

/* The cues of srt and vtt (subtitles.c), each "[N\n]START --> END\nTEXT\n\n",
 * from the segments, or from the words with info's options. */
void cw_write_cues(cw_out *o, const cw_result *r, const cw_output_info *info,
                   const cw_subtitle_style *style);

/* The writers. They only write; output.c checks the sink afterwards. */
void cw_write_txt(cw_out *o, const cw_result *r);
void cw_write_srt(cw_out *o, const cw_result *r, const cw_output_info *info);
void cw_write_vtt(cw_out *o, const cw_result *r, const cw_output_info *info);
void cw_write_tsv(cw_out *o, const cw_result *r);
void cw_write_json(cw_out *o, const cw_result *r, const cw_output_info *info);

#endif
