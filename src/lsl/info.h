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

/* Writes "visible streams: <description>; ..." (or "no LSL streams are
 * visible ...") of everything resolvable within `wait_s` into buf. */
void dp_lsl_describe_visible(char *buf, size_t size, double wait_s);

#endif /* DP_LSL_INFO_H */
