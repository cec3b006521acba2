/* dp-stimulator - a stimulator stand-in at the end of the closed loop: it
 * consumes "control_signal", and every time stimulation switches on or off
 * it logs the change and publishes it as a marker ("on" / "off") on the
 * marker stream "stim_markers", stamped with the LSL timestamp of the control
 * sample that switched it (which carries the timestamp of the input sample
 * the decision came from, so marker arrival - timestamp is the loop's
 * end-to-end delay).
 *
 *   dp-stimulator --port=8083 [--on_above=80]
 *   START     watch control_signal (STOP ends it)
 *   STATS     counters, CPU use, input age (JSON)
 *   STATE     "on" or "off" */
#include "shared/stage.h"

#include <stdatomic.h>
#include <stdbool.h>

static double on_above;
static atomic_bool stim_on;
static atomic_ullong switches;

static int begin(dp_stage_t *st, void *user) {
  (void)st;
  (void)user;
  atomic_store(&stim_on, false);
  return 0;
}

static int step(dp_stage_t *st, const double *data, const double *times, size_t n, size_t channels,
                void *user) {
  (void)user;
  for (size_t i = 0; i < n; i++) {
    bool on = data[i * channels] > on_above;
    if (on == atomic_load(&stim_on)) continue;
    atomic_store(&stim_on, on);
    atomic_fetch_add(&switches, 1);
    dp_log_info(dp_stage_log(st), "stimulation %s (control %g, t=%.6f)", on ? "ON" : "OFF",
                data[i * channels], times[i]);
    const char *marker = on ? "on" : "off";
    int rc = dp_stage_push(st, &marker, times[i]);
    if (rc < 0) return rc;
  }
  return 0;
}

static int state(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_replyf(req, "%s", atomic_load(&stim_on) ? "on" : "off");
}

static dp_stage_def_t def = {
    .out = {.type = "Markers", .channels = 1, .format = DP_STRING},
    .begin = begin,
    .step = step,
};

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  int rc = dp_stage_read_flags(mod, &def);
  if (rc == 0) rc = dp_stage_flag_double(mod, "on_above", -1e30, 1e30, &on_above);
  if (rc < 0) return rc;
  rc = dp_stage_setup(srv, mod, &def);
  if (rc == 0) rc = dp_server_add(srv, "STATE", state, NULL, "reply \"on\" or \"off\"");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      DP_STAGE_FLAGS("control_signal", "stim_markers"),
      {"on_above", "80", "stimulate while the control signal is above this (150/10 -> 80)"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def_mod = {
      .name = "dp-stimulator",
      .summary = "Stimulator stand-in: control_signal on/off changes as markers and log lines.",
      .default_port = 8083,
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def_mod, argc, argv);
}
