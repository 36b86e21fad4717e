/* Tab-separated values, as openai-whisper's WriteTSV: a "start end text"
 * header, times as integer milliseconds (so no locale can turn the decimal
 * point into a comma), stripped text with tabs replaced by spaces. */
#include "output/output.h"

void cw_write_tsv(cw_out *o, const cw_result *r)
{
    cw_out_str(o, "start\tend\ttext\n");
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        const cw_segment *s = cw_result_segment(r, i);
        cw_out_printf(o, "%lld\t%lld\t", cw_out_round_ms(s->start), cw_out_round_ms(s->end));
        cw_out_replace(o, cw_out_strip(s->text), "\t", " ");
        cw_out_str(o, "\n");
    }
}
