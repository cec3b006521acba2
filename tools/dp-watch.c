/* dp-watch.c - looks at LSL streams from the command line with the
 * library's StreamWatcher:
 *
 *   dp-watch --list [--wait S]
 *   dp-watch --name N | --pred P [--seconds S] [--samples N] [--csv FILE]
 *            [--buffer S] [--timeout S] [--clocksync] [--dejitter]
 *
 * --list prints the visible streams (name, type, channels, rate, format,
 * source_id, host). Watching updates the StreamWatcher every 20 ms until
 * --seconds pass, --samples have arrived, or Ctrl-C; on a terminal it shows a
 * one-line live status (rate seen, samples, per-channel min/max/mean of the
 * buffer). At the end it prints a summary line and, with --csv, writes the
 * buffer's filled part, oldest first, as CSV: "timestamp" plus one column per
 * channel label; numbers are written so that they read back exactly. */
#include <dareplane/dareplane.h>

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define STATUS_CHANNELS 4 /* channels shown in the live status line */

struct watch {
  const char *name, *pred, *csv;
  double seconds, buffer_s, timeout_s, wait_s;
  uint64_t max_samples;
  unsigned postproc;
  bool list;

  dp_stream_watcher_t *sw;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  bool tty;
  uint64_t start_ns, status_ns, total, status_total;
  void *data; /* unfold memory: capacity x channels */
  double *times;
  int exit_code;
};

static void usage(FILE *f) {
  fputs("usage: dp-watch --list [--wait S]\n"
        "       dp-watch --name N | --pred P [--seconds S] [--samples N] [--csv FILE]\n"
        "                [--buffer S] [--timeout S] [--clocksync] [--dejitter]\n",
        f);
}

/* Reads one flag into w; returns 0 or a DP_E* code (detail set). */
static int parse_flag(struct watch *w, dp_args_t *a) {
  long samples = 0;
  int rc = 0;
  if (dp_args_is(a, "help") || dp_args_is(a, "h")) {
    usage(stdout);
    exit(0);
  } else if (dp_args_is(a, "list")) {
    w->list = true;
  } else if (dp_args_is(a, "clocksync")) {
    w->postproc |= DP_LSL_CLOCKSYNC;
  } else if (dp_args_is(a, "dejitter")) {
    w->postproc |= DP_LSL_DEJITTER;
  } else if (dp_args_is(a, "name")) {
    rc = dp_args_value(a);
    w->name = a->value;
  } else if (dp_args_is(a, "pred")) {
    rc = dp_args_value(a);
    w->pred = a->value;
  } else if (dp_args_is(a, "csv")) {
    rc = dp_args_value(a);
    w->csv = a->value;
  } else if (dp_args_is(a, "seconds")) {
    rc = dp_args_double(a, &w->seconds);
  } else if (dp_args_is(a, "buffer")) {
    rc = dp_args_double(a, &w->buffer_s);
  } else if (dp_args_is(a, "timeout")) {
    rc = dp_args_double(a, &w->timeout_s);
  } else if (dp_args_is(a, "wait")) {
    rc = dp_args_double(a, &w->wait_s);
  } else if (dp_args_is(a, "samples")) {
    rc = dp_args_long(a, 0, LONG_MAX, &samples);
    w->max_samples = (uint64_t)samples;
  } else {
    rc = dp_args_unknown(a);
  }
  return rc;
}

static int parse_args(struct watch *w, int argc, char **argv) {
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG && (rc = parse_flag(w, &a)) == 0) continue;
  if (rc < 0) {
    fprintf(stderr, "dp-watch: %s\n", dp_error_detail());
    return -1;
  }
  if (!w->list && w->name == NULL && w->pred == NULL) {
    fprintf(stderr, "dp-watch: give --list, --name or --pred\n");
    return -1;
  }
  return 0;
}

static int list_streams(double wait_s) {
  dp_lsl_stream_info_t *l;
  size_t n;
  if (dp_lsl_list_streams(&l, &n, wait_s) != 0) {
    fprintf(stderr, "dp-watch: %s\n", dp_error_detail());
    return 1;
  }
  printf("%-24s %-10s %8s %10s %-9s %-28s %s\n", "name", "type", "channels", "rate", "format",
         "source_id", "host");
  for (size_t i = 0; i < n; i++) {
    const char *fmt = dp_dtype_name((dp_dtype_t)l[i].channel_format);
    printf("%-24s %-10s %8d %10g %-9s %-28s %s\n", l[i].name, l[i].type, l[i].channel_count,
           l[i].nominal_srate, fmt ? fmt : "undefined", l[i].source_id, l[i].hostname);
  }
  dp_lsl_stream_list_free(l, n);
  return 0;
}

/* Element k of a numeric buffer of `type` as a double. */
static double as_double(dp_dtype_t type, const void *data, size_t k) {
  switch (type) {
  case DP_FLOAT32: return ((const float *)data)[k];
  case DP_DOUBLE64: return ((const double *)data)[k];
  case DP_INT32: return ((const int32_t *)data)[k];
  case DP_INT16: return ((const int16_t *)data)[k];
  case DP_INT8: return ((const int8_t *)data)[k];
  case DP_INT64: return (double)((const int64_t *)data)[k];
  case DP_STRING: break;
  }
  return 0;
}

/* Writes element k exactly (round-trip precision for floats). */
static void write_value(FILE *f, dp_dtype_t type, const void *data, size_t k) {
  switch (type) {
  case DP_FLOAT32: fprintf(f, "%.9g", (double)((const float *)data)[k]); return;
  case DP_DOUBLE64: fprintf(f, "%.17g", ((const double *)data)[k]); return;
  case DP_INT64: fprintf(f, "%" PRId64, ((const int64_t *)data)[k]); return;
  case DP_INT32:
  case DP_INT16:
  case DP_INT8: fprintf(f, "%.0f", as_double(type, data, k)); return;
  case DP_STRING: break;
  }
  const char *s = ((const char *const *)data)[k]; /* CSV quoting */
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* The filled part of the buffer (oldest first) into w->data/w->times;
 * returns the number of rows. */
static size_t snapshot(struct watch *w) {
  const dp_ringbuffer_t *rb = dp_stream_watcher_buffer(w->sw);
  size_t rows = dp_ringbuffer_count(rb);
  dp_ringbuffer_newest(rb, rows, w->data, w->times);
  return rows;
}

static int write_csv(struct watch *w) {
  FILE *f = fopen(w->csv, "w");
  if (f == NULL) {
    perror(w->csv);
    return 1;
  }
  size_t ch = dp_stream_watcher_channel_count(w->sw), rows = snapshot(w);
  dp_dtype_t type = dp_stream_watcher_dtype(w->sw);
  fputs("timestamp", f);
  for (size_t c = 0; c < ch; c++) fprintf(f, ",%s", dp_stream_watcher_label(w->sw, c));
  fputc('\n', f);
  for (size_t r = 0; r < rows; r++) {
    fprintf(f, "%.17g", w->times[r]);
    for (size_t c = 0; c < ch; c++) {
      fputc(',', f);
      write_value(f, type, w->data, r * ch + c);
    }
    fputc('\n', f);
  }
  return fclose(f) == 0 ? 0 : 1;
}

static void print_status(struct watch *w, uint64_t now) {
  double dt = (double)(now - w->status_ns) / 1e9;
  double rate = dt > 0 ? (double)(w->total - w->status_total) / dt : 0;
  w->status_ns = now;
  w->status_total = w->total;
  printf("\r\033[K%s: %.1f Hz, %" PRIu64 " samples, %s", dp_stream_watcher_info(w->sw)->name, rate,
         w->total, dp_stream_watcher_is_flowing(w->sw) ? "flowing" : "NOT flowing");
  dp_dtype_t type = dp_stream_watcher_dtype(w->sw);
  size_t ch = dp_stream_watcher_channel_count(w->sw), rows = snapshot(w);
  for (size_t c = 0; type != DP_STRING && rows > 0 && c < ch && c < STATUS_CHANNELS; c++) {
    double lo = as_double(type, w->data, c), hi = lo, sum = 0;
    for (size_t r = 0; r < rows; r++) {
      double v = as_double(type, w->data, r * ch + c);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += v;
    }
    printf(" | %s %.3g/%.3g/%.3g", dp_stream_watcher_label(w->sw, c), lo, hi, sum / (double)rows);
  }
  if (ch > STATUS_CHANNELS && type != DP_STRING) printf(" | +%zu ch", ch - STATUS_CHANNELS);
  fflush(stdout);
}

static void stop(struct watch *w) {
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, NULL);
  uv_close((uv_handle_t *)&w->sigint, NULL);
  uv_close((uv_handle_t *)&w->sigterm, NULL);
}

static void on_tick(uv_timer_t *t) {
  struct watch *w = t->data;
  int n = dp_stream_watcher_update(w->sw);
  if (n < 0) {
    fprintf(stderr, "\ndp-watch: %s\n", dp_error_detail());
    w->exit_code = 1;
    stop(w);
    return;
  }
  w->total += (uint64_t)n;
  dp_stream_watcher_clear_new(w->sw);
  uint64_t now = uv_hrtime();
  if (w->tty && now - w->status_ns >= 250000000u) print_status(w, now);
  bool done = (w->seconds > 0 && (double)(now - w->start_ns) / 1e9 >= w->seconds) ||
              (w->max_samples > 0 && w->total >= w->max_samples);
  if (done) stop(w);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

static int watch(struct watch *w) {
  if (dp_stream_watcher_new(&w->sw, w->name, w->buffer_s) != 0 ||
      dp_stream_watcher_set_predicate(w->sw, w->pred) != 0 ||
      dp_stream_watcher_set_postprocessing(w->sw, w->postproc) != 0 ||
      dp_stream_watcher_connect(w->sw, w->timeout_s) != 0) {
    fprintf(stderr, "dp-watch: %s\n", dp_error_detail());
    return 1;
  }
  char desc[512];
  dp_lsl_stream_describe(dp_stream_watcher_info(w->sw), desc, sizeof desc);
  printf("dp-watch: connected to %s\n", desc);
  fflush(stdout);
  const dp_ringbuffer_t *rb = dp_stream_watcher_buffer(w->sw);
  w->data = calloc(dp_ringbuffer_capacity(rb) * dp_ringbuffer_frame(rb),
                   dp_dtype_size(dp_ringbuffer_dtype(rb)));
  w->times = calloc(dp_ringbuffer_capacity(rb), sizeof(double));
  if (w->data == NULL || w->times == NULL) {
    fprintf(stderr, "dp-watch: out of memory\n");
    return 1;
  }
  w->total = dp_stream_watcher_n_new(w->sw); /* what connect's first update got */
  dp_stream_watcher_clear_new(w->sw);
  w->tty = uv_guess_handle(1) == UV_TTY;
  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &w->timer);
  uv_signal_init(loop, &w->sigint);
  uv_signal_init(loop, &w->sigterm);
  w->timer.data = w->sigint.data = w->sigterm.data = w;
  uv_signal_start(&w->sigint, on_signal, SIGINT);
  uv_signal_start(&w->sigterm, on_signal, SIGTERM);
  w->start_ns = w->status_ns = uv_hrtime();
  uv_timer_start(&w->timer, on_tick, 0, 20);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);

  double secs = (double)(uv_hrtime() - w->start_ns) / 1e9;
  printf("%sdp-watch: '%s' %" PRIu64 " samples in %.2f s, buffer %zu x %zu %s, recoveries %u\n",
         w->tty ? "\n" : "", dp_stream_watcher_info(w->sw)->name, w->total, secs,
         dp_ringbuffer_capacity(rb), dp_ringbuffer_frame(rb),
         dp_dtype_name(dp_ringbuffer_dtype(rb)), dp_stream_watcher_recoveries(w->sw));
  if (w->csv != NULL && write_csv(w) != 0) w->exit_code = 1;
  return w->exit_code;
}

int main(int argc, char **argv) {
  struct watch w = {.buffer_s = 2.0, .timeout_s = 5.0, .wait_s = 1.0};
  dp_log_set_console(true);     /* the library's warnings (stream lost, back) */
  dp_log_configure_level(NULL); /* DP_LOG_LEVEL, default WARNING */
  if (parse_args(&w, argc, argv) != 0) {
    usage(stderr);
    return 2;
  }
  int rc = w.list ? list_streams(w.wait_s) : watch(&w);
  dp_stream_watcher_free(w.sw);
  free(w.data);
  free(w.times);
  return rc;
}
