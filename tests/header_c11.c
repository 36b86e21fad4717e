/* Compiled with -std=c11 -pedantic -Werror: the public header stands alone. */
#include "cwhisper.h"
int cw_header_compiles(void) { return CW_OK; }
