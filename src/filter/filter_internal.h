/* filter_internal.h - what the filter bank uses of the SOS filter without
 * going through its checks a second time. Not installed. */
#ifndef DP_FILTER_INTERNAL_H
#define DP_FILTER_INTERNAL_H

#include <stddef.h>

#include "dareplane/filter.h"

/* Runs the cascade in place over n rows already in `rows` (float64, checked
 * finite by the caller). */
void dp_sosfilt_run(dp_sosfilt_t *f, double *rows, size_t n);

#endif
