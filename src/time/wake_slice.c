/* wake_slice.c - a short scheduler time slice while a sleep is in the
 * kernel, so that its wake-up is not delayed by a busy neighbour.
 *
 * Why: on a loaded CPU, a thread whose timer fires joins the run queue; the
 * Linux scheduler (EEVDF, 6.6+) lets it preempt the running task at once
 * only when its virtual deadline is earlier, and since 6.12 a task can ask
 * for a shorter slice (sched_setattr's sched_runtime for SCHED_OTHER),
 * which gives it earlier deadlines and preemption on wake-up. Without it a
 * sleep's wake-up can wait for the neighbour's slice, milliseconds, far
 * beyond the spin window. The slice is put back before the spin, because a
 * spin longer than a 100 us slice would itself be preempted. Older kernels
 * accept and ignore the setting; a refusal (seccomp, EPERM) is remembered so
 * that later sleeps do not retry. Other platforms: nothing to do.
 * Putting back writes the length read before (the kernel reports a thread's
 * default slice as its length, 1.4 ms on 2 CPUs), so a thread on the default
 * keeps that length but no longer follows later changes of the system-wide
 * default (sched/base_slice_ns in debugfs). */
#if defined(__linux__)
#define _GNU_SOURCE /* syscall() */
#endif
#include "time/time_internal.h"

#if defined(__linux__)
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sched_attr, up to the fields used here (size 48). */
struct sched_attr_v1 {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};

#define SCHED_FLAG_RESET_ON_FORK_ 0x01ULL /* linux/sched.h, not in every libc */

static atomic_bool unsupported;

static int get_attr(struct sched_attr_v1 *a) {
  memset(a, 0, sizeof *a);
  return (int)syscall(SYS_sched_getattr, 0, a, (unsigned)sizeof *a, 0U);
}

static int set_slice(struct sched_attr_v1 *a, unsigned long long ns) {
  a->size = sizeof *a;
  /* Only the reset-on-fork flag is kept: without the utilisation-clamp
   * flags the clamps stay as they are; policy and nice are the ones read. */
  a->sched_flags &= SCHED_FLAG_RESET_ON_FORK_;
  a->sched_runtime = ns;
  return (int)syscall(SYS_sched_setattr, 0, a, 0U);
}

unsigned long long dp_wake_slice_current(void) {
  struct sched_attr_v1 a;
  if (get_attr(&a) != 0 || a.sched_policy != SCHED_OTHER) return 0;
  return a.sched_runtime;
}

void dp_wake_slice_begin(dp_wake_slice_t *s) {
  s->slice_ns = 0;
  if (atomic_load_explicit(&unsupported, memory_order_relaxed)) return;
  struct sched_attr_v1 a;
  if (get_attr(&a) != 0 || a.sched_policy != SCHED_OTHER) return;
  if (a.sched_runtime <= DP_WAKE_SLICE_NS) return; /* already as short */
  unsigned long long old = a.sched_runtime;
  if (set_slice(&a, DP_WAKE_SLICE_NS) != 0) {
    atomic_store_explicit(&unsupported, true, memory_order_relaxed);
    return;
  }
  s->slice_ns = old;
}

void dp_wake_slice_end(dp_wake_slice_t *s) {
  struct sched_attr_v1 a;
  if (s->slice_ns == 0 || get_attr(&a) != 0 || a.sched_policy != SCHED_OTHER) return;
  set_slice(&a, s->slice_ns);
  s->slice_ns = 0;
}

#else

unsigned long long dp_wake_slice_current(void) {
  return 0;
}

void dp_wake_slice_begin(dp_wake_slice_t *s) {
  s->slice_ns = 0;
}

void dp_wake_slice_end(dp_wake_slice_t *s) {
  (void)s;
}

#endif
