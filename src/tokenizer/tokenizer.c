/* The tokenizer object: special ids per model kind, validation of the token
 * strings read from a file (GPT-2 byte-level unicode back to raw bytes), the
 * bytes -> rank hash table, token bytes, and decoding to UTF-8 with Python's
 * errors="replace" behaviour. Encoding lives in encode.c, file formats in
 * vocab_load.c. */
#include "tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"
#include "util/error.h"

#define N_TIMESTAMPS 1501
#define MULTILINGUAL_EMPTY_ID 50256 /* multilingual.tiktoken's rank for b"" */
#define SPECIAL_NAME_MAX 32

int cw_special_tokens_for(int n_vocab, cw_special_tokens *sp)
{
    memset(sp, 0, sizeof *sp);
    if (n_vocab == 51864) { sp->n_text = 50256; sp->n_languages = 99; }
    else if (n_vocab == 51865) { sp->n_text = 50257; sp->n_languages = 99; sp->multilingual = 1; }
    else if (n_vocab == 51866) { sp->n_text = 50257; sp->n_languages = 100; sp->multilingual = 1; }
    else return -1;
    /* Order of get_encoding()'s specials list: eot, sot, languages, then six
     * task/control tokens, then the timestamps. */
    sp->eot = sp->n_text;
    sp->sot = sp->eot + 1;
    sp->lang_begin = sp->sot + 1;
    sp->translate = sp->lang_begin + sp->n_languages;
    sp->transcribe = sp->translate + 1;
    sp->startoflm = sp->translate + 2;
    sp->startofprev = sp->translate + 3;
    sp->nospeech = sp->translate + 4;
    sp->notimestamps = sp->translate + 5;
    sp->timestamp_begin = sp->translate + 6;
    sp->n_vocab = sp->timestamp_begin + N_TIMESTAMPS;
    return sp->n_vocab == n_vocab ? 0 : -1;
}

/* Canonical text of special id (openai-whisper's names); alt gets the older
 * Hugging Face spelling where one exists (<|nocaptions|>, <|iw|>), else "". */
static void special_name(const cw_special_tokens *sp, int32_t id, char *buf, char *alt)
{
    alt[0] = '\0';
    if (id >= sp->timestamp_begin) {
        /* Same expression as the reference: f"<|{i * 0.02:.2f}|>". */
        snprintf(buf, SPECIAL_NAME_MAX, "<|%.2f|>", (id - sp->timestamp_begin) * 0.02);
        return;
    }
    if (id >= sp->lang_begin && id < sp->translate) {
        const char *code = cw_language_code(id - sp->lang_begin);
        snprintf(buf, SPECIAL_NAME_MAX, "<|%s|>", code);
        if (strcmp(code, "he") == 0) strcpy(alt, "<|iw|>");
        return;
    }
    const char *s = id == sp->eot ? "<|endoftext|>"
                  : id == sp->sot ? "<|startoftranscript|>"
                  : id == sp->translate ? "<|translate|>"
                  : id == sp->transcribe ? "<|transcribe|>"
                  : id == sp->startoflm ? "<|startoflm|>"
                  : id == sp->startofprev ? "<|startofprev|>"
                  : id == sp->nospeech ? "<|nospeech|>" : "<|notimestamps|>";
    if (id == sp->nospeech) strcpy(alt, "<|nocaptions|>");
    strcpy(buf, s);
}

/* GPT-2's bytes_to_unicode, inverted: the code point a byte-level string uses
 * for a byte, back to the byte; -1 outside the 256-character alphabet. */
static int byte_of_codepoint(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp < 256 || cp >= 256 + 68) return -1;
    uint32_t k = cp - 256; /* k-th byte not printable: 0..32, 127..160, 173 */
    if (k < 33) return (int)k;
    if (k < 67) return (int)(127 + k - 33);
    return 173;
}

/* A file's string, made safe for a one-line message (at most 40 bytes). */
static void sanitize(const char *s, size_t len, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < cap && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c < 0x20 || c == 0x7F || c == '"') ? '?' : (char)c;
    }
    if (len > 40 && j + 4 < cap) { memcpy(out + j, "...", 3); j += 3; }
    out[j] = '\0';
}

/* Writes the raw bytes of byte-level string s to out (*n_out of them); an
 * error naming the token if s is not UTF-8 or leaves the alphabet. */
static cw_status byte_level_decode(const char *name, size_t id, const char *s, size_t len,
                                   char *out, size_t *n_out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t bad = 0, k = cw_utf8_next((const unsigned char *)s + i, len - i, &cp, &bad);
        int b = k ? byte_of_codepoint(cp) : -1;
        if (b < 0) {
            char shown[64];
            sanitize(s, len, shown, sizeof shown);
            if (!k) return cw_error(CW_ERR_FORMAT, "%s: token %zu \"%s\" is not valid UTF-8", name, id, shown);
            return cw_error(CW_ERR_FORMAT, "%s: token %zu \"%s\" has U+%04X, outside the byte-level alphabet",
                            name, id, shown, (unsigned)cp);
        }
        out[n++] = (char)b;
        i += k;
    }
    *n_out = n;
    return CW_OK;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

int32_t cw_tokenizer_lookup(const cw_tokenizer *tok, const char *s, size_t len)
{
    for (size_t h = (size_t)hash_bytes(s, len) & tok->mask;; h = (h + 1) & tok->mask) {
        int32_t id = tok->slots[h];
        if (id < 0) return -1;
        size_t o = tok->offs[id];
        if (tok->offs[id + 1] - o == len && memcmp(tok->pool + o, s, len) == 0) return id;
    }
}

/* Builds the bytes -> id table over the plain tokens. A byte string given
 * twice is refused, as tiktoken refuses it: encoding would depend on which id
 * won, and such a file is corrupt (no Whisper vocabulary repeats a token). */
static cw_status build_hash(cw_tokenizer *tok, const char *name)
{
    size_t n = (size_t)tok->sp.n_text, cap = 1;
    while (cap < 2 * n) cap <<= 1;
    tok->slots = cw_malloc(cap * sizeof *tok->slots);
    if (!tok->slots) return CW_ERR_NOMEM;
    memset(tok->slots, 0xFF, cap * sizeof *tok->slots); /* all -1 */
    tok->mask = cap - 1;
    for (size_t id = 0; id < n; id++) {
        const char *s = tok->pool + tok->offs[id];
        size_t len = tok->offs[id + 1] - tok->offs[id];
        if (len == 0) continue;
        int32_t first = cw_tokenizer_lookup(tok, s, len);
        if (first >= 0) {
            char shown[64];
            sanitize(s, len, shown, sizeof shown);
            return cw_error(CW_ERR_FORMAT, "%s: tokens %d and %zu are both \"%s\" (duplicate token)", name,
                            (int)first, id, shown);
        }
        size_t h = (size_t)hash_bytes(s, len) & tok->mask;
        while (tok->slots[h] >= 0) h = (h + 1) & tok->mask;
        tok->slots[h] = (int32_t)id;
    }
    /* BPE starts from single bytes, so every byte must be a token. */
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (cw_tokenizer_lookup(tok, &c, 1) < 0)
            return cw_error(CW_ERR_FORMAT, "%s: no token for the byte 0x%02X", name, (unsigned)b);
    }
    return CW_OK;
}

/* Plain token id: its string must be present and in the byte-level alphabet;
 * only the multilingual vocabulary's id 50256 is (and may be absent as) "". */
static cw_status add_plain(cw_tokenizer *tok, const cw_vocab_strings *v, const char *name,
                           size_t id, size_t *pos)
{
    int empty_ok = tok->sp.multilingual && id == MULTILINGUAL_EMPTY_ID;
    size_t n = 0;
    if (!v->str[id] && !empty_ok) return cw_error(CW_ERR_FORMAT, "%s: token %zu is missing", name, id);
    if (v->str[id]) {
        cw_status st = byte_level_decode(name, id, v->str[id], v->len[id], tok->pool + *pos, &n);
        if (st != CW_OK) return st;
    }
    if (n == 0 && !empty_ok) return cw_error(CW_ERR_FORMAT, "%s: token %zu is empty", name, id);
    *pos += n;
    return CW_OK;
}

/* Special id: stored under its canonical name; a file that names it must
 * agree (checks that n_vocab and the file describe the same model kind). */
static cw_status add_special(cw_tokenizer *tok, const cw_vocab_strings *v, const char *name,
                             size_t id, size_t *pos)
{
    char canon[SPECIAL_NAME_MAX], alt[SPECIAL_NAME_MAX];
    special_name(&tok->sp, (int32_t)id, canon, alt);
    const char *s = v->str[id];
    size_t len = v->len[id];
    if (s && !(len == strlen(canon) && memcmp(s, canon, len) == 0) &&
        !(alt[0] && len == strlen(alt) && memcmp(s, alt, len) == 0)) {
        char shown[64];
        sanitize(s, len, shown, sizeof shown);
        return cw_error(CW_ERR_FORMAT, "%s: token %zu is \"%s\", expected \"%s\" for a model with %zu tokens",
                        name, id, shown, canon, v->n_vocab);
    }
    memcpy(tok->pool + *pos, canon, strlen(canon));
    *pos += strlen(canon);
    return CW_OK;
}

static cw_status fill_tokens(cw_tokenizer *tok, const cw_vocab_strings *v, const char *name)
{
    size_t pos = 0;
    for (size_t id = 0; id < tok->n_tokens; id++) {
        tok->offs[id] = pos;
        cw_status st = id < (size_t)tok->sp.n_text ? add_plain(tok, v, name, id, &pos)
                                                    : add_special(tok, v, name, id, &pos);
        if (st != CW_OK) return st;
    }
    tok->offs[tok->n_tokens] = pos;
    return CW_OK;
}

cw_status cw_tokenizer_build(const cw_vocab_strings *v, const char *name, cw_tokenizer **out)
{
    *out = NULL;
    cw_tokenizer *tok = cw_calloc(1, sizeof *tok);
    if (!tok) return CW_ERR_NOMEM;
    if (v->n_vocab > 0x7FFFFFFF || cw_special_tokens_for((int)v->n_vocab, &tok->sp) != 0) {
        free(tok);
        return cw_error(CW_ERR_UNSUPPORTED, "%s: no Whisper model has %zu tokens (51864, 51865 or 51866)",
                        name, v->n_vocab);
    }
    tok->n_tokens = v->n_vocab;
    /* Byte-level strings never decode to more bytes than they have. */
    size_t cap = (tok->n_tokens - (size_t)tok->sp.n_text) * SPECIAL_NAME_MAX;
    for (size_t id = 0; id < (size_t)tok->sp.n_text; id++) cap += v->str[id] ? v->len[id] : 0;
    tok->pool = cw_malloc(cap ? cap : 1);
    tok->offs = cw_malloc((tok->n_tokens + 1) * sizeof *tok->offs);
    cw_status st = tok->pool && tok->offs ? fill_tokens(tok, v, name) : CW_ERR_NOMEM;
    if (st == CW_OK) st = build_hash(tok, name);
    if (st != CW_OK) {
        cw_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return CW_OK;
}

void cw_tokenizer_free(cw_tokenizer *tok)
{
    if (!tok) return;
    free(tok->offs);
    free(tok->pool);
    free(tok->slots);
    free(tok);
}

const cw_special_tokens *cw_tokenizer_specials(const cw_tokenizer *tok)
{
    return &tok->sp;
}

size_t cw_tokenizer_n_text(const cw_tokenizer *tok)
{
    return (size_t)tok->sp.n_text;
}

const char *cw_tokenizer_token_bytes(const cw_tokenizer *tok, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= tok->n_tokens) return NULL;
    *len = tok->offs[id + 1] - tok->offs[id];
    return tok->pool + tok->offs[id];
}

int32_t cw_tokenizer_language_token(const cw_tokenizer *tok, int lang_index)
{
    if (lang_index < 0 || lang_index >= tok->sp.n_languages) return -1;
    return tok->sp.lang_begin + lang_index;
}

/* Copies raw[0..n) to out as UTF-8, each maximal ill-formed subpart becoming
 * U+FFFD (EF BF BD), as CPython's UTF-8 decoder with errors="replace".
 * out must hold 3 * n + 1 bytes (one bad byte grows to three). */
static size_t utf8_replace(const unsigned char *raw, size_t n, char *out)
{
    size_t i = 0, j = 0;
    while (i < n) {
        uint32_t cp;
        size_t bad = 0, k = cw_utf8_next(raw + i, n - i, &cp, &bad);
        if (k) {
            memcpy(out + j, raw + i, k);
            j += k;
            i += k;
        } else {
            memcpy(out + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i += bad;
        }
    }
    out[j] = '\0';
    return j;
}

/* Which ids decode_ids writes: below `limit` (eot: text only; timestamp_begin:
 * text and specials; n_tokens: everything). Ids out of range are an error
 * rather than silently dropped. */
static cw_status decode_ids(const cw_tokenizer *tok, const int32_t *ids, size_t n, int32_t limit,
                            char **text)
{
    *text = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= tok->n_tokens)
            return cw_error(CW_ERR_INVALID_ARG, "decode: token id %ld out of range [0, %zu)", (long)ids[i],
                            tok->n_tokens);
        if (ids[i] < limit) total += tok->offs[ids[i] + 1] - tok->offs[ids[i]];
    }
    size_t cap;
    if (cw_mul_size(total, 3, &cap) != 0 || cap == SIZE_MAX)
        return cw_error(CW_ERR_NOMEM, "decode: %zu bytes is too long", total);
    unsigned char *raw = cw_malloc(total ? total : 1);
    char *out = cw_malloc(cap + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        return CW_ERR_NOMEM;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= limit) continue;
        size_t len = tok->offs[ids[i] + 1] - tok->offs[ids[i]];
        memcpy(raw + pos, tok->pool + tok->offs[ids[i]], len);
        pos += len;
    }
    size_t used = utf8_replace(raw, total, out);
    free(raw);
    char *shrunk = realloc(out, used + 1); /* the 3x bound is rarely needed */
    *text = shrunk ? shrunk : out;
    return CW_OK;
}

cw_status cw_tokenizer_decode(const cw_tokenizer *tok, const int32_t *ids, size_t n, char **text)
{
    return decode_ids(tok, ids, n, tok->sp.eot, text);
}

cw_status cw_tokenizer_decode_with_timestamps(const cw_tokenizer *tok, const int32_t *ids, size_t n,
                                              char **text)
{
    return decode_ids(tok, ids, n, (int32_t)tok->n_tokens, text);
}

cw_status cw_tokenizer_decode_reference(const cw_tokenizer *tok, const int32_t *ids, size_t n, char **text)
{
    return decode_ids(tok, ids, n, tok->sp.timestamp_begin, text);
}
