/* The language table: codes in token order (<|en|> is the first language
 * token), full names and aliases exactly as openai-whisper's LANGUAGES and
 * TO_LANGUAGE_CODE (tokenizer.py). Lookups are ASCII case-insensitive, as
 * the reference lower-cases the language before looking it up. */
#include "tokenizer.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    const char *code, *name;
} cw_language;

static const cw_language languages[] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"},
    {"ru", "russian"}, {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"},
    {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"},
    {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"}, {"it", "italian"},
    {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
    {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"},
    {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"},
    {"ta", "tamil"}, {"no", "norwegian"}, {"th", "thai"}, {"ur", "urdu"},
    {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"}, {"la", "latin"},
    {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
    {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"},
    {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"},
    {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"},
    {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"},
    {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
    {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"},
    {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"},
    {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"},
    {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"},
    {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"},
    {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"},
    {"bo", "tibetan"}, {"tl", "tagalog"}, {"mg", "malagasy"}, {"as", "assamese"},
    {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"},
    {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
};

/* Extra names the reference accepts (TO_LANGUAGE_CODE minus LANGUAGES). */
static const cw_language aliases[] = {
    {"my", "burmese"}, {"ca", "valencian"}, {"nl", "flemish"}, {"ht", "haitian"},
    {"lb", "letzeburgesch"}, {"ps", "pushto"}, {"pa", "panjabi"}, {"ro", "moldavian"},
    {"ro", "moldovan"}, {"si", "sinhalese"}, {"es", "castilian"}, {"zh", "mandarin"},
};

#define N_LANGUAGES (sizeof languages / sizeof languages[0])
#define N_ALIASES (sizeof aliases / sizeof aliases[0])

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int code_index(const char *code)
{
    for (size_t i = 0; i < N_LANGUAGES; i++)
        if (ieq(code, languages[i].code)) return (int)i;
    return -1;
}

int cw_language_index(const char *code_or_name)
{
    if (!code_or_name) return -1;
    int i = code_index(code_or_name);
    if (i >= 0) return i;
    for (size_t k = 0; k < N_LANGUAGES; k++)
        if (ieq(code_or_name, languages[k].name)) return (int)k;
    for (size_t k = 0; k < N_ALIASES; k++)
        if (ieq(code_or_name, aliases[k].name)) return code_index(aliases[k].code);
    return -1;
}

const char *cw_language_code(int index)
{
    return index >= 0 && (size_t)index < N_LANGUAGES ? languages[index].code : NULL;
}

const char *cw_language_name(int index)
{
    return index >= 0 && (size_t)index < N_LANGUAGES ? languages[index].name : NULL;
}

int cw_language_count_table(void)
{
    return (int)N_LANGUAGES;
}

const char *cw_language_full_name(const char *code_or_name)
{
    return cw_language_name(cw_language_index(code_or_name));
}
