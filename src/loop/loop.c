/* loop.c - the drift-free event loop of dareplane/loop.h.
 *
 * Callbacks live in one list in the order they were added; each has a kind
 * (periodic, once, delayed) and a sequence number. A tick runs only entries
 * added before it started (so a callback that adds work does not run it in
 * the same tick). The lock protects the list and the flags; callbacks run
 * without it. Entries are unlinked and freed only by the loop thread between
 * callbacks (or at once when the loop is not running), so a cancel from any
 * thread just marks an entry dead.
 *
 * The schedule reads time only through the clock (dp_clock_t), so a fake
 * clock drives it exactly in the unit tests. The real clock waits on a
 * CLOCK_MONOTONIC condition variable until the spin window before the next
 * deadline (with the sleeps' short wake-up slice, time/wake_slice.c), then
 * spins; add/cancel/stop signal the variable. */
#include "dareplane/loop.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/error_internal.h"
#include "dareplane/log.h"
#include "dareplane/server.h"
#include "time/time_internal.h"

enum kind { PERIODIC, ONCE, DELAYED };

typedef struct entry {
  struct entry *next;
  dp_loop_id_t id;
  enum kind kind;
  dp_loop_fn fn;
  void *ctx;
  double due; /* DELAYED */
  bool dead;
} entry_t;

struct dp_loop {
  double dt;
  dp_overrun_t overrun;
  dp_clock_t clock;
  bool fake_clock;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  entry_t *head, **tail;
  dp_loop_id_t next_id;
  bool running, wake;
  atomic_bool stop;
  double t0;
  _Atomic uint64_t ticks, overruns, failures;
};

static double real_now(void *ctx) {
  (void)ctx;
  return dp_now();
}

void dp_loop_opts_init(dp_loop_opts_t *o, double dt_s) {
  o->dt_s = dt_s;
  o->overrun = DP_OVERRUN_SKIP;
  o->clock = NULL;
}

int dp_loop_new(dp_loop_t **out, const dp_loop_opts_t *o) {
  if (out == NULL || o == NULL) return dp_error_set(DP_EINVAL, "NULL argument");
  *out = NULL;
  if (!isfinite(o->dt_s) || !(o->dt_s > 0))
    return dp_error_set(DP_EINVAL, "the period must be positive and finite, got %g", o->dt_s);
  if (o->overrun != DP_OVERRUN_SKIP && o->overrun != DP_OVERRUN_CATCH_UP)
    return dp_error_set(DP_EINVAL, "unknown overrun policy %d", (int)o->overrun);
  if (o->clock && (o->clock->now == NULL || o->clock->sleep_until == NULL))
    return dp_error_set(DP_EINVAL, "a clock needs now() and sleep_until()");
  dp_loop_t *l = calloc(1, sizeof *l);
  if (l == NULL) return dp_error_set(DP_ENOMEM, NULL);
  l->dt = o->dt_s;
  l->overrun = o->overrun;
  l->fake_clock = o->clock != NULL;
  if (o->clock)
    l->clock = *o->clock;
  else
    l->clock.now = real_now;
  l->tail = &l->head;
  l->next_id = 1;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0 || pthread_mutex_init(&l->mu, NULL) != 0) {
    if (rc == 0) pthread_cond_destroy(&l->cv);
    free(l);
    return dp_error_set(DP_ESYS, "cannot create the loop's lock");
  }
  *out = l;
  return 0;
}

static void sweep(dp_loop_t *l) {
  entry_t **pp = &l->head;
  l->tail = &l->head;
  while (*pp) {
    entry_t *e = *pp;
    if (e->dead) {
      *pp = e->next;
      free(e);
    } else {
      l->tail = &e->next;
      pp = &e->next;
    }
  }
}

void dp_loop_free(dp_loop_t *l) {
  if (l == NULL) return;
  for (entry_t *e = l->head; e; e = e->next) e->dead = true;
  sweep(l);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

static void wake_locked(dp_loop_t *l) {
  l->wake = true;
  pthread_cond_broadcast(&l->cv);
}

static int add(dp_loop_t *l, enum kind kind, double delay, dp_loop_fn fn, void *ctx,
               dp_loop_id_t *id) {
  if (l == NULL || fn == NULL) return dp_error_set(DP_EINVAL, "NULL loop or callback");
  if (kind == DELAYED && !(delay >= 0 && isfinite(delay)))
    return dp_error_set(DP_EINVAL, "a delay must be >= 0 and finite, got %g", delay);
  entry_t *e = calloc(1, sizeof *e);
  if (e == NULL) return dp_error_set(DP_ENOMEM, NULL);
  e->kind = kind;
  e->fn = fn;
  e->ctx = ctx;
  if (kind == DELAYED) e->due = l->clock.now(l->clock.ctx) + delay;
  pthread_mutex_lock(&l->mu);
  e->id = l->next_id++;
  *l->tail = e;
  l->tail = &e->next;
  wake_locked(l);
  pthread_mutex_unlock(&l->mu);
  if (id) *id = e->id;
  return 0;
}

int dp_loop_add(dp_loop_t *l, dp_loop_fn fn, void *ctx, dp_loop_id_t *id) {
  return add(l, PERIODIC, 0, fn, ctx, id);
}
int dp_loop_add_once(dp_loop_t *l, dp_loop_fn fn, void *ctx, dp_loop_id_t *id) {
  return add(l, ONCE, 0, fn, ctx, id);
}
int dp_loop_add_delayed(dp_loop_t *l, double delay_s, dp_loop_fn fn, void *ctx, dp_loop_id_t *id) {
  return add(l, DELAYED, delay_s, fn, ctx, id);
}

int dp_loop_cancel(dp_loop_t *l, dp_loop_id_t id) {
  if (l == NULL) return dp_error_set(DP_EINVAL, "NULL loop");
  int rc = DP_ENOTFOUND;
  pthread_mutex_lock(&l->mu);
  for (entry_t *e = l->head; e; e = e->next) {
    if (e->id == id && !e->dead) {
      e->dead = true;
      rc = 0;
      break;
    }
  }
  if (rc == 0 && !l->running) sweep(l);
  if (rc == 0) wake_locked(l);
  pthread_mutex_unlock(&l->mu);
  if (rc < 0) return dp_error_set(rc, "no callback with id %llu", (unsigned long long)id);
  return 0;
}

/* Calls e (lock held on entry and on return); removes it after a failure or
 * when it fires only once. */
static void call(dp_loop_t *l, entry_t *e) {
  pthread_mutex_unlock(&l->mu);
  int rc = e->fn(l, e->ctx);
  pthread_mutex_lock(&l->mu);
  if (rc < 0) {
    atomic_fetch_add(&l->failures, 1);
    dp_log_error(dp_log_get("dareplane.loop"), "callback %llu failed (%d: %s); removed",
                 (unsigned long long)e->id, rc, dp_strerror(rc));
  }
  if (rc < 0 || e->kind != PERIODIC) e->dead = true;
}

/* Runs the due delayed callbacks, earliest deadline first. */
static void run_delayed(dp_loop_t *l, dp_loop_id_t limit) {
  for (;;) {
    if (atomic_load(&l->stop)) return;
    double now = l->clock.now(l->clock.ctx);
    entry_t *best = NULL;
    for (entry_t *e = l->head; e; e = e->next)
      if (!e->dead && e->kind == DELAYED && e->id < limit && e->due <= now &&
          (best == NULL || e->due < best->due))
        best = e;
    if (best == NULL) return;
    call(l, best);
  }
}

static void run_kind(dp_loop_t *l, enum kind kind, dp_loop_id_t limit) {
  for (entry_t *e = l->head; e && e->id < limit; e = e->next) {
    if (atomic_load(&l->stop)) return;
    if (!e->dead && e->kind == kind) call(l, e);
  }
}

/* Earliest pending deadline: the next tick or a delayed callback. */
static double next_deadline(dp_loop_t *l, double tick) {
  double t = tick;
  for (entry_t *e = l->head; e; e = e->next)
    if (!e->dead && e->kind == DELAYED && e->due < t) t = e->due;
  return t;
}

/* Waits until t or a wake-up (lock held on entry and return). */
static void wait_until(dp_loop_t *l, double t) {
  if (l->wake || atomic_load(&l->stop)) return;
  if (l->fake_clock) {
    pthread_mutex_unlock(&l->mu);
    l->clock.sleep_until(l->clock.ctx, t);
    pthread_mutex_lock(&l->mu);
    return;
  }
  double now = dp_now(),
         kernel_until = dp_sleep_kernel_until(now, t, dp_sleep_window(t - now, dp_sleep_spin()));
  if (kernel_until > now) {
    dp_wake_slice_t slice;
    dp_wake_slice_begin(&slice);
    while (!l->wake && !atomic_load(&l->stop) && dp_now() < kernel_until) {
      struct timespec ts;
      ts.tv_sec = (time_t)floor(kernel_until);
      ts.tv_nsec = (long)((kernel_until - floor(kernel_until)) * 1e9);
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    dp_wake_slice_end(&slice);
  }
  if (l->wake || atomic_load(&l->stop)) return;
  pthread_mutex_unlock(&l->mu);
  while (!atomic_load(&l->stop) && dp_now() < t) {
  }
  pthread_mutex_lock(&l->mu);
}

int dp_loop_run(dp_loop_t *l) {
  if (l == NULL) return dp_error_set(DP_EINVAL, "NULL loop");
  pthread_mutex_lock(&l->mu);
  if (l->running) {
    pthread_mutex_unlock(&l->mu);
    return dp_error_set(DP_ESTATE, "the loop is already running");
  }
  l->running = true;
  double t0 = l->clock.now(l->clock.ctx);
  l->t0 = t0;
  uint64_t k = 0, missed_upto = 0;
  while (!atomic_load(&l->stop)) {
    l->wake = false;
    double now = l->clock.now(l->clock.ctx);
    double tick = t0 + (double)k * l->dt;
    if (now >= tick) {
      dp_loop_id_t limit = l->next_id;
      run_kind(l, ONCE, limit);
      run_delayed(l, limit);
      run_kind(l, PERIODIC, limit);
      atomic_fetch_add(&l->ticks, 1);
      k++;
      double end = l->clock.now(l->clock.ctx);
      if (t0 + (double)k * l->dt < end) {
        /* Missed ticks: the ones due before the callbacks ended, each
         * counted once (catching up passes over them again). */
        uint64_t first_future = (uint64_t)ceil((end - t0) / l->dt);
        if (t0 + (double)first_future * l->dt < end) first_future++;
        uint64_t from = k > missed_upto ? k : missed_upto;
        if (first_future > from) atomic_fetch_add(&l->overruns, first_future - from);
        if (first_future > missed_upto) missed_upto = first_future;
        if (l->overrun == DP_OVERRUN_SKIP) k = first_future;
      }
    } else {
      run_delayed(l, l->next_id);
    }
    sweep(l);
    if (atomic_load(&l->stop)) break;
    double target = next_deadline(l, t0 + (double)k * l->dt);
    if (target > l->clock.now(l->clock.ctx)) wait_until(l, target);
  }
  atomic_store(&l->stop, false);
  l->running = false;
  sweep(l);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

/* The worker's stop signal: unlike dp_loop_stop(), it also counts when it
 * comes before the loop runs. */
static void stop_cb(void *ctx) {
  dp_loop_t *l = ctx;
  pthread_mutex_lock(&l->mu);
  atomic_store(&l->stop, true);
  wake_locked(l);
  pthread_mutex_unlock(&l->mu);
}

int dp_loop_run_until_stop(dp_loop_t *l, dp_stop_t *stop) {
  if (l == NULL || stop == NULL) return dp_error_set(DP_EINVAL, "NULL loop or stop");
  dp_stop_on_signal(stop, stop_cb, l);
  int rc = dp_loop_run(l);
  dp_stop_on_signal(stop, NULL, NULL);
  atomic_store(&l->stop, false);
  return rc;
}

void dp_loop_stop(dp_loop_t *l) {
  if (l == NULL) return;
  pthread_mutex_lock(&l->mu);
  if (l->running) {
    atomic_store(&l->stop, true);
    wake_locked(l);
  }
  pthread_mutex_unlock(&l->mu);
}

uint64_t dp_loop_ticks(const dp_loop_t *l) {
  return l ? atomic_load(&l->ticks) : 0;
}
uint64_t dp_loop_overruns(const dp_loop_t *l) {
  return l ? atomic_load(&l->overruns) : 0;
}
uint64_t dp_loop_failures(const dp_loop_t *l) {
  return l ? atomic_load(&l->failures) : 0;
}
double dp_loop_dt(const dp_loop_t *l) {
  return l ? l->dt : 0;
}
double dp_loop_t0(const dp_loop_t *l) {
  return l ? l->t0 : 0;
}
