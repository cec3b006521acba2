/* conn_limits.h - the bounds on what the module server's peers can make it
 * hold or do: the number of connections (with the choice of which one gives
 * way at the limit), the idle policy, the output queued for clients that do
 * not read, and how many log lines one client's input may cause. Part of the
 * server's internals (server_internal.h); not installed. */
#ifndef DP_SERVER_CONN_LIMITS_H
#define DP_SERVER_CONN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A log-line budget: at most `limit` lines per one-second window; the lines
 * refused are counted per level until dp_rate_take() hands the counts out. */
typedef struct {
  uint64_t window_ms;     /* start of the current window (loop time) */
  unsigned used;          /* lines allowed in the current window */
  uint64_t suppressed[3]; /* refused since the last dp_rate_take(): INFO, WARNING, ERROR+ */
} dp_rate_t;

/* True when one more line of `level` may be logged at `now_ms`; false counts
 * it as suppressed. limit 0: no limit. Pure (the clock is a parameter). */
bool dp_rate_allow(dp_rate_t *r, uint64_t now_ms, unsigned limit, int level);

/* Writes "N INFO, M WARNING, K ERROR" (the non-zero counts) into out and
 * resets the counts; returns the total that was suppressed (0: nothing, out
 * left empty). */
uint64_t dp_rate_take(dp_rate_t *r, char *out, size_t size);

#endif
