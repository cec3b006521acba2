/* time.c - dp_now() and the sleeps of dareplane/time.h.
 *
 * The kernel part is clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) on the
 * deadline minus the spin window (wider for long sleeps, where it costs
 * little CPU per second slept and absorbs the rare kernel wake-up that is
 * late by more than the set window), restarted after signals, with a short
 * scheduler slice for the wake-up (wake_slice.c); the rest is a spin on the
 * clock. The interruptible variant waits on the worker's stop signal
 * (dp_stop_wait, a condition variable with a timeout) instead of
 * clock_nanosleep, and checks the signal while it spins. */
#include "dareplane/time.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>

#include "dareplane/server.h"
#include "time/time_internal.h"

/* The spin window in nanoseconds, shared by every thread. */
static _Atomic long long spin_ns = (long long)(DP_SLEEP_SPIN_DEFAULT_S * 1e9);

double dp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void dp_sleep_set_spin(double s) {
  if (isnan(s)) return;
  if (s < 0) s = 0;
  if (s > 0.01) s = 0.01;
  atomic_store(&spin_ns, (long long)(s * 1e9));
}

double dp_sleep_spin(void) {
  return (double)atomic_load(&spin_ns) * 1e-9;
}

double dp_sleep_window(double len, double base) {
  double w = len / DP_SLEEP_WINDOW_DIV;
  if (w > base * DP_SLEEP_WINDOW_GROW) w = base * DP_SLEEP_WINDOW_GROW;
  return w > base ? w : base;
}

double dp_sleep_kernel_until(double now, double t, double window) {
  return t - window > now ? t - window : now;
}

static void kernel_sleep_until(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)floor(t);
  ts.tv_nsec = (long)((t - floor(t)) * 1e9);
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Deadlines beyond this many seconds from now are treated as this far
 * (about 31 years), so that +infinity converts to a time safely. */
#define FOREVER_S 1e9

static double clamp_deadline(double t) {
  double now = dp_now();
  return t > now + FOREVER_S ? now + FOREVER_S : t;
}

void dp_sleep_until(double t) {
  double now = dp_now();
  if (!(t > now)) return;
  t = clamp_deadline(t);
  double wake = dp_sleep_kernel_until(now, t, dp_sleep_window(t - now, dp_sleep_spin()));
  if (wake > now) {
    dp_wake_slice_t slice;
    dp_wake_slice_begin(&slice);
    kernel_sleep_until(wake);
    dp_wake_slice_end(&slice);
  }
  while (dp_now() < t) {
  }
}

void dp_sleep_s(double s) {
  if (s > 0) dp_sleep_until(dp_now() + s);
}

bool dp_sleep_until_stop(double t, dp_stop_t *stop) {
  if (stop == NULL) {
    dp_sleep_until(t);
    return false;
  }
  double now = dp_now();
  if (!(t > now)) return dp_stop_requested(stop);
  t = clamp_deadline(t);
  double wake = dp_sleep_kernel_until(now, t, dp_sleep_window(t - now, dp_sleep_spin()));
  if (wake > now) {
    dp_wake_slice_t slice;
    dp_wake_slice_begin(&slice);
    bool stopped = false;
    while (!stopped && now < wake) {
      stopped = dp_stop_wait(stop, wake - now);
      now = dp_now();
    }
    dp_wake_slice_end(&slice);
    if (stopped) return true;
  }
  while (dp_now() < t)
    if (dp_stop_requested(stop)) return true;
  return dp_stop_requested(stop);
}

bool dp_sleep_s_stop(double s, dp_stop_t *stop) {
  return dp_sleep_until_stop(dp_now() + (s > 0 ? s : 0), stop);
}
