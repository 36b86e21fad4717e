/* Unicode character data for the text normalisers, as Python sees it: the
 * generated tables (ucd_tables.c, made by gen_tables.py) and the lookups,
 * case mapping and NFKD/NFKC normalisation built on them. Strings here are
 * arrays of code points (cw_u32str) so each regex step is a simple scan. */
#ifndef CW_EVAL_UCD_H
#define CW_EVAL_UCD_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t lo, hi; } cw_uc_range;
typedef struct { uint32_t lo, hi; uint8_t value; } cw_uc_digit_range; /* value of lo */
typedef struct { uint32_t lo; uint8_t cls; } cw_uc_class_run;         /* run starts at lo */
typedef struct { uint32_t cp; uint16_t off; uint8_t len; } cw_uc_map;  /* into *_data */
typedef struct { uint32_t lo, hi; uint8_t ccc; } cw_uc_ccc_range;
typedef struct { uint32_t a, b, c; } cw_uc_pair;                       /* a + b -> c */

extern const cw_uc_range cw_uc_word[], cw_uc_space[], cw_uc_sigma_cased[], cw_uc_sigma_ignorable[];
extern const size_t cw_uc_word_n, cw_uc_space_n, cw_uc_sigma_cased_n, cw_uc_sigma_ignorable_n;
extern const cw_uc_digit_range cw_uc_digit[];
extern const size_t cw_uc_digit_n;
extern const cw_uc_class_run cw_uc_class[];
extern const size_t cw_uc_class_n;
extern const cw_uc_map cw_uc_lower[], cw_uc_nfkd[];
extern const uint32_t cw_uc_lower_data[], cw_uc_nfkd_data[];
extern const size_t cw_uc_lower_n, cw_uc_nfkd_n;
extern const cw_uc_ccc_range cw_uc_ccc[];
extern const size_t cw_uc_ccc_n;
extern const cw_uc_pair cw_uc_compose[];
extern const size_t cw_uc_compose_n;

/* A growable code-point string. Appends never fail loudly: on allocation
 * failure `oom` is set and later appends do nothing, so a whole step can be
 * written straight and checked once at its end. */
typedef struct {
    uint32_t *s; /* [len] code points, capacity cap */
    size_t len, cap;
    int oom;
} cw_u32str;

void cw_u32_push(cw_u32str *b, uint32_t cp);
void cw_u32_append(cw_u32str *b, const uint32_t *cps, size_t n);
void cw_u32_append_ascii(cw_u32str *b, const char *ascii);
void cw_u32_free(cw_u32str *b);

/* Decodes UTF-8 (an invalid byte becomes U+FFFD, as errors="replace" would)
 * and encodes back; cw_u32_to_utf8 returns a malloc'ed string or NULL. */
void cw_u32_from_utf8(cw_u32str *b, const char *s, size_t n);
char *cw_u32_to_utf8(const uint32_t *cps, size_t n);

/* Python re character classes for str patterns: \w, \s (also str.isspace),
 * \d (Unicode decimal digits, category Nd). */
int cw_uc_is_word(uint32_t cp);
int cw_uc_is_space(uint32_t cp);
int cw_uc_is_digit(uint32_t cp);
/* Decimal value of a \d character (as int() reads it); -1 otherwise. */
int cw_uc_digit_value(uint32_t cp);

enum { CW_UC_KEEP = 0, CW_UC_MN = 1, CW_UC_MSP = 2 };
/* CW_UC_MN for category Mn, CW_UC_MSP for other M*, S*, P*, else CW_UC_KEEP. */
int cw_uc_symbol_class(uint32_t cp);

/* str.lower(): full lower-case mapping with the Final_Sigma rule. */
void cw_uc_lower_str(cw_u32str *out, const uint32_t *in, size_t n);
/* unicodedata.normalize("NFKD" / "NFKC", ...). */
void cw_uc_nfkd_str(cw_u32str *out, const uint32_t *in, size_t n);
void cw_uc_nfkc_str(cw_u32str *out, const uint32_t *in, size_t n);

#endif
