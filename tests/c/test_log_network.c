/* test_log_network.c - the network handler against an in-process log server:
 * records arrive in order and exactly once, survive an outage and a server
 * restart in the queue, a full queue drops the oldest and reports the exact
 * number, a logger can opt out, flush gives up at once when the server is
 * down (many threads logging at once: test_log_queue.c). Reconnects are
 * driven with dp_log_retry_now() (the back-off is set far beyond the test's
 * length), so no test sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <cmocka.h>

#include "dareplane/log.h"
#include "log_receiver.h"

/* Asserts that r holds exactly "<prefix> <from>" .. "<prefix> <to - 1>" from
 * index `at` on. */
static void assert_sequence(receiver_t *r, size_t at, const char *prefix, int from, int to) {
  char want[128];
  for (int i = from; i < to; i++, at++) {
    snprintf(want, sizeof want, "%s %d", prefix, i);
    if (at >= r->n) fail_msg("missing '%s' (only %zu messages)", want, r->n);
    if (strcmp(r->msgs[at], want) != 0)
      fail_msg("message %zu: '%s', want '%s'", at, r->msgs[at], want);
  }
}

static void wait_connected(bool want) {
  uint64_t deadline = uv_hrtime() + (uint64_t)10 * 1000000000u;
  dp_log_net_stats_t st;
  do {
    dp_log_net_stats(&st);
    if (st.connected == want) return;
    uv_sleep(2);
  } while (uv_hrtime() < deadline);
  fail_msg("handler never became %s", want ? "connected" : "disconnected");
}

static void records_arrive_in_order(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  assert_int_equal(dp_log_set_server("127.0.0.1", r->port), 0);
  dp_logger_t *lg = receiver_test_logger("net.order");
  for (int i = 0; i < 500; i++) dp_log_info(lg, "rec %d", i);
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r, 500), 500);
  assert_sequence(r, 0, "rec", 0, 500);
  /* invalid UTF-8 still gives a frame the server accepts */
  dp_log_info(lg, "bad \xff byte");
  assert_int_equal(receiver_wait(r, 501), 501);
  assert_string_equal(r->msgs[500], "bad \xEF\xBF\xBD byte");
  receiver_stop(r);
  receiver_free(r);
}

static void opt_out_logger_is_not_sent(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  dp_log_set_server("127.0.0.1", r->port);
  dp_logger_t *quiet = receiver_test_logger("net.local_only"),
              *lg = receiver_test_logger("net.sent");
  dp_logger_set_network(quiet, false);
  dp_log_info(quiet, "rec 0");
  dp_log_info(lg, "rec 1");
  dp_log_set_network_handler(false);
  dp_log_info(lg, "rec 2");
  dp_log_set_network_handler(true);
  dp_log_info(lg, "rec 3");
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r, 2), 2);
  assert_string_equal(r->msgs[0], "rec 1");
  assert_string_equal(r->msgs[1], "rec 3");
  receiver_stop(r);
  receiver_free(r);
}

static void outage_keeps_records_until_server_starts(void **state) {
  (void)state;
  int port = receiver_closed_port();
  dp_log_set_server("127.0.0.1", port);
  dp_logger_t *lg = receiver_test_logger("net.outage");
  for (int i = 0; i < 100; i++) dp_log_info(lg, "early %d", i);
  assert_int_equal(dp_log_flush(5000), DP_ECONN); /* gives up at once */
  receiver_t *r = receiver_new(port);
  dp_log_retry_now();
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r, 100), 100);
  assert_sequence(r, 0, "early", 0, 100);
  assert_int_equal(r->n, 100);
  receiver_stop(r);
  receiver_free(r);
}

static void restart_loses_nothing_and_sends_nothing_twice(void **state) {
  (void)state;
  receiver_t *r1 = receiver_new(0), *r2;
  int port = r1->port;
  dp_log_set_server("127.0.0.1", port);
  dp_logger_t *lg = receiver_test_logger("net.restart");
  for (int i = 0; i < 300; i++) dp_log_info(lg, "rec %d", i);
  assert_int_equal(receiver_wait(r1, 300), 300);
  receiver_stop(r1);
  wait_connected(false);
  for (int i = 300; i < 600; i++) dp_log_info(lg, "rec %d", i);
  r2 = receiver_new(port);
  dp_log_retry_now();
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r2, 300), 300);
  assert_sequence(r1, 0, "rec", 0, 300);
  assert_int_equal(r1->n, 300);
  assert_sequence(r2, 0, "rec", 300, 600);
  assert_int_equal(r2->n, 300);
  receiver_stop(r2);
  receiver_free(r1);
  receiver_free(r2);
}

static void full_queue_drops_oldest_and_reports_count(void **state) {
  (void)state;
  int port = receiver_closed_port();
  dp_log_set_server("127.0.0.1", port);
  dp_log_set_queue_limits(10, 0);
  dp_logger_t *lg = receiver_test_logger("net.overflow");
  dp_log_net_stats_t before, after;
  dp_log_net_stats(&before);
  for (int i = 0; i < 100; i++) dp_log_info(lg, "rec %d", i);
  dp_log_net_stats(&after);
  assert_int_equal(after.dropped - before.dropped, 90);
  receiver_t *r = receiver_new(port);
  dp_log_retry_now();
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r, 11), 11);
  assert_string_equal(r->msgs[0],
                      "90 log records were lost before this one (queue full or link broken)");
  assert_sequence(r, 1, "rec", 90, 100);
  assert_int_equal(r->n, 11);
  receiver_stop(r);
  receiver_free(r);
}

typedef struct steady {
  uv_thread_t thread;
  atomic_bool stop;
  int logged;
} steady_t;

static void steady_main(void *arg) {
  steady_t *st = arg;
  dp_logger_t *lg = receiver_test_logger("net.steady");
  /* bounded, so that a slow run (valgrind) has a bounded backlog */
  while (!atomic_load(&st->stop) && st->logged < 30000) dp_log_info(lg, "n %d", st->logged++);
}

/* The server goes away in the middle of a stream of writes: the process
 * lives on (SIGPIPE is blocked in the sender), no record comes twice or out
 * of order, and what is queued goes to the next server. */
static void server_dying_mid_stream(void **state) {
  (void)state;
  dp_log_set_queue_limits(1000000, 256u << 20);
  receiver_t *r1 = receiver_new(0), *r2;
  int port = r1->port;
  dp_log_set_server("127.0.0.1", port);
  steady_t st = {.logged = 0};
  atomic_init(&st.stop, false);
  assert_int_equal(uv_thread_create(&st.thread, steady_main, &st), 0);
  receiver_wait(r1, 2000);
  receiver_stop(r1); /* closes with unread data: the peer resets */
  wait_connected(false);
  r2 = receiver_new(port);
  dp_log_retry_now();
  atomic_store(&st.stop, true);
  uv_thread_join(&st.thread);
  /* One more record of the sequence, logged after the restart whatever the
   * steady thread managed before: it must reach the second server. */
  dp_log_info(receiver_test_logger("net.steady"), "n %d", st.logged++);
  assert_int_equal(dp_log_flush(60000), 0);
  char want[32];
  snprintf(want, sizeof want, "n %d", st.logged - 1);
  uint64_t deadline = uv_hrtime() + (uint64_t)60 * 1000000000u;
  for (;;) { /* the last record logged arrives (a deadline, not a sleep) */
    uv_mutex_lock(&r2->lock);
    bool there = r2->n > 0 && strcmp(r2->msgs[r2->n - 1], want) == 0;
    uv_mutex_unlock(&r2->lock);
    if (there) break;
    if (uv_hrtime() > deadline) fail_msg("'%s' never arrived", want);
    uv_sleep(2);
  }
  /* every record the second server saw is new, in order; the last one logged
   * arrives */
  int last = -1;
  char **all[2] = {r1->msgs, r2->msgs};
  size_t n[2] = {r1->n, r2->n};
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < n[k]; i++) {
      int v;
      if (sscanf(all[k][i], "n %d", &v) != 1) continue; /* a loss report */
      if (v <= last) fail_msg("record %d after %d: sent twice or out of order", v, last);
      last = v;
    }
  }
  assert_int_equal(last, st.logged - 1);
  receiver_stop(r2);
  receiver_free(r1);
  receiver_free(r2);
}

#ifndef _WIN32
static void forked_child_sends_its_own_records(void **state) {
  (void)state;
#if defined(__SANITIZE_THREAD__)
  /* ThreadSanitizer cannot start a thread in a child forked from a threaded
   * process (it dies: "starting new threads after multi-threaded fork is not
   * supported"), and the child's sender is a thread. */
  skip();
#endif
  receiver_t *r = receiver_new(0);
  dp_log_set_server("127.0.0.1", r->port);
  dp_logger_t *lg = receiver_test_logger("net.fork");
  dp_log_info(lg, "parent 0");
  assert_int_equal(dp_log_flush(5000), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    for (int i = 0; i < 20; i++) dp_log_info(lg, "child %d", i);
    /* _exit: LeakSanitizer's exit check can hang in a child forked from a
     * threaded process (its allocator lock), so no exit handlers here. */
    _exit(dp_log_flush(30000) == 0 ? 0 : 1); /* a deadline: valgrind under load is slow */
  }
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  dp_log_info(lg, "parent 1");
  assert_int_equal(dp_log_flush(5000), 0);
  assert_int_equal(receiver_wait(r, 22), 22);
  int parent = 0, next_child = 0;
  for (size_t k = 0; k < r->n; k++) {
    int i;
    if (sscanf(r->msgs[k], "child %d", &i) == 1)
      assert_int_equal(i, next_child++);
    else
      assert_string_equal(r->msgs[k], parent++ == 0 ? "parent 0" : "parent 1");
  }
  assert_int_equal(next_child, 20);
  assert_int_equal(parent, 2);
  receiver_stop(r);
  receiver_free(r);
}
#else
static void forked_child_sends_its_own_records(void **state) {
  (void)state;
  print_message("skipped: fork() does not exist on Windows\n");
  skip();
}
#endif

/* A host name is resolved and each of its addresses tried in turn (for
 * "localhost", ::1 may come first while the server is on 127.0.0.1). */
static void host_name_is_resolved(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  assert_int_equal(dp_log_set_server("localhost", r->port), 0);
  dp_log_info(receiver_test_logger("net.byname"), "rec 0");
  assert_int_equal(dp_log_flush(10000), 0);
  assert_int_equal(receiver_wait(r, 1), 1);
  assert_string_equal(r->msgs[0], "rec 0");
  dp_log_set_server("127.0.0.1", 0);
  receiver_stop(r);
  receiver_free(r);
}

/* Without dp_log_retry_now() the back-off timer reconnects by itself. */
static void backoff_timer_reconnects(void **state) {
  (void)state;
  dp_log_set_backoff(20, 40);
  int port = receiver_closed_port();
  dp_log_set_server("127.0.0.1", port);
  dp_log_info(receiver_test_logger("net.backoff"), "rec 0");
  receiver_t *r = receiver_new(port);
  assert_int_equal(receiver_wait(r, 1), 1); /* no flush, no retry_now */
  assert_string_equal(r->msgs[0], "rec 0");
  receiver_stop(r);
  receiver_free(r);
}

/* The threadName field of the last frame r received. */
static void last_thread_name(receiver_t *r, char *out, size_t size) {
  uv_mutex_lock(&r->lock);
  const char *p = r->last_json != NULL ? strstr(r->last_json, "\"threadName\":\"") : NULL;
  assert_non_null(p);
  p += strlen("\"threadName\":\"");
  snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
  uv_mutex_unlock(&r->lock);
}

static void log_from_thread(void *arg) {
  if (arg != NULL) dp_log_set_thread_name(arg);
  dp_log_info(receiver_test_logger("net.threads"), "from a thread");
  dp_log_flush(5000);
}

static void records_carry_thread_names(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  dp_log_set_server("127.0.0.1", r->port);
  char name[64];
  dp_log_info(receiver_test_logger("net.threads"), "from main");
  assert_int_equal(receiver_wait(r, 1), 1);
  last_thread_name(r, name, sizeof name);
  assert_string_equal(name, "MainThread");
  const char *names[] = {"worker-1", NULL};
  for (size_t i = 0; i < 2; i++) {
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, log_from_thread, (void *)names[i]), 0);
    uv_thread_join(&t);
    assert_int_equal(receiver_wait(r, 2 + i), 2 + i);
    last_thread_name(r, name, sizeof name);
    if (names[i] != NULL)
      assert_string_equal(name, names[i]);
    else
      assert_true(strncmp(name, "Thread-", 7) == 0 && atoi(name + 7) > 0);
  }
  receiver_stop(r);
  receiver_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(records_arrive_in_order, receiver_setup, receiver_teardown),
      cmocka_unit_test_setup_teardown(opt_out_logger_is_not_sent, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(outage_keeps_records_until_server_starts, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(restart_loses_nothing_and_sends_nothing_twice, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(full_queue_drops_oldest_and_reports_count, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(forked_child_sends_its_own_records, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(server_dying_mid_stream, receiver_setup, receiver_teardown),
      cmocka_unit_test_setup_teardown(host_name_is_resolved, receiver_setup, receiver_teardown),
      cmocka_unit_test_setup_teardown(backoff_timer_reconnects, receiver_setup, receiver_teardown),
      cmocka_unit_test_setup_teardown(records_carry_thread_names, receiver_setup,
                                      receiver_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
