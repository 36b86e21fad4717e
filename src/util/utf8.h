/* UTF-8 helpers that follow Python's rules, shared by the decoding results
 * (transcribe.py strips texts) and the output writers (utils.py strips
 * segment texts): strict decoding and str.strip()'s whitespace. */
#ifndef CW_UTIL_UTF8_H
#define CW_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define CW_UTF8_INVALID 0xFFFFFFFFu

/* Decodes the code point at s (n >= 1 bytes left): returns the bytes
 * consumed (>= 1) and sets *cp, or CW_UTF8_INVALID for an ill-formed
 * sequence, consuming its maximal subpart (Unicode table 3-7: no overlong
 * forms, surrogates or code points above U+10FFFF). */
size_t cw_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Python's str.isspace() for one code point. */
int cw_py_isspace(uint32_t cp);

/* Python's str.strip() on s[0..n): the span of s without leading and
 * trailing Unicode whitespace, as *begin and *len. */
void cw_py_strip_span(const char *s, size_t n, size_t *begin, size_t *len);

#endif
