/* WebVTT subtitles, as openai-whisper's WriteVTT: the "WEBVTT" header, then
 * cues with "[HH:]MM:SS.mmm" times, hours only when non-zero (subtitles.c
 * makes the cues: from the segments, or from the words with the writer
 * options). */
#include "output/output.h"

void cw_write_vtt(cw_out *o, const cw_result *r, const cw_output_info *info)
{
    static const cw_subtitle_style vtt = { 0, '.', 0 };
    cw_out_str(o, "WEBVTT\n\n");
    cw_write_cues(o, r, info, &vtt);
}
