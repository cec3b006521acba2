/* step4.c - tutorial step 4: filter, then compute. An event loop ticks ten
 * times a second; each tick passes the samples that arrived through a
 * Butterworth bandpass (a filter bank of one band) and publishes the band
 * power of each channel, the mean |x| over the last window, on the outlet
 * "<stream>_power". docs/tutorial.md explains it. */
#include <dareplane/dareplane.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dp_logger_t *lg;

typedef struct {
  char stream[256];
  double low_hz, high_hz, window_s;
} job_t;

/* What a tick works on (the ctx of a Python EventLoop). */
typedef struct {
  dp_stream_watcher_t *sw;
  dp_filterbank_t *fb;
  dp_lsl_outlet_t *out;
  float *power; /* one value per channel */
} ctx_t;

/* Opens the outlet "<stream>_power": one value per channel of the watched
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

/* A filter bank of one band for every channel; its output is the mean |x| of
 * the filtered signal over the last window_s seconds. */
static int open_filter(dp_filterbank_t **fb, const job_t *job, size_t nch, double fs) {
  const dp_band_t band = {"band", job->low_hz, job->high_hz};
  dp_filterbank_opts_t o;
  dp_filterbank_opts_init(&o); /* Butterworth of order 8, as in Python */
  o.bands = &band;
  o.n_bands = 1;
  o.fs_hz = fs;
  o.n_channels = nch;
  o.output = DP_FB_ABS_MA;
  o.n_lookback = (size_t)(job->window_s * fs);
  o.buffer_s = 2.0 * job->window_s;
  return dp_filterbank_new(fb, &o);
}

/* One tick: filters what arrived since the last tick, publishes the newest
 * band power. */
static int tick(dp_loop_t *loop, void *arg) {
  ctx_t *c = arg;
  dp_ringbuffer_view_t v;
  int rc = dp_stream_watcher_update(c->sw);
  if (rc >= 0) rc = dp_stream_watcher_peek_new(c->sw, &v);
  if (rc < 0) {
    dp_log_error(lg, "reading the stream failed: %s", dp_error_detail());
    dp_loop_stop(loop);
    return rc;
  }
  if (v.overrun > 0) dp_log_warning(lg, "%llu samples lost", (unsigned long long)v.overrun);
  for (int i = 0; i < 2; i++) /* the new samples, oldest first, in at most two spans */
    if (dp_filterbank_filter_f32(c->fb, v.data[i], v.times[i], v.n[i]) < 0)
      dp_log_warning(lg, "skipped %zu samples: %s", v.n[i], dp_error_detail());
  dp_stream_watcher_consume(c->sw, v.count);
  if (dp_filterbank_read_new(c->fb, c->power, NULL, 1, true) == 1)
    dp_lsl_outlet_push(c->out, c->power, 1, NULL);
  return 0;
}

static void bandpower_worker(dp_stop_t *stop, void *arg) {
  const job_t *job = arg;
  ctx_t c = {0};
  dp_loop_t *loop = NULL;
  dp_loop_opts_t lo;
  dp_loop_opts_init(&lo, 0.1); /* ten ticks a second */
  if (dp_stream_watcher_new(&c.sw, job->stream, 2.0) < 0 ||
      dp_stream_watcher_connect(c.sw, 5.0) < 0)
    goto fail;
  size_t nch = dp_stream_watcher_channel_count(c.sw);
  double fs = dp_stream_watcher_info(c.sw)->nominal_srate;
  if (dp_stream_watcher_dtype(c.sw) != DP_FLOAT32 || fs <= 0.0) {
    dp_log_error(lg, "%s: need a regular float32 stream", job->stream);
    goto done;
  }
  if ((c.power = malloc(nch * sizeof *c.power)) == NULL) goto done;
  if (open_filter(&c.fb, job, nch, fs) < 0 || open_outlet(&c.out, c.sw, job->stream) < 0 ||
      dp_loop_new(&loop, &lo) < 0 || dp_loop_add(loop, tick, &c, NULL) < 0)
    goto fail;
  dp_log_info(lg, "publishing %s_power: %g-%g Hz band power of %zu channels over %g s", job->stream,
              job->low_hz, job->high_hz, nch, job->window_s);
  dp_loop_run_until_stop(loop, stop);
  dp_log_info(lg, "stopped publishing %s_power after %llu ticks, %llu overruns", job->stream,
              (unsigned long long)dp_loop_ticks(loop), (unsigned long long)dp_loop_overruns(loop));
  goto done;
fail:
  dp_log_error(lg, "cannot start on %s: %s", job->stream, dp_error_detail());
done:
  dp_loop_free(loop);
  free(c.power);
  dp_lsl_outlet_free(c.out);
  dp_filterbank_free(c.fb);
  dp_stream_watcher_free(c.sw);
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
  job->low_hz = dp_request_double(req, "low_hz", 8.0);
  job->high_hz = dp_request_double(req, "high_hz", 12.0);
  job->window_s = dp_request_double(req, "window_s", 1.0);
  if (!(job->window_s > 0.0 && job->window_s <= 60.0)) {
    free(job);
    dp_log_error(lg, "START: window_s must be in (0, 60]");
    return DP_EINVAL;
  }
  return dp_request_start_thread(req, bandpower_worker, job, free);
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
                       "publish the band power of the stream "
                       "{\"low_hz\": 8, \"high_hz\": 12, \"window_s\": 1.0} until STOP");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      {"stream", "mock_EEG_stream", "the LSL stream to watch"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def = {
      .name = "power",
      .summary = "The tutorial module: band power of an LSL stream.",
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def, argc, argv);
}
