#ifndef ARCA_CPCRE2_SHIM_H
#define ARCA_CPCRE2_SHIM_H
// Arca works on bytes: the 8-bit code unit library, never PCRE2_UTF (invalid UTF-8 would error).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

// Swift cannot import the cast-based PCRE2_UNSET macro.
static inline PCRE2_SIZE arca_pcre2_unset(void) { return PCRE2_UNSET; }
#endif
