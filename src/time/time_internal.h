/* time_internal.h - the parts of the sleeps that the unit tests check
 * directly, and that the event loop's own wait shares. Not installed. */
#ifndef DP_TIME_INTERNAL_H
#define DP_TIME_INTERNAL_H

/* The spin window of a sleep `len` seconds long when the set window
 * (dp_sleep_spin) is `base`: base, widened to len / DP_SLEEP_WINDOW_DIV for
 * long sleeps, to at most DP_SLEEP_WINDOW_GROW times base. Pure; seconds. */
#define DP_SLEEP_WINDOW_DIV  25
#define DP_SLEEP_WINDOW_GROW 4
double dp_sleep_window(double len, double base);

/* Where the kernel part of a sleep to `t` with spin window `window` ends,
 * when it is `now`: t - window, or a time <= now when there is nothing
 * left to sleep in the kernel (spin from now on). Pure; seconds. */
double dp_sleep_kernel_until(double now, double t, double window);

/* The time slice the calling thread asks the scheduler for while it sleeps
 * in the kernel, in nanoseconds: the shortest Linux accepts (100 us). */
#define DP_WAKE_SLICE_NS 100000ULL

/* A thread's slice as it was before dp_wake_slice_begin(). */
typedef struct {
  unsigned long long slice_ns; /* 0: nothing to restore */
} dp_wake_slice_t;

/* Around the kernel part of a sleep: begin() asks for DP_WAKE_SLICE_NS for
 * the calling thread, so that its wake-up preempts a normal task busy on
 * its CPU instead of waiting for that task's slice to end (Linux 6.12+
 * EEVDF: a waking task with a shorter slice preempts); end() puts the old
 * slice back before the spin, so that the spin is not cut short. Only
 * for normal (SCHED_OTHER) threads; a no-op where the scheduler has no
 * such setting, or refuses it (remembered for the process). */
void dp_wake_slice_begin(dp_wake_slice_t *s);
/* The calling thread's slice in nanoseconds as the scheduler reports it;
 * 0 when it reports none (not a normal thread, older kernel, other OS). */
unsigned long long dp_wake_slice_current(void);
void dp_wake_slice_end(dp_wake_slice_t *s);

#endif
