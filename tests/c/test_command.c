/* test_command.c - the command parser, the log escaping, and the argument
 * accessors handlers see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "confine_logs.h"
#include <uv.h>

#include "server/server_internal.h"

static int parse(const char *text, dp_command_t *cmd) {
  return dp_command_parse(text, strlen(text), cmd);
}

static void bare_and_kwargs(void **state) {
  (void)state;
  dp_command_t c;
  assert_int_equal(parse("UP", &c), 0);
  assert_string_equal(c.name, "UP");
  assert_true(c.bare);
  assert_null(c.kwargs);
  assert_int_equal(c.nargs, 0);
  dp_command_clear(&c);

  assert_int_equal(parse("STOP|", &c), 0);
  assert_string_equal(c.name, "STOP");
  assert_true(c.bare);
  dp_command_clear(&c);

  assert_int_equal(parse("START|{\"nrep\": 6}", &c), 0);
  assert_string_equal(c.name, "START");
  assert_false(c.bare);
  assert_int_equal(json_integer_value(json_object_get(c.kwargs, "nrep")), 6);
  dp_command_clear(&c);
}

static void positional_arguments(void **state) {
  (void)state;
  dp_command_t c;
  assert_int_equal(parse("SET|left|{\"gain\": 2.5}", &c), 0);
  assert_string_equal(c.name, "SET");
  assert_int_equal(c.nargs, 1);
  assert_string_equal(c.args[0], "left");
  assert_true(json_real_value(json_object_get(c.kwargs, "gain")) == 2.5);
  dp_command_clear(&c);

  assert_int_equal(parse("SET|a||b|", &c), 0); /* empty last piece: no kwargs */
  assert_int_equal(c.nargs, 3);
  assert_string_equal(c.args[0], "a");
  assert_string_equal(c.args[1], "");
  assert_string_equal(c.args[2], "b");
  assert_null(c.kwargs);
  assert_false(c.bare);
  dp_command_clear(&c);
}

static void cleaning(void **state) {
  (void)state;
  dp_command_t c;
  assert_int_equal(parse("UP\r\n", &c), 0);
  assert_string_equal(c.name, "UP");
  dp_command_clear(&c);
  assert_int_equal(parse("\xC2UP\r", &c), 0); /* 0xC2 dropped, telnet's \r too */
  assert_string_equal(c.name, "UP");
  dp_command_clear(&c);
  assert_int_equal(parse("EC\r\nHO|{\"a\":\r\n1}", &c), 0); /* every \r\n pair goes */
  assert_string_equal(c.name, "ECHO");
  assert_int_equal(json_integer_value(json_object_get(c.kwargs, "a")), 1);
  dp_command_clear(&c);
  assert_int_equal(parse("", &c), DP_EEMPTY);
  assert_int_equal(parse("  \t\r\n", &c), DP_EEMPTY);
  assert_int_equal(parse("\xC2\xC2", &c), DP_EEMPTY);
}

static void rejected(void **state) {
  (void)state;
  dp_command_t c;
  assert_int_equal(parse("START|{\"nrep\": 6", &c), DP_EPARSE);
  assert_non_null(strstr(dp_error_detail(), "invalid JSON"));
  assert_int_equal(parse("START|[1, 2]", &c), DP_EPARSE);
  assert_non_null(strstr(dp_error_detail(), "no object"));
  assert_int_equal(parse("START|42", &c), DP_EPARSE);
  assert_int_equal(parse("|{}", &c), DP_EPARSE);
  assert_int_equal(dp_command_parse("U\0P", 3, &c), DP_EPARSE);
  assert_int_equal(parse("X|{\"a\": \"\xff\"}", &c), DP_EPARSE); /* not UTF-8 */
}

static void escaping(void **state) {
  (void)state;
  char out[16];
  assert_string_equal(dp_command_escape("UP", 2, out, sizeof out), "UP");
  assert_string_equal(dp_command_escape("a\x01\xff", 3, out, sizeof out), "a\\x01\\xFF");
  assert_string_equal(dp_command_escape("0123456789abcdefghij", 20, out, sizeof out),
                      "0123456789ab...");
  char tiny[2];
  assert_string_equal(dp_command_escape("abc", 3, tiny, sizeof tiny), "");
}

static void accessors(void **state) {
  (void)state;
  dp_command_t c;
  assert_int_equal(parse("SET|left|right|{\"n\": 3, \"x\": 2.5, \"whole\": 4.0, \"on\": true, "
                         "\"s\": \"txt\", \"obj\": {\"k\": [1, 2]}, \"nil\": null}",
                         &c),
                   0);
  dp_request_t req = {.cmd = &c};
  assert_string_equal(dp_request_command(&req), "SET");
  assert_int_equal(dp_request_nargs(&req), 2);
  assert_string_equal(dp_request_arg(&req, 1), "right");
  assert_null(dp_request_arg(&req, 2));
  assert_int_equal(dp_request_int(&req, "n", -1), 3);
  assert_int_equal(dp_request_int(&req, "whole", -1), 4);
  assert_int_equal(dp_request_int(&req, "x", -1), -1); /* not integral */
  assert_int_equal(dp_request_int(&req, "missing", 7), 7);
  assert_true(dp_request_double(&req, "x", 0) == 2.5);
  assert_true(dp_request_double(&req, "n", 0) == 3.0);
  assert_true(dp_request_double(&req, "s", 1.5) == 1.5);
  assert_true(dp_request_bool(&req, "on", false));
  assert_true(dp_request_bool(&req, "n", true)); /* wrong type: default */
  assert_string_equal(dp_request_string(&req, "s", "d"), "txt");
  assert_string_equal(dp_request_string(&req, "n", "d"), "d");
  assert_string_equal(dp_request_json(&req, "obj", NULL), "{\"k\":[1,2]}");
  assert_string_equal(dp_request_json(&req, "nil", NULL), "null");
  assert_null(dp_request_json(&req, "missing", NULL));
  assert_true(dp_request_has(&req, "nil"));
  assert_false(dp_request_has(&req, "missing"));
  assert_int_equal(dp_request_nkeys(&req), 7);
  assert_string_equal(dp_request_key(&req, 0), "n");
  assert_string_equal(dp_request_key(&req, 6), "nil");
  assert_null(dp_request_key(&req, 7));
  assert_int_equal(dp_request_reply(&req, "x", 1), DP_ECLOSED);
  dp_request_release(&req);
  dp_command_clear(&c);

  assert_int_equal(parse("UP", &c), 0);
  req.cmd = &c;
  assert_int_equal(dp_request_nkeys(&req), 0);
  assert_null(dp_request_key(&req, 0));
  assert_false(dp_request_has(&req, "a"));
  dp_command_clear(&c);
}

int main(void) {
  confine_network_logs();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bare_and_kwargs), cmocka_unit_test(positional_arguments),
      cmocka_unit_test(cleaning),        cmocka_unit_test(rejected),
      cmocka_unit_test(escaping),        cmocka_unit_test(accessors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
