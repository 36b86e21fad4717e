/* The adapter from the real tokenizer (src/tokenizer/) to the cw_text_codec
 * callbacks the search and the long-form loop use (kept apart so that code
 * and tests using a fake codec do not link the tokenizer). */
#include "decode/decode.h"

static cw_status tok_decode(void *ctx, const int32_t *ids, size_t n, char **text)
{
    return cw_tokenizer_decode((const cw_tokenizer *)ctx, ids, n, text);
}

static cw_status tok_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n_ids)
{
    return cw_tokenizer_encode((const cw_tokenizer *)ctx, text, len, ids, n_ids);
}

static cw_status tok_decode_all(void *ctx, const int32_t *ids, size_t n, char **text)
{
    return cw_tokenizer_decode_with_timestamps((const cw_tokenizer *)ctx, ids, n, text);
}

cw_text_codec cw_text_codec_tokenizer(const cw_tokenizer *tok)
{
    cw_text_codec c = {(void *)tok, tok_decode, tok_encode, tok_decode_all};
    return c;
}
