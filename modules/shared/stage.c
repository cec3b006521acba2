/* stage.c - the worker loop, START/STATS commands and flag checks that the
 * reference modules share (see stage.h). One stage per module process. */
#include "stage.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define LAT_KEEP 65536 /* input ages kept for STATS (the newest) */

struct dp_stage {
  dp_stage_def_t *def;
  dp_logger_t *log;
  atomic_bool running;
  dp_stream_watcher_t *sw;
  dp_lsl_outlet_t *out;
  size_t capacity, channels;
  void *raw;    /* capacity x channels of the input's format */
  double *data; /* the same as doubles */
  double *times;
  /* counters, under mu (read by STATS on the loop thread) */
  uv_mutex_t mu;
  uint64_t batches, in, out_n;
  bool timing;                       /* cpu0/wall0 hold this run's start */
  double cpu0, wall0, cpu_s, wall_s; /* start; totals once the run ended */
  float *lat;                        /* LAT_KEEP ring of input ages at processing, seconds */
  uint64_t nlat;
};

static dp_stage_t stage; /* the module's one stage */

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void) {
  return (double)uv_hrtime() / 1e9;
}

int dp_stage_flag_double(const dp_module_t *mod, const char *key, double min, double max,
                         double *out) {
  const char *v = dp_module_get(mod, key);
  char *end = NULL;
  double d = v != NULL ? strtod(v, &end) : NAN;
  if (v == NULL || end == v || *end != '\0' || !isfinite(d) || d < min || d > max) {
    fprintf(stderr, "%s: --%s must be a number in [%g, %g], got '%s'\n", dp_module_name(mod), key,
            min, max, v != NULL ? v : "");
    dp_log_error(dp_log_get(dp_module_name(mod)), "--%s must be a number in [%g, %g], got '%s'",
                 key, min, max, v != NULL ? v : "");
    return DP_EINVAL;
  }
  *out = d;
  return 0;
}

int dp_stage_read_flags(const dp_module_t *mod, dp_stage_def_t *def) {
  double wait_ms = 0;
  def->in_name = dp_module_get(mod, "in_stream");
  def->out.name = dp_module_get(mod, "out_stream");
  int rc = dp_stage_flag_double(mod, "buffer_s", 0.001, 3600, &def->buffer_s);
  if (rc == 0) rc = dp_stage_flag_double(mod, "wait_ms", 1, 10000, &wait_ms);
  if (rc == 0)
    rc = dp_stage_flag_double(mod, "connect_timeout_s", 0.001, 86400, &def->connect_timeout_s);
  def->wait_s = wait_ms / 1000.0;
  if (rc == 0 && (def->in_name == NULL || def->in_name[0] == '\0' || def->out.name == NULL ||
                  def->out.name[0] == '\0')) {
    fprintf(stderr, "%s: --in_stream and --out_stream must not be empty\n", dp_module_name(mod));
    rc = DP_EINVAL;
  }
  return rc;
}

int dp_stage_push(dp_stage_t *st, const void *sample, double t) {
  int rc = dp_lsl_outlet_push(st->out, sample, 1, &t);
  if (rc == 0) {
    uv_mutex_lock(&st->mu);
    st->out_n++;
    uv_mutex_unlock(&st->mu);
  }
  return rc;
}

dp_stream_watcher_t *dp_stage_watcher(dp_stage_t *st) {
  return st->sw;
}

size_t dp_stage_capacity(const dp_stage_t *st) {
  return st->capacity;
}

dp_logger_t *dp_stage_log(const dp_stage_t *st) {
  return st->log;
}

/* Connects in slices so that STOP is seen while the input is missing. */
static int connect_input(dp_stage_t *st, dp_stop_t *stop) {
  const dp_stage_def_t *d = st->def;
  int rc = dp_stream_watcher_new(&st->sw, d->in_name, d->buffer_s);
  double deadline = wall_now() + d->connect_timeout_s;
  while (rc == 0 && !dp_stop_requested(stop)) {
    double left = deadline - wall_now();
    rc = dp_stream_watcher_connect(st->sw, left < 0.5 ? (left > 0 ? left : 0.001) : 0.5);
    if (rc != DP_ETIMEDOUT || wall_now() >= deadline) break;
    rc = 0;
  }
  if (rc < 0) {
    dp_log_error(st->log, "input stream '%s': %s", d->in_name, dp_error_detail());
    return rc;
  }
  if (dp_stop_requested(stop)) return DP_ESTATE;
  dp_dtype_t t = dp_stream_watcher_dtype(st->sw);
  if (t != DP_FLOAT32 && t != DP_DOUBLE64) {
    dp_log_error(st->log, "input stream '%s' is %s; float32 or double64 needed", d->in_name,
                 dp_dtype_name(t));
    return DP_ETYPE;
  }
  st->channels = dp_stream_watcher_channel_count(st->sw);
  st->capacity = dp_ringbuffer_capacity(dp_stream_watcher_buffer(st->sw));
  st->raw = malloc(st->capacity * st->channels * dp_dtype_size(t));
  st->data = malloc(st->capacity * st->channels * sizeof *st->data);
  st->times = malloc(st->capacity * sizeof *st->times);
  if (st->raw == NULL || st->data == NULL || st->times == NULL) return DP_ENOMEM;
  return 0;
}

/* The newest min(n_new, capacity) samples as doubles; their count. */
static size_t read_batch(dp_stage_t *st) {
  uint64_t n_new = dp_stream_watcher_n_new(st->sw);
  size_t n = n_new < st->capacity ? (size_t)n_new : st->capacity;
  if (n_new > st->capacity)
    dp_log_warning(st->log, "%llu new samples, only the newest %zu fit the buffer",
                   (unsigned long long)n_new, st->capacity);
  dp_stream_watcher_newest(st->sw, n, st->raw, st->times);
  dp_stream_watcher_clear_new(st->sw);
  size_t k = n * st->channels;
  if (dp_stream_watcher_dtype(st->sw) == DP_FLOAT32)
    for (size_t i = 0; i < k; i++) st->data[i] = ((const float *)st->raw)[i];
  else
    memcpy(st->data, st->raw, k * sizeof *st->data);
  return n;
}

/* Counts a batch; its input age (s) unless NaN (backlog from before START). */
static void note_batch(dp_stage_t *st, size_t n, double age) {
  uv_mutex_lock(&st->mu);
  st->batches++;
  st->in += n;
  if (!isnan(age)) st->lat[st->nlat++ % LAT_KEEP] = (float)age;
  uv_mutex_unlock(&st->mu);
}

/* CPU and wall time since START (under mu): live while the run lasts,
 * frozen at its end. The CPU clock is the process's, readable from any
 * thread, so the worker's loop spends nothing on it. */
static void times_locked(const dp_stage_t *st, double *cpu, double *wall) {
  *cpu = st->timing ? cpu_now() - st->cpu0 : st->cpu_s;
  *wall = st->timing ? wall_now() - st->wall0 : st->wall_s;
}

/* Processes batches until STOP or an error (logged); returns 0 or the error. */
static int run(dp_stage_t *st, dp_stop_t *stop) {
  dp_stage_def_t *d = st->def;
  int rc = 0;
  double t_begin = dp_lsl_local_clock(); /* older input is the outlet's backlog */
  while (rc == 0 && !dp_stop_requested(stop)) {
    rc = dp_stream_watcher_update_wait(st->sw, d->wait_s);
    if (rc < 0) {
      dp_log_error(st->log, "input stream '%s': %s", d->in_name, dp_error_detail());
      break;
    }
    rc = 0;
    if (dp_stream_watcher_n_new(st->sw) == 0) continue; /* no input for wait_s */
    size_t n = read_batch(st);
    double age = dp_lsl_local_clock() - st->times[n - 1];
    rc = d->step(st, st->data, st->times, n, st->channels, d->user);
    note_batch(st, n, st->times[n - 1] >= t_begin ? age : NAN);
    if (rc < 0) dp_log_error(st->log, "step failed: %s", dp_strerror(rc));
  }
  return rc;
}

static void worker(dp_stop_t *stop, void *arg) {
  dp_stage_t *st = arg;
  dp_stage_def_t *d = st->def;
  uv_mutex_lock(&st->mu);
  st->batches = st->in = st->out_n = st->nlat = 0;
  st->cpu0 = cpu_now();
  st->wall0 = wall_now();
  st->timing = true;
  uv_mutex_unlock(&st->mu);
  int rc = connect_input(st, stop);
  bool begun = rc == 0; /* end() is owed from here on, even if begin fails */
  if (rc == 0 && d->begin != NULL) rc = d->begin(st, d->user);
  if (d->out.source_id == NULL) d->out.source_id = d->out.name; /* lets inlets recover */
  if (rc == 0 && (rc = dp_lsl_outlet_new(&st->out, &d->out)) < 0)
    dp_log_error(st->log, "output stream '%s': %s", d->out.name, dp_error_detail());
  if (rc == 0) {
    dp_log_info(st->log, "running: '%s' (%zu ch) -> '%s'", d->in_name, st->channels, d->out.name);
    (void)run(st, stop); /* its errors are logged where they happen */
  }
  uv_mutex_lock(&st->mu);
  times_locked(st, &st->cpu_s, &st->wall_s);
  st->timing = false;
  uv_mutex_unlock(&st->mu);
  if (d->end != NULL && begun) d->end(st, d->user);
  dp_lsl_outlet_free(st->out);
  dp_stream_watcher_free(st->sw);
  free(st->raw);
  free(st->data);
  free(st->times);
  st->out = NULL;
  st->sw = NULL;
  st->raw = st->data = st->times = NULL;
  dp_log_info(
      st->log,
      "stopped after %llu batches, %llu samples in, %llu out; CPU %.3f s in %.1f s (%.2f %%)",
      (unsigned long long)st->batches, (unsigned long long)st->in, (unsigned long long)st->out_n,
      st->cpu_s, st->wall_s, st->wall_s > 0 ? 100.0 * st->cpu_s / st->wall_s : 0.0);
  atomic_store(&st->running, false);
}

static int start(dp_request_t *req, void *user) {
  dp_stage_t *st = user;
  bool expected = false;
  if (!atomic_compare_exchange_strong(&st->running, &expected, true)) {
    dp_log_error(st->log, "START: already running (send STOP first)");
    return DP_ESTATE;
  }
  int rc = dp_request_start_thread(req, worker, st, NULL);
  if (rc < 0) {
    atomic_store(&st->running, false);
    dp_log_error(st->log, "START: cannot start the worker: %s", dp_strerror(rc));
  }
  return rc;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* {"running": true, "batches": ..., "in": ..., "out": ..., "cpu_s": ...,
 *  "wall_s": ..., "cpu_pct": ..., "age_ms": {"n": .., "p50": .., "p99": .., "max": ..}} */
static int stats(dp_request_t *req, void *user) {
  dp_stage_t *st = user;
  static float sorted[LAT_KEEP];
  uv_mutex_lock(&st->mu);
  size_t n = st->nlat < LAT_KEEP ? (size_t)st->nlat : LAT_KEEP;
  memcpy(sorted, st->lat, n * sizeof *sorted);
  uint64_t batches = st->batches, in = st->in, out = st->out_n;
  double cpu, wall;
  times_locked(st, &cpu, &wall);
  uv_mutex_unlock(&st->mu);
  qsort(sorted, n, sizeof *sorted, cmp_float);
  double p50 = n ? 1e3 * sorted[n / 2] : 0, p99 = n ? 1e3 * sorted[(n * 99) / 100] : 0;
  double mx = n ? 1e3 * sorted[n - 1] : 0;
  return dp_request_replyf(
      req,
      "{\"running\": %s, \"batches\": %llu, \"in\": %llu, \"out\": %llu, \"cpu_s\": %.6f, "
      "\"wall_s\": %.6f, \"cpu_pct\": %.3f, \"age_ms\": {\"n\": %zu, \"p50\": %.4f, \"p99\": "
      "%.4f, \"max\": %.4f}}",
      atomic_load(&st->running) ? "true" : "false", (unsigned long long)batches,
      (unsigned long long)in, (unsigned long long)out, cpu, wall,
      wall > 0 ? 100.0 * cpu / wall : 0.0, n, p50, p99, mx);
}

int dp_stage_setup(dp_server_t *srv, const dp_module_t *mod, dp_stage_def_t *def) {
  stage.def = def;
  stage.log = dp_log_get(dp_module_name(mod));
  stage.lat = calloc(LAT_KEEP, sizeof *stage.lat);
  if (stage.lat == NULL || uv_mutex_init(&stage.mu) != 0) return DP_ENOMEM;
  int rc = dp_server_add(srv, "START", start, &stage, "start processing (STOP ends it)");
  if (rc == 0)
    rc =
        dp_server_add(srv, "STATS", stats, &stage, "reply counters, CPU use and input age as JSON");
  return rc;
}
