/* libFuzzer target for the tokenizer: the four vocabulary readers on
 * arbitrary bytes, a full-size vocabulary with one fuzzed token, and
 * encode / decode on a loaded vocabulary with real BPE merges, checking that
 * the tokens of an encoding concatenate back to the input.
 * First input byte picks the mode; the rest is the payload. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const int kinds[3] = {51864, 51865, 51866};

/* Synthetic vocabulary.txt files, built once (one per model kind), and a
 * tokenizer loaded from the first: the harness's cache, not library state. */
static char *vocab_txt[3];
static size_t vocab_len[3];
static cw_tokenizer *cached;

static void append(char **buf, size_t *n, size_t *cap, const char *s)
{
    size_t len = strlen(s);
    if (*n + len + 2 > *cap) {
        *cap = (*n + len + 2) * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf) abort();
    }
    memcpy(*buf + *n, s, len);
    *n += len;
    (*buf)[(*n)++] = '\n';
}

/* Token id of the synthetic vocabulary, in byte-level form: the 256 bytes,
 * then every 2- and 3-letter lower-case word and as many 4-letter words as
 * fit (so BPE has merges to make), then the specials. */
static void token_text(int n_vocab, int id, char *out, size_t cap)
{
    int n_text = n_vocab == 51864 ? 50256 : 50257, n_lang = n_vocab == 51866 ? 100 : 99;
    static const char *const tail[] = {"translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps"};
    if (id < 256) {
        int cp = id;
        if (!((id >= 33 && id <= 126) || (id >= 161 && id <= 172) || (id >= 174 && id <= 255)))
            cp = 256 + (id <= 32 ? id : id <= 160 ? 33 + id - 127 : 67);
        if (cp < 0x80) snprintf(out, cap, "%c", cp);
        else snprintf(out, cap, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
    } else if (id == 50256 && n_text == 50257) {
        out[0] = '\0';
    } else if (id < n_text) {
        int k = id - 256, len = k < 676 ? 2 : k < 676 + 17576 ? 3 : 4;
        k -= len == 2 ? 0 : len == 3 ? 676 : 676 + 17576;
        for (int i = len - 1; i >= 0; i--, k /= 26) out[i] = (char)('a' + k % 26);
        out[len] = '\0';
    } else if (id == n_text) snprintf(out, cap, "<|endoftext|>");
    else if (id == n_text + 1) snprintf(out, cap, "<|startoftranscript|>");
    else if (id < n_text + 2 + n_lang) snprintf(out, cap, "<|%s|>", cw_language_code(id - n_text - 2));
    else if (id < n_text + 8 + n_lang) snprintf(out, cap, "<|%s|>", tail[id - n_text - 2 - n_lang]);
    else snprintf(out, cap, "<|%.2f|>", (id - n_text - 8 - n_lang) * 0.02);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int k = 0; k < 3; k++) {
        size_t cap = 0;
        char tok[64];
        for (int id = 0; id < kinds[k]; id++) {
            token_text(kinds[k], id, tok, sizeof tok);
            append(&vocab_txt[k], &vocab_len[k], &cap, tok);
        }
    }
    if (cw_tokenizer_load_buffer(CW_VOCAB_TXT, vocab_txt[0], vocab_len[0], "synthetic", kinds[0], &cached) != CW_OK) {
        fprintf(stderr, "fuzz_tokenizer: synthetic vocabulary rejected: %s\n", cw_last_error());
        abort();
    }
    return 0;
}

/* Encodes, checks the token bytes give the input back, decodes. */
static void exercise(const cw_tokenizer *t, const uint8_t *data, size_t size)
{
    int32_t *ids = NULL;
    size_t n = 0, pos = 0;
    if (cw_tokenizer_encode(t, (const char *)data, size, &ids, &n) != CW_OK) return;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *b = cw_tokenizer_token_bytes(t, ids[i], &len);
        if (!b || ids[i] >= cw_tokenizer_specials(t)->eot || pos + len > size || memcmp(b, data + pos, len) != 0)
            abort(); /* encoding must be a segmentation of the input */
        pos += len;
    }
    if (pos != size) abort();
    char *text = NULL;
    if (cw_tokenizer_decode(t, ids, n, &text) == CW_OK) free(text);
    free(ids);
    /* The payload as ids (any value; out-of-range ones must be refused). */
    int32_t raw[64];
    size_t k = size / 2 < 64 ? size / 2 : 64;
    for (size_t i = 0; i < k; i++) raw[i] = (int32_t)(data[2 * i] | data[2 * i + 1] << 8) - 4096;
    if (cw_tokenizer_decode_with_timestamps(t, raw, k, &text) == CW_OK) free(text);
    if (cw_tokenizer_decode(t, raw, k, &text) == CW_OK) free(text);
}

/* A full-size vocabulary with the payload as token id (from its first two
 * bytes), up to its first newline. */
static void spliced(const uint8_t *data, size_t size, int kind)
{
    if (size < 2) return;
    int id = (data[0] | data[1] << 8) % kinds[kind];
    const uint8_t *s = data + 2, *nl = memchr(s, '\n', size - 2);
    size_t slen = nl ? (size_t)(nl - s) : size - 2;
    const char *v = vocab_txt[kind], *start = v;
    for (int i = 0; i < id; i++) start = strchr(start, '\n') + 1;
    const char *end = strchr(start, '\n');
    size_t head = (size_t)(start - v), tail = vocab_len[kind] - (size_t)(end - v);
    char *buf = malloc(head + slen + tail);
    if (!buf) return;
    memcpy(buf, v, head);
    memcpy(buf + head, s, slen);
    memcpy(buf + head + slen, end, tail);
    cw_tokenizer *t = NULL;
    if (cw_tokenizer_load_buffer(CW_VOCAB_TXT, buf, head + slen + tail, "fuzz", kinds[kind], &t) == CW_OK) {
        exercise(t, s, slen);
        cw_tokenizer_free(t);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    /* Loading a full-size vocabulary costs ~100 ms under the fuzzer's
     * instrumentation, so the spliced mode gets 1 input in 64. */
    unsigned mode = data[0] % 64, arg = data[1];
    data += 2;
    size -= 2;
    if (mode < 24) {
        /* A whole vocabulary file in any format, for any model kind. */
        cw_tokenizer *t = NULL;
        if (cw_tokenizer_load_buffer((cw_vocab_format)(arg % 4), (const char *)data, size, "fuzz", kinds[(arg / 4) % 3],
                                     &t) == CW_OK) {
            exercise(t, data, size);
            cw_tokenizer_free(t);
        }
    } else if (mode == 24) {
        spliced(data, size, arg % 3);
    } else {
        exercise(cached, data, size);
    }
    return 0;
}
