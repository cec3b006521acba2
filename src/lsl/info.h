/* info.h - converting liblsl stream infos into dp_lsl_stream_info_t and
 * describing what is visible, shared by the stream listing, the
 * StreamWatcher and the outlet. Not installed. */
#ifndef DP_LSL_INFO_H
#define DP_LSL_INFO_H

#include <stddef.h>

#include "dareplane/lsl.h"
#include "lsl/lsl_api.h"

/* Fills *out with owned copies of `src`'s fields. Returns 0 or DP_ENOMEM
 * (then *out holds nothing to free). */
int dp_lsl_info_from(const dp_lsl_api_t *lsl, lsl_streaminfo src, dp_lsl_stream_info_t *out);

/* Frees the strings of one info and zeroes it. */
void dp_lsl_info_clear(dp_lsl_stream_info_t *info);

/* Converts `n` liblsl infos into a new list (*out, *out_n) and destroys the
 * liblsl infos in every case. Returns 0 or DP_ENOMEM. */
int dp_lsl_info_list(const dp_lsl_api_t *lsl, lsl_streaminfo *infos, size_t n,
                     dp_lsl_stream_info_t **out, size_t *out_n);

/* Resolves streams matching `predicate` (NULL: all) with a liblsl continuous
 * resolver, polled every 5 ms: returns as soon as `minimum` (> 0) matched,
 * else after `wait_s` seconds (DP_LSL_FOREVER or more: no limit). (liblsl's
 * one-shot resolves can overrun their timeout by seconds; this does not.)
 * Writes at most `max` infos the caller destroys; returns their count or
 * DP_ELSL. */
int dp_lsl_resolve_poll(const dp_lsl_api_t *lsl, const char *predicate, int minimum, double wait_s,
                        lsl_streaminfo *infos, int max);

/* Appends the XPath term key='value' (joined with " and " when len > 0) to
 * buf at len and returns the new length. Uses "" quotes when value holds a ';
 * a value holding both quote kinds cannot be written in XPath 1.0 and is
 * left out (the predicate is then wider, never wrong about the rest). */
size_t dp_lsl_pred_term(char *buf, size_t size, size_t len, const char *key, const char *value);

/* Writes "visible streams: <description>; ..." (or "no LSL streams are
 * visible ...") of everything resolvable within `wait_s` into buf. */
void dp_lsl_describe_visible(char *buf, size_t size, double wait_s);

#endif /* DP_LSL_INFO_H */
