/* test_lineedit.c - dp-send's line editor fed key bytes without a terminal:
 * typing, cursor moves, deletion, history browsing, quit keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp-send/lineedit.h"

typedef struct {
  char lines[8][64];
  int n;
  int quits;
} seen_t;

static void on_line(const char *line, void *user) {
  seen_t *s = user;
  if (line == NULL)
    s->quits++;
  else if (s->n < 8)
    strcpy(s->lines[s->n++], line);
}

static int feed(dp_lineedit_t *le, const char *keys) {
  return dp_lineedit_feed(le, keys, strlen(keys));
}

static void editing(void **state) {
  (void)state;
  seen_t s = {0};
  dp_lineedit_t *le = dp_lineedit_new_detached(on_line, &s);
  assert_int_equal(feed(le, "UQ\x7fP\r"), 0);                 /* backspace */
  assert_int_equal(feed(le, "ECO\x1b[DH\x1b[C|x\r"), 0);      /* left, insert, right */
  assert_int_equal(feed(le, "abc\x01X\x05Y\r"), 0);           /* Ctrl-A, Ctrl-E */
  assert_int_equal(feed(le, "abc\x1b[H\x1b[3~\x1b[F!\n"), 0); /* Home, Delete, End */
  assert_int_equal(feed(le, "ab\x1b[D\x04\r"), 0);            /* Ctrl-D deletes under cursor */
  assert_int_equal(s.n, 5);
  assert_string_equal(s.lines[0], "UP");
  assert_string_equal(s.lines[1], "ECHO|x");
  assert_string_equal(s.lines[2], "XabcY");
  assert_string_equal(s.lines[3], "bc!");
  assert_string_equal(s.lines[4], "a");
  dp_lineedit_free(le);
}

static void history(void **state) {
  (void)state;
  seen_t s = {0};
  dp_lineedit_t *le = dp_lineedit_new_detached(on_line, &s);
  feed(le, "one\rtwo\rtwo\r\r");                           /* duplicates and blanks not kept */
  feed(le, "dra\x1b[A\x1b[A\r");                           /* up twice: "one" */
  feed(le, "dra\x1b[A\x1b[A\x1b[A\x1b[B\x1b[B\x1b[Bft\r"); /* back down to the draft */
  feed(le, "\x1bOA\r");                                    /* ESC O A also means up */
  assert_int_equal(s.n, 7);
  assert_string_equal(s.lines[4], "one");
  assert_string_equal(s.lines[5], "draft");
  assert_string_equal(s.lines[6], "draft");
  dp_lineedit_free(le);
}

static void quitting(void **state) {
  (void)state;
  seen_t s = {0};
  dp_lineedit_t *le = dp_lineedit_new_detached(on_line, &s);
  assert_int_equal(feed(le, "\x04"), 1);   /* Ctrl-D on an empty line */
  assert_int_equal(feed(le, "ab\x03"), 1); /* Ctrl-C */
  assert_int_equal(s.n, 0);
  dp_lineedit_free(le);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(editing),
      cmocka_unit_test(history),
      cmocka_unit_test(quitting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
