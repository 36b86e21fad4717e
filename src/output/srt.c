/* SubRip subtitles, as openai-whisper's WriteSRT: cues numbered from 1 with
 * "HH:MM:SS,mmm" times (subtitles.c makes the cues: from the segments, or
 * from the words with the writer options). */
#include "output/output.h"

void cw_write_srt(cw_out *o, const cw_result *r, const cw_output_info *info)
{
    static const cw_subtitle_style srt = { 1, ',', 1 };
    cw_write_cues(o, r, info, &srt);
}
