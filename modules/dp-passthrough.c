/* dp-passthrough - the passthrough decoder of the Dareplane paper's benchtop
 * chain (dp-passthrough), written on libdareplane: for every batch of new
 * input samples it publishes the median of one channel's new samples as one
 * sample of "decoder_output", stamped with the LSL timestamp of the newest
 * input sample it was computed from.
 *
 *   dp-passthrough --port=8081 --in_stream=mock_EEG_stream --channel=3
 *   START            watch the input and publish (STOP ends it)
 *   SET_CHANNEL|{"channel": 2}     use another input channel (1-based)
 *   STATS            counters, CPU use, input age (JSON)
 *
 * Same value as the Python module (median of the new samples of channel
 * `channel`, 1-based; float32 output), but computed as each batch arrives
 * instead of in a loop paced by sleep_s, and published once per batch rather
 * than repeated to fill the nominal rate. */
#include "shared/stage.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long channel;    /* 1-based */
static atomic_size_t n_inputs; /* the connected input's channels; 0 when not running */
static double *column;         /* one channel's new samples, for the median */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* numpy's median: the middle value, or the mean of the two middle ones
 * (computed in float32 for a float32 stream, as numpy does). */
static double median(double *v, size_t n, bool f32) {
  qsort(v, n, sizeof *v, cmp_double);
  if (n % 2 == 1) return v[n / 2];
  if (f32) return (double)(((float)v[n / 2 - 1] + (float)v[n / 2]) / 2.0f);
  return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int begin(dp_stage_t *st, void *user) {
  (void)user;
  size_t ch = dp_stream_watcher_channel_count(dp_stage_watcher(st));
  if ((size_t)atomic_load(&channel) > ch) {
    dp_log_error(dp_stage_log(st), "--channel=%ld but the input has %zu channels",
                 atomic_load(&channel), ch);
    return DP_ERANGE;
  }
  column = malloc(dp_stage_capacity(st) * sizeof *column);
  atomic_store(&n_inputs, ch);
  return column != NULL ? 0 : DP_ENOMEM;
}

static void end(dp_stage_t *st, void *user) {
  (void)st;
  (void)user;
  atomic_store(&n_inputs, 0);
  free(column);
  column = NULL;
}

static int step(dp_stage_t *st, const double *data, const double *times, size_t n, size_t channels,
                void *user) {
  (void)user;
  size_t c = (size_t)atomic_load(&channel) - 1; /* begin and SET_CHANNEL checked it */
  for (size_t i = 0; i < n; i++) column[i] = data[i * channels + c];
  bool f32 = dp_stream_watcher_dtype(dp_stage_watcher(st)) == DP_FLOAT32;
  float value = (float)median(column, n, f32);
  return dp_stage_push(st, &value, times[n - 1]);
}

static int set_channel(dp_request_t *req, void *user) {
  dp_logger_t *lg = user;
  double c = dp_request_double(req, "channel", NAN);
  size_t n = atomic_load(&n_inputs);
  if (!(c >= 1 && c <= 65536) || c != floor(c) || (n > 0 && (size_t)c > n)) {
    dp_log_error(lg, "SET_CHANNEL needs {\"channel\": N} with N a whole number from 1 to %zu",
                 n > 0 ? n : (size_t)65536);
    return DP_EINVAL;
  }
  atomic_store(&channel, (long)c);
  dp_log_info(lg, "channel set to %ld", (long)c);
  return 0;
}

static dp_stage_def_t def = {
    .out = {.type = "decoder_output", .channels = 1, .format = DP_FLOAT32},
    .begin = begin,
    .step = step,
    .end = end,
};

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  double ch = 0, rate = 0;
  int rc = dp_stage_read_flags(mod, &def);
  if (rc == 0) rc = dp_stage_flag_double(mod, "channel", 1, 65536, &ch);
  if (rc == 0) rc = dp_stage_flag_double(mod, "out_srate", 0, 1e6, &rate);
  if (rc == 0 && ch != floor(ch)) {
    fprintf(stderr, "%s: --channel must be a whole number\n", dp_module_name(mod));
    rc = DP_EINVAL;
  }
  if (rc < 0) return rc;
  atomic_store(&channel, (long)ch);
  def.out.srate = rate;
  rc = dp_stage_setup(srv, mod, &def);
  if (rc == 0)
    rc = dp_server_add(srv, "SET_CHANNEL", set_channel, dp_log_get(dp_module_name(mod)),
                       "use input channel {\"channel\": N} (1-based)");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      DP_STAGE_FLAGS("mock_EEG_stream", "decoder_output"),
      {"channel", "3", "input channel, 1-based (the Python module uses 3)"},
      {"out_srate", "2000", "nominal rate announced for the output stream, Hz"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def_mod = {
      .name = "dp-passthrough",
      .summary = "Passthrough decoder: median of one channel's new samples to decoder_output.",
      .default_port = 8081,
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def_mod, argc, argv);
}
