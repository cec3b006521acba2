/* test_log_console.c - the console handler never blocks a log call: threads
 * logging their first lines at once (the colour decision must not race; TSan
 * checks), each thread's lines in order, a stderr pipe that nobody reads (log
 * calls return, lines are dropped and the gap is reported with its exact
 * count once output resumes, also for dp-logserver's batches of lines, which
 * are packed in blocks), and over-long lines cut and marked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "dareplane/log.h"
#include "log/record.h"
#include "test_platform.h"

/* ---- stderr into a pipe, drained by a thread on demand -------------------- */

typedef struct capture {
  int saved; /* the real stderr */
  int rd;    /* read end of the pipe that is fd 2 meanwhile */
  uv_thread_t thread;
  char *text;
  size_t len, cap;
} capture_t;

static void capture_start(capture_t *c) {
  memset(c, 0, sizeof *c);
  int fds[2];
  assert_int_equal(test_pipe(fds), 0);
  fflush(stderr);
  c->saved = dup(2);
  assert_true(dup2(fds[1], 2) >= 0); /* 2 on POSIX, 0 on Windows */
  close(fds[1]);
  c->rd = fds[0];
}

static void drain(void *arg) {
  capture_t *c = arg;
  char buf[65536];
  ssize_t n;
  while ((n = read(c->rd, buf, sizeof buf)) > 0) {
    if (c->len + (size_t)n + 1 > c->cap) {
      c->cap = (c->len + (size_t)n + 1) * 2;
      c->text = realloc(c->text, c->cap);
      assert_non_null(c->text);
    }
    memcpy(c->text + c->len, buf, (size_t)n);
    c->len += (size_t)n;
    c->text[c->len] = '\0';
  }
}

/* Starts reading the pipe (until fd 2 is given back). */
static void capture_drain(capture_t *c) {
  assert_int_equal(uv_thread_create(&c->thread, drain, c), 0);
}

/* Waits until the console wrote everything, gives stderr back, returns the text. */
static char *capture_end(capture_t *c) {
  assert_int_equal(dp_log_console_flush(30000), 0);
  dup2(c->saved, 2);
  close(c->saved);
  uv_thread_join(&c->thread);
  close(c->rd);
  return c->text != NULL ? c->text : strdup("");
}

/* ---- tests ---------------------------------------------------------------- */

#define THREADS 8
#define PER     200

static void log_lines(void *arg) {
  dp_logger_t *lg = dp_log_get("console.threads");
  for (int i = 0; i < PER; i++) dp_log_warning(lg, "thread %d line %d", (int)(intptr_t)arg, i);
}

/* The first console lines of the process come from several threads at once;
 * every line arrives whole and each thread's lines in order. */
static void threads_log_first_lines_at_once(void **state) {
  (void)state;
  capture_t c;
  capture_start(&c);
  capture_drain(&c);
  uv_thread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(uv_thread_create(&t[i], log_lines, (void *)(intptr_t)i), 0);
  for (int i = 0; i < THREADS; i++) uv_thread_join(&t[i]);
  char *out = capture_end(&c);
  int next[THREADS] = {0};
  int total = 0;
  for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    int th, i;
    const char *m = strstr(line, " - console.threads - WARNING - ");
    assert_non_null(m);
    assert_int_equal(sscanf(m, " - console.threads - WARNING - thread %d line %d", &th, &i), 2);
    assert_true(th >= 0 && th < THREADS);
    assert_int_equal(i, next[th]++);
    total++;
  }
  assert_int_equal(total, THREADS * PER);
  free(out);
}

typedef struct flood {
  int n;
  uv_mutex_t lock;
  uv_cond_t done_cv;
  bool done;
} flood_t;

static void flood_main(void *arg) {
  flood_t *f = arg;
  dp_logger_t *lg = dp_log_get("console.flood");
  for (int i = 0; i < f->n; i++) dp_log_warning(lg, "flood %d", i);
  uv_mutex_lock(&f->lock);
  f->done = true;
  uv_cond_signal(&f->done_cv);
  uv_mutex_unlock(&f->lock);
}

/* The console's output `out` (freed here) holds lines "...<tag><i>" for i
 * from 0 to total - 1 in order, except where a report says how many are
 * missing. */
static void check_gaps(char *out, const char *tag, int total) {
  int expect = 0;
  unsigned long long dropped = 0, seen = 0, gaps = 0;
  for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    const char *m;
    if ((m = strstr(line, tag)) != NULL) {
      assert_int_equal(atoi(m + strlen(tag)), expect); /* in order, and any gap was reported */
      expect++;
      seen++;
    } else {
      unsigned long long n;
      m = strstr(line, " - dareplane.log - WARNING - ");
      assert_non_null(m);
      assert_int_equal(sscanf(m, " - dareplane.log - WARNING - %llu console line", &n), 1);
      assert_non_null(strstr(m, "dropped here: stderr was not being read"));
      dropped += n;
      expect += (int)n;
      gaps++;
    }
  }
  assert_int_equal(seen + dropped, total);
  assert_true(dropped > 0 && gaps > 0);
  free(out);
}

/* stderr is a pipe nobody reads: logging goes on regardless; once it is read
 * again, a report stands exactly where lines are missing, with their count. */
static void undrained_stderr_never_blocks(void **state) {
  (void)state;
#ifdef _WIN32
  /* Under Wine the console queue was empty 50 ms after the flood although
   * nobody read the pipe (a full pipe's write fails there instead of
   * blocking?): not yet understood. */
  print_message("skipped on Windows: a stderr pipe nobody reads behaves differently\n");
  skip();
#endif
  dp_log_set_console_limit(16 * 1024);
  capture_t c;
  capture_start(&c);
  flood_t f = {.n = 20000};
  uv_mutex_init(&f.lock);
  uv_cond_init(&f.done_cv);
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, flood_main, &f), 0);
  /* A deadline, not a measurement: a blocking console never gets there. */
  uint64_t deadline = uv_hrtime() + 60ull * 1000000000ull;
  uv_mutex_lock(&f.lock);
  while (!f.done && uv_hrtime() < deadline)
    uv_cond_timedwait(&f.done_cv, &f.lock, deadline - uv_hrtime());
  bool done = f.done;
  uv_mutex_unlock(&f.lock);
  assert_true(done); /* the log calls returned while nobody read stderr */
  uv_thread_join(&t);
  /* No assertion on whether the pipe is full now: a slow writer (valgrind runs
   * one thread at a time) drops lines at the queue before the pipe fills. */
  capture_drain(&c);
  char *out = capture_end(&c);
  dp_log_set_console_limit(1024 * 1024);

  check_gaps(out, " - console.flood - WARNING - flood ", 20000);
  uv_cond_destroy(&f.done_cv);
  uv_mutex_destroy(&f.lock);
}

/* The same with batches of lines (dp-logserver's way): blocks of lines are
 * queued or dropped whole, and every gap is still reported where it is,
 * with its exact count. */
static void undrained_stderr_with_batches(void **state) {
  (void)state;
#ifdef _WIN32
  print_message("skipped on Windows: a stderr pipe nobody reads behaves differently\n");
  skip();
#endif
  dp_log_set_console_limit(64 * 1024);
  capture_t c;
  capture_start(&c);
  const char prefix[] = "2026-11-26 01:00:00,000 - console.batch - INFO - ";
  char msg[32];
  for (int b = 0; b < 200; b++) {
    dp_log_console_batch_t batch = {0};
    for (int i = 0; i < 100; i++) {
      int n = snprintf(msg, sizeof msg, "batch %d", b * 100 + i);
      dp_log_console_batch_add(&batch, DP_LOG_INFO, prefix, sizeof prefix - 1, msg, (size_t)n);
    }
    dp_log_console_batch_send(&batch);
  }
  capture_drain(&c);
  char *out = capture_end(&c);
  dp_log_set_console_limit(1024 * 1024);
  check_gaps(out, " - console.batch - INFO - batch ", 20000);
}

static void long_lines_are_cut_and_marked(void **state) {
  (void)state;
  dp_log_set_console_limit(16 * 1024);
  size_t n = 20000;
  char *msg = malloc(n + 1);
  assert_non_null(msg);
  for (size_t i = 0; i < n; i++) msg[i] = (char)('a' + i % 26);
  msg[n] = '\0';
  msg[8191] = '\xC3'; /* a two-byte character across the cut at 8 KiB */
  msg[8192] = '\xA9';
  capture_t c;
  capture_start(&c);
  capture_drain(&c);
  dp_log_error(dp_log_get("console.long"), "%s", msg);
  char *out = capture_end(&c);
  dp_log_set_console_limit(1024 * 1024);
  const char *m = strstr(out, " - console.long - ERROR - ");
  assert_non_null(m);
  m += strlen(" - console.long - ERROR - ");
  const char *note = strstr(m, "... [truncated ");
  assert_non_null(note);
  size_t kept = (size_t)(note - m);
  assert_int_equal(kept, 8191); /* not inside the character */
  assert_memory_equal(m, msg, kept);
  unsigned long cut;
  assert_int_equal(sscanf(note, "... [truncated %lu bytes]", &cut), 1);
  assert_int_equal(kept + cut, n);
  free(out);
  free(msg);
}

int main(void) {
  dp_log_set_network_handler(false);
  dp_log_set_console(true);
  test_setenv("NO_COLOR", "1");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(threads_log_first_lines_at_once), /* first: the colour decision */
      cmocka_unit_test(undrained_stderr_never_blocks),
      cmocka_unit_test(undrained_stderr_with_batches),
      cmocka_unit_test(long_lines_are_cut_and_marked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
