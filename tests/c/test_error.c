/* test_error.c - the error convention: every code has a name and a message,
 * and the per-thread detail sentence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error_internal.h"

static void every_code_has_name_and_message(void **state) {
  (void)state;
#define CHECK(name, value, msg)                                                                    \
  assert_string_equal(dp_strerror(value), msg);                                                    \
  assert_string_equal(dp_err_name(value), #name);                                                  \
  assert_true((value) < 0);
  DP_ERRNO_MAP(CHECK)
#undef CHECK
  assert_string_equal(dp_strerror(0), "success");
  assert_string_equal(dp_strerror(-9999), "unknown error");
  assert_string_equal(dp_err_name(-9999), "DP_E?");
}

static void detail_is_per_failure(void **state) {
  (void)state;
  assert_int_equal(dp_error_set(DP_ETIMEDOUT, "no stream named %s after %.1f s", "eeg", 2.0),
                   DP_ETIMEDOUT);
  assert_int_equal(dp_error_last(), DP_ETIMEDOUT);
  assert_string_equal(dp_error_detail(), "no stream named eeg after 2.0 s");
  dp_error_set(DP_ENOMEM, NULL);
  assert_string_equal(dp_error_detail(), "out of memory");
}

static void version(void **state) {
  (void)state;
  assert_string_equal(dp_version_string(), "0.1.0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_code_has_name_and_message),
      cmocka_unit_test(detail_is_per_failure),
      cmocka_unit_test(version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
