/* bench_lsl.c - what reading an LSL stream costs the module's thread, against
 * a stream published by another process (started by bench/suite_lsl.py):
 *
 *   bench-lsl --name N --mode ours|raw|latency|latency-raw [--seconds S]
 *             [--period-ms P] [--chunk C] [--buffer B] [--poll-us U]
 *             [--warmup W] [--rt PRIO]
 *
 * ours:    dp_stream_watcher_update() every P ms (a module's loop), with a
 *          buffer of B seconds (default 2);
 * raw:     the same loop calling liblsl's lsl_pull_chunk_f into one
 *          preallocated buffer, nothing else (the limit of any watcher),
 *          with an inlet queue of the same size as the watcher's;
 * latency: update_wait() in a loop (sleeps until a sample arrives), or
 *          with U > 0 update() polled every U us; for every new sample
 *          (read with dp_stream_watcher_peek_new, zero-copy) that ends one
 *          of the publisher's chunks (ramp value % --chunk == --chunk - 1), liblsl's
 *          clock when it became visible minus its timestamp; with
 *          bench/lsl_publisher.py, whose chunks liblsl stamps at the push,
 *          that is the delay from push to visible;
 * latency-raw: the limit of the latency: a bare inlet (queue sized as the
 *          watcher's) doing a blocking lsl_pull_chunk_f of one publisher's
 *          chunk (C samples) into a preallocated buffer, no ring, no
 *          watcher, stamped the same way.
 * The latency modes note no delay in their first W seconds (default 0.25:
 * the new inlet's first chunks, page faults of liblsl's queue), and print
 * every delay (us, in arrival order) so that the suite pools its stretches.
 * --rt PRIO: the process under real-time scheduling first
 * (dp_thread_set_realtime, before the inlet exists, so that liblsl's
 * threads inherit it); exit status 3 when that is not permitted.
 * CPU time is this thread's (CLOCK_THREAD_CPUTIME_ID) inside the measured
 * calls, and the whole process's (getrusage: liblsl's receiving threads
 * too) over the run; rss_kb is the process's peak resident memory and
 * ring_bytes the size of the watcher's buffer. Prints one JSON line. */
#include <dareplane/dareplane.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

static uint64_t process_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* Peak resident set of this process in KiB (VmHWM), 0 if unknown. */
static unsigned long peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long kb = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) break;
  if (f != NULL) fclose(f);
  return kb;
}

struct stats {
  uint64_t updates, samples, cpu_ns, proc_cpu_ns, wall_ns;
  size_t ring_bytes;
};

static void report(const char *mode, const struct stats *s) {
  printf("{\"mode\": \"%s\", \"updates\": %llu, \"samples\": %llu, \"cpu_ns\": %llu, "
         "\"proc_cpu_ns\": %llu, \"wall_ns\": %llu, \"rss_kb\": %lu, \"ring_bytes\": %zu}\n",
         mode, (unsigned long long)s->updates, (unsigned long long)s->samples,
         (unsigned long long)s->cpu_ns, (unsigned long long)s->proc_cpu_ns,
         (unsigned long long)s->wall_ns, peak_rss_kb(), s->ring_bytes);
}

/* The options of a run. */
struct opts {
  const char *name, *mode;
  double seconds, buffer_s, warmup_s;
  unsigned period_ms, poll_us;
  uint64_t chunk;
  int rt;
};

/* Delays of the chunk-final samples among the new ones (channel 0 holds the
 * ramp), read in place, noted when `note`; consumes them. */
static void note_delays(dp_stream_watcher_t *sw, size_t ch, uint64_t chunk, bool note,
                        double *delays, size_t cap, size_t *n_delays) {
  double now = dp_lsl_local_clock();
  dp_ringbuffer_view_t v;
  dp_stream_watcher_peek_new(sw, &v);
  for (int s = 0; s < 2 && note; s++) {
    const float *d = v.data[s];
    for (size_t i = 0; i < v.n[s] && *n_delays < cap; i++)
      if ((uint64_t)d[i * ch] % chunk == chunk - 1) delays[(*n_delays)++] = now - v.times[s][i];
  }
  dp_stream_watcher_consume(sw, SIZE_MAX);
}

/* Prints every delay in us (in arrival order, for the suite to pool the
 * stretches), then p50 and p99 of this run (sorting them). */
static void report_delays(double *delays, size_t n, uint64_t samples) {
  printf("{\"mode\": \"latency\", \"delays_us\": [");
  for (size_t i = 0; i < n; i++) printf("%s%.1f", i ? ", " : "", delays[i] * 1e6);
  qsort(delays, n, sizeof *delays, cmp_double);
  printf("], \"n\": %zu, \"p50_s\": %.9f, \"p99_s\": %.9f, \"samples\": %llu}\n", n,
         n ? delays[n / 2] : -1.0, n ? delays[n * 99 / 100] : -1.0, (unsigned long long)samples);
}

static int run_ours(const struct opts *o, int latency) {
  dp_stream_watcher_t *sw;
  if (dp_stream_watcher_new(&sw, o->name, o->buffer_s) != 0 ||
      dp_stream_watcher_connect(sw, 20.0) != 0) {
    fprintf(stderr, "bench-lsl: %s\n", dp_error_detail());
    return 1;
  }
  struct stats s = {0};
  size_t cap = 1 << 20, n_delays = 0, ch = dp_stream_watcher_channel_count(sw);
  const dp_ringbuffer_t *rb = dp_stream_watcher_buffer(sw);
  s.ring_bytes = dp_ringbuffer_capacity(rb) * (ch * sizeof(float) + sizeof(double));
  double *delays = latency ? malloc(cap * sizeof *delays) : NULL;
  dp_stream_watcher_consume(sw, SIZE_MAX);
  uint64_t start = uv_hrtime(), end = start + (uint64_t)(o->seconds * 1e9);
  uint64_t noted = start + (uint64_t)(o->warmup_s * 1e9), p0 = process_cpu_ns();
  while (uv_hrtime() < end) {
    uint64_t c0 = thread_cpu_ns();
    int n = latency && o->poll_us == 0 ? dp_stream_watcher_update_wait(sw, 0.1)
                                       : dp_stream_watcher_update(sw);
    s.cpu_ns += thread_cpu_ns() - c0;
    if (n < 0) break;
    s.updates++;
    s.samples += (uint64_t)n;
    if (latency && n > 0)
      note_delays(sw, ch, o->chunk, uv_hrtime() >= noted, delays, cap, &n_delays);
    if (!latency) {
      uv_sleep(o->period_ms);
    } else if (o->poll_us > 0) { /* let liblsl's receiving thread run on a small machine */
      struct timespec ts = {0, (long)o->poll_us * 1000};
      nanosleep(&ts, NULL);
    }
  }
  s.proc_cpu_ns = process_cpu_ns() - p0;
  s.wall_ns = uv_hrtime() - start;
  if (latency) {
    report_delays(delays, n_delays, s.samples);
  } else {
    report("ours", &s);
  }
  free(delays);
  dp_stream_watcher_free(sw);
  return 0;
}

/* A bare inlet on the stream `name` with a queue of buffer_s seconds (as
 * the watcher's), opened; NULL on failure. *ch = its channel count, *srate
 * its nominal rate. */
static lsl_inlet open_raw(const dp_lsl_api_t *lsl, const char *name, double buffer_s,
                          unsigned long *ch, double *srate) {
  char pred[512];
  lsl_streaminfo found;
  if (lsl == NULL || dp_lsl_pred_term(pred, sizeof pred, 0, "name", name) == 0 ||
      dp_lsl_resolve_poll(lsl, pred, 1, 20.0, &found, 1) != 1) {
    fprintf(stderr, "bench-lsl: cannot find '%s': %s\n", name, dp_error_detail());
    return NULL;
  }
  int32_t ec = 0;
  *ch = (unsigned long)lsl->get_channel_count(found);
  *srate = lsl->get_nominal_srate(found);
  lsl_inlet in = lsl->create_inlet(found, (int32_t)ceil(buffer_s), 0, 1);
  lsl->destroy_streaminfo(found);
  lsl->open_stream(in, 10.0, &ec);
  if (ec != 0) {
    fprintf(stderr, "bench-lsl: cannot open '%s' (liblsl error %d)\n", name, (int)ec);
    lsl->destroy_inlet(in);
    return NULL;
  }
  return in;
}

/* The limit: liblsl's pull into one preallocated buffer of the same size the
 * watcher uses, and nothing else; with `latency`, a blocking pull of one
 * publisher's chunk in a loop, and the delays of the chunk-final samples. */
static int run_raw(const struct opts *o, int latency) {
  const dp_lsl_api_t *lsl = dp_lsl_api();
  unsigned long ch;
  double srate;
  uint64_t pub_chunk = o->chunk;
  lsl_inlet in = open_raw(lsl, o->name, o->buffer_s, &ch, &srate);
  if (in == NULL) return 1;
  unsigned long chunk = latency ? (unsigned long)pub_chunk : (unsigned long)(srate * o->buffer_s);
  if (chunk > 32768) chunk = 32768;
  if (chunk == 0) chunk = 1;
  float *buf = malloc(chunk * ch * sizeof *buf);
  double *ts = malloc(chunk * sizeof *ts);
  size_t cap = 1 << 20, n_delays = 0;
  double *delays = latency ? malloc(cap * sizeof *delays) : NULL;
  struct stats s = {0};
  int32_t ec = 0;
  uint64_t start = uv_hrtime(), end = start + (uint64_t)(o->seconds * 1e9);
  uint64_t noted = start + (uint64_t)(o->warmup_s * 1e9), p0 = process_cpu_ns();
  while (ec == 0 && uv_hrtime() < end) {
    uint64_t c0 = thread_cpu_ns();
    unsigned long got;
    if (latency) { /* blocks until the whole chunk is there */
      got = lsl->pull_chunk_f(in, buf, ts, chunk * ch, chunk, 0.1, &ec) / ch;
      double now = dp_lsl_local_clock();
      for (unsigned long i = 0; i < got && n_delays < cap && uv_hrtime() >= noted; i++)
        if ((uint64_t)buf[i * ch] % pub_chunk == pub_chunk - 1) delays[n_delays++] = now - ts[i];
      s.samples += got;
    } else {
      do { /* drain, as update() does */
        got = lsl->pull_chunk_f(in, buf, ts, chunk * ch, chunk, 0.0, &ec) / ch;
        s.samples += got;
      } while (got == chunk && ec == 0);
    }
    s.cpu_ns += thread_cpu_ns() - c0;
    s.updates++;
    if (!latency) uv_sleep(o->period_ms);
  }
  s.proc_cpu_ns = process_cpu_ns() - p0;
  s.wall_ns = uv_hrtime() - start;
  if (latency)
    report_delays(delays, n_delays, s.samples);
  else
    report("raw", &s);
  lsl->destroy_inlet(in);
  free(buf);
  free(ts);
  free(delays);
  return 0;
}

int main(int argc, char **argv) {
  struct opts o = {NULL, "ours", 4.0, 2.0, 0.25, 10, 0, 100, 0};
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--name") == 0)
      o.name = v;
    else if (strcmp(k, "--mode") == 0)
      o.mode = v;
    else if (strcmp(k, "--seconds") == 0)
      o.seconds = strtod(v, NULL);
    else if (strcmp(k, "--period-ms") == 0)
      o.period_ms = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "--poll-us") == 0)
      o.poll_us = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "--buffer") == 0)
      o.buffer_s = strtod(v, NULL);
    else if (strcmp(k, "--chunk") == 0)
      o.chunk = strtoull(v, NULL, 10);
    else if (strcmp(k, "--warmup") == 0)
      o.warmup_s = strtod(v, NULL);
    else if (strcmp(k, "--rt") == 0)
      o.rt = (int)strtol(v, NULL, 10);
  }
  if (o.chunk == 0) o.chunk = 1;
  if (o.name == NULL) {
    fprintf(stderr, "usage: bench-lsl --name N --mode ours|raw|latency|latency-raw [--seconds S] "
                    "[--period-ms P] [--chunk C] [--buffer B] [--poll-us U] [--warmup W] "
                    "[--rt PRIO]\n");
    return 2;
  }
  if (!(o.buffer_s > 0)) o.buffer_s = 2.0;
  if (!(o.warmup_s >= 0)) o.warmup_s = 0.0;
  if (o.rt > 0 && dp_thread_set_realtime(o.rt) != 0) {
    fprintf(stderr, "bench-lsl: %s\n", dp_error_detail());
    return 3;
  }
  if (strcmp(o.mode, "raw") == 0 || strcmp(o.mode, "latency-raw") == 0)
    return run_raw(&o, strcmp(o.mode, "latency-raw") == 0);
  return run_ours(&o, strcmp(o.mode, "latency") == 0);
}
