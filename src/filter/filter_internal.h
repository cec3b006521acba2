/* filter_internal.h - what the filter bank shares with the SOS filter: the
 * cascade without its checks, and the check of the input. Not installed. */
#ifndef DP_FILTER_INTERNAL_H
#define DP_FILTER_INTERNAL_H

#include <stddef.h>

#include "dareplane/filter.h"

/* Runs the cascade in place over n rows already in `rows` (float64, checked
 * finite by the caller). */
void dp_sosfilt_run(dp_sosfilt_t *f, double *rows, size_t n);

/* Checks n rows of nc values (float64 in d64, or float32 in d32 when d64 is
 * NULL) are all finite. Returns 0, or DP_EINVAL with a detail naming the
 * first bad sample and channel. */
int dp_filter_check_finite(const double *d64, const float *d32, size_t n, size_t nc);

#endif
