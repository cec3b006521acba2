/* loop.h - an event loop with a drift-free period, the C counterpart of
 * dareplane_utils' EventLoop.
 *
 * A loop has a period dt. Tick k is due at t0 + k * dt (t0: when
 * dp_loop_run() started), whatever the callbacks cost; a tick runs, in this
 * order: the once-callbacks added before it (FIFO), the delayed callbacks
 * that are due, the periodic callbacks (in the order they were added).
 * Delayed callbacks also fire between ticks, at their own deadline.
 *
 * Overruns: when a tick's callbacks end after the next tick's due time, the
 * missed ticks are skipped (DP_OVERRUN_SKIP, default: the next tick is the
 * first one still in the future) or run back to back (DP_OVERRUN_CATCH_UP).
 * Either way each missed tick adds one to dp_loop_overruns().
 *
 * Callbacks get the loop and their context and return 0, or a negative value
 * for failure: a failing callback is logged (logger "dareplane.loop", ERROR)
 * and removed; the loop goes on. Any callback can be cancelled by its id,
 * from inside a callback or from another thread; work can be added from any
 * thread (a new deadline wakes the loop). dp_loop_stop() from any thread (or
 * a server worker's STOP with dp_loop_run_until_stop()) wakes the loop at
 * once and makes dp_loop_run() return after the callback that is running.
 *
 * Waiting: the loop sleeps on a condition variable until a short spin window
 * (dareplane/time.h, dp_sleep_spin()) before the next deadline, then spins.
 * The clock can be injected (dp_clock_t): the unit tests run the schedule on
 * a fake clock, exactly and fast.
 *
 * Ownership: the caller owns the loop and every context pointer. Errors:
 * negative DP_E* codes with dp_error_detail(). */
#ifndef DAREPLANE_LOOP_H
#define DAREPLANE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "error.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dp_loop dp_loop_t;

/* A callback: return 0 to carry on, < 0 to report failure (it is removed). */
typedef int (*dp_loop_fn)(dp_loop_t *loop, void *ctx);

/* Identifies an added callback; never 0, never reused by a loop. */
typedef uint64_t dp_loop_id_t;

typedef enum {
  DP_OVERRUN_SKIP = 0,     /* skip missed ticks (default) */
  DP_OVERRUN_CATCH_UP = 1, /* run missed ticks back to back */
} dp_overrun_t;

/* A clock for the loop: now() in seconds, and sleep_until(t), which returns
 * when now() >= t (a fake clock just sets its time to t). The loop calls
 * sleep_until only when it has nothing to do before t. */
typedef struct {
  double (*now)(void *ctx);
  void (*sleep_until)(void *ctx, double t);
  void *ctx;
} dp_clock_t;

typedef struct {
  double dt_s;             /* period, seconds; > 0 (no default: required) */
  dp_overrun_t overrun;    /* default DP_OVERRUN_SKIP */
  const dp_clock_t *clock; /* NULL (default): dp_now() and the precise wait; copied */
} dp_loop_opts_t;

/* Fills *opts with the defaults and the period dt_s. */
DP_EXTERN void dp_loop_opts_init(dp_loop_opts_t *opts, double dt_s);

/* Creates a loop. Returns 0 and *out (free with dp_loop_free()), DP_EINVAL
 * (dt not positive and finite, unknown overrun policy, a clock without now
 * or sleep_until) or DP_ENOMEM / DP_ESYS. */
DP_EXTERN int dp_loop_new(dp_loop_t **out, const dp_loop_opts_t *opts);

/* Frees the loop and its callbacks (not their contexts). Not while it runs. */
DP_EXTERN void dp_loop_free(dp_loop_t *loop);

/* Adds a periodic callback (every tick), a once-callback (next tick) or a
 * delayed callback (once, at now + delay_s, delay_s >= 0). Any thread. The
 * id goes to *id when id is not NULL. Returns 0, DP_EINVAL (NULL fn, bad
 * delay) or DP_ENOMEM. */
DP_EXTERN int dp_loop_add(dp_loop_t *loop, dp_loop_fn fn, void *ctx, dp_loop_id_t *id);
DP_EXTERN int dp_loop_add_once(dp_loop_t *loop, dp_loop_fn fn, void *ctx, dp_loop_id_t *id);
DP_EXTERN int dp_loop_add_delayed(dp_loop_t *loop, double delay_s, dp_loop_fn fn, void *ctx,
                                  dp_loop_id_t *id);

/* Cancels a callback: it is not called again (one that is running on the
 * loop thread finishes). Any thread, also from inside callbacks. Returns 0,
 * or DP_ENOTFOUND (unknown id, already fired once-callback, removed). */
DP_EXTERN int dp_loop_cancel(dp_loop_t *loop, dp_loop_id_t id);

/* Runs the loop on the calling thread until dp_loop_stop(). Returns 0, or
 * DP_ESTATE when it is already running. A stopped loop can run again (a new
 * t0; the stop request is cleared when run() returns). */
DP_EXTERN int dp_loop_run(dp_loop_t *loop);

/* Runs the loop in a server thread worker until the worker's stop signal
 * (STOP, shutdown) or dp_loop_stop(). Returns as dp_loop_run(). */
DP_EXTERN int dp_loop_run_until_stop(dp_loop_t *loop, dp_stop_t *stop);

/* Asks the loop to stop; wakes it at once. Any thread; a no-op when the
 * loop is not running (the next run is not affected). */
DP_EXTERN void dp_loop_stop(dp_loop_t *loop);

/* Counters since the loop was created (any thread): ticks run, ticks missed
 * (see Overruns above), and failed callbacks removed. */
DP_EXTERN uint64_t dp_loop_ticks(const dp_loop_t *loop);
DP_EXTERN uint64_t dp_loop_overruns(const dp_loop_t *loop);
DP_EXTERN uint64_t dp_loop_failures(const dp_loop_t *loop);

/* The period, and the time the current (or last) run started. */
DP_EXTERN double dp_loop_dt(const dp_loop_t *loop);
DP_EXTERN double dp_loop_t0(const dp_loop_t *loop);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LOOP_H */
