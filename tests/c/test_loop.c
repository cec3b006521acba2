/* test_loop.c - the event loop's schedule on a fake clock (exact), and its
 * cross-thread stop, cancel and a server worker's STOP on the real clock
 * (waited for with generous deadlines, never timed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "confine_logs.h"
#include "dareplane/client.h"
#include "dareplane/loop.h"
#include "dareplane/server.h"

/* ---- fake clock ---------------------------------------------------------- */

typedef struct {
  double t;
} fake_t;

static double fake_now(void *ctx) {
  return ((fake_t *)ctx)->t;
}
static void fake_sleep_until(void *ctx, double t) {
  fake_t *f = ctx;
  if (t > f->t) f->t = t;
}

typedef struct {
  fake_t *clock;
  double cost;      /* seconds each call takes on the fake clock */
  double slow_cost; /* ... on call number slow_at */
  int slow_at;
  int calls, stop_after;
  double at[64]; /* start times of the calls */
  dp_loop_id_t cancel_id;
  int fail_at;
} rec_t;

static int record(dp_loop_t *loop, void *ctx) {
  rec_t *r = ctx;
  if (r->calls < 64) r->at[r->calls] = r->clock->t;
  r->calls++;
  r->clock->t += r->calls == r->slow_at ? r->slow_cost : r->cost;
  if (r->cancel_id) dp_loop_cancel(loop, r->cancel_id);
  if (r->stop_after && r->calls >= r->stop_after) dp_loop_stop(loop);
  return r->calls == r->fail_at ? DP_EIO : 0;
}

static dp_loop_t *fake_loop(fake_t *clock, double dt, dp_overrun_t policy) {
  static dp_clock_t c;
  c.now = fake_now;
  c.sleep_until = fake_sleep_until;
  c.ctx = clock;
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, dt);
  o.overrun = policy;
  o.clock = &c;
  dp_loop_t *loop = NULL;
  assert_int_equal(dp_loop_new(&loop, &o), 0);
  return loop;
}

static void ticks_are_drift_free(void **state) {
  (void)state;
  fake_t clock = {100.0};
  dp_loop_t *loop = fake_loop(&clock, 0.01, DP_OVERRUN_SKIP);
  rec_t r = {.clock = &clock, .cost = 0.008, .stop_after = 50};
  assert_int_equal(dp_loop_add(loop, record, &r, NULL), 0);
  assert_int_equal(dp_loop_run(loop), 0);
  assert_int_equal(r.calls, 50);
  /* Python: period = dt + callback time (18 ms here); ours: exactly dt. */
  for (int k = 0; k < 50; k++) assert_true(fabs(r.at[k] - (100.0 + k * 0.01)) < 1e-9);
  assert_int_equal(dp_loop_overruns(loop), 0);
  assert_int_equal(dp_loop_ticks(loop), 50);
  dp_loop_free(loop);
}

static void overrun_skips_missed_ticks(void **state) {
  (void)state;
  fake_t clock = {0.0};
  dp_loop_t *loop = fake_loop(&clock, 0.25, DP_OVERRUN_SKIP);
  /* Tick 3 (t = 0.75) takes 0.625 s: ticks 4 (1.0) and 5 (1.25) are missed. */
  rec_t r = {.clock = &clock, .slow_at = 4, .slow_cost = 0.625, .stop_after = 6};
  dp_loop_add(loop, record, &r, NULL);
  dp_loop_run(loop);
  double want[] = {0, 0.25, 0.5, 0.75, 1.5, 1.75};
  for (int k = 0; k < 6; k++) assert_true(fabs(r.at[k] - want[k]) < 1e-12);
  assert_int_equal(dp_loop_overruns(loop), 2);
  dp_loop_free(loop);
}

static void overrun_catch_up_runs_them_back_to_back(void **state) {
  (void)state;
  fake_t clock = {0.0};
  dp_loop_t *loop = fake_loop(&clock, 0.25, DP_OVERRUN_CATCH_UP);
  rec_t r = {.clock = &clock, .slow_at = 4, .slow_cost = 0.625, .stop_after = 7};
  dp_loop_add(loop, record, &r, NULL);
  dp_loop_run(loop);
  double want[] = {0, 0.25, 0.5, 0.75, 1.375, 1.375, 1.5};
  for (int k = 0; k < 7; k++) assert_true(fabs(r.at[k] - want[k]) < 1e-12);
  assert_int_equal(dp_loop_overruns(loop), 2);
  dp_loop_free(loop);
}

static void delayed_fire_at_their_deadline(void **state) {
  (void)state;
  fake_t clock = {0.0};
  dp_loop_t *loop = fake_loop(&clock, 0.05, DP_OVERRUN_SKIP);
  rec_t tick = {.clock = &clock};
  rec_t late = {.clock = &clock}, early = {.clock = &clock}, once = {.clock = &clock};
  rec_t stopper = {.clock = &clock, .stop_after = 1};
  dp_loop_add(loop, record, &tick, NULL);
  /* Python fires a 0.12 s delay at the next tick (0.15 s); we at 0.12 s. */
  dp_loop_add_delayed(loop, 0.12, record, &late, NULL);
  dp_loop_add_delayed(loop, 0.07, record, &early, NULL);
  dp_loop_add_once(loop, record, &once, NULL);
  dp_loop_add_delayed(loop, 0.3, record, &stopper, NULL);
  dp_loop_run(loop);
  assert_int_equal(late.calls, 1);
  assert_true(fabs(late.at[0] - 0.12) < 1e-12);
  assert_int_equal(early.calls, 1);
  assert_true(fabs(early.at[0] - 0.07) < 1e-12);
  assert_int_equal(once.calls, 1);
  assert_true(once.at[0] == 0.0);
  assert_int_equal(tick.calls, 6); /* 0, .05, ..., .25; the stop at .3 comes first */
  dp_loop_free(loop);
}

static void cancel_from_inside_and_failures_are_removed(void **state) {
  (void)state;
  fake_t clock = {0.0};
  dp_loop_t *loop = fake_loop(&clock, 0.1, DP_OVERRUN_SKIP);
  rec_t victim = {.clock = &clock}, killer = {.clock = &clock};
  rec_t failing = {.clock = &clock, .fail_at = 2}, counter = {.clock = &clock, .stop_after = 5};
  dp_loop_id_t vid = 0;
  dp_loop_add(loop, record, &killer, NULL);
  dp_loop_add(loop, record, &victim, &vid);
  dp_loop_add(loop, record, &failing, NULL);
  dp_loop_add(loop, record, &counter, NULL);
  killer.cancel_id = vid; /* cancels the victim before it ever runs */
  dp_loop_run(loop);
  assert_int_equal(victim.calls, 0);
  assert_int_equal(failing.calls, 2); /* failed on its 2nd call: removed, loop goes on */
  assert_int_equal(counter.calls, 5);
  assert_int_equal(dp_loop_failures(loop), 1);
  assert_int_equal(dp_loop_cancel(loop, vid), DP_ENOTFOUND);
  dp_loop_free(loop);
}

static void bad_arguments(void **state) {
  (void)state;
  dp_loop_t *loop = NULL;
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, 0.0);
  assert_int_equal(dp_loop_new(&loop, &o), DP_EINVAL);
  o.dt_s = NAN;
  assert_int_equal(dp_loop_new(&loop, &o), DP_EINVAL);
  o.dt_s = 0.01;
  assert_int_equal(dp_loop_new(&loop, &o), 0);
  assert_int_equal(dp_loop_add(loop, NULL, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_loop_add_delayed(loop, -1.0, record, NULL, NULL), DP_EINVAL);
  dp_loop_free(loop);
}

/* ---- real clock, other threads -------------------------------------------- */

typedef struct {
  dp_loop_t *loop;
  atomic_int calls;
  atomic_bool done;
} shared_t;

static int count(dp_loop_t *loop, void *ctx) {
  (void)loop;
  atomic_fetch_add(&((shared_t *)ctx)->calls, 1);
  return 0;
}

static void *run_thread(void *arg) {
  shared_t *s = arg;
  dp_loop_run(s->loop);
  atomic_store(&s->done, true);
  return NULL;
}

static void wait_for(atomic_bool *flag) {
  double end = dp_now() + 30.0;
  while (!atomic_load(flag) && dp_now() < end) dp_sleep_s(0.001);
  assert_true(atomic_load(flag));
}

static void stop_and_cancel_from_another_thread(void **state) {
  (void)state;
  shared_t s = {0};
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, 3600.0); /* an hour: only a wake-up can end a wait */
  assert_int_equal(dp_loop_new(&s.loop, &o), 0);
  dp_loop_id_t id;
  dp_loop_add(s.loop, count, &s, &id);
  pthread_t th;
  pthread_create(&th, NULL, run_thread, &s);
  double end = dp_now() + 30.0;
  while (atomic_load(&s.calls) < 1 && dp_now() < end) dp_sleep_s(0.001);
  assert_int_equal(atomic_load(&s.calls), 1); /* tick 0; the next is an hour away */
  assert_int_equal(dp_loop_cancel(s.loop, id), 0);
  /* a delayed callback added from here wakes the loop at its deadline */
  shared_t d = {0};
  dp_loop_add_delayed(s.loop, 0.01, count, &d, NULL);
  while (atomic_load(&d.calls) < 1 && dp_now() < end) dp_sleep_s(0.001);
  assert_int_equal(atomic_load(&d.calls), 1);
  dp_loop_stop(s.loop);
  wait_for(&s.done);
  pthread_join(th, NULL);
  assert_int_equal(atomic_load(&s.calls), 1);
  dp_loop_free(s.loop);
}

/* A PCOMM runs a loop in a thread worker; STOP ends it. */
static atomic_bool worker_ended;

static void loop_worker(dp_stop_t *stop, void *arg) {
  shared_t *s = arg;
  dp_loop_run_until_stop(s->loop, stop);
  atomic_store(&worker_ended, true);
}

static int start_loop(dp_request_t *req, void *user) {
  return dp_request_start_thread(req, loop_worker, user, NULL);
}

/* ... and one that sleeps an hour in dp_sleep_s_stop(). */
static atomic_bool sleeper_stopped, sleeper_started;

static void sleep_worker(dp_stop_t *stop, void *arg) {
  (void)arg;
  atomic_store(&sleeper_started, true);
  atomic_store(&sleeper_stopped, dp_sleep_s_stop(3600.0, stop));
}

static int start_sleep(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_start_thread(req, sleep_worker, NULL, NULL);
}

static void *serve(void *arg) {
  dp_server_run(arg);
  return NULL;
}

static void server_stop_ends_a_worker_loop(void **state) {
  (void)state;
  shared_t s = {0};
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, 3600.0);
  assert_int_equal(dp_loop_new(&s.loop, &o), 0);
  dp_loop_add(s.loop, count, &s, NULL);
  dp_server_opts_t so;
  dp_server_opts_init(&so);
  so.port = 0;
  dp_server_t *srv = dp_server_new(&so);
  assert_non_null(srv);
  assert_int_equal(dp_server_add(srv, "START", start_loop, &s, NULL), 0);
  assert_int_equal(dp_server_add(srv, "SLEEP", start_sleep, NULL, NULL), 0);
  assert_int_equal(dp_server_listen(srv), 0);
  pthread_t th;
  pthread_create(&th, NULL, serve, srv);
  dp_client_opts_t co;
  dp_client_opts_init(&co);
  co.port = dp_server_port(srv);
  dp_client_t *c = dp_client_connect(&co);
  assert_non_null(c);
  assert_int_equal(dp_client_send(c, "START"), 0);
  assert_int_equal(dp_client_send(c, "SLEEP"), 0);
  double end = dp_now() + 30.0;
  while (atomic_load(&s.calls) < 1 && dp_now() < end) dp_sleep_s(0.001);
  assert_int_equal(atomic_load(&s.calls), 1);
  wait_for(&sleeper_started);
  assert_int_equal(dp_client_send(c, "STOP"), 0);
  wait_for(&worker_ended);    /* an hour-long wait ended by STOP */
  wait_for(&sleeper_stopped); /* and an hour-long sleep */
  dp_client_close(c);
  dp_server_close(srv);
  pthread_join(th, NULL);
  dp_server_free(srv);
  dp_loop_free(s.loop);
}

int main(void) {
  confine_network_logs();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ticks_are_drift_free),
      cmocka_unit_test(overrun_skips_missed_ticks),
      cmocka_unit_test(overrun_catch_up_runs_them_back_to_back),
      cmocka_unit_test(delayed_fire_at_their_deadline),
      cmocka_unit_test(cancel_from_inside_and_failures_are_removed),
      cmocka_unit_test(bad_arguments),
      cmocka_unit_test(stop_and_cancel_from_another_thread),
      cmocka_unit_test(server_stop_ends_a_worker_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
