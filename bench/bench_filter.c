/* bench_filter.c - cost of one filter bank step: 64 channels x 4 bands x
 * order 8 at 10 kHz, filter a chunk of n samples and read what is new; and
 * of the bare SOS filters (4 x dp_sosfilt_process, no buffer), the floor of
 * our own arithmetic. Usage: bench-filter N. Prints one JSON line with
 * microseconds per chunk (best of repeats). Driven by bench/suite_filter.py. */
#include <dareplane/filter.h>
#include <dareplane/time.h>

#include <stdio.h>
#include <stdlib.h>

enum { CH = 64, BANDS = 4, ORDER = 8, REPEATS = 5 };

typedef struct {
  dp_filterbank_t *fb;
  dp_sosfilt_t *f[BANDS];
  float *in32, *out;
  double *in, *tmp;
  size_t n;
} ctx_t;

static void step_bank(ctx_t *c) {
  dp_filterbank_filter_f32(c->fb, c->in32, NULL, c->n);
  dp_filterbank_read_new(c->fb, c->out, NULL, c->n, true);
}

static void step_bare(ctx_t *c) {
  for (int b = 0; b < BANDS; b++) dp_sosfilt_process(c->f[b], c->in, c->tmp, c->n);
}

static double best_us(void (*step)(ctx_t *), ctx_t *c) {
  for (int i = 0; i < 20; i++) step(c);
  size_t iters = 1;
  double best = 1e30;
  for (;;) {
    double t0 = dp_now();
    for (size_t i = 0; i < iters; i++) step(c);
    if (dp_now() - t0 > 0.02) break;
    iters *= 2;
  }
  for (int r = 0; r < REPEATS; r++) {
    double t0 = dp_now();
    for (size_t i = 0; i < iters; i++) step(c);
    double us = (dp_now() - t0) / (double)iters * 1e6;
    if (us < best) best = us;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  ctx_t c = {.n = (size_t)atol(argv[1])};
  const dp_band_t bands[BANDS] = {
      {"theta", 4, 8}, {"alpha", 8, 12}, {"beta", 13, 30}, {"gamma", 30, 80}};
  dp_filterbank_opts_t o;
  dp_filterbank_opts_init(&o);
  o.bands = bands;
  o.n_bands = BANDS;
  o.order = ORDER;
  o.fs_hz = 10000;
  o.n_channels = CH;
  o.buffer_s = 1;
  if (c.n == 0 || dp_filterbank_new(&c.fb, &o) < 0) return 1;
  c.in32 = malloc(c.n * CH * sizeof *c.in32);
  c.out = malloc(c.n * CH * BANDS * sizeof *c.out);
  c.in = malloc(c.n * CH * sizeof *c.in);
  c.tmp = malloc(c.n * CH * sizeof *c.tmp);
  if (!c.in32 || !c.out || !c.in || !c.tmp) return 1;
  for (size_t i = 0; i < c.n * CH; i++) c.in[i] = c.in32[i] = (float)((i * 7919) % 1000) / 1000.0f;
  for (int b = 0; b < BANDS; b++)
    if (dp_sosfilt_new(&c.f[b], dp_filterbank_sos(c.fb, (size_t)b), ORDER, CH, DP_ZI_STEP) < 0)
      return 1;
  double bank = best_us(step_bank, &c), bare = best_us(step_bare, &c);
  printf("{\"n\": %zu, \"bank_us\": %.3f, \"bare_us\": %.3f}\n", c.n, bank, bare);
  for (int b = 0; b < BANDS; b++) dp_sosfilt_free(c.f[b]);
  dp_filterbank_free(c.fb);
  free(c.in32);
  free(c.out);
  free(c.in);
  free(c.tmp);
  return 0;
}
