/* pyformat.h - Python's str(), repr() and `msg % args` for JSON values
 * (internal to the log server side of the logger).
 *
 * A Python producer sends its record's msg unformatted, with the arguments in
 * `args`; the receiving end renders the message the way Python's
 * LogRecord.getMessage() does. These functions do that for the JSON form of
 * the values. */
#ifndef DP_LOG_PYFORMAT_H
#define DP_LOG_PYFORMAT_H

#include <jansson.h>

#include "log/textbuf.h"

/* Appends str(value) (strings as they are; None, True, False; floats in
 * Python's shortest form; lists and dicts as Python prints them). */
void dp_py_str(dp_textbuf_t *b, const json_t *value);

/* Appends repr(value) (strings quoted as Python quotes them). */
void dp_py_repr(dp_textbuf_t *b, const json_t *value);

/* Appends `fmt % args` as Python computes it: args an array is a tuple, an
 * object a mapping for %(key)s, anything else a single value. Supports the
 * conversions d i u o x X e E f F g G c s r a % with flags, width and
 * precision (also *). Returns 0, or -1 with a short reason in `why` (static)
 * when Python would raise (too few or too many arguments, wrong type, bad
 * conversion); then what was appended is incomplete. */
int dp_py_percent(dp_textbuf_t *b, const char *fmt, size_t fmt_len, const json_t *args,
                  const char **why);

#endif
