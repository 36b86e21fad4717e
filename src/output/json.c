/* cwhisper's JSON transcript (not openai-whisper's json.dump of its dict):
 *
 *   {"file", "model", "language", "duration", "text",
 *    "segments": [{"id", "start", "end", "text", "tokens", "avg_logprob",
 *                  "compression_ratio", "no_speech_prob", "temperature",
 *                  "words": [{"word", "start", "end", "probability"}] when present}]}
 *
 * with one segment per line. Numbers are the shortest of %.15g, %.16g and
 * %.17g that reads back as the same double, so every value round-trips
 * exactly (times included: 7.74 is written "7.74", the double nearest 7.74);
 * whole numbers get ".0" as Python writes them; a non-finite value (JSON has
 * none) is written null. Strings escape '"', '\' and control characters
 * (\u00XX), keep other UTF-8 as is, and replace ill-formed UTF-8 with U+FFFD
 * so the file is always valid JSON. info's fields may be NULL: null. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "util/utf8.h"

/* printf's decimal point follows the caller's LC_NUMERIC; JSON needs '.'.
 * %g writes only digits, signs, 'e' and the decimal point, so any other run
 * of bytes is the locale's decimal point. */
static void json_number_text(char *dst, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src[i]; i++) {
        if (strchr("0123456789+-e", src[i])) {
            dst[j++] = src[i];
        } else if (j == 0 || dst[j - 1] != '.') {
            dst[j++] = '.';
        }
    }
    dst[j] = '\0';
    if (!strchr(dst, '.') && !strchr(dst, 'e')) strcat(dst, ".0");
}

static void json_number(cw_out *o, double v)
{
    if (!isfinite(v)) {
        cw_out_str(o, "null");
        return;
    }
    char buf[64], text[72];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break; /* same locale as snprintf */
    }
    json_number_text(text, buf);
    cw_out_str(o, text);
}

/* One character that needs more than copying, at s[0]; returns bytes used. */
static size_t json_escape_one(cw_out *o, const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t used = cw_utf8_decode(s, n, &cp);
    if (cp == CW_UTF8_INVALID) {
        cw_out_str(o, "\xEF\xBF\xBD"); /* U+FFFD */
    } else if (cp == '"' || cp == '\\') {
        cw_out_printf(o, "\\%c", (char)cp);
    } else if (cp < 0x20) {
        cw_out_printf(o, "\\u%04x", (unsigned)cp);
    } else {
        cw_out_bytes(o, (const char *)s, used);
    }
    return used;
}

static void json_string(cw_out *o, const char *str)
{
    if (!str) {
        cw_out_str(o, "null");
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0;
    cw_out_str(o, "\"");
    while (i < n) {
        size_t run = 0; /* plain ASCII is copied in one write */
        while (i + run < n && s[i + run] >= 0x20 && s[i + run] < 0x80 && s[i + run] != '"' &&
               s[i + run] != '\\')
            run++;
        cw_out_bytes(o, str + i, run);
        i += run;
        if (i < n) i += json_escape_one(o, s + i, n - i);
    }
    cw_out_str(o, "\"");
}

static void json_key_number(cw_out *o, const char *key, double v)
{
    cw_out_printf(o, ", \"%s\": ", key);
    json_number(o, v);
}

static void json_segment(cw_out *o, const cw_segment *s)
{
    cw_out_printf(o, "{\"id\": %d", s->id);
    json_key_number(o, "start", s->start);
    json_key_number(o, "end", s->end);
    cw_out_str(o, ", \"text\": ");
    json_string(o, s->text);
    cw_out_str(o, ", \"tokens\": [");
    for (size_t t = 0; t < s->n_tokens; t++) cw_out_printf(o, t ? ", %d" : "%d", s->tokens[t]);
    cw_out_str(o, "]");
    json_key_number(o, "avg_logprob", s->avg_logprob);
    json_key_number(o, "compression_ratio", s->compression_ratio);
    json_key_number(o, "no_speech_prob", s->no_speech_prob);
    json_key_number(o, "temperature", s->temperature);
    if (s->n_words) { /* as openai-whisper's result with word_timestamps=True */
        cw_out_str(o, ", \"words\": [");
        for (size_t i = 0; i < s->n_words; i++) {
            const cw_word *w = &s->words[i];
            cw_out_str(o, i ? ", {\"word\": " : "{\"word\": ");
            json_string(o, w->word);
            json_key_number(o, "start", w->start);
            json_key_number(o, "end", w->end);
            json_key_number(o, "probability", w->probability);
            cw_out_str(o, "}");
        }
        cw_out_str(o, "]");
    }
    cw_out_str(o, "}");
}

void cw_write_json(cw_out *o, const cw_result *r, const cw_output_info *info)
{
    cw_out_str(o, "{\n  \"file\": ");
    json_string(o, info ? info->file : NULL);
    cw_out_str(o, ",\n  \"model\": ");
    json_string(o, info ? info->model : NULL);
    cw_out_str(o, ",\n  \"language\": ");
    json_string(o, cw_result_language(r));
    cw_out_str(o, ",\n  \"duration\": ");
    json_number(o, cw_result_duration(r));
    cw_out_str(o, ",\n  \"text\": ");
    json_string(o, cw_result_text(r));
    cw_out_str(o, ",\n  \"segments\": [");
    size_t n = cw_result_n_segments(r);
    for (size_t i = 0; i < n; i++) {
        cw_out_str(o, i ? ",\n    " : "\n    ");
        json_segment(o, cw_result_segment(r, i));
    }
    cw_out_str(o, n ? "\n  ]\n}\n" : "]\n}\n");
}
