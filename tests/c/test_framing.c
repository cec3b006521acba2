/* test_framing.c - the server's framing (src/server/framing.c): a command
 * runs only once its terminator arrived, whatever the segmentation (every
 * split point of a stream gives the same commands), the work is linear in the
 * input (counted, not timed: a 64 KiB command trickled byte by byte is
 * scanned once and copied at most twice), the length limit holds in one read
 * and trickled, and a callback can stop the rest of a read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/framing.h"

#include "dareplane/error.h"

typedef struct {
  char text[4096]; /* the commands, each followed by '#' */
  size_t len, count, stop_after;
} seen_t;

static bool record(void *user, const char *cmd, size_t len) {
  seen_t *s = user;
  assert_true(len > 0);
  assert_true(s->len + len + 1 < sizeof s->text);
  memcpy(s->text + s->len, cmd, len);
  s->len += len;
  s->text[s->len++] = '#';
  s->text[s->len] = '\0';
  return ++s->count != s->stop_after;
}

static const char stream[] = "UP;ECHO|{\"text\": \"a;b\"};;GET_PCOMMS\nSTOP|\r\n\nX|1|{}";
static const char expected[] = "UP#ECHO|{\"text\": \"a#b\"}#GET_PCOMMS#STOP|\r#";

static void every_split_point(void **state) {
  (void)state;
  size_t n = strlen(stream);
  for (size_t k = 0; k <= n; k++) {
    for (size_t j = k; j <= n; j++) { /* three segments: [0,k) [k,j) [j,n) */
      dp_framer_t f;
      seen_t s = {0};
      dp_framer_init(&f, 100);
      assert_int_equal(dp_framer_feed(&f, stream, k, record, &s), 0);
      assert_int_equal(dp_framer_feed(&f, stream + k, j - k, record, &s), 0);
      assert_int_equal(dp_framer_feed(&f, stream + j, n - j, record, &s), 0);
      assert_string_equal(s.text, expected);
      assert_int_equal(f.len, 6); /* "X|1|{}" waits for its terminator */
      assert_int_equal(f.scanned, n);
      dp_framer_free(&f);
    }
  }
}

static void byte_by_byte(void **state) {
  (void)state;
  dp_framer_t f;
  seen_t s = {0};
  dp_framer_init(&f, 100);
  for (size_t i = 0; stream[i] != '\0'; i++) {
    size_t before = s.count;
    assert_int_equal(dp_framer_feed(&f, stream + i, 1, record, &s), 0);
    /* a command appears exactly when its terminator does */
    assert_int_equal(s.count - before, (stream[i] == ';' || stream[i] == '\n') && f.len == 0 &&
                                           i > 0 && stream[i - 1] != ';' && stream[i - 1] != '\n');
  }
  assert_string_equal(s.text, expected);
  dp_framer_free(&f);
}

static size_t counted;
static bool count_only(void *user, const char *cmd, size_t len) {
  (void)user;
  (void)cmd;
  counted += len;
  return true;
}

static void linear_work_counted(void **state) {
  (void)state;
  enum { N = 64 * 1024 };
  static char big[N];
  memset(big, 'x', N - 1);
  big[N - 1] = ';';
  dp_framer_t f;
  dp_framer_init(&f, N);
  counted = 0;
  for (size_t i = 0; i < N; i++)
    assert_int_equal(dp_framer_feed(&f, big + i, 1, count_only, NULL), 0);
  assert_int_equal(counted, N - 1);
  assert_int_equal(f.scanned, N);           /* each byte looked at once */
  assert_true(f.copied <= 2 * (uint64_t)N); /* kept once, plus geometric regrowth */
  /* the same in 1 KiB reads, and in one read (no copy at all) */
  dp_framer_free(&f);
  dp_framer_init(&f, N);
  for (size_t i = 0; i < N; i += 1024)
    assert_int_equal(dp_framer_feed(&f, big + i, 1024, count_only, NULL), 0);
  assert_int_equal(f.scanned, N);
  assert_true(f.copied <= 2 * (uint64_t)N);
  dp_framer_free(&f);
  dp_framer_init(&f, N);
  assert_int_equal(dp_framer_feed(&f, big, N, count_only, NULL), 0);
  assert_int_equal(f.copied, 0);
  dp_framer_free(&f);
}

static void length_limit(void **state) {
  (void)state;
  char cmd[12];
  memset(cmd, 'A', sizeof cmd);
  dp_framer_t f;
  seen_t s = {0};
  dp_framer_init(&f, 10);
  assert_int_equal(dp_framer_feed(&f, cmd, 10, record, &s), 0); /* exactly the limit */
  assert_int_equal(dp_framer_feed(&f, ";", 1, record, &s), 0);
  assert_int_equal(s.count, 1);
  assert_int_equal(dp_framer_feed(&f, cmd, 11, record, &s), DP_ETOOBIG); /* in one read */
  dp_framer_free(&f);
  dp_framer_init(&f, 10);
  for (size_t i = 0; i < 10; i++) assert_int_equal(dp_framer_feed(&f, cmd, 1, record, &s), 0);
  assert_int_equal(dp_framer_feed(&f, cmd, 1, record, &s), DP_ETOOBIG); /* trickled */
  dp_framer_free(&f);
  dp_framer_init(&f, 10);
  char line[] = "AAAAAAAAAAA;UP;"; /* terminated but too long */
  assert_int_equal(dp_framer_feed(&f, line, strlen(line), record, &s), DP_ETOOBIG);
  assert_int_equal(s.count, 1); /* UP was not run after it */
  dp_framer_free(&f);
}

static void stop_drops_the_rest(void **state) {
  (void)state;
  dp_framer_t f;
  seen_t s = {.stop_after = 2};
  dp_framer_init(&f, 100);
  assert_int_equal(dp_framer_feed(&f, "A;B;C;D", 7, record, &s), 0);
  assert_string_equal(s.text, "A#B#");
  dp_framer_free(&f);
  s = (seen_t){.stop_after = 1};
  dp_framer_init(&f, 100);
  assert_int_equal(dp_framer_feed(&f, "A", 1, record, &s), 0);
  assert_int_equal(dp_framer_feed(&f, ";B;", 3, record, &s), 0); /* the kept one stops */
  assert_string_equal(s.text, "A#");
  dp_framer_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_split_point),   cmocka_unit_test(byte_by_byte),
      cmocka_unit_test(linear_work_counted), cmocka_unit_test(length_limit),
      cmocka_unit_test(stop_drops_the_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
