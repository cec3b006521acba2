/* bench_lsl.c - what reading an LSL stream costs the module's thread, against
 * a stream published by another process (started by bench/suite_lsl.py):
 *
 *   bench-lsl --name N --mode ours|raw|latency [--seconds S] [--period-ms P]
 *             [--chunk C]
 *
 * ours:    dp_stream_watcher_update() every P ms (a module's loop);
 * raw:     the same loop calling liblsl's lsl_pull_chunk_f into one
 *          preallocated buffer, nothing else (the limit of any watcher);
 * latency: update() in a tight loop; for every sample that ends one of the
 *          publisher's chunks (ramp value % --chunk == --chunk - 1), liblsl's
 *          clock when it became visible minus its timestamp; with
 *          bench/lsl_publisher.py, whose chunks liblsl stamps at the push,
 *          that is the delay from push to visible.
 * CPU time is this thread's (CLOCK_THREAD_CPUTIME_ID) inside the measured
 * calls. Prints one JSON line. */
#include <dareplane/dareplane.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "lsl/info.h"

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct stats {
  uint64_t updates, samples, cpu_ns;
};

static void report(const char *mode, const struct stats *s) {
  printf("{\"mode\": \"%s\", \"updates\": %llu, \"samples\": %llu, \"cpu_ns\": %llu}\n", mode,
         (unsigned long long)s->updates, (unsigned long long)s->samples,
         (unsigned long long)s->cpu_ns);
}

static int run_ours(const char *name, double seconds, unsigned period_ms, int latency,
                    uint64_t chunk) {
  dp_stream_watcher_t *sw;
  if (dp_stream_watcher_new(&sw, name, 2.0) != 0 || dp_stream_watcher_connect(sw, 20.0) != 0) {
    fprintf(stderr, "bench-lsl: %s\n", dp_error_detail());
    return 1;
  }
  struct stats s = {0};
  size_t cap = 1 << 16, n_delays = 0, ch = dp_stream_watcher_channel_count(sw);
  size_t cap_samples = dp_ringbuffer_capacity(dp_stream_watcher_buffer(sw));
  double *delays = malloc(cap * sizeof *delays);
  float *data = latency ? malloc(cap_samples * ch * sizeof *data) : NULL;
  double *times = latency ? malloc(cap_samples * sizeof *times) : NULL;
  uint64_t end = uv_hrtime() + (uint64_t)(seconds * 1e9);
  while (uv_hrtime() < end) {
    uint64_t c0 = thread_cpu_ns();
    int n = dp_stream_watcher_update(sw);
    s.cpu_ns += thread_cpu_ns() - c0;
    if (n < 0) break;
    s.updates++;
    s.samples += (uint64_t)n;
    if (latency && n > 0) {
      double now = dp_lsl_local_clock();
      size_t k = (size_t)n < cap_samples ? (size_t)n : cap_samples;
      dp_stream_watcher_newest(sw, k, data, times);
      for (size_t i = 0; i < k && n_delays < cap; i++) /* chunk-final ramp samples */
        if ((uint64_t)data[i * ch] % chunk == chunk - 1) delays[n_delays++] = now - times[i];
    }
    if (!latency) uv_sleep(period_ms);
  }
  if (latency) {
    qsort(delays, n_delays, sizeof *delays, cmp_double);
    printf("{\"mode\": \"latency\", \"n\": %zu, \"median_s\": %.9f, \"p90_s\": %.9f}\n", n_delays,
           n_delays ? delays[n_delays / 2] : -1.0, n_delays ? delays[n_delays * 9 / 10] : -1.0);
  } else {
    report("ours", &s);
  }
  free(delays);
  free(data);
  free(times);
  dp_stream_watcher_free(sw);
  return 0;
}

/* The limit: liblsl's pull into one preallocated buffer of the same size the
 * watcher uses, and nothing else. */
static int run_raw(const char *name, double seconds, unsigned period_ms) {
  const dp_lsl_api_t *lsl = dp_lsl_api();
  char pred[512];
  lsl_streaminfo found;
  if (lsl == NULL || dp_lsl_pred_term(pred, sizeof pred, 0, "name", name) == 0 ||
      dp_lsl_resolve_poll(lsl, pred, 1, 20.0, &found, 1) != 1) {
    fprintf(stderr, "bench-lsl: cannot find '%s': %s\n", name, dp_error_detail());
    return 1;
  }
  int32_t ec = 0;
  unsigned long ch = (unsigned long)lsl->get_channel_count(found);
  unsigned long chunk = (unsigned long)(lsl->get_nominal_srate(found) * 2.0);
  if (chunk > 32768) chunk = 32768;
  lsl_inlet in = lsl->create_inlet(found, 360, 0, 1);
  lsl->destroy_streaminfo(found);
  lsl->open_stream(in, 10.0, &ec);
  float *buf = malloc(chunk * ch * sizeof *buf);
  double *ts = malloc(chunk * sizeof *ts);
  struct stats s = {0};
  uint64_t end = uv_hrtime() + (uint64_t)(seconds * 1e9);
  while (ec == 0 && uv_hrtime() < end) {
    uint64_t c0 = thread_cpu_ns();
    unsigned long got;
    do { /* drain, as update() does */
      got = lsl->pull_chunk_f(in, buf, ts, chunk * ch, chunk, 0.0, &ec) / ch;
      s.samples += got;
    } while (got == chunk && ec == 0);
    s.cpu_ns += thread_cpu_ns() - c0;
    s.updates++;
    uv_sleep(period_ms);
  }
  report("raw", &s);
  lsl->destroy_inlet(in);
  free(buf);
  free(ts);
  return 0;
}

int main(int argc, char **argv) {
  const char *name = NULL, *mode = "ours";
  double seconds = 4.0;
  unsigned period_ms = 10;
  uint64_t chunk = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--name") == 0)
      name = argv[i + 1];
    else if (strcmp(argv[i], "--mode") == 0)
      mode = argv[i + 1];
    else if (strcmp(argv[i], "--seconds") == 0)
      seconds = strtod(argv[i + 1], NULL);
    else if (strcmp(argv[i], "--period-ms") == 0)
      period_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--chunk") == 0)
      chunk = strtoull(argv[i + 1], NULL, 10);
  }
  if (chunk == 0) chunk = 1;
  if (name == NULL) {
    fprintf(stderr,
            "usage: bench-lsl --name N --mode ours|raw|latency [--seconds S] [--chunk C]\n");
    return 2;
  }
  if (strcmp(mode, "raw") == 0) return run_raw(name, seconds, period_ms);
  return run_ours(name, seconds, period_ms, strcmp(mode, "latency") == 0, chunk);
}
