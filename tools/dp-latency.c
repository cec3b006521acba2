/* dp-latency.c - measures a closed loop from the outside: watches the streams
 * of a chain and prints per-stage and end-to-end latency (p50/p99/max):
 *
 *   dp-latency --stream SRC --stream decoder_output[@THR] --stream control_signal[@THR]
 *              [--bursts SRC_bursts --stim stim_markers] [--seconds 10]
 *              [--json FILE] [--poll-ms 0.1] [--timeout 10]
 *
 * Streams are given in chain order. A module built on libdareplane stamps
 * each output with the timestamp of the input sample it came from, so:
 * - "age" of a stream = arrival here (LSL clock) - sample timestamp: how old
 *   the source sample is when its result reaches this point;
 * - "hop" between consecutive streams = arrival of the result stamped T -
 *   arrival of the input sample stamped T (both seen here): the stage's own
 *   delay, its pull and its push;
 * - with --bursts (dp-mock-stream --burst-every's marker stream) and --stim
 *   (dp-stimulator's on/off markers): burst -> on = arrival of the first "on"
 *   after a burst began - the burst's first sample's timestamp;
 * - with --bursts and a stream given as NAME@THR: burst -> NAME above THR =
 *   arrival of the first sample above THR (stamped at or after the burst's
 *   start) - the burst's first sample's timestamp. This needs no kept
 *   timestamps, so it times any chain the same way (the benchmark's Python
 *   chain too). Both are matched at the end, with every marker in. The JSON also gives, per burst,
 * when its first sample reached the probe on the first --stream ("burst_seen_ms", from its
 * timestamp), so that the source's own delay can be taken out. Samples stamped before the probe
 * started (an outlet's backlog, sent to a new inlet) are left out. The probe polls every --poll-ms
 * in the kernel (it never spins); its own delay (at most a poll plus a pull) is in every figure. At
 * the end
 * (--seconds, Ctrl-C or SIGTERM) it prints the table and, with --json,
 * writes every sample seen (timestamp, first channel, arrival) and the
 * latencies for plotting (scripts/plot_closed_loop.py). */
#include <dareplane/dareplane.h>

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAMS 8
#define MAX_RECORDS 400000 /* samples kept per stream */
#define MAX_BURSTS  4096

typedef struct {
  const char *name;
  dp_stream_watcher_t *sw;
  size_t ch, cap;
  void *raw;
  double *times;
  double *t, *v, *arr; /* records: timestamp, first channel, arrival */
  size_t n;
  double *ages; /* ms */
  double *hops; /* ms: arrival - arrival of the same timestamp one stream up */
  size_t nhops;
  double threshold; /* for the onset */
  double *onsets;   /* ms per burst (index as in bursts), -1 while none */
  dp_dtype_t type;
  bool onset; /* NAME@THR given */
} probe_t;

static probe_t streams[MAX_STREAMS];
static size_t nstreams;
static probe_t bursts, stim;
static bool have_bursts, have_stim;
static double *burst_on; /* ms */
static size_t nburst_on;
static volatile sig_atomic_t stop_flag;
static double t_start; /* samples stamped before this (an outlet's backlog) are ignored */

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void usage(FILE *f) {
  fputs("usage: dp-latency --stream NAME[@THR] [--stream ...] [--bursts NAME --stim NAME]\n"
        "                  [--seconds 10] [--json FILE] [--poll-ms 0.1] [--timeout 10]\n"
        "Streams in chain order; prints age, hop and burst -> on latency p50/p99/max.\n",
        f);
}

static int open_probe(probe_t *p, double timeout_s) {
  int rc = dp_stream_watcher_new(&p->sw, p->name, 2.0);
  if (rc == 0) rc = dp_stream_watcher_connect(p->sw, timeout_s);
  if (rc < 0) {
    fprintf(stderr, "dp-latency: '%s': %s\n", p->name, dp_error_detail());
    return rc;
  }
  p->ch = dp_stream_watcher_channel_count(p->sw);
  p->type = dp_stream_watcher_dtype(p->sw);
  p->cap = dp_ringbuffer_capacity(dp_stream_watcher_buffer(p->sw));
  p->raw = calloc(p->cap * p->ch, dp_dtype_size(p->type));
  p->times = calloc(p->cap, sizeof *p->times);
  p->t = calloc(MAX_RECORDS, sizeof *p->t);
  p->v = calloc(MAX_RECORDS, sizeof *p->v);
  p->arr = calloc(MAX_RECORDS, sizeof *p->arr);
  p->ages = calloc(MAX_RECORDS, sizeof *p->ages);
  p->hops = calloc(MAX_RECORDS, sizeof *p->hops);
  p->onsets = malloc(MAX_BURSTS * sizeof *p->onsets);
  for (size_t i = 0; p->onsets != NULL && i < MAX_BURSTS; i++) p->onsets[i] = -1;
  if (!p->raw || !p->times || !p->t || !p->v || !p->arr || !p->ages || !p->hops || !p->onsets) {
    fprintf(stderr, "dp-latency: out of memory\n");
    return DP_ENOMEM;
  }
  return 0;
}

static void close_probe(probe_t *p) {
  dp_stream_watcher_free(p->sw);
  free(p->raw);
  free(p->times);
  free(p->t);
  free(p->v);
  free(p->arr);
  free(p->ages);
  free(p->hops);
  free(p->onsets);
}

/* The first channel of sample i as a number (markers: 1 for "on", else 0). */
static double first_channel(const probe_t *p, size_t i) {
  const char *base = p->raw;
  size_t k = i * p->ch;
  switch (p->type) {
  case DP_FLOAT32: return ((const float *)base)[k];
  case DP_DOUBLE64: return ((const double *)base)[k];
  case DP_INT32: return ((const int32_t *)base)[k];
  case DP_INT16: return ((const int16_t *)base)[k];
  case DP_INT8: return ((const int8_t *)base)[k];
  case DP_INT64: return (double)((const int64_t *)base)[k];
  case DP_STRING: {
    const char *s = ((char *const *)base)[k];
    return s != NULL && strcmp(s, "on") == 0 ? 1.0 : 0.0;
  }
  }
  return NAN;
}

/* Index of the record stamped exactly t, or -1 (records are in time order). */
static long find_time(const probe_t *p, double t) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (p->t[mid] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->n && p->t[lo] == t ? (long)lo : -1;
}

/* Index of the newest burst stamped at or before t, or -1. */
static long burst_before(double t) {
  size_t b = bursts.n;
  while (b > 0 && bursts.t[b - 1] > t) b--;
  return (long)b - 1;
}

/* Matches the recorded samples with the bursts once every marker is in: a
 * burst marker travels on its own connection and can reach the probe after
 * the first results of its burst (a fast chain's), which matched on arrival
 * would be given to no burst. Per NAME@THR stream, a burst's onset is the
 * arrival of the first sample above THR stamped at or after the burst's
 * start (and before the next one's) - the burst's timestamp; burst -> on is
 * the first "on" likewise. */
static void match_bursts(void) {
  for (size_t i = 0; i < nstreams; i++) {
    probe_t *p = &streams[i];
    for (size_t k = 0; p->onset && k < p->n; k++) {
      long b = p->v[k] > p->threshold ? burst_before(p->t[k]) : -1;
      if (b >= 0 && b < MAX_BURSTS && p->onsets[b] < 0)
        p->onsets[b] = 1e3 * (p->arr[k] - bursts.t[b]);
    }
  }
  long last_matched = -1;
  for (size_t k = 0; have_stim && k < stim.n && nburst_on < MAX_RECORDS; k++) {
    long b = stim.v[k] == 1.0 ? burst_before(stim.t[k]) : -1;
    if (b > last_matched) {
      last_matched = b;
      burst_on[nburst_on++] = 1e3 * (stim.arr[k] - bursts.t[b]);
    }
  }
}

/* Pulls what is new and records it; the index in `streams` or -1. */
static void poll_probe(probe_t *p, long index) {
  if (dp_stream_watcher_update(p->sw) <= 0) return;
  double arrival = dp_lsl_local_clock();
  uint64_t n_new = dp_stream_watcher_n_new(p->sw);
  size_t n = n_new < p->cap ? (size_t)n_new : p->cap;
  dp_stream_watcher_newest(p->sw, n, p->raw, p->times);
  dp_stream_watcher_clear_new(p->sw);
  for (size_t i = 0; i < n && p->n < MAX_RECORDS; i++) {
    double t = p->times[i], v = first_channel(p, i);
    if (t < t_start) continue;
    p->t[p->n] = t;
    p->v[p->n] = v;
    p->arr[p->n] = arrival;
    p->ages[p->n] = 1e3 * (arrival - t);
    p->n++;
    if (index > 0) {
      long j = find_time(&streams[index - 1], t);
      if (j >= 0) p->hops[p->nhops++] = 1e3 * (arrival - streams[index - 1].arr[j]);
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_row(const char *what, const double *ms, size_t n) {
  if (n == 0) {
    printf("  %-56s %8s\n", what, "no data");
    return;
  }
  double *s = malloc(n * sizeof *s);
  if (s == NULL) return;
  memcpy(s, ms, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  printf("  %-56s %8zu %9.3f %9.3f %9.3f\n", what, n, s[n / 2], s[(n * 99) / 100], s[n - 1]);
  free(s);
}

static void print_table(void) {
  char what[160];
  printf("\n  %-56s %8s %9s %9s %9s\n", "latency (ms)", "n", "p50", "p99", "max");
  for (size_t i = 0; i < nstreams; i++) {
    snprintf(what, sizeof what, "age at '%s'", streams[i].name);
    print_row(what, streams[i].ages, streams[i].n);
  }
  for (size_t i = 1; i < nstreams; i++) {
    snprintf(what, sizeof what, "hop '%s' -> '%s'", streams[i - 1].name, streams[i].name);
    print_row(what, streams[i].hops, streams[i].nhops);
  }
  if (have_stim) {
    snprintf(what, sizeof what, "age at '%s' (on/off)", stim.name);
    print_row(what, stim.ages, stim.n);
  }
  if (have_bursts && have_stim)
    print_row("burst first sample -> stimulation on", burst_on, nburst_on);
}

/* %.17g: a double read back is the same double (timestamps are matched exactly). */
static void json_array(FILE *f, const char *key, const double *v, size_t n, bool more) {
  fprintf(f, "\"%s\": [", key);
  for (size_t i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? ", " : "", v[i]);
  fprintf(f, "]%s", more ? ", " : "");
}

static void json_probe(FILE *f, const probe_t *p, bool more) {
  fprintf(f, "{\"name\": \"%s\", ", p->name);
  json_array(f, "t", p->t, p->n, true);
  json_array(f, "v", p->v, p->n, true);
  json_array(f, "arrival", p->arr, p->n, true);
  json_array(f, "age_ms", p->ages, p->n, true);
  json_array(f, "hop_ms", p->hops, p->nhops, p->onset);
  if (p->onset)
    json_array(f, "onset_ms", p->onsets, bursts.n < MAX_BURSTS ? bursts.n : MAX_BURSTS, false);
  fprintf(f, "}%s\n", more ? "," : "");
}

static int write_json(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  fprintf(f, "{\"streams\": [\n");
  for (size_t i = 0; i < nstreams; i++) json_probe(f, &streams[i], i + 1 < nstreams);
  fprintf(f, "],\n");
  if (have_bursts) {
    fprintf(f, "\"bursts\": ");
    json_probe(f, &bursts, true);
  }
  if (have_stim) {
    fprintf(f, "\"stim\": ");
    json_probe(f, &stim, true);
  }
  if (have_bursts) { /* when each burst's first sample reached the probe */
    size_t n = bursts.n < MAX_BURSTS ? bursts.n : MAX_BURSTS;
    double *seen = malloc((n ? n : 1) * sizeof *seen);
    for (size_t b = 0; seen != NULL && b < n; b++) {
      long j = find_time(&streams[0], bursts.t[b]);
      seen[b] = j >= 0 ? 1e3 * (streams[0].arr[j] - bursts.t[b]) : -1;
    }
    if (seen != NULL) json_array(f, "burst_seen_ms", seen, n, true);
    free(seen);
  }
  json_array(f, "burst_on_ms", burst_on, nburst_on, false);
  fprintf(f, "}\n");
  return fclose(f) == 0 ? 0 : -1;
}

static int parse(int argc, char **argv, double *seconds, double *poll_ms, double *timeout,
                 const char **json) {
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "help") || dp_args_is(&a, "h")) {
      usage(stdout);
      exit(0);
    } else if (dp_args_is(&a, "stream")) {
      if ((rc = dp_args_value(&a)) < 0) break;
      if (nstreams == MAX_STREAMS) {
        fprintf(stderr, "dp-latency: at most %d --stream\n", MAX_STREAMS);
        return -1;
      }
      probe_t *p = &streams[nstreams++];
      p->name = a.value;
      char *at = strchr(a.value, '@');
      if (at != NULL) {
        char *end = NULL;
        *at = '\0';
        p->threshold = strtod(at + 1, &end);
        p->onset = true;
        if (end == at + 1 || *end != '\0' || !isfinite(p->threshold)) {
          fprintf(stderr, "dp-latency: --stream NAME@THRESHOLD needs a number after '@'\n");
          return -1;
        }
      }
    } else if (dp_args_is(&a, "bursts")) {
      if ((rc = dp_args_value(&a)) < 0) break;
      bursts.name = a.value;
      have_bursts = true;
    } else if (dp_args_is(&a, "stim")) {
      if ((rc = dp_args_value(&a)) < 0) break;
      stim.name = a.value;
      have_stim = true;
    } else if (dp_args_is(&a, "json")) {
      if ((rc = dp_args_value(&a)) < 0) break;
      *json = a.value;
    } else if (dp_args_is(&a, "seconds")) {
      if ((rc = dp_args_double(&a, seconds)) < 0) break;
    } else if (dp_args_is(&a, "poll-ms")) {
      if ((rc = dp_args_double(&a, poll_ms)) < 0) break;
    } else if (dp_args_is(&a, "timeout")) {
      if ((rc = dp_args_double(&a, timeout)) < 0) break;
    } else {
      rc = dp_args_unknown(&a);
      break;
    }
  }
  if (rc < 0) {
    fprintf(stderr, "dp-latency: %s\n", dp_error_detail());
    return -1;
  }
  if (nstreams == 0 || !(*seconds > 0) || !(*poll_ms > 0) || *poll_ms > 1000 || !(*timeout > 0)) {
    fprintf(stderr, "dp-latency: needs --stream, --seconds > 0, 0 < --poll-ms <= 1000, "
                    "--timeout > 0\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  double seconds = 10, poll_ms = 0.1, timeout = 10;
  const char *json = NULL;
  dp_log_set_console(true);
  dp_log_configure_level(NULL);
  if (parse(argc, argv, &seconds, &poll_ms, &timeout, &json) != 0) {
    usage(stderr);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int status = 0;
  burst_on = calloc(MAX_RECORDS, sizeof *burst_on);
  for (size_t i = 0; i < nstreams && status == 0; i++)
    if (open_probe(&streams[i], timeout) < 0) status = 1;
  if (status == 0 && have_bursts && open_probe(&bursts, timeout) < 0) status = 1;
  if (status == 0 && have_stim && open_probe(&stim, timeout) < 0) status = 1;
  if (status == 0 && burst_on != NULL) {
    printf("dp-latency: watching %zu stream(s) for %g s\n", nstreams, seconds);
    fflush(stdout);
    t_start = dp_lsl_local_clock();
    double end = t_start + seconds;
    struct timespec pause = {0, (long)(poll_ms * 1e6)};
    while (!stop_flag && dp_lsl_local_clock() < end) {
      if (have_bursts) poll_probe(&bursts, -1);
      for (size_t i = 0; i < nstreams; i++) poll_probe(&streams[i], (long)i);
      if (have_stim) poll_probe(&stim, -1);
      nanosleep(&pause, NULL);
    }
    if (have_bursts) match_bursts();
    print_table();
    if (json != NULL && write_json(json) != 0) status = 1;
  }
  for (size_t i = 0; i < nstreams; i++) close_probe(&streams[i]);
  if (have_bursts) close_probe(&bursts);
  if (have_stim) close_probe(&stim);
  free(burst_on);
  return status;
}
