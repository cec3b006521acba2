/* test_log_logger.c - the logger core: named loggers, levels and their
 * parsing (--loglevel / DP_LOG_LEVEL), the standard line, the console handler
 * (plain when NO_COLOR is set or stderr is no terminal). The network
 * handler is switched off here; test_log_network covers it and the record
 * fields (thread names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dareplane/log.h"
#include "test_platform.h"

static void loggers_are_named_and_unique(void **state) {
  (void)state;
  dp_logger_t *a = dp_log_get("mod.area1"), *b = dp_log_get("mod.area1");
  assert_ptr_equal(a, b);
  assert_string_equal(dp_logger_name(a), "mod.area1");
  assert_string_equal(dp_logger_name(dp_log_get(NULL)), "root");
  assert_ptr_equal(dp_log_get(""), dp_log_get("root"));
  assert_ptr_not_equal(a, dp_log_get("mod.area2"));
}

static void levels_filter(void **state) {
  (void)state;
  dp_logger_t *lg = dp_log_get("levels.test");
  assert_int_equal(dp_log_default_level(), DP_LOG_WARNING); /* Python's default */
  assert_int_equal(dp_logger_level(lg), DP_LOG_WARNING);
  assert_false(dp_logger_enabled(lg, DP_LOG_INFO));
  assert_true(dp_logger_enabled(lg, DP_LOG_ERROR));
  dp_logger_set_level(lg, DP_LOG_DEBUG);
  assert_true(dp_logger_enabled(lg, DP_LOG_DEBUG));
  dp_logger_set_level(lg, DP_LOG_NOTSET); /* follows the default again */
  assert_int_equal(dp_logger_level(lg), DP_LOG_WARNING);
  assert_false(dp_logger_enabled(NULL, DP_LOG_CRITICAL));
}

static void level_parsing_and_configuration(void **state) {
  (void)state;
  int level = -1;
  assert_int_equal(dp_log_level_parse("10", &level), 0);
  assert_int_equal(level, 10);
  assert_int_equal(dp_log_level_parse("debug", &level), 0);
  assert_int_equal(level, DP_LOG_DEBUG);
  assert_int_equal(dp_log_level_parse("Warn", &level), 0);
  assert_int_equal(level, DP_LOG_WARNING);
  assert_int_equal(dp_log_level_parse("FATAL", &level), 0);
  assert_int_equal(level, DP_LOG_CRITICAL);
  assert_int_equal(dp_log_level_parse("loud", &level), DP_EINVAL);
  assert_int_equal(dp_log_level_parse("", &level), DP_EINVAL);
  assert_int_equal(dp_log_level_parse("-5", &level), DP_EINVAL);

  test_unsetenv("DP_LOG_LEVEL");
  assert_int_equal(dp_log_configure_level(NULL), 0); /* nothing given: unchanged */
  assert_int_equal(dp_log_default_level(), DP_LOG_WARNING);
  test_setenv("DP_LOG_LEVEL", "info");
  assert_int_equal(dp_log_configure_level(NULL), 0);
  assert_int_equal(dp_log_default_level(), DP_LOG_INFO);
  assert_int_equal(dp_log_configure_level("40"), 0); /* the command line wins */
  assert_int_equal(dp_log_default_level(), DP_LOG_ERROR);
  assert_int_equal(dp_log_configure_level("nonsense"), DP_EINVAL);
  assert_int_equal(dp_log_default_level(), DP_LOG_ERROR);
  test_unsetenv("DP_LOG_LEVEL");
  dp_log_set_default_level(DP_LOG_WARNING);
}

static void standard_line(void **state) {
  (void)state;
  struct tm tm = {.tm_year = 126,
                  .tm_mon = 10,
                  .tm_mday = 23,
                  .tm_hour = 18,
                  .tm_min = 52,
                  .tm_sec = 3,
                  .tm_isdst = -1};
  double created = (double)mktime(&tm) + 0.117;
  char line[128];
  size_t n = dp_log_format_line(line, sizeof line, created, "myapp.area1", DP_LOG_INFO, "info1");
  assert_string_equal(line, "2026-11-23 18:52:03,117 - myapp.area1 - INFO - info1");
  assert_int_equal(n, strlen(line));
  dp_log_format_line(line, sizeof line, created, "x", 25, "m");
  assert_string_equal(line, "2026-11-23 18:52:03,117 - x - Level 25 - m");
  char small[10];
  assert_int_equal(dp_log_format_line(small, sizeof small, created, "x", DP_LOG_DEBUG, "m"),
                   strlen("2026-11-23 18:52:03,117 - x - DEBUG - m"));
  assert_string_equal(small, "2026-11-2"); /* cut like snprintf */
  assert_string_equal(dp_log_level_name(DP_LOG_CRITICAL), "CRITICAL");
  assert_null(dp_log_level_name(25));
}

/* Runs fn with stderr redirected to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
  char path[] = "/tmp/test_log_logger_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  fn();
  assert_int_equal(dp_log_console_flush(10000), 0); /* the console writes from its own thread */
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  static char text[4096];
  test_read_from_start(fd, text, sizeof text);
  close(fd);
  unlink(path);
  return text;
}

static void log_some(void) {
  dp_logger_t *lg = dp_log_get("console.test");
  dp_logger_set_level(lg, DP_LOG_INFO);
  dp_log_debug(lg, "not shown");
  dp_log_info(lg, "shown %d", 1);
  dp_log_error(lg, "%s", "also shown");
}

static void console_handler(void **state) {
  (void)state;
  assert_string_equal(capture_stderr(log_some), ""); /* off by default */
  dp_log_set_console(true);
  char *out = capture_stderr(log_some);
  dp_log_set_console(false);
  /* not a terminal: plain text, one standard line per record */
  assert_null(strchr(out, '\033'));
  char *first = strstr(out, " - console.test - INFO - shown 1\n");
  char *second = strstr(out, " - console.test - ERROR - also shown\n");
  assert_non_null(first);
  assert_non_null(second);
  assert_true(first < second);
  assert_null(strstr(out, "not shown"));
}

int main(void) {
  dp_log_set_network_handler(false);
  test_setenv("NO_COLOR", "1");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loggers_are_named_and_unique),
      cmocka_unit_test(levels_filter),
      cmocka_unit_test(level_parsing_and_configuration),
      cmocka_unit_test(standard_line),
      cmocka_unit_test(console_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
