/* bench_time.c - lateness and CPU of dp_sleep_s() for several lengths, and
 * the limit: a pure spin on the clock to the same deadline (the best a
 * sleep can do, at 100 % CPU). Usage: bench-time LENGTH_S REPEATS. Prints
 * one JSON line: lateness p50/p99/max in microseconds for ours and the spin,
 * and ours' CPU time as a fraction of the sleep, after a discarded warm-up
 * of 100 ms of short sleeps. Ours and the limit alternate sample by sample,
 * so that a disturbance of the machine (or of a process just started) falls
 * on both alike. Driven by bench/suite_time.py. */
#include <dareplane/time.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
  return v[(int)(p * (n - 1) + 0.5)];
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  double s = atof(argv[1]);
  int n = atoi(argv[2]);
  double *late = calloc((size_t)n, sizeof *late), *spin = calloc((size_t)n, sizeof *spin);
  if (late == NULL || spin == NULL) return 1;
  double cpu = 0;
  for (int i = 0; i < 200; i++) dp_sleep_s(0.0005); /* warm-up (100 ms), discarded */
  bool limit = s < 0.5;                             /* long spins would only burn CPU */
  for (int i = 0; i < n; i++) {
    double c0 = cpu_now(), t0 = dp_now();
    dp_sleep_s(s);
    double t1 = dp_now();
    cpu += cpu_now() - c0;
    late[i] = (t1 - (t0 + s)) * 1e6;
    if (!limit) continue;
    t0 = dp_now(); /* the limit right after, so that both meet the same disturbances */
    while ((t1 = dp_now()) < t0 + s) {
    }
    spin[i] = (t1 - (t0 + s)) * 1e6;
  }
  qsort(late, (size_t)n, sizeof *late, cmp);
  qsort(spin, (size_t)n, sizeof *spin, cmp);
  printf("{\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f, \"cpu\": %.4f, \"spin_p50\": %.3f, "
         "\"spin_p99\": %.3f, \"spin_max\": %.3f}\n",
         pct(late, n, 0.5), pct(late, n, 0.99), late[n - 1], cpu / (n * s), pct(spin, n, 0.5),
         pct(spin, n, 0.99), spin[n - 1]);
  free(late);
  free(spin);
  return 0;
}
