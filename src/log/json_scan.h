/* json_scan.h - a validating one-pass scanner for the JSON object of a log
 * frame (internal to the log server side of the logger).
 *
 * dp-logserver needs ten fields of a record that carries about twenty;
 * building jansson's tree of every value (a hash table, an allocation per
 * key and value) was most of its time. This scanner walks the text once,
 * validates all of it and notes where the wanted top-level values are,
 * allocating nothing. It accepts exactly what json_loadb(JSON_ALLOW_NUL)
 * parses without an integer overflow: any other input (invalid, or an
 * integer beyond int64, which jansson takes only as a real in a second
 * parse) makes it answer false, and the caller asks jansson. */
#ifndef DP_LOG_JSON_SCAN_H
#define DP_LOG_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "log/textbuf.h"

typedef enum { DP_JSON_ABSENT, DP_JSON_STRING, DP_JSON_NUMBER, DP_JSON_OTHER } dp_json_kind_t;

/* Where a top-level value lies in the scanned text. */
typedef struct dp_json_span {
  const char *raw; /* its JSON text (a string with its quotes) */
  size_t raw_len;
  dp_json_kind_t kind; /* OTHER: true, false, null, an array or an object */
  bool escaped;        /* a string that holds escapes */
} dp_json_span_t;

/* The most keys one scan looks for. */
#define DP_JSON_KEYS_MAX 32

/* Scans `len` bytes that should be one JSON object. Returns true when
 * jansson's json_loadb(json, len, JSON_ALLOW_NUL) would accept it without an
 * integer overflow; then spans[i] is where the value of keys[i] lies (the
 * last one when a key repeats, as in jansson), or DP_JSON_ABSENT. Returns
 * false for anything else (spans are then undefined), and when n_keys
 * exceeds DP_JSON_KEYS_MAX. The key strings must not change while in use
 * (string constants): a table of them is kept per thread for the next call
 * with the same strings. Allocates nothing
 * unless a real number lies at the edge of double's range. */
bool dp_json_scan_object(const char *json, size_t len, const char *const *keys, size_t n_keys,
                         dp_json_span_t *spans);

/* The same without SIMD instructions (what other processors run), for the
 * tests and the fuzzer to compare with dp_json_scan_object. */
bool dp_json_scan_object_portable(const char *json, size_t len, const char *const *keys,
                                  size_t n_keys, dp_json_span_t *spans);

/* Appends the text of a string span (escapes decoded; "\u0000" gives a NUL
 * byte, as in jansson). */
void dp_json_unescape(dp_textbuf_t *b, const dp_json_span_t *s);

#endif
