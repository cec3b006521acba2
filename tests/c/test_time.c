/* test_time.c - the sleeps of dareplane/time.h: the spin window and where
 * the kernel part ends (pure, on made-up times), the window setting, that a sleep is never
 * early (checked, not timed), and that the short wake-up slice is put back
 * after every sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "dareplane/time.h"
#include "time/time_internal.h"

static void kernel_part_ends_one_window_before(void **state) {
  (void)state;
  assert_float_equal(dp_sleep_kernel_until(10.0, 10.001, 0.0002), 10.0008, 1e-12);
  /* nothing for the kernel: shorter than the window, or no time left */
  assert_true(dp_sleep_kernel_until(10.0, 10.0001, 0.0002) <= 10.0);
  assert_true(dp_sleep_kernel_until(10.0, 10.0002, 0.0002) <= 10.0);
  assert_true(dp_sleep_kernel_until(10.0, 9.0, 0.0002) <= 10.0);
  /* window 0: all in the kernel */
  assert_float_equal(dp_sleep_kernel_until(10.0, 10.5, 0.0), 10.5, 1e-12);
}

static void window_widens_for_long_sleeps(void **state) {
  (void)state;
  const double base = 0.0002;
  /* up to 25 base-windows long: the set window */
  assert_float_equal(dp_sleep_window(0.0001, base), base, 1e-15);
  assert_float_equal(dp_sleep_window(0.001, base), base, 1e-15);
  assert_float_equal(dp_sleep_window(0.005, base), base, 1e-15);
  /* then len / 25 ... */
  assert_float_equal(dp_sleep_window(0.01, base), 0.0004, 1e-15);
  /* ... up to 4 times the set window, however long */
  assert_float_equal(dp_sleep_window(0.02, base), 0.0008, 1e-15);
  assert_float_equal(dp_sleep_window(1.5, base), 0.0008, 1e-15);
  assert_float_equal(dp_sleep_window(1e9, base), 0.0008, 1e-15);
  /* a window set to 0 stays 0: pure kernel sleeps */
  assert_float_equal(dp_sleep_window(1.0, 0.0), 0.0, 0.0);
}

static void spin_window_is_clamped(void **state) {
  (void)state;
  double old = dp_sleep_spin();
  assert_float_equal(old, DP_SLEEP_SPIN_DEFAULT_S, 1e-12);
  dp_sleep_set_spin(-1);
  assert_float_equal(dp_sleep_spin(), 0, 1e-12);
  dp_sleep_set_spin(1);
  assert_float_equal(dp_sleep_spin(), 0.01, 1e-12);
  dp_sleep_set_spin(NAN);
  assert_float_equal(dp_sleep_spin(), 0.01, 1e-12);
  dp_sleep_set_spin(old);
  assert_float_equal(dp_sleep_spin(), old, 1e-12);
}

static void sleeps_are_never_early(void **state) {
  (void)state;
  double old = dp_sleep_spin();
  const double windows[] = {0, DP_SLEEP_SPIN_DEFAULT_S, 0.01};
  const double lengths[] = {0, 1e-5, 3e-4, 2e-3};
  for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
    dp_sleep_set_spin(windows[w]);
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
      double t = dp_now() + lengths[i];
      dp_sleep_until(t);
      assert_true(dp_now() >= t);
      t = dp_now() + lengths[i];
      dp_sleep_s(lengths[i]);
      assert_true(dp_now() >= t);
      t = dp_now() + lengths[i];
      assert_false(dp_sleep_until_stop(t, NULL));
      assert_true(dp_now() >= t);
    }
  }
  dp_sleep_set_spin(old);
}

static void wake_slice_is_put_back(void **state) {
  (void)state;
  unsigned long long before = dp_wake_slice_current();
  dp_wake_slice_t s;
  dp_wake_slice_begin(&s);
  unsigned long long during = dp_wake_slice_current();
  /* shortened where the scheduler has slices (Linux 6.12+), else untouched */
  assert_true(during == before || during == DP_WAKE_SLICE_NS);
  if (before > DP_WAKE_SLICE_NS && during == DP_WAKE_SLICE_NS) assert_int_equal(s.slice_ns, before);
  dp_wake_slice_end(&s);
  assert_int_equal(dp_wake_slice_current(), before);
  assert_int_equal(s.slice_ns, 0);
  /* a whole sleep with a kernel part leaves the slice as it was */
  dp_sleep_s(2e-3);
  assert_int_equal(dp_wake_slice_current(), before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kernel_part_ends_one_window_before),
      cmocka_unit_test(window_widens_for_long_sleeps),
      cmocka_unit_test(spin_window_is_clamped),
      cmocka_unit_test(sleeps_are_never_early),
      cmocka_unit_test(wake_slice_is_put_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
