/* error_internal.h - how library code records a failure for the caller.
 * Not installed. */
#ifndef DP_ERROR_INTERNAL_H
#define DP_ERROR_INTERNAL_H

#include "dareplane/error.h"

/* Records `code` and a printf-style detail sentence (fmt may be NULL) as the
 * calling thread's last failure and returns `code`, so that a failing path can
 * read `return dp_error_set(DP_EINVAL, "n_channels must be > 0, got %d", n);`. */
int dp_error_set(int code, const char *fmt, ...) DP_PRINTF(2, 3);

#endif
