/* step3.c - tutorial step 3: the worker computes the RMS of each channel over
 * the newest window of samples, ten times a second, and publishes it on an LSL
 * outlet "<stream>_power". docs/tutorial.md explains it. */
#include <dareplane/dareplane.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dp_logger_t *lg;

typedef struct {
  char stream[256];
  double window_s;
} job_t;

/* RMS of each of `nch` channels over `n` samples (sample-major float data). */
static void rms(const float *data, size_t n, size_t nch, float *out) {
  for (size_t c = 0; c < nch; c++) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)data[i * nch + c] * data[i * nch + c];
    out[c] = n > 0 ? (float)sqrt(sum / (double)n) : 0.0f;
  }
}

/* Opens the outlet "<stream>_power": one RMS value per channel of the watched
 * stream, with the same channel labels, pushed at irregular times. */
static int open_outlet(dp_lsl_outlet_t **out, const dp_stream_watcher_t *sw, const char *stream) {
  size_t nch = dp_stream_watcher_channel_count(sw);
  const char **labels = calloc(nch, sizeof *labels);
  if (labels == NULL) return DP_ENOMEM;
  for (size_t c = 0; c < nch; c++) labels[c] = dp_stream_watcher_label(sw, c);
  char name[300];
  snprintf(name, sizeof name, "%s_power", stream);
  dp_lsl_outlet_config_t cfg = {
      .name = name,
      .type = "Power",
      .channels = nch,
      .srate = 0.0,
      .format = DP_FLOAT32,
      .source_id = name,
      .labels = labels,
  };
  int rc = dp_lsl_outlet_new(out, &cfg);
  free(labels);
  return rc;
}

static void power_worker(dp_stop_t *stop, void *arg) {
  const job_t *job = arg;
  dp_stream_watcher_t *sw = NULL;
  dp_lsl_outlet_t *out = NULL;
  float *window = NULL, *power = NULL;
  if (dp_stream_watcher_new(&sw, job->stream, 2.0 * job->window_s) < 0 ||
      dp_stream_watcher_connect(sw, 5.0) < 0 || open_outlet(&out, sw, job->stream) < 0) {
    dp_log_error(lg, "cannot start on %s: %s", job->stream, dp_error_detail());
    goto done;
  }
  size_t nch = dp_stream_watcher_channel_count(sw);
  const dp_ringbuffer_t *rb = dp_stream_watcher_buffer(sw);
  size_t n = (size_t)(job->window_s * dp_stream_watcher_info(sw)->nominal_srate);
  if (dp_stream_watcher_dtype(sw) != DP_FLOAT32 || n < 1 || n > dp_ringbuffer_capacity(rb)) {
    dp_log_error(lg, "%s: need a regular float32 stream", job->stream);
    goto done;
  }
  window = malloc(n * nch * sizeof *window);
  power = malloc(nch * sizeof *power);
  if (window == NULL || power == NULL) goto done;
  dp_log_info(lg, "publishing %s_power: RMS of %zu channels over %zu samples", job->stream, nch, n);
  while (!dp_stop_wait(stop, 0.1)) { /* ten times a second, until STOP */
    dp_stream_watcher_update(sw);
    if (dp_stream_watcher_n_new(sw) == 0) continue;
    dp_stream_watcher_clear_new(sw);
    size_t have = dp_ringbuffer_count(rb) < n ? dp_ringbuffer_count(rb) : n;
    dp_stream_watcher_newest(sw, have, window, NULL);
    rms(window, have, nch, power);
    dp_lsl_outlet_push(out, power, 1, NULL);
  }
  dp_log_info(lg, "stopped publishing %s_power", job->stream);
done:
  free(window);
  free(power);
  dp_lsl_outlet_free(out);
  dp_stream_watcher_free(sw);
}

static int start(dp_request_t *req, void *user) {
  const char *stream = user;
  if (dp_server_worker_count(dp_request_server(req)) > 0) {
    dp_log_warning(lg, "START: already running (STOP first)");
    return DP_ESTATE;
  }
  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) return DP_ENOMEM;
  strncpy(job->stream, stream, sizeof job->stream - 1);
  job->window_s = dp_request_double(req, "window_s", 1.0);
  if (!(job->window_s > 0.0 && job->window_s <= 60.0)) {
    free(job);
    dp_log_error(lg, "START: window_s must be in (0, 60]");
    return DP_EINVAL;
  }
  return dp_request_start_thread(req, power_worker, job, free);
}

static int ping(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_replyf(req, "pong");
}

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  lg = dp_log_get("power");
  int rc = dp_server_add(srv, "PING", ping, NULL, "reply pong");
  if (rc == 0)
    rc = dp_server_add(srv, "START", start, (void *)dp_module_get(mod, "stream"),
                       "publish the RMS of the stream {\"window_s\": 1.0} until STOP");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      {"stream", "mock_EEG_stream", "the LSL stream to watch"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def = {
      .name = "power",
      .summary = "The tutorial module: RMS power of an LSL stream.",
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def, argc, argv);
}
