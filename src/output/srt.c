/* SubRip subtitles, as openai-whisper's WriteSRT without word timestamps:
 * cues numbered from 1, "HH:MM:SS,mmm" times, stripped text with "-->"
 * turned into "->" so it cannot end the cue's timing line. */
#include "output/output.h"

void cw_write_srt(cw_out *o, const cw_result *r)
{
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        char start[48], end[48];
        cw_out_timestamp(start, sizeof start, s->start, 1, ',');
        cw_out_timestamp(end, sizeof end, s->end, 1, ',');
        cw_out_printf(o, "%zu\n%s --> %s\n", i + 1, start, end);
        cw_out_replace(o, cw_out_strip(s->text), "-->", "->");
        cw_out_str(o, "\n\n");
    }
}
