/* test_stream_watcher.c - the StreamWatcher against a fake liblsl (a table
 * of functions injected with dp_sw_connect_with), so that what is hard to
 * provoke with real outlets is provoked exactly: a reopen that hangs on the
 * network while update() keeps being called (update must return every time
 * and never call what waits), liblsl's silent recovery onto a new outlet,
 * nominal rates that are NaN, infinite, negative or huge, the pull straight
 * into the ring with the wrap, liblsl's inlet queue sized from the buffer,
 * the read-new API against the Python idiom, and update_wait(): its timeout
 * honoured without spinning, data waking it, a recovery slept through. Real outlets are in
 * tests/interop/test_lsl_watcher.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "confine_logs.h"
#include "stream_watcher/watcher_internal.h"

/* ---- the fake liblsl ----------------------------------------------------------- */

struct fake_info {
  char name[32], type[16], source_id[32], uid[32];
  int n_ch;
  double srate;
};

static uv_mutex_t mu; /* guards F against the recovery thread */
static uv_cond_t cv;
static struct {
  struct fake_info outlet; /* the outlet visible now */
  bool visible;
  uint64_t next_value; /* ramp value of the next sample */
  uint64_t queued;     /* samples waiting for the live inlet */
  void *live;          /* the inlet the data goes to (set by open_stream) */
  bool lose;           /* the live inlet's next pull reports the stream lost */
  bool block;          /* get_fullinfo waits while set (a network that hangs) */
  bool in_open;        /* a get_fullinfo is waiting */
  int clock_resets;    /* was_clock_reset() answers 1 this many times */
  int32_t buflen;      /* max_buflen of the last create_inlet */
  unsigned pulls;      /* pull_chunk calls */
  unsigned waits;      /* pull_sample calls that had to wait for data */
  bool waiting;        /* a pull_sample is waiting for data now */
  uv_thread_t test_thread;
  bool armed; /* count waiting calls made on the test's thread */
  unsigned waits_on_test_thread;
} F;

static void note_thread(void) {
  uv_thread_t self = uv_thread_self();
  uv_mutex_lock(&mu);
  if (F.armed && uv_thread_equal(&self, &F.test_thread)) F.waits_on_test_thread++;
  uv_mutex_unlock(&mu);
}

static void arm(bool on) {
  uv_mutex_lock(&mu);
  F.armed = on;
  uv_mutex_unlock(&mu);
}

static struct fake_info *copy_info(const struct fake_info *in) {
  struct fake_info *c = malloc(sizeof *c);
  *c = *in;
  return c;
}

#define INFO(x) ((struct fake_info *)(void *)(x))

static int32_t f_version(void) {
  return 116;
}
static double f_clock(void) {
  return 0.0;
}
static void f_destroy_string(char *s) {
  free(s);
}
static void f_destroy_info(lsl_streaminfo i) {
  free(i);
}
static const char *f_name(lsl_streaminfo i) {
  return INFO(i)->name;
}
static const char *f_type(lsl_streaminfo i) {
  return INFO(i)->type;
}
static const char *f_source_id(lsl_streaminfo i) {
  return INFO(i)->source_id;
}
static const char *f_uid(lsl_streaminfo i) {
  return INFO(i)->uid;
}
static const char *f_host(lsl_streaminfo i) {
  (void)i;
  return "fakehost";
}
static int32_t f_count(lsl_streaminfo i) {
  return INFO(i)->n_ch;
}
static double f_srate(lsl_streaminfo i) {
  return INFO(i)->srate;
}
static int32_t f_format(lsl_streaminfo i) {
  (void)i;
  return DP_FLOAT32;
}
static double f_created(lsl_streaminfo i) {
  (void)i;
  return 1.0;
}
static lsl_xml_ptr f_desc(lsl_streaminfo i) {
  (void)i;
  return NULL;
}
static lsl_xml_ptr f_child(lsl_xml_ptr x, const char *n) {
  (void)x, (void)n;
  return NULL;
}
static int32_t f_empty(lsl_xml_ptr x) {
  (void)x;
  return 1;
}
static lsl_continuous_resolver f_resolver(const char *pred, double forget) {
  (void)pred, (void)forget;
  return (lsl_continuous_resolver)(void *)&F;
}
static int32_t f_results(lsl_continuous_resolver r, lsl_streaminfo *out, uint32_t max) {
  (void)r;
  uv_mutex_lock(&mu);
  int32_t n = 0;
  if (F.visible && max > 0) out[n++] = (lsl_streaminfo)(void *)copy_info(&F.outlet);
  uv_mutex_unlock(&mu);
  return n;
}
static void f_destroy_resolver(lsl_continuous_resolver r) {
  (void)r;
}
static lsl_inlet f_create_inlet(lsl_streaminfo i, int32_t buflen, int32_t chunk, int32_t recover) {
  (void)chunk, (void)recover;
  note_thread();
  uv_mutex_lock(&mu);
  F.buflen = buflen;
  uv_mutex_unlock(&mu);
  return (lsl_inlet)(void *)copy_info(INFO(i));
}
static void f_destroy_inlet(lsl_inlet in) {
  note_thread();
  uv_mutex_lock(&mu);
  if (F.live == (void *)in) F.live = NULL;
  uv_mutex_unlock(&mu);
  free(in);
}
/* Waits while F.block is set, at most `timeout` s, as liblsl would on a
 * network that does not answer. */
static lsl_streaminfo f_fullinfo(lsl_inlet in, double timeout, int32_t *ec) {
  note_thread();
  uv_mutex_lock(&mu);
  F.in_open = true;
  uv_cond_broadcast(&cv);
  uint64_t deadline = uv_hrtime() + (uint64_t)(timeout * 1e9);
  while (F.block && uv_hrtime() < deadline) uv_cond_timedwait(&cv, &mu, deadline - uv_hrtime());
  bool timed_out = F.block;
  F.in_open = false;
  uv_mutex_unlock(&mu);
  *ec = timed_out ? DP_LSL_TIMEOUT_ERROR : 0;
  return timed_out ? NULL : (lsl_streaminfo)(void *)copy_info(INFO(in));
}
static void f_open(lsl_inlet in, double timeout, int32_t *ec) {
  (void)timeout;
  note_thread();
  uv_mutex_lock(&mu);
  F.live = in;
  uv_mutex_unlock(&mu);
  *ec = 0;
}
static int32_t f_postproc(lsl_inlet in, uint32_t flags) {
  (void)in, (void)flags;
  return 0;
}
static double f_time_correction(lsl_inlet in, double timeout, int32_t *ec) {
  (void)in, (void)timeout;
  *ec = DP_LSL_TIMEOUT_ERROR;
  return 0.0;
}
static uint32_t f_clock_reset(lsl_inlet in) {
  (void)in;
  return F.clock_resets > 0 ? (F.clock_resets--, 1u) : 0u;
}
/* The ramp: sample v has every channel = v and timestamp (v + 1) / 100 (liblsl
 * reads a timestamp of 0.0 as "no sample"). Called under mu. */
static void ramp(void *in, float *buf, double *ts, unsigned long n) {
  unsigned long n_ch = (unsigned long)INFO(in)->n_ch;
  for (unsigned long i = 0; i < n; i++, F.next_value++) {
    for (unsigned long c = 0; c < n_ch; c++) buf[i * n_ch + c] = (float)F.next_value;
    ts[i] = (double)(F.next_value + 1) / 100.0;
  }
  F.queued -= n;
}

static unsigned long f_pull(lsl_inlet in, float *buf, double *ts, unsigned long elems,
                            unsigned long max, double timeout, int32_t *ec) {
  (void)timeout;
  uv_mutex_lock(&mu);
  F.pulls++;
  *ec = 0;
  unsigned long n = 0;
  int n_ch = INFO(in)->n_ch;
  if (F.live == (void *)in && F.lose) {
    F.lose = false;
    *ec = DP_LSL_LOST_ERROR;
  } else if (F.live == (void *)in) {
    n = F.queued < max ? (unsigned long)F.queued : max;
    assert_true(n * (unsigned long)n_ch <= elems);
    ramp(in, buf, ts, n);
  }
  uv_mutex_unlock(&mu);
  return n * (unsigned long)n_ch;
}
/* One sample of the live inlet, waiting up to `timeout` for one to be pushed
 * as liblsl does (a condition variable, woken by push()); 0.0 when none. */
static double f_pull_sample(lsl_inlet in, void *buf, int32_t bytes, double timeout, int32_t *ec) {
  assert_int_equal(bytes, INFO(in)->n_ch * (int32_t)sizeof(float));
  uv_mutex_lock(&mu);
  *ec = 0;
  uint64_t deadline = uv_hrtime() + (uint64_t)(timeout * 1e9), now;
  while (F.live == (void *)in && !F.lose && F.queued == 0 && (now = uv_hrtime()) < deadline) {
    if (!F.waiting) F.waits++;
    F.waiting = true;
    uv_cond_broadcast(&cv);
    (void)uv_cond_timedwait(&cv, &mu, deadline - now);
  }
  F.waiting = false;
  double t = 0.0;
  if (F.live == (void *)in && F.lose) {
    F.lose = false;
    *ec = DP_LSL_LOST_ERROR;
  } else if (F.live == (void *)in && F.queued > 0) {
    ramp(in, buf, &t, 1);
  }
  uv_mutex_unlock(&mu);
  return t;
}

static const dp_lsl_api_t fake = {
    .library_version = f_version,
    .local_clock = f_clock,
    .destroy_string = f_destroy_string,
    .destroy_streaminfo = f_destroy_info,
    .get_name = f_name,
    .get_type = f_type,
    .get_channel_count = f_count,
    .get_nominal_srate = f_srate,
    .get_channel_format = f_format,
    .get_source_id = f_source_id,
    .get_uid = f_uid,
    .get_hostname = f_host,
    .get_created_at = f_created,
    .get_desc = f_desc,
    .child = f_child,
    .next_sibling_n = f_child,
    .empty = f_empty,
    .create_continuous_resolver_bypred = f_resolver,
    .resolver_results = f_results,
    .destroy_continuous_resolver = f_destroy_resolver,
    .create_inlet = f_create_inlet,
    .destroy_inlet = f_destroy_inlet,
    .get_fullinfo = f_fullinfo,
    .open_stream = f_open,
    .set_postprocessing = f_postproc,
    .time_correction = f_time_correction,
    .was_clock_reset = f_clock_reset,
    .pull_chunk_f = f_pull,
    .pull_sample_v = f_pull_sample,
};

/* Every test starts with one visible outlet: "fake", 2 ch float32 at 100 Hz. */
static void fresh(void) {
  memset(&F, 0, sizeof F);
  F.test_thread = uv_thread_self();
  snprintf(F.outlet.name, sizeof F.outlet.name, "fake");
  snprintf(F.outlet.type, sizeof F.outlet.type, "EEG");
  snprintf(F.outlet.uid, sizeof F.outlet.uid, "uid-A");
  F.outlet.n_ch = 2;
  F.outlet.srate = 100.0;
  F.visible = true;
}

static void push(uint64_t n) {
  uv_mutex_lock(&mu);
  F.queued += n;
  uv_cond_broadcast(&cv);
  uv_mutex_unlock(&mu);
}

static void set_block(bool on) {
  uv_mutex_lock(&mu);
  F.block = on;
  uv_cond_broadcast(&cv);
  uv_mutex_unlock(&mu);
}

static bool in_open(void) {
  uv_mutex_lock(&mu);
  bool v = F.in_open;
  uv_mutex_unlock(&mu);
  return v;
}

static dp_stream_watcher_t *connect_fake(double buffer_s) {
  dp_stream_watcher_t *sw = NULL;
  assert_int_equal(dp_stream_watcher_new(&sw, "fake", buffer_s), 0);
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), 0);
  return sw;
}

/* Calls update() until `cond` holds (each update must succeed); the sum of
 * what the updates returned goes to *got. Fails after 20 s. */
static void update_until(dp_stream_watcher_t *sw, bool (*cond)(dp_stream_watcher_t *), int *got) {
  uint64_t deadline = uv_hrtime() + 20000000000ull;
  while (!cond(sw)) {
    int n = dp_stream_watcher_update(sw);
    assert_true(n >= 0);
    if (got != NULL) *got += n;
    assert_true(uv_hrtime() < deadline);
    uv_sleep(1);
  }
}

static bool open_is_hanging(dp_stream_watcher_t *sw) {
  (void)sw;
  return in_open();
}

static int got_total;
static bool got_20(dp_stream_watcher_t *sw) {
  (void)sw;
  return got_total >= 20;
}

static bool on_outlet_b(dp_stream_watcher_t *sw) {
  return strcmp(dp_stream_watcher_info(sw)->uid, "uid-B") == 0;
}

/* Checks that the buffer's newest n samples are the ramp ending at last. */
static void assert_ramp_ends(dp_stream_watcher_t *sw, size_t n, uint64_t last) {
  float data[2 * 256];
  double t[256];
  assert_true(n <= 256);
  assert_int_equal(dp_stream_watcher_newest(sw, n, data, t), 0);
  for (size_t i = 0; i < n; i++) {
    double v = (double)(last + 1 - n + i);
    assert_true(data[2 * i] == (float)v && data[2 * i + 1] == (float)v && t[i] == (v + 1) / 100.0);
  }
}

/* ---- tests ------------------------------------------------------------------------------- */

/* A stream without source_id is lost and comes back from a new outlet whose
 * opening hangs: update() keeps returning at once, never calls anything that
 * waits, and takes the new inlet over once it is open. */
static void update_never_waits_for_a_reopen(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0);
  assert_int_equal(dp_ringbuffer_capacity(dp_stream_watcher_buffer(sw)), 100);
  push(30);
  assert_int_equal(dp_stream_watcher_update(sw), 30);

  arm(true); /* from here on, nothing that waits may run on this thread */
  uv_mutex_lock(&mu);
  F.lose = true;                                        /* the outlet dies ... */
  snprintf(F.outlet.uid, sizeof F.outlet.uid, "uid-B"); /* ... and a new one appears */
  uv_mutex_unlock(&mu);
  set_block(true); /* whose full info does not come */
  assert_int_equal(dp_stream_watcher_update(sw), 0);
  assert_true(dp_stream_watcher_connected(sw));
  assert_false(dp_stream_watcher_is_flowing(sw));
  update_until(sw, open_is_hanging, NULL);
  for (int i = 0; i < 100; i++) assert_int_equal(dp_stream_watcher_update(sw), 0);
  assert_true(in_open()); /* every update returned while the open was hanging */
  assert_int_equal(dp_stream_watcher_recoveries(sw), 0);

  set_block(false);
  push(20);
  got_total = 0;
  update_until(sw, got_20, &got_total);
  assert_int_equal(got_total, 20);
  assert_true(on_outlet_b(sw));
  assert_int_equal(dp_stream_watcher_recoveries(sw), 1);
  assert_int_equal(F.waits_on_test_thread, 0);
  assert_ramp_ends(sw, 50, 49); /* the old data stays before the new */
  arm(false);
  dp_stream_watcher_free(sw);
}

/* A stream with a source_id: liblsl recovers it by itself (a clock reset);
 * reading the new outlet's metadata hangs, and meanwhile update() goes on
 * delivering data. */
static void metadata_of_a_restarted_outlet_is_read_beside(void **state) {
  (void)state;
  fresh();
  snprintf(F.outlet.source_id, sizeof F.outlet.source_id, "amp-1");
  dp_stream_watcher_t *sw = connect_fake(1.0);
  push(10);
  assert_int_equal(dp_stream_watcher_update(sw), 10);
  arm(true);
  uv_mutex_lock(&mu);
  snprintf(F.outlet.uid, sizeof F.outlet.uid, "uid-B");
  uv_mutex_unlock(&mu);
  set_block(true);
  F.clock_resets = 1;
  push(10);
  assert_int_equal(dp_stream_watcher_update(sw), 10); /* starts the check */
  update_until(sw, open_is_hanging, NULL);
  push(5);
  assert_int_equal(dp_stream_watcher_update(sw), 5); /* data flows while it hangs */
  assert_true(in_open());
  set_block(false);
  update_until(sw, on_outlet_b, NULL);
  assert_int_equal(dp_stream_watcher_recoveries(sw), 1);
  assert_int_equal(F.waits_on_test_thread, 0);
  assert_ramp_ends(sw, 25, 24);
  arm(false);
  dp_stream_watcher_free(sw);
}

/* A nominal rate that cannot size a buffer is refused before anything is
 * opened, with the reason; so is a buffer over the limit. */
static void bad_rates_are_refused(void **state) {
  (void)state;
  fresh();
  const double rates[] = {NAN, INFINITY, -INFINITY, -1.0};
  dp_stream_watcher_t *sw = NULL;
  assert_int_equal(dp_stream_watcher_new(&sw, "fake", 2.0), 0);
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
    F.outlet.srate = rates[i];
    assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), DP_ERANGE);
    assert_non_null(strstr(dp_error_detail(), "nominal rate"));
    assert_false(dp_stream_watcher_connected(sw));
  }
  F.outlet.srate = 1e12; /* 2e12 samples */
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), DP_ETOOBIG);
  assert_non_null(strstr(dp_error_detail(), "over the limit of 1073741824 bytes"));
  F.outlet.srate = 1000.0; /* 2000 x (2 x 4 + 8) = 32000 bytes */
  assert_int_equal(dp_stream_watcher_set_max_buffer_bytes(sw, 31999), 0);
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), DP_ETOOBIG);
  assert_int_equal(dp_stream_watcher_set_max_buffer_bytes(sw, 32000), 0);
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), 0);
  assert_int_equal(dp_stream_watcher_set_max_buffer_bytes(sw, 0), DP_EINVAL);
  dp_stream_watcher_free(sw);
}

/* update() pulls straight into the ring: at the end of the storage one pull
 * fills the span up to the end, a second one continues at the start. */
static void pull_wraps_in_two_pulls(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0); /* 100 samples */
  push(70);
  assert_int_equal(dp_stream_watcher_update(sw), 70);
  F.pulls = 0;
  push(70);
  assert_int_equal(dp_stream_watcher_update(sw), 70);
  assert_int_equal(F.pulls, 2); /* 30 to the end, 40 from the start */
  assert_int_equal(dp_ringbuffer_write_index(dp_stream_watcher_buffer(sw)), 40);
  assert_ramp_ends(sw, 100, 139);
  push(1000); /* ten times the buffer in one update: the newest 100 stay */
  assert_int_equal(dp_stream_watcher_update(sw), 1000);
  assert_ramp_ends(sw, 100, 1139);
  dp_stream_watcher_free(sw);
}

/* liblsl's queue holds what the ring buffer holds (whole seconds, or
 * hundreds of samples for irregular streams), unless set otherwise. */
static void inlet_queue_is_sized_from_the_buffer(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = NULL;
  assert_int_equal(dp_stream_watcher_new(&sw, "fake", 2.0), 0);
  F.outlet.srate = 30000.0;
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), 0);
  assert_int_equal(F.buflen, 2);
  F.outlet.srate = 100.0;
  assert_int_equal(dp_stream_watcher_set_inlet_buffer(sw, 250), 0);
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), 0);
  assert_int_equal(F.buflen, 3); /* 2.5 s, rounded up */
  assert_int_equal(dp_stream_watcher_set_inlet_buffer(sw, 0), 0);
  F.outlet.srate = 0.0; /* irregular: 1000 samples, in hundreds */
  assert_int_equal(dp_sw_connect_with(sw, &fake, 5.0), 0);
  assert_int_equal(F.buflen, 10);
  dp_stream_watcher_free(sw);
}

/* read_new gives exactly what the Python idiom unfold_buffer()[-n_new:]
 * (here: newest(n_new)) gives while n_new fits, nothing when nothing is new
 * (where the idiom gives the whole buffer), and an overrun count past it. */
static void read_new_matches_the_python_idiom(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0);
  const uint64_t sizes[] = {0, 1, 37, 100, 0, 63, 99, 2};
  float idiom[2 * 100], ours[2 * 100];
  double idiom_t[100], ours_t[100];
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    push(sizes[k]);
    assert_int_equal(dp_stream_watcher_update(sw), (int)sizes[k]);
    size_t n_new = (size_t)dp_stream_watcher_n_new(sw);
    uint64_t over = 1;
    int got = dp_stream_watcher_read_new(sw, ours, ours_t, 100, &over);
    assert_int_equal(got, (int)n_new);
    assert_int_equal(over, 0);
    assert_int_equal(dp_stream_watcher_newest(sw, n_new, idiom, idiom_t), 0);
    if (n_new > 0) {
      assert_memory_equal(ours, idiom, n_new * 2 * sizeof(float));
      assert_memory_equal(ours_t, idiom_t, n_new * sizeof(double));
    }
    dp_stream_watcher_clear_new(sw);
  }
  push(250);
  dp_stream_watcher_update(sw);
  dp_ringbuffer_view_t v;
  assert_int_equal(dp_stream_watcher_peek_new(sw, &v), 0);
  assert_int_equal(v.count, 100);
  assert_int_equal(v.overrun, 150);
  assert_int_equal(dp_stream_watcher_consume(sw, SIZE_MAX), 100);
  assert_int_equal(dp_stream_watcher_read_new(sw, ours, ours_t, 100, NULL), 0);
  dp_stream_watcher_free(sw);
}

/* update_wait() with nothing coming returns 0 once its timeout has passed,
 * having slept in liblsl's pull (a few waits of at most 0.25 s, not a spin);
 * timeout 0 only looks; a bad timeout or an unconnected watcher is refused. */
static void wait_honours_its_timeout_without_spinning(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(dp_stream_watcher_update_wait(sw, 0.6), 0);
  assert_true(uv_hrtime() - t0 >= 600000000u);
  assert_true(F.waits >= 3 && F.waits <= 4); /* 0.25 + 0.25 + 0.1 (+ a last look) */
  F.waits = 0;
  assert_int_equal(dp_stream_watcher_update_wait(sw, 0.0), 0);
  assert_int_equal(F.waits, 0);
  const double bad[] = {-0.001, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dp_stream_watcher_update_wait(sw, bad[i]), DP_EINVAL);
    assert_non_null(strstr(dp_error_detail(), "finite timeout"));
  }
  dp_stream_watcher_disconnect(sw);
  assert_int_equal(dp_stream_watcher_update_wait(sw, 0.1), DP_ESTATE);
  dp_stream_watcher_free(sw);
}

/* Pushes `n` samples once a pull is waiting (a thread of its own). */
static void push_when_waiting(void *arg) {
  uint64_t n = *(const uint64_t *)arg, deadline = uv_hrtime() + 20000000000ull, now;
  uv_mutex_lock(&mu);
  while (!F.waiting && (now = uv_hrtime()) < deadline)
    (void)uv_cond_timedwait(&cv, &mu, deadline - now);
  F.queued += n;
  uv_cond_broadcast(&cv);
  uv_mutex_unlock(&mu);
}

/* Data pushed while update_wait() sleeps wakes it: it returns the first
 * sample and everything queued behind it, long before its timeout; data
 * already there is returned without waiting; the ring wraps as in update(). */
static void data_wakes_a_wait(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0); /* 100 samples */
  uint64_t n = 7;
  uv_thread_t pusher;
  assert_int_equal(uv_thread_create(&pusher, push_when_waiting, &n), 0);
  assert_int_equal(dp_stream_watcher_update_wait(sw, 60.0), 7);
  uv_thread_join(&pusher);
  assert_int_equal(F.waits, 1);
  assert_int_equal(dp_stream_watcher_n_new(sw), 7);
  assert_ramp_ends(sw, 7, 6);
  assert_true(dp_stream_watcher_is_flowing(sw));
  push(70); /* there already: no wait; 93 is past the end of 100: wraps */
  F.waits = 0;
  assert_int_equal(dp_stream_watcher_update_wait(sw, 60.0), 70);
  push(70);
  assert_int_equal(dp_stream_watcher_update_wait(sw, 60.0), 70);
  assert_int_equal(F.waits, 0);
  assert_int_equal(dp_ringbuffer_write_index(dp_stream_watcher_buffer(sw)), 47);
  assert_ramp_ends(sw, 100, 146);
  dp_stream_watcher_free(sw);
}

/* A stream lost during a wait whose reopen hangs: update_wait() returns
 * after its timeout, having waited on no network call itself; once the
 * recovery thread has the new outlet, a wait takes it over and returns its
 * data. */
static void wait_sleeps_through_a_recovery(void **state) {
  (void)state;
  fresh();
  dp_stream_watcher_t *sw = connect_fake(1.0);
  arm(true);
  uv_mutex_lock(&mu);
  F.lose = true;
  snprintf(F.outlet.uid, sizeof F.outlet.uid, "uid-B");
  uv_mutex_unlock(&mu);
  set_block(true);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(dp_stream_watcher_update_wait(sw, 0.3), 0);
  assert_true(uv_hrtime() - t0 >= 300000000u);
  assert_true(dp_stream_watcher_connected(sw));
  assert_int_equal(dp_stream_watcher_update_wait(sw, 0.0), 0);
  push(20);
  set_block(false);
  assert_int_equal(dp_stream_watcher_update_wait(sw, 60.0), 20);
  assert_true(on_outlet_b(sw));
  assert_int_equal(dp_stream_watcher_recoveries(sw), 1);
  assert_int_equal(F.waits_on_test_thread, 0);
  assert_ramp_ends(sw, 20, 19);
  arm(false);
  dp_stream_watcher_free(sw);
}

int main(void) {
  confine_network_logs();
  uv_mutex_init(&mu);
  uv_cond_init(&cv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(update_never_waits_for_a_reopen),
      cmocka_unit_test(metadata_of_a_restarted_outlet_is_read_beside),
      cmocka_unit_test(bad_rates_are_refused),
      cmocka_unit_test(pull_wraps_in_two_pulls),
      cmocka_unit_test(inlet_queue_is_sized_from_the_buffer),
      cmocka_unit_test(read_new_matches_the_python_idiom),
      cmocka_unit_test(wait_honours_its_timeout_without_spinning),
      cmocka_unit_test(data_wakes_a_wait),
      cmocka_unit_test(wait_sleeps_through_a_recovery),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  uv_cond_destroy(&cv);
  uv_mutex_destroy(&mu);
  return failed;
}
