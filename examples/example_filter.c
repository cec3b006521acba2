/* example_filter.c - a filter bank (alpha and beta band power of 4
 * channels at 1 kHz) fed a synthetic 10 Hz + 20 Hz signal in chunks of 50
 * samples; prints the mean |x| per band of the newest chunk. */
#include <dareplane/filter.h>
#include <math.h>
#include <stdio.h>

#define CH 4
#define N  50
#define PI 3.14159265358979323846

int main(void) {
  const dp_band_t bands[] = {{"alpha", 8, 12}, {"beta", 15, 25}};
  dp_filterbank_opts_t o;
  dp_filterbank_opts_init(&o);
  o.bands = bands;
  o.n_bands = 2;
  o.fs_hz = 1000;
  o.n_channels = CH;
  o.output = DP_FB_ABS_MA;
  o.n_lookback = 100;
  o.buffer_s = 2;
  dp_filterbank_t *fb;
  if (dp_filterbank_new(&fb, &o) < 0) {
    fprintf(stderr, "%s\n", dp_error_detail());
    return 1;
  }
  float x[N][CH], out[N][CH][2];
  for (int chunk = 0; chunk < 40; chunk++) {
    for (int i = 0; i < N; i++)
      for (int c = 0; c < CH; c++) {
        double t = (chunk * N + i) / 1000.0;
        x[i][c] = (float)((c + 1) * sin(2 * PI * 10 * t) + 0.5 * sin(2 * PI * 20 * t));
      }
    dp_filterbank_filter_f32(fb, &x[0][0], NULL, N);
    int n = dp_filterbank_read_new(fb, &out[0][0][0], NULL, N, true);
    if (chunk % 10 == 9)
      printf("chunk %2d: ch1 alpha %.3f beta %.3f | ch4 alpha %.3f beta %.3f\n", chunk,
             out[n - 1][0][0], out[n - 1][0][1], out[n - 1][3][0], out[n - 1][3][1]);
  }
  dp_filterbank_free(fb);
  return 0;
}
