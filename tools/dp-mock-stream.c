/* dp-mock-stream.c - publishes a synthetic LSL stream in real time, like the
 * Dareplane mockup streamer, for trying modules and tools without hardware:
 *
 *   dp-mock-stream --name N [--type EEG] [--channels 8] [--srate 1000]
 *                  [--format float32] [--chunk 10] [--signal sine|noise|ramp]
 *                  [--duration S] [--markers] [--source-id ID]
 *                  [--burst-every S [--burst-length 0.3] [--burst-amplitude 5]
 *                   [--burst-hz 20]]
 *
 * Sample i is stamped t0 + i/srate (t0 = liblsl's clock at start), so the
 * timestamps are exactly regular. Samples go out in whole blocks of --chunk,
 * samples [k chunk, (k+1) chunk), as an amplifier hands them out: a timer
 * set for the moment each block is due (from the start, so that the blocks
 * keep their phase however late a wake-up was) pushes every block that is
 * due, one push each (a shorter last one at the end of --duration). A burst
 * whose first sample index is a multiple of --chunk (the benchmark's) thus
 * always begins a block. --srate 0 makes an irregular stream with a
 * sample every 100 ms. "ramp" counts the sample index (wrapping at 100 for
 * int8, 30000 for int16, 2^24 otherwise; decimal text for string streams).
 * --markers adds a string stream "<name>_markers" (type Markers) with one
 * marker a second. --burst-every S injects a known burst at the end of every
 * S seconds (from sample 0): for --burst-length seconds every channel gets
 * amplitude * (1 + 0.5 sin(2 pi burst-hz t)) added (a raised oscillation, so
 * that a median and a band power both see it), and the string stream
 * "<name>_bursts" (type Markers) gets "burst" stamped with the burst's first
 * sample's timestamp, so that a probe can time a closed loop from the first
 * sample of a burst to its reaction. Ctrl-C (SIGINT) or SIGTERM stops it
 * cleanly. */
#include <dareplane/dareplane.h>

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum signal_kind { SIG_SINE, SIG_NOISE, SIG_RAMP };

struct mock {
  const char *name, *type, *source_id;
  size_t channels, chunk;
  double srate, duration;
  dp_dtype_t format;
  enum signal_kind signal;
  bool markers;
  double burst_every, burst_length, burst_amplitude, burst_hz;

  dp_lsl_outlet_t *out, *marker_out, *burst_out;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  uint64_t start_ns;
  double t0;     /* LSL time of sample 0 */
  uint64_t sent; /* samples pushed */
  uint64_t markers_sent;
  void *buf;        /* chunk x channels elements */
  char (*text)[24]; /* string values of one chunk */
  double *times;
  int exit_code;
};

static void usage(FILE *f) {
  fputs("usage: dp-mock-stream --name N [--type EEG] [--channels 8] [--srate 1000]\n"
        "                      [--format float32] [--chunk 10] [--signal sine|noise|ramp]\n"
        "                      [--duration S] [--markers] [--source-id ID]\n"
        "                      [--burst-every S [--burst-length 0.3] [--burst-amplitude 5]\n"
        "                       [--burst-hz 20]]\n"
        "Publishes a synthetic LSL stream in real time until Ctrl-C or --duration.\n"
        "Formats: float32 double64 int32 int16 int8 int64 string. --srate 0 = irregular.\n",
        f);
}

/* parse_flag() found a bad value and has printed why (the library's errors
 * are printed by parse_args(), from dp_error_detail()). */
enum { FLAG_REPORTED = -1000 };

static int bad_value(const char *why, const char *value) {
  fprintf(stderr, "dp-mock-stream: %s'%s'\n", why, value);
  return FLAG_REPORTED;
}

/* Reads one flag into m; returns 0, a DP_E* code (detail set) or
 * FLAG_REPORTED. */
static int parse_flag(struct mock *m, dp_args_t *a) {
  long n = 0;
  int rc = 0;
  if (dp_args_is(a, "help") || dp_args_is(a, "h")) {
    usage(stdout);
    exit(0);
  } else if (dp_args_is(a, "markers")) {
    m->markers = true;
  } else if (dp_args_is(a, "name")) {
    rc = dp_args_value(a);
    m->name = a->value;
  } else if (dp_args_is(a, "type")) {
    rc = dp_args_value(a);
    m->type = a->value;
  } else if (dp_args_is(a, "source-id")) {
    rc = dp_args_value(a);
    m->source_id = a->value;
  } else if (dp_args_is(a, "channels")) {
    rc = dp_args_long(a, 1, LONG_MAX, &n);
    m->channels = (size_t)n;
  } else if (dp_args_is(a, "chunk")) {
    rc = dp_args_long(a, 1, LONG_MAX, &n);
    m->chunk = (size_t)n;
  } else if (dp_args_is(a, "srate")) {
    rc = dp_args_double(a, &m->srate);
  } else if (dp_args_is(a, "duration")) {
    rc = dp_args_double(a, &m->duration);
  } else if (dp_args_is(a, "burst-every")) {
    rc = dp_args_double(a, &m->burst_every);
  } else if (dp_args_is(a, "burst-length")) {
    rc = dp_args_double(a, &m->burst_length);
  } else if (dp_args_is(a, "burst-amplitude")) {
    rc = dp_args_double(a, &m->burst_amplitude);
  } else if (dp_args_is(a, "burst-hz")) {
    rc = dp_args_double(a, &m->burst_hz);
  } else if (dp_args_is(a, "format")) {
    if ((rc = dp_args_value(a)) == 0 && dp_dtype_parse(a->value, &m->format) != 0)
      rc = bad_value("unknown format ", a->value);
  } else if (dp_args_is(a, "signal")) {
    if ((rc = dp_args_value(a)) < 0) return rc;
    if (strcmp(a->value, "sine") == 0)
      m->signal = SIG_SINE;
    else if (strcmp(a->value, "noise") == 0)
      m->signal = SIG_NOISE;
    else if (strcmp(a->value, "ramp") == 0)
      m->signal = SIG_RAMP;
    else
      rc = bad_value("--signal is sine, noise or ramp, not ", a->value);
  } else {
    rc = dp_args_unknown(a);
  }
  return rc;
}

static int parse_args(struct mock *m, int argc, char **argv) {
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG && (rc = parse_flag(m, &a)) == 0) continue;
  if (rc < 0) {
    if (rc != FLAG_REPORTED) fprintf(stderr, "dp-mock-stream: %s\n", dp_error_detail());
    return -1;
  }
  if (m->name == NULL || m->name[0] == '\0' || m->channels == 0 || m->chunk == 0 ||
      !(m->srate >= 0) || !isfinite(m->srate) || m->duration < 0) {
    fprintf(stderr, "dp-mock-stream: needs --name, channels >= 1, chunk >= 1, srate >= 0\n");
    return -1;
  }
  if (m->burst_every != 0 && (!(m->burst_every > 0) || !(m->burst_length > 0) ||
                              m->burst_length >= m->burst_every || !isfinite(m->burst_amplitude) ||
                              !(m->burst_hz > 0) || m->srate == 0 || m->format == DP_STRING)) {
    fprintf(stderr, "dp-mock-stream: bursts need 0 < --burst-length < --burst-every, "
                    "--burst-hz > 0, a finite amplitude, a regular rate and a numeric format\n");
    return -1;
  }
  return 0;
}

/* The value of channel c at sample i, before conversion to the format. */
static double value(const struct mock *m, uint64_t i, size_t c) {
  switch (m->signal) {
  case SIG_RAMP: {
    uint64_t wrap = m->format == DP_INT8 ? 100 : m->format == DP_INT16 ? 30000 : (1u << 24);
    return (double)(i % wrap);
  }
  case SIG_NOISE: return 2.0 * rand() / (double)RAND_MAX - 1.0;
  case SIG_SINE: break;
  }
  double t = m->srate > 0 ? (double)i / m->srate : (double)i * 0.1;
  return sin(2.0 * 3.14159265358979323846 * (double)(c + 1) * t); /* channel c at c+1 Hz */
}

/* Scales the unit-amplitude signals into the integer formats. */
static void store(struct mock *m, size_t k, double v) {
  double amp = m->signal == SIG_RAMP ? 1.0 : m->format == DP_INT8 ? 100.0 : 1000.0;
  switch (m->format) {
  case DP_FLOAT32: ((float *)m->buf)[k] = (float)v; break;
  case DP_DOUBLE64: ((double *)m->buf)[k] = v; break;
  case DP_INT32: ((int32_t *)m->buf)[k] = (int32_t)lround(v * amp); break;
  case DP_INT16: ((int16_t *)m->buf)[k] = (int16_t)lround(v * amp); break;
  case DP_INT8: ((int8_t *)m->buf)[k] = (int8_t)lround(v * amp); break;
  case DP_INT64: ((int64_t *)m->buf)[k] = (int64_t)llround(v * amp); break;
  case DP_STRING:
    if (m->signal == SIG_RAMP)
      snprintf(m->text[k], sizeof m->text[k], "%.0f", v);
    else
      snprintf(m->text[k], sizeof m->text[k], "%.6f", v);
    ((const char **)m->buf)[k] = m->text[k];
    break;
  }
}

/* Sample i's burst offset (0 outside bursts); marks a burst's first sample. */
static double burst(struct mock *m, uint64_t i, double t) {
  if (m->burst_every <= 0) return 0;
  uint64_t period = (uint64_t)llround(m->burst_every * m->srate);
  uint64_t len = (uint64_t)llround(m->burst_length * m->srate);
  uint64_t phase = i % period;
  if (phase < period - len) return 0;
  if (phase == period - len) {
    const char *text = "burst";
    dp_lsl_outlet_push(m->burst_out, &text, 1, &t);
  }
  double rel = (double)(phase - (period - len)) / m->srate;
  return m->burst_amplitude * (1.0 + 0.5 * sin(2.0 * 3.14159265358979323846 * m->burst_hz * rel));
}

static int push_samples(struct mock *m, uint64_t first, size_t n) {
  for (size_t s = 0; s < n; s++) {
    uint64_t i = first + s;
    m->times[s] = m->srate > 0 ? m->t0 + (double)i / m->srate : dp_lsl_local_clock();
    double extra = burst(m, i, m->times[s]);
    for (size_t c = 0; c < m->channels; c++) store(m, s * m->channels + c, value(m, i, c) + extra);
  }
  return dp_lsl_outlet_push(m->out, m->buf, n, m->times);
}

static void stop(struct mock *m) {
  uv_timer_stop(&m->timer);
  uv_close((uv_handle_t *)&m->timer, NULL);
  uv_close((uv_handle_t *)&m->sigint, NULL);
  uv_close((uv_handle_t *)&m->sigterm, NULL);
}

/* When the timer should fire next, in ms from now: when the next whole block
 * is due (its last sample's time), at most 100 ms away (so that --duration
 * and the markers are looked at); every 100 ms for an irregular stream. */
static uint64_t next_tick_ms(const struct mock *m) {
  if (m->srate <= 0) return 100;
  uint64_t next_ns = m->start_ns + (uint64_t)((double)(m->sent + m->chunk) * 1e9 / m->srate);
  uint64_t now = uv_hrtime();
  uint64_t ms = next_ns > now ? (next_ns - now + 999999) / 1000000 : 0;
  return ms > 100 ? 100 : ms;
}

static void on_tick(uv_timer_t *t) {
  struct mock *m = t->data;
  double elapsed = (double)(uv_hrtime() - m->start_ns) / 1e9;
  bool last = m->duration > 0 && elapsed >= m->duration;
  if (last) elapsed = m->duration;
  uint64_t due = m->srate > 0 ? (uint64_t)(elapsed * m->srate) : (uint64_t)(elapsed * 10.0) + 1;
  /* whole blocks only (samples [k chunk, (k+1) chunk)), as an amplifier
   * hands them out; the rest is pushed at the end of --duration */
  while (m->sent < due && (due - m->sent >= m->chunk || last)) {
    size_t n = due - m->sent < m->chunk ? (size_t)(due - m->sent) : m->chunk;
    if (push_samples(m, m->sent, n) != 0) {
      fprintf(stderr, "dp-mock-stream: %s\n", dp_error_detail());
      m->exit_code = 1;
      stop(m);
      return;
    }
    m->sent += n;
  }
  if (m->markers && (uint64_t)elapsed + 1 > m->markers_sent) {
    char text[32];
    snprintf(text, sizeof text, "marker %llu", (unsigned long long)m->markers_sent);
    const char *one = text;
    dp_lsl_outlet_push(m->marker_out, &one, 1, NULL);
    m->markers_sent++;
  }
  if (last) {
    stop(m);
    return;
  }
  uv_update_time(t->loop); /* the timer counts from the loop's cached time */
  uv_timer_start(t, on_tick, next_tick_ms(m), 0);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

/* The string stream "<name>_<suffix>" (type Markers). */
static int open_marker_outlet(dp_lsl_outlet_t **out, const char *name, const char *suffix) {
  char full[512], id[600];
  snprintf(full, sizeof full, "%s_%s", name, suffix);
  snprintf(id, sizeof id, "dp-mock-stream:%s", full);
  dp_lsl_outlet_config_t mk = {.name = full,
                               .type = "Markers",
                               .channels = 1,
                               .srate = 0,
                               .format = DP_STRING,
                               .source_id = id};
  return dp_lsl_outlet_new(out, &mk);
}

static int open_outlets(struct mock *m) {
  char **labels = calloc(m->channels, sizeof *labels);
  if (labels == NULL) return DP_ENOMEM;
  for (size_t c = 0; c < m->channels; c++) {
    labels[c] = malloc(24);
    if (labels[c] != NULL) snprintf(labels[c], 24, "ch%zu", c + 1);
  }
  dp_lsl_outlet_config_t cfg = {.name = m->name,
                                .type = m->type,
                                .channels = m->channels,
                                .srate = m->srate,
                                .format = m->format,
                                .source_id = m->source_id,
                                .labels = (const char *const *)labels};
  int rc = dp_lsl_outlet_new(&m->out, &cfg);
  for (size_t c = 0; c < m->channels; c++) free(labels[c]);
  free(labels);
  if (rc == 0 && m->markers) rc = open_marker_outlet(&m->marker_out, m->name, "markers");
  if (rc == 0 && m->burst_every > 0) rc = open_marker_outlet(&m->burst_out, m->name, "bursts");
  return rc;
}

/* Runs the loop: pushes in real time until the duration or a signal. */
static void publish(struct mock *m) {
  printf("dp-mock-stream: publishing '%s' (%s, %zu ch %s @ %g Hz, source_id '%s')%s\n", m->name,
         m->type, m->channels, dp_dtype_name(m->format), m->srate, m->source_id,
         m->markers ? " and markers" : "");
  if (m->burst_every > 0)
    printf("dp-mock-stream: a burst of %g s every %g s (+%g, %g Hz) marked on '%s_bursts'\n",
           m->burst_length, m->burst_every, m->burst_amplitude, m->burst_hz, m->name);
  fflush(stdout);

  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &m->timer);
  uv_signal_init(loop, &m->sigint);
  uv_signal_init(loop, &m->sigterm);
  m->timer.data = m->sigint.data = m->sigterm.data = m;
  uv_signal_start(&m->sigint, on_signal, SIGINT);
  uv_signal_start(&m->sigterm, on_signal, SIGTERM);
  m->start_ns = uv_hrtime();
  m->t0 = dp_lsl_local_clock();
  uv_timer_start(&m->timer, on_tick, 0, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);

  fprintf(stderr, "dp-mock-stream: stopped after %llu samples\n", (unsigned long long)m->sent);
}

int main(int argc, char **argv) {
  struct mock m = {.type = "EEG",
                   .channels = 8,
                   .srate = 1000,
                   .format = DP_FLOAT32,
                   .chunk = 10,
                   .signal = SIG_SINE,
                   .burst_length = 0.3,
                   .burst_amplitude = 5,
                   .burst_hz = 20};
  dp_log_set_console(true);     /* the library's warnings (stream lost, back) */
  dp_log_configure_level(NULL); /* DP_LOG_LEVEL, default WARNING */
  if (parse_args(&m, argc, argv) != 0) {
    usage(stderr);
    return 2;
  }
  char default_id[512];
  if (m.source_id == NULL) {
    snprintf(default_id, sizeof default_id, "dp-mock-stream:%s", m.name);
    m.source_id = default_id;
  }
  if (m.srate == 0) m.chunk = 1;
  m.buf = calloc(m.chunk * m.channels, dp_dtype_size(m.format));
  m.text = calloc(m.chunk * m.channels, sizeof *m.text);
  m.times = calloc(m.chunk, sizeof *m.times);
  if (m.buf == NULL || m.text == NULL || m.times == NULL) {
    fprintf(stderr, "dp-mock-stream: out of memory\n");
    m.exit_code = 1;
  } else if (open_outlets(&m) != 0) {
    fprintf(stderr, "dp-mock-stream: %s\n", dp_error_detail());
    m.exit_code = 1;
  } else {
    publish(&m);
  }
  dp_lsl_outlet_free(m.out);
  dp_lsl_outlet_free(m.marker_out);
  dp_lsl_outlet_free(m.burst_out);
  free(m.buf);
  free(m.text);
  free(m.times);
  return m.exit_code;
}
