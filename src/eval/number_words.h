/* Vocabulary of EnglishNumberNormalizer (which dictionary a word belongs to)
 * and the decimal-string arithmetic that stands in for Python's unbounded
 * ints ("decillion decillion" is 10^66, so no C integer type would do). */
#ifndef CW_EVAL_NUMBER_WORDS_H
#define CW_EVAL_NUMBER_WORDS_H

#include "eval/ucd.h"

/* The dictionaries of english.py, in the order process_words tests them. */
typedef enum {
    NW_NONE, NW_ZERO, NW_ONE, NW_ONE_SUF, NW_TEN, NW_TEN_SUF, NW_MULT, NW_MULT_SUF,
    NW_PRE_PREFIX, NW_FOLLOW_PREFIX, NW_SUFFIXER, NW_SPECIAL
} cw_nw_kind;

typedef struct {
    cw_nw_kind kind;
    int value;          /* ONE*, TEN*: the number; MULT*: the power of ten */
    const char *suffix; /* *_SUF: "s", "st", "nd", "rd" or "th" */
    uint32_t symbol;    /* *PREFIX: '-', '+', '$', ... */
    const char *name;   /* the word itself (ASCII) */
} cw_nw_info;

/* Classifies a word; kind NW_NONE when it is in no dictionary (self.words). */
cw_nw_info cw_nw_classify(const uint32_t *w, size_t n);
/* Word equals the ASCII string. */
int cw_nw_eq(const uint32_t *w, size_t n, const char *ascii);

/* ^\d+(\.\d+)?$ with Unicode \d. */
int cw_nw_is_numeric(const uint32_t *w, size_t n);

/* Fraction(s) for the strings process_words can build (digits with at most
 * one '.', or ".5"), multiplied by 10^pow10. Returns 1 and appends the ASCII
 * numerator to out when the product is an integer; 0 when s is not a
 * fraction or the product is not whole. */
int cw_nw_fraction_times_pow10(const uint32_t *s, size_t n, int pow10, cw_u32str *out);

/* Decimal strings of non-negative integers (ASCII digits, canonical). */
int cw_big_mod100(const cw_u32str *v);
void cw_big_add_small(cw_u32str *v, unsigned k);
/* value // 1000 * 1000 + (value % 1000) * 10^pow10, in place. */
void cw_big_scale_residual(cw_u32str *v, int pow10);
int cw_big_is_zero(const cw_u32str *v);

#endif
