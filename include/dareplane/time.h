/* time.h - the clock of LSL timestamps and sleeps that are never early.
 *
 * dp_now() reads the clock liblsl's local_clock() reads on this platform
 * (CLOCK_MONOTONIC on Linux, in seconds as a double), so a module can compare
 * its own times with LSL timestamps (an interop test checks they agree with
 * pylsl.local_clock() within 1 ms).
 *
 * The sleeps never return before their deadline. They sleep in the kernel on
 * an absolute deadline (no drift from repeated relative sleeps) until a short
 * spin window before it, then spin on the clock for the rest: late by about
 * the clock's read time, with the CPU busy only for the window. The window
 * is tunable (dp_sleep_set_spin); default DP_SLEEP_SPIN_DEFAULT_S. Sleeps
 * longer than 25 windows spin for 1/25 of their length, at most 4 windows
 * (800 us by default), which absorbs the rare kernel wake-up later than the
 * window at little CPU per second slept. A sleep shorter than the window is
 * a pure spin.
 *
 * On Linux, while a sleep waits in the kernel the calling thread (if it is
 * a normal SCHED_OTHER thread) asks the scheduler for a 100 us time slice
 * (sched_setattr's sched_runtime; kernels from 6.12 use it), so that on a
 * busy CPU its wake-up preempts the running task instead of waiting for the
 * end of that task's slice; the thread's slice is put back before the spin.
 *
 * Thread-safety: every function is thread-safe. Errors: none can fail; a
 * deadline in the past (or NaN) returns at once; one more than 1e9 s away
 * (+infinity) is taken as 1e9 s, i.e. until stopped for the _stop variants. */
#ifndef DAREPLANE_TIME_H
#define DAREPLANE_TIME_H

#include <stdbool.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The stop signal of a server thread worker (dareplane/server.h). */
typedef struct dp_stop dp_stop_t;

/* Default spin window before a deadline, in seconds (200 us). */
#define DP_SLEEP_SPIN_DEFAULT_S 0.0002

/* Seconds on the monotonic clock liblsl uses (arbitrary origin). */
DP_EXTERN double dp_now(void);

/* Sleeps `s` seconds (s <= 0 or NaN: returns at once). */
DP_EXTERN void dp_sleep_s(double s);

/* Sleeps until dp_now() >= t. The base of drift-free loops:
 * `for (t = dp_now();; ) { work(); t += dt; dp_sleep_until(t); }` */
DP_EXTERN void dp_sleep_until(double t);

/* Like dp_sleep_until(), but returns at once (within the kernel's wake-up
 * time) when `stop` is signalled from another thread, e.g. by the module's
 * STOP. Returns true when stopped (also when it already was), false when
 * the deadline was reached. stop NULL: a plain dp_sleep_until(). */
DP_EXTERN bool dp_sleep_until_stop(double t, dp_stop_t *stop);
DP_EXTERN bool dp_sleep_s_stop(double s, dp_stop_t *stop);

/* Sets the spin window for every later sleep of the process (seconds, 0 to
 * 0.01; values outside are clamped; NaN keeps the old one), and reads it.
 * Long sleeps widen it (see the top of this file); 0 means no spin at all.
 * A longer window costs CPU and buys punctuality under load. */
DP_EXTERN void dp_sleep_set_spin(double s);
DP_EXTERN double dp_sleep_spin(void);

/* Highest priority dp_thread_set_realtime() accepts (Linux SCHED_FIFO's). */
#define DP_REALTIME_MAX_PRIORITY 99

/* Puts the calling thread under real-time scheduling at `priority` (1 to
 * DP_REALTIME_MAX_PRIORITY; higher runs first), or back to normal
 * scheduling with 0. A real-time thread runs as soon as it is woken,
 * ahead of every normal thread of the machine: what a closed loop needs
 * when other processes share its cores.
 *
 * Linux and other POSIX systems: SCHED_FIFO at `priority` (0: SCHED_OTHER).
 * Threads the calling thread creates afterwards inherit the policy,
 * including liblsl's: call it before creating a StreamWatcher's inlet
 * (dp_stream_watcher_connect) or an outlet, so that liblsl's receiving and
 * sending threads run real-time too; threads that already exist keep
 * theirs. Linux throttles real-time threads to sched_rt_runtime_us per
 * sched_rt_period_us (95 % by default), so a spinning one cannot lock up
 * the machine; a thread that blocks (update_wait, the dp_sleep calls)
 * gives the CPU back anyway.
 * Windows: THREAD_PRIORITY_TIME_CRITICAL for any priority > 0 (0:
 * THREAD_PRIORITY_NORMAL); new threads do not inherit it.
 *
 * Errors: DP_EINVAL for a priority outside 0..DP_REALTIME_MAX_PRIORITY (or
 * outside the system's range); DP_ESYS when the system refuses, e.g. on
 * Linux without root, CAP_SYS_NICE or an RLIMIT_RTPRIO (`ulimit -r`,
 * limits.conf) of at least `priority`; dp_error_detail() says which. The
 * thread's scheduling is unchanged on error. Thread-safe (it acts on the
 * calling thread only). */
DP_EXTERN int dp_thread_set_realtime(int priority);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_TIME_H */
