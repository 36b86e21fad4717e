/* Splitting one window's sampled tokens into segments, exactly as
 * openai/whisper transcribe.py: slices end at each pair of consecutive
 * timestamps (and at the end when the output ends in a single timestamp);
 * without pairs the whole window is one segment ending at the last timestamp
 * (unless that is <|0.00|>) or at the window's end. Also the seek advance:
 * the whole window, or up to the last closed timestamp (the unfinished tail
 * is decoded again in the next window). */
#include "longform/longform.h"

#define INPUT_STRIDE 2                        /* mel frames per output token */
#define TIME_PRECISION (2.0 * 160.0 / 16000.0) /* seconds per timestamp token */

static double ts_time(double time_offset, int32_t tok, int32_t tb)
{
    return time_offset + (double)((long)tok - (long)tb) * TIME_PRECISION;
}

/* Slices at consecutive timestamp pairs. */
static size_t split_consecutive(const int32_t *tokens, size_t n, int32_t tb, double time_offset,
                                size_t segment_size, int single_ending, cw_split_piece *pieces,
                                long *seek_advance)
{
    size_t count = 0, last = 0;
    for (size_t i = 1; i <= n; i++) {
        int cut = i < n ? (tokens[i - 1] >= tb && tokens[i] >= tb) : single_ending;
        if (!cut) continue;
        pieces[count++] = (cw_split_piece){last, i, ts_time(time_offset, tokens[last], tb),
                                           ts_time(time_offset, tokens[i - 1], tb)};
        last = i;
    }
    if (single_ending)
        *seek_advance = (long)segment_size; /* no speech after the last timestamp */
    else
        *seek_advance = ((long)tokens[last - 1] - (long)tb) * INPUT_STRIDE;
    return count;
}

size_t cw_split_window(const int32_t *tokens, size_t n, int32_t tb, double time_offset,
                       size_t segment_size, cw_split_piece *pieces, long *seek_advance)
{
    int single_ending = n >= 2 && tokens[n - 2] < tb && tokens[n - 1] >= tb;
    int any_pair = 0;
    for (size_t i = 1; i < n && !any_pair; i++) any_pair = tokens[i - 1] >= tb && tokens[i] >= tb;
    if (any_pair)
        return split_consecutive(tokens, n, tb, time_offset, segment_size, single_ending,
                                 pieces, seek_advance);
    double duration = (double)(segment_size * 160) / 16000.0;
    for (size_t i = n; i-- > 0;) {
        if (tokens[i] < tb) continue;
        if (tokens[i] != tb) duration = (double)(tokens[i] - tb) * TIME_PRECISION;
        break; /* only the last timestamp counts */
    }
    pieces[0] = (cw_split_piece){0, n, time_offset, time_offset + duration};
    *seek_advance = (long)segment_size;
    return 1;
}
