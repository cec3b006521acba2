/* test_json_scan.c - the log server's one-pass JSON scanner (src/log/
 * json_scan.c) against jansson: it must accept exactly what json_loadb
 * (JSON_ALLOW_NUL) parses without an integer overflow, find the wanted
 * top-level values, and decode strings as jansson does; and a record it
 * refuses but jansson takes (an integer beyond int64) still decodes; and its
 * SIMD path for strings against its portable one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "log/frame.h"
#include "log/json_scan.h"

static const char *const keys[] = {"msg", "args", "created"};

static bool scans(const char *json, size_t len) {
  dp_json_span_t spans[3];
  return dp_json_scan_object(json, len, keys, 3, spans);
}

/* jansson's verdict: 1 parsed object, 0 refused, -1 integer overflow. */
static int jansson(const char *json, size_t len) {
  json_error_t err;
  json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &err);
  int verdict = root != NULL && json_is_object(root) ? 1 : 0;
  if (root == NULL && json_error_code(&err) == json_error_numeric_overflow) verdict = -1;
  json_decref(root);
  return verdict;
}

static void agree(const char *json, size_t len) {
  int want = jansson(json, len);
  if (scans(json, len) != (want == 1))
    fail_msg("scanner %s, jansson %d: %.*s", scans(json, len) ? "accepts" : "refuses", want,
             (int)(len < 200 ? len : 200), json);
}

static void accepts_exactly_what_jansson_parses(void **state) {
  (void)state;
  static const char *cases[] = {
      "{}",
      " {} ",
      "\t{\r\n}\n",
      "{\"a\":1}",
      "{\"a\":1,}",
      "{,}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\" : [ 1 , 2 ] }",
      "{\"a\":[1,]}",
      "{\"a\":[,1]}",
      "{\"a\":[]}",
      "[]",
      "\"x\"",
      "1",
      "",
      " ",
      "{}x",
      "{} {}",
      "{\"a\":tru}",
      "{\"a\":truex}",
      "{\"a\":nul}",
      "{\"a\":false}",
      "{\"a\":-}",
      "{\"a\":-0}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":.5}",
      "{\"a\":1e}",
      "{\"a\":1e+}",
      "{\"a\":1E-7}",
      "{\"a\":-0.0e0}",
      "{\"a\":+1}",
      "{\"a\":0x10}",
      "{\"a\":9223372036854775807}",
      "{\"a\":9223372036854775808}",
      "{\"a\":-9223372036854775808}",
      "{\"a\":-9223372036854775809}",
      "{\"a\":99999999999999999999}",
      "{\"a\":1e308}",
      "{\"a\":1.7976931348623157e308}",
      "{\"a\":1.7976931348623159e308}",
      "{\"a\":1e309}",
      "{\"a\":0.1e309}",
      "{\"a\":1e-400}",
      "{\"a\":10e307}",
      "{\"a\":100e307}",
      "{\"a\":1e99999999999999999999}",
      "{\"a\":\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\u12G4\"}",
      "{\"a\":\"\\ud83d\\ude00\"}",
      "{\"a\":\"\\ud83d\"}",
      "{\"a\":\"\\ud83dx\"}",
      "{\"a\":\"\\ud83d\\u0041\"}",
      "{\"a\":\"\\ude00\"}",
      "{\"a\":\"\\u0000\"}",
      "{\"\\u0000\":1}",
      "{\"a\\u0000b\":1}",
      "{\"a\":\"\x7f\"}",
      "{\"a\":\"\t\"}",
      "{\"a\":\"\n\"}",
      "{\"a\":\"\xc3\xa9\"}",
      "{\"a\":\"\xc3\"}",
      "{\"a\":\"\xc0\x80\"}",
      "{\"a\":\"\xed\xa0\x80\"}",
      "{\"a\":\"\xf4\x90\x80\x80\"}",
      "{\"a\":\"\xf0\x9f\x98\x80\"}",
      "{\"a\":\"\xe0\x9f\xbf\"}",
      "{\"a\":1}\xc3\xa9",
      "{\xc3\xa9:1}",
      "{\"a\":{\"b\":{\"c\":[{}]}}}",
      "{\"a\":[[[]]]",
      "{\"a\":[[]]]}",
      "{\"a\":\"unterminated}",
      "{\"a\":1 \"b\":2}",
      "{\"a\" 1}",
      "{'a':1}",
      "{\"a\":1}\0",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) agree(cases[i], strlen(cases[i]));
  agree("{\"a\":\"x\0y\"}", 11); /* a raw NUL inside a string */
  /* jansson's depth limit: 2048 values nested, the object itself the first */
  for (size_t depth = 2045; depth <= 2050; depth++) {
    size_t n = depth - 2; /* arrays between the object and the innermost value */
    char *s = malloc(2 * n + 16);
    size_t k = 0;
    k += (size_t)sprintf(s, "{\"a\":");
    for (size_t i = 0; i < n; i++) s[k++] = '[';
    s[k++] = '1';
    for (size_t i = 0; i < n; i++) s[k++] = ']';
    s[k++] = '}';
    agree(s, k);
    free(s);
  }
}

static void finds_the_wanted_values(void **state) {
  (void)state;
  const char *json = "{\"x\":{\"msg\":1},\"msg\":\"a\\nb\",\"args\" : [1, {\"k\":2}] ,"
                     "\"created\":1.5,\"msg\":\"last\"}";
  dp_json_span_t s[3];
  assert_true(dp_json_scan_object(json, strlen(json), keys, 3, s));
  assert_int_equal(s[0].kind, DP_JSON_STRING); /* the last msg, as in jansson */
  assert_false(s[0].escaped);
  assert_int_equal(s[0].raw_len, 6);
  assert_memory_equal(s[0].raw, "\"last\"", 6);
  assert_int_equal(s[1].kind, DP_JSON_OTHER);
  assert_int_equal(s[1].raw_len, strlen("[1, {\"k\":2}]"));
  assert_memory_equal(s[1].raw, "[1, {\"k\":2}]", s[1].raw_len);
  assert_int_equal(s[2].kind, DP_JSON_NUMBER);
  assert_memory_equal(s[2].raw, "1.5", 3);
  const char *absent = "{\"m\\u0073g\":\"\\u00e9\\ud83d\\ude00\\u0000!\"}"; /* escaped key */
  assert_true(dp_json_scan_object(absent, strlen(absent), keys, 3, s));
  assert_int_equal(s[0].kind, DP_JSON_STRING);
  assert_true(s[0].escaped);
  assert_int_equal(s[2].kind, DP_JSON_ABSENT);
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_json_unescape(&b, &s[0]);
  assert_int_equal(b.len, 2 + 4 + 1 + 1);
  assert_memory_equal(b.data, "\xc3\xa9\xf0\x9f\x98\x80\0!", 8);
  dp_textbuf_free(&b);
}

/* Strings with each kind of byte that ends a plain run (quote, escape,
 * control character, UTF-8, invalid UTF-8) at every offset of the first 40,
 * in strings of every length up to 40, around the 16-byte steps of the SIMD
 * path: both paths give the same verdict and spans. */
static void simd_and_portable_paths_agree(void **state) {
  (void)state;
  static const char *const stops[] = {"\"", "\\n", "\x01", "\xc3\xa9", "\xff", "\\u00e9", "\x7f"};
  char json[128];
  for (size_t s = 0; s < sizeof stops / sizeof stops[0]; s++)
    for (size_t len = 0; len <= 40; len++)
      for (size_t at = 0; at <= len; at++) {
        size_t k = 0;
        memcpy(json + k, "{\"msg\":\"", 8);
        k += 8;
        for (size_t i = 0; i < len; i++) {
          if (i == at) {
            memcpy(json + k, stops[s], strlen(stops[s]));
            k += strlen(stops[s]);
          }
          json[k++] = (char)('a' + i % 26);
        }
        memcpy(json + k, "\",\"args\":1}", 11);
        k += 11;
        dp_json_span_t a[3], b[3];
        bool simd = dp_json_scan_object(json, k, keys, 3, a);
        assert_int_equal(simd, dp_json_scan_object_portable(json, k, keys, 3, b));
        if (simd != (jansson(json, k) == 1)) fail_msg("stop %zu len %zu at %zu", s, len, at);
        for (int i = 0; simd && i < 3; i++) {
          assert_int_equal(a[i].kind, b[i].kind);
          assert_ptr_equal(a[i].raw, b[i].raw);
          assert_int_equal(a[i].raw_len, b[i].raw_len);
          assert_int_equal(a[i].escaped, b[i].escaped);
        }
      }
}

/* A record with an integer beyond int64 is refused by the scanner and
 * parsed by jansson (as reals): it still decodes, with its args as reals,
 * as before the scanner. */
static void integer_overflow_still_decodes(void **state) {
  (void)state;
  const char *json = "{\"msg\":\"%s %s\",\"args\":[5,\"\\u00e9\"],\"thread\":"
                     "123456789012345678901234,\"created\":1795461145.25,\"levelno\":20}";
  assert_false(scans(json, strlen(json)));
  dp_log_decoded_t d;
  assert_int_equal(dp_log_frame_decode(json, strlen(json), DP_LOG_RENDER_MAX_DEFAULT, &d), 0);
  assert_string_equal(d.msg, "5.0 \xc3\xa9");
  assert_string_equal(d.levelname, "INFO");
  dp_log_decoded_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_exactly_what_jansson_parses),
      cmocka_unit_test(finds_the_wanted_values),
      cmocka_unit_test(integer_overflow_still_decodes),
      cmocka_unit_test(simd_and_portable_paths_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
