/* test_args.c - the flag iterator (args.h): both value forms, bare and short
 * flags, empty values, a missing value at the end, positionals allowed or
 * refused, fire-style optional values, numbers and the error sentences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dareplane/args.h"
#include "dareplane/error.h"

#define ARGV(...)                                                                                  \
  (char *[]) {                                                                                     \
    "prog", __VA_ARGS__                                                                            \
  }
#define ARGC(...) (int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *))
#define START(a, positionals, ...)                                                                 \
  dp_args_init(a, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), positionals)

static void key_is(const dp_args_t *a, const char *key) {
  assert_int_equal(a->key_len, strlen(key));
  assert_memory_equal(a->key, key, a->key_len);
}

static void both_value_forms(void **state) {
  (void)state;
  dp_args_t a;
  START(&a, false, "--host=h1", "--port", "80", "--name", "--x");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  key_is(&a, "host");
  assert_true(dp_args_is(&a, "host"));
  assert_false(dp_args_is(&a, "hos"));
  assert_false(dp_args_is(&a, "hostx"));
  assert_string_equal(a.value, "h1");
  assert_int_equal(dp_args_value(&a), 0);
  assert_string_equal(a.value, "h1");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_true(dp_args_is(&a, "port"));
  assert_null(a.value);
  assert_int_equal(dp_args_value(&a), 0);
  assert_string_equal(a.value, "80");
  assert_int_equal(dp_args_value(&a), 0); /* again: the same, nothing more consumed */
  assert_string_equal(a.value, "80");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG); /* a value is taken whatever it looks like */
  assert_true(dp_args_is(&a, "name"));
  assert_int_equal(dp_args_value(&a), 0);
  assert_string_equal(a.value, "--x");
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
  assert_int_equal(a.index, 6); /* argc */
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void bare_short_and_empty(void **state) {
  (void)state;
  dp_args_t a;
  START(&a, false, "--quiet", "-h", "--key=", "--a=b=c", "--source_id=s");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_true(dp_args_is(&a, "quiet"));
  assert_null(a.value);
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG); /* not consumed by the bare flag */
  key_is(&a, "h");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  key_is(&a, "key");
  assert_string_equal(a.value, "");
  assert_int_equal(dp_args_value(&a), 0);
  assert_string_equal(a.value, "");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  key_is(&a, "a");
  assert_string_equal(a.value, "b=c");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_true(dp_args_is(&a, "source-id")); /* '-' and '_' are the same */
  assert_true(dp_args_key_equal("source-id", 9, "source_id"));
  assert_false(dp_args_key_equal("source", 6, "source_id"));
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void missing_value_at_the_end(void **state) {
  (void)state;
  dp_args_t a;
  long n = 7;
  START(&a, false, "--port");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_int_equal(dp_args_value(&a), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "--port needs a value");
  assert_int_equal(dp_args_long(&a, 0, 10, &n), DP_EINVAL);
  assert_int_equal(n, 7);
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void positionals(void **state) {
  (void)state;
  dp_args_t a;
  START(&a, true, "--port=1", "UP", "-", "-5", "--", "--x");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  const char *expect[] = {"UP", "-", "-5", "--"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(dp_args_next(&a), DP_ARGS_POSITIONAL);
    assert_string_equal(a.value, expect[i]);
    assert_null(a.key);
    assert_int_equal(a.index, i + 2);
  }
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void fire_style_optional_values(void **state) {
  (void)state;
  dp_args_t a;
  START(&a, false, "--a", "--b", "v", "--c=", "--d");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_null(dp_args_optional(&a)); /* followed by a flag: bare */
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_string_equal(dp_args_optional(&a), "v");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_string_equal(dp_args_optional(&a), "");
  assert_int_equal(dp_args_next(&a), DP_ARGS_FLAG);
  assert_null(dp_args_optional(&a)); /* at the end: bare */
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void numbers(void **state) {
  (void)state;
  dp_args_t a;
  long n = 0;
  double d = 0;
  START(&a, false, "--n=42", "--n", "-3", "--d=2.5e3", "--n=4x", "--n=", "--n=70000", "--d", "1.5s",
        "--d=nan", "--d=", "--n=99999999999999999999");
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, 0, 100, &n), 0);
  assert_int_equal(n, 42);
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, -5, 5, &n), 0);
  assert_int_equal(n, -3);
  dp_args_next(&a);
  assert_int_equal(dp_args_double(&a, &d), 0);
  assert_true(d == 2500.0);
  n = d = 9;
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, 0, 100, &n), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "--n takes a whole number, not '4x'");
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, 0, 100, &n), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "--n takes a whole number, not ''");
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, 0, 65535, &n), DP_ERANGE);
  assert_string_equal(dp_error_detail(), "--n must be 0..65535, got 70000");
  dp_args_next(&a);
  assert_int_equal(dp_args_double(&a, &d), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "--d takes a finite number, not '1.5s'");
  dp_args_next(&a);
  assert_int_equal(dp_args_double(&a, &d), DP_EINVAL);
  dp_args_next(&a);
  assert_int_equal(dp_args_double(&a, &d), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "--d takes a finite number, not ''");
  dp_args_next(&a);
  assert_int_equal(dp_args_long(&a, 1, LONG_MAX, &n), DP_ERANGE);
  assert_string_equal(dp_error_detail(), "--n must be at least 1, got 99999999999999999999");
  assert_true(n == 9 && d == 9); /* failures leave the output alone */
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

static void unknown_flags(void **state) {
  (void)state;
  dp_args_t a;
  START(&a, true, "--bogus=1", "x");
  dp_args_next(&a);
  assert_int_equal(dp_args_unknown(&a), DP_EINVAL);
  assert_string_equal(dp_error_detail(), "unknown flag --bogus");
  assert_int_equal(dp_args_next(&a), DP_ARGS_POSITIONAL); /* the caller refuses it */
  assert_int_equal(dp_args_unknown(&a), DP_EINVAL);
  const char *said = "unexpected argument 'x' (flags are --key=value or --key value)";
  assert_string_equal(dp_error_detail(), said);
  START(&a, false, "x"); /* refused by the iterator itself: the same sentence */
  assert_int_equal(dp_args_next(&a), DP_EINVAL);
  assert_string_equal(dp_error_detail(), said);
}

static void empty_argv(void **state) {
  (void)state;
  dp_args_t a;
  dp_args_init(&a, 0, NULL, false);
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
  dp_args_init(&a, 1, ARGV(NULL), false);
  assert_int_equal(dp_args_next(&a), DP_ARGS_END);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(both_value_forms),
      cmocka_unit_test(bare_short_and_empty),
      cmocka_unit_test(missing_value_at_the_end),
      cmocka_unit_test(positionals),
      cmocka_unit_test(fire_style_optional_values),
      cmocka_unit_test(numbers),
      cmocka_unit_test(unknown_flags),
      cmocka_unit_test(empty_argv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
