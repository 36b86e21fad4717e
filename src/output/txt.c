/* Plain text: one stripped segment text per line, as openai-whisper's
 * WriteTXT (print(segment["text"].strip())). */
#include "output/output.h"

void cw_write_txt(cw_out *o, const cw_result *r)
{
    for (size_t i = 0; i < cw_result_n_segments(r); i++) {
        cw_out_span t = cw_out_strip(cw_result_segment(r, i)->text);
        cw_out_bytes(o, t.p, t.n);
        cw_out_str(o, "\n");
    }
}
