/* openai-whisper's EnglishNumberNormalizer (whisper/normalizers/english.py):
 * spelled-out numbers to digits, on code-point strings. */
#ifndef CW_EVAL_NUMBERS_H
#define CW_EVAL_NUMBERS_H

#include "eval/ucd.h"

/* Appends the normalised form of in[0..n) to out (preprocess, the word state
 * machine, postprocess). Allocation failure sets out->oom. */
void cw_numbers_normalize(cw_u32str *out, const uint32_t *in, size_t n);

#endif
