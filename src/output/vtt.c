/* WebVTT subtitles, as openai-whisper's WriteVTT without word timestamps:
 * the "WEBVTT" header, "[HH:]MM:SS.mmm" times (hours only when non-zero),
 * stripped text with "-->" turned into "->". */
#include "output/output.h"

void cw_write_vtt(cw_out *o, const cw_result *r)
{
    cw_out_str(o, "WEBVTT\n\n");
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        char start[48], end[48];
        cw_out_timestamp(start, sizeof start, s->start, 0, '.');
        cw_out_timestamp(end, sizeof end, s->end, 0, '.');
        cw_out_printf(o, "%s --> %s\n", start, end);
        cw_out_replace(o, cw_out_strip(s->text), "-->", "->");
        cw_out_str(o, "\n\n");
    }
}
