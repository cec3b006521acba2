/* dp-threshold-controller - the threshold controller of the Dareplane
 * paper's benchtop chain (dp-threshold-controller), written on libdareplane:
 * for every batch of new "decoder_output" samples it publishes one sample of
 * "control_signal": `high` (150) when the mean of the new samples is above
 * the threshold, else `low` (10), stamped with the LSL timestamp of the
 * newest input sample it was computed from.
 *
 *   dp-threshold-controller --port=8082 --threshold=15000 [--hysteresis=H]
 *   START                                  watch and publish (STOP ends it)
 *   SET_THRESHOLD|{"threshold": 3.5}       new threshold (and "hysteresis")
 *   STATS                                  counters, CPU, input age (JSON)
 *
 * With --hysteresis=H > 0 the output, once high, stays high until the mean
 * falls to threshold - H or below; H = 0 (the default) is exactly the Python
 * module's rule. */
#include "shared/stage.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

static uv_mutex_t mu; /* threshold and hysteresis: set by the loop, read by the worker */
static double threshold, hysteresis;
static float high, low;
static bool on;

/* The decision for one batch mean, given the current state. */
static bool decide(double mean) {
  uv_mutex_lock(&mu);
  double t = threshold, h = hysteresis;
  uv_mutex_unlock(&mu);
  return on && h > 0 ? mean > t - h : mean > t;
}

static int begin(dp_stage_t *st, void *user) {
  (void)st;
  (void)user;
  on = false;
  return 0;
}

static int step(dp_stage_t *st, const double *data, const double *times, size_t n, size_t channels,
                void *user) {
  (void)user;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += data[i * channels]; /* channel 1 */
  bool now_on = decide(sum / (double)n);
  if (now_on != on)
    dp_log_debug(dp_stage_log(st), "control %s at mean %.6g", now_on ? "high" : "low",
                 sum / (double)n);
  on = now_on;
  float value = on ? high : low;
  return dp_stage_push(st, &value, times[n - 1]);
}

static int set_threshold(dp_request_t *req, void *user) {
  dp_logger_t *lg = user;
  double t = dp_request_double(req, "threshold", NAN);
  double h = dp_request_double(req, "hysteresis", hysteresis);
  if (!isfinite(t) || !isfinite(h) || h < 0) {
    dp_log_error(lg, "SET_THRESHOLD needs {\"threshold\": number} and optionally "
                     "{\"hysteresis\": number >= 0}");
    return DP_EINVAL;
  }
  uv_mutex_lock(&mu);
  threshold = t;
  hysteresis = h;
  uv_mutex_unlock(&mu);
  dp_log_info(lg, "threshold %g, hysteresis %g", t, h);
  return dp_request_replyf(req, "threshold %g, hysteresis %g", t, h);
}

static dp_stage_def_t def = {
    .out = {.type = "control_signal", .channels = 1, .format = DP_FLOAT32},
    .begin = begin,
    .step = step,
};

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  double rate = 0, hi = 0, lo = 0;
  int rc = dp_stage_read_flags(mod, &def);
  if (rc == 0) rc = dp_stage_flag_double(mod, "threshold", -1e30, 1e30, &threshold);
  if (rc == 0) rc = dp_stage_flag_double(mod, "hysteresis", 0, 1e30, &hysteresis);
  if (rc == 0) rc = dp_stage_flag_double(mod, "high", -1e30, 1e30, &hi);
  if (rc == 0) rc = dp_stage_flag_double(mod, "low", -1e30, 1e30, &lo);
  if (rc == 0) rc = dp_stage_flag_double(mod, "out_srate", 0, 1e6, &rate);
  if (rc < 0) return rc;
  high = (float)hi;
  low = (float)lo;
  if (uv_mutex_init(&mu) != 0) return DP_ENOMEM;
  def.out.srate = rate;
  rc = dp_stage_setup(srv, mod, &def);
  if (rc == 0)
    rc = dp_server_add(srv, "SET_THRESHOLD", set_threshold, dp_log_get(dp_module_name(mod)),
                       "set {\"threshold\": T, \"hysteresis\": H}");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      DP_STAGE_FLAGS("decoder_output", "control_signal"),
      {"threshold", "15000", "output high when the mean of the new samples is above this"},
      {"hysteresis", "0", "once high, stay high until the mean is <= threshold - this"},
      {"high", "150", "value published when above the threshold"},
      {"low", "10", "value published otherwise"},
      {"out_srate", "2000", "nominal rate announced for the output stream, Hz"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def_mod = {
      .name = "dp-threshold-controller",
      .summary = "Threshold controller: mean of new decoder samples vs a threshold.",
      .default_port = 8082,
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def_mod, argc, argv);
}
