/* test_filter.c - the filters' contracts in C (so that ASan and valgrind see
 * them): chunked filtering equals one call bit for bit, bad input is refused
 * without a state change, the filter bank's reads. Equality with scipy and
 * dareplane_utils is tested in tests/interop/test_filter_interop.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "dareplane/filter.h"

enum { CH = 3, N = 700 };

static void signal_in(double *x) {
  for (int i = 0; i < N * CH; i++) x[i] = sin(i * 0.37) * 5 + (i % 11) - 4.0;
}

static void design_counts_and_bad_designs(void **state) {
  (void)state;
  double sos[40 * 6];
  assert_int_equal(dp_butter_sections(5, DP_LOWPASS), 3);
  assert_int_equal(dp_butter_sections(5, DP_BANDSTOP), 5);
  assert_int_equal(dp_butter(5, 100, 0, DP_HIGHPASS, 1000, sos, 40), 3);
  assert_int_equal(dp_butter(8, 8, 12, DP_BANDPASS, 1000, sos, 40), 8);
  assert_int_equal(dp_butter(0, 8, 12, DP_BANDPASS, 1000, sos, 40), DP_EINVAL);
  assert_int_equal(dp_butter(4, 12, 8, DP_BANDPASS, 1000, sos, 40), DP_EINVAL);
  assert_int_equal(dp_butter(4, 8, 500, DP_BANDPASS, 1000, sos, 40), DP_EINVAL);
  assert_int_equal(dp_butter(4, -1, 0, DP_LOWPASS, 1000, sos, 40), DP_EINVAL);
  assert_int_equal(dp_butter(4, 8, 12, DP_BANDPASS, 1000, sos, 3), DP_ERANGE);
}

static void chunked_equals_one_call(void **state) {
  (void)state;
  static double x[N * CH], one[N * CH], chunked[N * CH];
  double sos[8 * 6];
  signal_in(x);
  int ns = dp_butter(8, 8, 12, DP_BANDPASS, 1000, sos, 8);
  for (dp_zi_t init = DP_ZI_ZEROS; init <= DP_ZI_STEP; init++) {
    dp_sosfilt_t *a, *b;
    assert_int_equal(dp_sosfilt_new(&a, sos, (size_t)ns, CH, init), 0);
    assert_int_equal(dp_sosfilt_new(&b, sos, (size_t)ns, CH, init), 0);
    assert_int_equal(dp_sosfilt_process(a, x, one, N), 0);
    size_t sizes[] = {1, 7, 64, 0, 1000}, done = 0;
    for (int k = 0; done < N; k++) {
      size_t m = sizes[k % 5];
      if (m > N - done) m = N - done;
      assert_int_equal(dp_sosfilt_process(b, x + done * CH, chunked + done * CH, m), 0);
      done += m;
    }
    assert_memory_equal(one, chunked, sizeof one);
    dp_sosfilt_free(a);
    dp_sosfilt_free(b);
  }
}

static void bad_input_changes_nothing(void **state) {
  (void)state;
  static double x[N * CH], out[N * CH];
  double sos[4 * 6], before[4 * 2 * CH] = {0}, after[4 * 2 * CH] = {0};
  signal_in(x);
  int ns = dp_butter(4, 30, 0, DP_LOWPASS, 1000, sos, 4);
  dp_sosfilt_t *f;
  assert_int_equal(dp_sosfilt_new(&f, sos, (size_t)ns, CH, DP_ZI_ZEROS), 0);
  assert_int_equal(dp_sosfilt_process(f, x, out, 100), 0);
  dp_sosfilt_state(f, before);
  x[150 * CH + 2] = NAN;
  assert_int_equal(dp_sosfilt_process(f, x + 100 * CH, out, 100), DP_EINVAL);
  x[150 * CH + 2] = INFINITY;
  assert_int_equal(dp_sosfilt_process(f, x + 100 * CH, out, 100), DP_EINVAL);
  assert_int_equal(dp_sosfilt_process(f, NULL, out, 0), 0); /* empty: no-op */
  dp_sosfilt_state(f, after);
  assert_memory_equal(before, after, sizeof before);
  dp_sosfilt_free(f);
  double unstable[6] = {1, 0, 0, 1, -2.5, 1.2};
  assert_int_equal(dp_sosfilt_new(&f, unstable, 1, 1, DP_ZI_ZEROS), DP_EINVAL);
  assert_null(f);
}

static void filter_bank_reads(void **state) {
  (void)state;
  static float x[N * CH], out[N * CH * 2];
  for (int i = 0; i < N * CH; i++) x[i] = (float)sin(i * 0.1);
  const dp_band_t bands[] = {{"alpha", 8, 12}, {"beta", 12, 30}};
  dp_filterbank_opts_t o;
  dp_filterbank_opts_init(&o);
  o.bands = bands;
  o.n_bands = 2;
  o.n_channels = CH;
  o.output = DP_FB_ABS_MA;
  o.n_lookback = 1;
  dp_filterbank_t *fb;
  assert_int_equal(dp_filterbank_new(&fb, &o), 0);
  assert_int_equal(dp_filterbank_read_new(fb, out, NULL, N, true), 0); /* nothing new */
  assert_int_equal(dp_filterbank_filter_f32(fb, x, NULL, 0), 0);
  assert_int_equal(dp_filterbank_filter_f32(fb, x, NULL, 10), 0);
  assert_int_equal(dp_filterbank_n_new(fb), 10);
  assert_int_equal(dp_filterbank_read_new(fb, out, NULL, N, false), 10);
  assert_int_equal(dp_filterbank_read_new(fb, out, NULL, 4, true), 4);
  assert_int_equal(dp_filterbank_n_new(fb), 0);
  for (int i = 0; i < 4 * CH * 2; i++) assert_true(out[i] >= 0);
  /* more than the buffer: n_new is capped at what can be read */
  assert_int_equal(dp_filterbank_filter_f32(fb, x, NULL, N), 0);
  assert_int_equal(dp_filterbank_filter_f32(fb, x, NULL, N), 0);
  assert_int_equal(dp_filterbank_n_new(fb), dp_filterbank_max_read(fb));
  assert_int_equal(dp_filterbank_newest(fb, dp_filterbank_capacity(fb) + 1, out, NULL), DP_ERANGE);
  x[5] = NAN;
  assert_int_equal(dp_filterbank_filter_f32(fb, x, NULL, 10), DP_EINVAL);
  assert_string_equal(dp_filterbank_band_name(fb, 1), "beta");
  dp_filterbank_free(fb);
  dp_band_t bad[] = {{"x", 30, 20}};
  o.bands = bad;
  o.n_bands = 1;
  assert_int_equal(dp_filterbank_new(&fb, &o), DP_EINVAL);
  assert_non_null(strstr(dp_error_detail(), "\"x\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(design_counts_and_bad_designs),
      cmocka_unit_test(chunked_equals_one_call),
      cmocka_unit_test(bad_input_changes_nothing),
      cmocka_unit_test(filter_bank_reads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
