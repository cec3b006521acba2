/* lsl.h - liblsl, loaded at run time: whether and where it was found, its
 * version, its clock, and the streams visible on the network.
 *
 * libdareplane does not link liblsl. The first LSL call of the process loads
 * it with this search order: the path in $DP_LSL_LIB, the path in $PYLSL_LIB
 * (as pylsl does), then the platform's usual names (liblsl.so.2, liblsl.so;
 * liblsl.dylib; lsl.dll) through the system's library search. liblsl 1.14 or
 * newer is required. pip's `pylsl` wheel carries a liblsl in
 * site-packages/pylsl/lib/.
 *
 * When no liblsl loads, every LSL function of the library (here, in
 * stream_watcher.h and in lsl_outlet.h) fails with DP_ENOLSL, and
 * dp_error_detail() names every place tried, why each failed, and how to get
 * liblsl. Everything else of the library works without liblsl.
 *
 * liblsl reads its configuration from the file named by $LSLAPICFG.
 *
 * Thread-safety: every function here may be called from any thread; the
 * library is loaded exactly once. Errors follow error.h. */
#ifndef DAREPLANE_LSL_H
#define DAREPLANE_LSL_H

#include <stddef.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads liblsl now (otherwise the first LSL call does it). Returns 0, or
 * DP_ENOLSL with the detail sentence described above. */
DP_EXTERN int dp_lsl_load(void);

/* The path or name liblsl was loaded from (static, never free it), or NULL
 * with DP_ENOLSL recorded when it cannot be loaded. */
DP_EXTERN const char *dp_lsl_library_path(void);

/* liblsl's version as major * 100 + minor (e.g. 116 for 1.16), or DP_ENOLSL. */
DP_EXTERN int dp_lsl_library_version(void);

/* liblsl's clock in seconds (the clock LSL timestamps use), or 0.0 when
 * liblsl cannot be loaded. */
DP_EXTERN double dp_lsl_local_clock(void);

/* One stream as seen on the network. Strings are owned by the list they come
 * in and are never NULL ("" when the stream leaves a field empty). */
typedef struct dp_lsl_stream_info {
  char *name;           /* stream name */
  char *type;           /* content type, e.g. "EEG" */
  char *source_id;      /* the outlet's source id ("" when none) */
  char *hostname;       /* the machine the outlet runs on */
  char *uid;            /* unique per outlet instance: changes when an outlet restarts */
  int channel_count;    /* channels per sample */
  double nominal_srate; /* 0 = irregular */
  int channel_format;   /* liblsl's code = dp_dtype_t value; 0 = undefined */
  double created_at;    /* the outlet's liblsl clock when it was created */
} dp_lsl_stream_info_t;

/* Lists the streams visible within `wait_s` seconds (liblsl waits the whole
 * time; 1.0 is usually enough on one machine). Stores a new array in *out
 * (free it with dp_lsl_stream_list_free) and its length in *n (0 is fine:
 * *out may then be NULL). At most 1024 streams are listed.
 * Returns 0; DP_EINVAL (NULL out/n or negative wait), DP_ENOLSL, DP_ENOMEM. */
DP_EXTERN int dp_lsl_list_streams(dp_lsl_stream_info_t **out, size_t *n, double wait_s);

/* Like dp_lsl_list_streams() but only the streams matching `predicate`, an
 * XPath 1.0 predicate over the stream's info as liblsl takes it, e.g.
 * "type='EEG'" or "name='x' and source_id='y'". Returns as soon as `minimum`
 * streams matched, or after `wait_s`. */
DP_EXTERN int dp_lsl_find_streams(const char *predicate, int minimum, double wait_s,
                                  dp_lsl_stream_info_t **out, size_t *n);

/* Frees a list from dp_lsl_list_streams()/dp_lsl_find_streams(). NULL is a
 * no-op. */
DP_EXTERN void dp_lsl_stream_list_free(dp_lsl_stream_info_t *list, size_t n);

/* Writes a one-line description of `info` into buf (always NUL-terminated
 * when size > 0), e.g. "'eeg' (EEG, 8 ch float32 @ 1000 Hz, source_id 'x',
 * host h)". Returns the length the full text has (like snprintf). */
DP_EXTERN size_t dp_lsl_stream_describe(const dp_lsl_stream_info_t *info, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LSL_H */
