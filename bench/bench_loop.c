/* bench_loop.c - period of a dp_loop_t with a periodic callback that works
 * (busy) for load x dt. Usage: bench-loop DT_S LOAD N_TICKS. Prints one JSON
 * line: the mean period minus dt and the p99 of |period - mean period|, in
 * microseconds, from the callbacks' start times after 10 warm-up ticks. A
 * period is measured per schedule step: ticks skipped after an overrun
 * (counted by the loop) divide the gap they leave, so the mean shows drift,
 * not skips.
 * Driven by bench/suite_loop.py. */
#include <dareplane/loop.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  double *at, *k, work; /* start time and schedule index of each call */
  int n, max;
} rec_t;

static int tick(dp_loop_t *loop, void *ctx) {
  rec_t *r = ctx;
  double t = dp_now();
  /* This tick's index on the schedule: ticks run before it plus ticks skipped. */
  r->k[r->n] = (double)(dp_loop_ticks(loop) + dp_loop_overruns(loop));
  r->at[r->n++] = t;
  while (dp_now() < t + r->work) {
  }
  if (r->n == r->max) dp_loop_stop(loop);
  return 0;
}

enum { WARM = 10 };

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  double dt = atof(argv[1]), load = atof(argv[2]);
  rec_t r = {.work = load * dt, .max = atoi(argv[3])};
  r.at = calloc((size_t)r.max, sizeof *r.at);
  r.k = calloc((size_t)r.max, sizeof *r.k);
  double *dev = calloc((size_t)r.max, sizeof *dev);
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, dt);
  dp_loop_t *loop;
  if (r.at == NULL || r.k == NULL || dev == NULL || r.max < WARM + 3 || dp_loop_new(&loop, &o) < 0)
    return 1;
  dp_loop_add(loop, tick, &r, NULL);
  dp_loop_run(loop);
  /* The first WARM ticks are a warm-up and not counted. */
  const int w = WARM, m = r.n - WARM;
  double mean = (r.at[r.n - 1] - r.at[w]) / (r.k[r.n - 1] - r.k[w]);
  for (int i = w + 1; i < r.n; i++)
    dev[i - w - 1] = fabs((r.at[i] - r.at[i - 1]) / (r.k[i] - r.k[i - 1]) - mean);
  qsort(dev, (size_t)(m - 1), sizeof *dev, cmp);
  printf("{\"period_error_us\": %.3f, \"jitter_p99_us\": %.3f, \"overruns\": %llu}\n",
         (mean - dt) * 1e6, dev[(int)(0.99 * (m - 2) + 0.5)] * 1e6,
         (unsigned long long)dp_loop_overruns(loop));
  dp_loop_free(loop);
  free(r.at);
  free(r.k);
  free(dev);
  return 0;
}
