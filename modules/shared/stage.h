/* stage.h - what the reference modules (modules/dp-*.c) share: one processing
 * stage of a closed loop. A stage is a Dareplane module whose START runs a
 * worker thread that watches an input LSL stream, hands every batch of new
 * samples to the module's step function (as doubles, oldest first), and
 * publishes what the step produces with the LSL timestamp of the input
 * sample it was computed from, so that every hop's delay downstream is
 * "arrival time - timestamp". STOP (built in) ends the worker; STATS replies
 * the stage's counters, its CPU use (process CPU time / wall time since
 * START) and "age_ms": p50/p99/max of how old the newest input sample was
 * (LSL clock now - its timestamp, which is the chain's source timestamp)
 * when its batch was processed; one stage's age minus the previous stage's
 * is the hop's delay.
 *
 * Reacting to data: the worker sleeps in dp_stream_watcher_update_wait()
 * until input arrives and processes the batch at once. It never polls,
 * spins or paces itself with a fixed period after its work, as the Python
 * modules do. The wait ends after at most `wait_s` without input, when the
 * worker looks at STOP: STOP takes at most that long.
 *
 * This is a helper of the example modules, built on the public API only; it
 * is not part of the library. */
#ifndef DP_MODULES_STAGE_H
#define DP_MODULES_STAGE_H

#include <dareplane/dareplane.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct dp_stage dp_stage_t;

/* Called once the input is connected, before any step: check the input's
 * shape (dp_stage_watcher) and allocate what the step needs. Return 0 or a
 * negative DP_E* code after logging why (the worker then ends). */
typedef int (*dp_stage_begin_fn)(dp_stage_t *st, void *user);

/* Called for each batch of n >= 1 new samples: data is n x channels doubles,
 * sample-major; times are their LSL timestamps. Publish with
 * dp_stage_push(). Return 0 or a negative DP_E* code (logged; the worker
 * ends). */
typedef int (*dp_stage_step_fn)(dp_stage_t *st, const double *data, const double *times, size_t n,
                                size_t channels, void *user);

/* Called when the worker ends (after a failed begin too): free what begin
 * allocated. May be NULL. */
typedef void (*dp_stage_end_fn)(dp_stage_t *st, void *user);

typedef struct {
  const char *in_name;        /* input stream name */
  double buffer_s;            /* input buffer; the most samples one batch holds */
  double connect_timeout_s;   /* wait for the input to appear */
  double wait_s;              /* longest wait for input between looks at STOP */
  dp_lsl_outlet_config_t out; /* the output stream */
  dp_stage_begin_fn begin;    /* may be NULL */
  dp_stage_step_fn step;
  dp_stage_end_fn end; /* may be NULL */
  void *user;
} dp_stage_def_t;

/* Registers START (run the stage in a worker) and STATS with the server.
 * `def` and the strings it points to must outlive the module. Returns 0 or
 * a DP_E* code. */
int dp_stage_setup(dp_server_t *srv, const dp_module_t *mod, dp_stage_def_t *def);

/* Reads the common stage flags (--in_stream, --buffer_s, --wait_ms,
 * --connect_timeout_s, --out_stream) into def; the module lists them with
 * DP_STAGE_FLAGS(default_in, default_out). Returns 0 or DP_EINVAL after
 * printing and logging which flag is wrong. */
int dp_stage_read_flags(const dp_module_t *mod, dp_stage_def_t *def);

#define DP_STAGE_FLAGS(in, out)                                                                    \
  {"in_stream", in, "input LSL stream name"}, {"out_stream", out, "output LSL stream name"},       \
      {"buffer_s", "0.5", "input buffer in seconds (the largest batch)"},                          \
      {"wait_ms", "100", "longest wait for input between looks at STOP, ms"}, {                    \
    "connect_timeout_s", "10", "wait this long for the input stream at START"                      \
  }

/* A module flag as a finite number in [min, max]; prints and logs a clear
 * error (naming the flag, its value and the range) and returns DP_EINVAL
 * otherwise. */
int dp_stage_flag_double(const dp_module_t *mod, const char *key, double min, double max,
                         double *out);

/* Publishes one output sample (out.channels values of out.format; for
 * strings a `const char *`) stamped `t`. Worker thread only. */
int dp_stage_push(dp_stage_t *st, const void *sample, double t);

/* The connected input (valid in begin/step). */
dp_stream_watcher_t *dp_stage_watcher(dp_stage_t *st);

/* Most samples a batch can hold (the input buffer's length; valid in
 * begin/step). */
size_t dp_stage_capacity(const dp_stage_t *st);

/* The module's logger. */
dp_logger_t *dp_stage_log(const dp_stage_t *st);

#endif
