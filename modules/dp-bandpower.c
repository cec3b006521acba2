/* dp-bandpower - a band-power decoder, what adaptive DBS uses: the filter
 * bank (dareplane/filter.h) on every channel of a multichannel stream, a
 * Butterworth band-pass (default 13-30 Hz, beta) followed by the trailing
 * mean of |x| over --window_s; for every batch of new samples it publishes
 * one value to "decoder_output": the newest band power averaged over the
 * chosen channels (or one channel), optionally as log10, stamped with the
 * LSL timestamp of the newest input sample.
 *
 *   dp-bandpower --port=8081 --in_stream=mock_EEG_stream --low=13 --high=30
 *   START      filter and publish (STOP ends it; the filter starts afresh)
 *   STATS      counters, CPU use, input age (JSON)
 *
 * The band must lie inside (0, srate/2) of the input stream: START checks it
 * against the stream's nominal rate and logs a clear error otherwise. */
#include "shared/stage.h"

#include <dareplane/filter.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double low_hz, high_hz, window_s, order, channel;
static bool use_log;
static dp_filterbank_t *fb;
static float *row; /* one output row: channels x 1 band */

static int begin(dp_stage_t *st, void *user) {
  (void)user;
  dp_stream_watcher_t *sw = dp_stage_watcher(st);
  double fs = dp_stream_watcher_info(sw)->nominal_srate;
  size_t ch = dp_stream_watcher_channel_count(sw);
  if ((size_t)channel > ch) {
    dp_log_error(dp_stage_log(st), "--channel=%g but the input has %zu channels", channel, ch);
    return DP_ERANGE;
  }
  dp_band_t band = {.name = "band", .low_hz = low_hz, .high_hz = high_hz};
  dp_filterbank_opts_t o;
  dp_filterbank_opts_init(&o);
  o.bands = &band;
  o.n_bands = 1;
  o.order = (int)order;
  o.fs_hz = fs;
  o.n_channels = ch;
  o.output = DP_FB_ABS_MA;
  o.n_lookback = fs * window_s >= 1 ? (size_t)(fs * window_s) : 1;
  o.buffer_s = (double)(o.n_lookback + 2) / fs;
  int rc = fs > 0 ? dp_filterbank_new(&fb, &o) : DP_EINVAL;
  if (rc < 0) {
    dp_log_error(dp_stage_log(st), "filter bank for %g-%g Hz at %g Hz: %s", low_hz, high_hz, fs,
                 fs > 0 ? dp_error_detail() : "the input has no regular rate");
    return rc;
  }
  row = malloc(ch * sizeof *row);
  return row != NULL ? 0 : DP_ENOMEM;
}

static void end(dp_stage_t *st, void *user) {
  (void)st;
  (void)user;
  dp_filterbank_free(fb);
  free(row);
  fb = NULL;
  row = NULL;
}

static int step(dp_stage_t *st, const double *data, const double *times, size_t n, size_t channels,
                void *user) {
  (void)user;
  int rc = dp_filterbank_filter(fb, data, times, n);
  if (rc == 0) rc = dp_filterbank_newest(fb, 1, row, NULL);
  if (rc < 0) return rc;
  double sum = 0;
  size_t first = channel > 0 ? (size_t)channel - 1 : 0;
  size_t count = channel > 0 ? 1 : channels;
  for (size_t c = first; c < first + count; c++) sum += row[c];
  double power = sum / (double)count;
  float value = (float)(use_log ? log10(power > 1e-30 ? power : 1e-30) : power);
  return dp_stage_push(st, &value, times[n - 1]);
}

static dp_stage_def_t def = {
    .out = {.type = "decoder_output", .channels = 1, .format = DP_FLOAT32},
    .begin = begin,
    .step = step,
    .end = end,
};

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  double rate = 0;
  int rc = dp_stage_read_flags(mod, &def);
  if (rc == 0) rc = dp_stage_flag_double(mod, "low", 1e-6, 1e6, &low_hz);
  if (rc == 0) rc = dp_stage_flag_double(mod, "high", 1e-6, 1e6, &high_hz);
  if (rc == 0) rc = dp_stage_flag_double(mod, "order", 1, DP_BUTTER_MAX_ORDER, &order);
  if (rc == 0) rc = dp_stage_flag_double(mod, "window_s", 1e-6, 60, &window_s);
  if (rc == 0) rc = dp_stage_flag_double(mod, "channel", 0, 65536, &channel);
  if (rc == 0) rc = dp_stage_flag_double(mod, "out_srate", 0, 1e6, &rate);
  if (rc == 0 && (low_hz >= high_hz || order != floor(order) || channel != floor(channel))) {
    fprintf(stderr, "%s: needs --low < --high and whole numbers for --order and --channel\n",
            dp_module_name(mod));
    rc = DP_EINVAL;
  }
  if (rc < 0) return rc;
  const char *lg = dp_module_get(mod, "log10");
  use_log = lg != NULL && (lg[0] == 'T' || lg[0] == 't' || lg[0] == '1');
  def.out.srate = rate;
  return dp_stage_setup(srv, mod, &def);
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      DP_STAGE_FLAGS("mock_EEG_stream", "decoder_output"),
      {"low", "13", "band low edge, Hz"},
      {"high", "30", "band high edge, Hz"},
      {"order", "8", "Butterworth order"},
      {"window_s", "0.1", "trailing mean of |x| over this many seconds"},
      {"channel", "0", "input channel (1-based); 0 averages all channels"},
      {"log10", "false", "publish log10 of the band power"},
      {"out_srate", "0", "nominal rate announced for the output stream, Hz (0: irregular)"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def_mod = {
      .name = "dp-bandpower",
      .summary = "Band-power decoder: filter bank band power to decoder_output.",
      .default_port = 8081,
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def_mod, argc, argv);
}
