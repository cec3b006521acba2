/* test_log_queue.c - the record queue of the network handler: on its own
 * (records copied and encoded byte for byte as before, order, drop-oldest at
 * both bounds with the exact loss count, batches put back in order, chunks
 * reused so a steady stream allocates nothing), then through the public API
 * with many threads (order per thread, no loss while the queue has room, the
 * newest records kept when it is full), a huge message, and fork(). */
#include <setjmp.h>
#include <stdarg.h>
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
#include "log/frame.h"
#include "log/net_queue.h"
#include "log_receiver.h"

/* The fork test's child starts the sender thread again, which
 * ThreadSanitizer refuses by default in a child of a threaded process. */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) {
  return "die_after_fork=0";
}
#endif

/* ---- the queue on its own --------------------------------------------------- */

static char msg_buf[64];

static dp_log_record_t numbered(int i) {
  int len = snprintf(msg_buf, sizeof msg_buf, "rec %d", i);
  dp_log_record_t rec = {
      .name = "queue.unit",
      .level = DP_LOG_INFO,
      .msg = msg_buf,
      .msg_len = (size_t)len,
      .pathname = "/src/queue_test.c",
      .lineno = i,
      .func = "numbered",
      .created = 1795461145.25 + i,
      .thread = 7,
      .thread_name = "MainThread",
      .process = 42,
      .process_name = "MainProcess",
      .network = true,
  };
  return rec;
}

static void push_numbered(dp_log_queue_t *qu, int i) {
  dp_log_record_t rec = numbered(i);
  size_t need = dp_log_qrec_need(&rec);
  dp_log_qchunk_t *to_free = NULL;
  dp_log_qrec_t *r = dp_log_queue_alloc(qu, need, &to_free);
  assert_non_null(r);
  dp_log_qrec_fill(r, &rec);
  assert_int_equal(dp_log_queue_push(qu, r, &to_free), 0);
  dp_log_qchunk_free_chain(to_free);
}

/* Takes everything; asserts it is "rec from" .. "rec to-1" with `lost` lost
 * before it; releases the records. */
static void take_expect(dp_log_queue_t *qu, int from, int to, unsigned long long lost) {
  dp_log_qrec_t *out[64];
  unsigned long long got_lost;
  int next = from;
  bool first = true;
  for (;;) {
    size_t n = dp_log_queue_take(qu, out, 64, &got_lost);
    if (first) assert_int_equal(got_lost, lost);
    if (!first) assert_int_equal(got_lost, 0);
    first = false;
    if (n == 0) break;
    for (size_t k = 0; k < n; k++) {
      dp_log_record_t v = dp_log_qrec_view(out[k]);
      char want[64];
      snprintf(want, sizeof want, "rec %d", next++);
      assert_string_equal(v.msg, want);
    }
    dp_log_qchunk_t *to_free = NULL;
    dp_log_queue_release(qu, out, n, &to_free);
    dp_log_qchunk_free_chain(to_free);
  }
  assert_int_equal(next, to);
  assert_int_equal(qu->count, 0);
  assert_int_equal(qu->bytes, 0);
}

/* Encoding the queued copy gives the bytes encoding the record gives. */
static void copy_encodes_like_the_record(void **state) {
  (void)state;
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 100, 1u << 20);
  size_t big_len = DP_LOG_MSG_MAX + 5000; /* a chunk of its own, and cut */
  char *big = malloc(big_len + 1);
  memset(big, 'x', big_len);
  big[big_len] = '\0';
  dp_log_record_t recs[3] = {numbered(1), numbered(2), numbered(3)};
  recs[1].msg = "quote \" tab \t bad \xff, and \xc3\xa9";
  recs[1].msg_len = strlen(recs[1].msg);
  recs[1].thread_name = "worker-1";
  recs[1].level = 25; /* "Level 25" */
  recs[2].msg = big;
  recs[2].msg_len = big_len;
  recs[2].pathname = "";
  recs[2].func = "";
  for (int i = 0; i < 3; i++) {
    size_t need = dp_log_qrec_need(&recs[i]);
    dp_log_qchunk_t *to_free = NULL;
    dp_log_qrec_t *r =
        need > DP_LOG_QREC_BIG ? dp_log_qrec_new(need) : dp_log_queue_alloc(&qu, need, &to_free);
    assert_non_null(r);
    dp_log_qrec_fill(r, &recs[i]);
    assert_int_equal(dp_log_queue_push(&qu, r, &to_free), 0);
    assert_null(to_free);
  }
  dp_log_qrec_t *out[3];
  unsigned long long lost;
  assert_int_equal(dp_log_queue_take(&qu, out, 3, &lost), 3);
  assert_int_equal(lost, 0);
  for (int i = 0; i < 3; i++) {
    dp_textbuf_t want, got;
    dp_textbuf_init(&want, NULL, 0);
    dp_textbuf_init(&got, NULL, 0);
    recs[i].relative_ms = dp_log_relative_ms(recs[i].created);
    dp_log_frame_encode(&recs[i], &want);
    dp_log_record_t v = dp_log_qrec_view(out[i]);
    dp_log_frame_encode(&v, &got);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    dp_textbuf_free(&want);
    dp_textbuf_free(&got);
  }
  dp_log_qchunk_t *to_free = NULL;
  dp_log_queue_release(&qu, out, 3, &to_free);
  assert_non_null(to_free); /* the big record's own chunk */
  assert_null(to_free->next);
  dp_log_qchunk_free_chain(to_free);
  dp_log_queue_clear(&qu);
  free(big);
}

static void no_loss_with_room(void **state) {
  (void)state;
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 5000, 8u << 20);
  for (int i = 0; i < 5000; i++) push_numbered(&qu, i);
  assert_int_equal(qu.count, 5000);
  assert_int_equal(qu.dropped, 0);
  take_expect(&qu, 0, 5000, 0);
  dp_log_queue_clear(&qu);
}

static void record_bound_drops_oldest(void **state) {
  (void)state;
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 10, 8u << 20);
  for (int i = 0; i < 100; i++) push_numbered(&qu, i);
  assert_int_equal(qu.count, 10);
  assert_int_equal(qu.dropped, 90);
  take_expect(&qu, 90, 100, 90);
  /* the count was reported once: more records come with no loss */
  push_numbered(&qu, 100);
  take_expect(&qu, 100, 101, 0);
  assert_int_equal(qu.dropped, 90);
  dp_log_queue_clear(&qu);
}

static void byte_bound_drops_oldest(void **state) {
  (void)state;
  dp_log_record_t rec = numbered(10); /* "rec 10".."rec 99": all the same size */
  size_t size = dp_log_qrec_need(&rec);
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 10000, 7 * size + size / 2);
  for (int i = 10; i < 100; i++) push_numbered(&qu, i);
  assert_int_equal(qu.count, 7);
  assert_int_equal(qu.bytes, 7 * size);
  take_expect(&qu, 93, 100, 83);
  /* lowering a bound drops at once */
  for (int i = 10; i < 15; i++) push_numbered(&qu, i);
  dp_log_qchunk_t *to_free = NULL;
  dp_log_queue_set_limits(&qu, 2, 0, &to_free);
  dp_log_qchunk_free_chain(to_free);
  take_expect(&qu, 13, 15, 3);
  dp_log_queue_clear(&qu);
}

/* A write that did not happen: its records go back to the front in order,
 * a loss count taken with them is restored, and the bounds still hold. */
static void batch_goes_back_in_order(void **state) {
  (void)state;
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 8, 8u << 20);
  for (int i = 0; i < 10; i++) push_numbered(&qu, i); /* 0, 1 dropped */
  dp_log_qrec_t *out[5];
  unsigned long long lost;
  assert_int_equal(dp_log_queue_take(&qu, out, 5, &lost), 5); /* 2..6 */
  assert_int_equal(lost, 2);
  for (int i = 10; i < 12; i++) push_numbered(&qu, i); /* 7..11 queued */
  dp_log_qchunk_t *to_free = NULL;
  dp_log_queue_release(&qu, out, 2, &to_free);                           /* 2, 3 sent */
  assert_int_equal(dp_log_queue_unget(&qu, out + 2, 3, 0, &to_free), 0); /* 4..6 back */
  assert_int_equal(qu.count, 8);
  take_expect(&qu, 4, 12, 0);
  /* past the bound, the put-back records are the oldest and go first, and a
   * report that did not go out becomes a count again */
  for (int i = 0; i < 8; i++) push_numbered(&qu, i);
  assert_int_equal(dp_log_queue_take(&qu, out, 3, &lost), 3); /* 0..2 */
  for (int i = 8; i < 10; i++) push_numbered(&qu, i);
  assert_int_equal(dp_log_queue_unget(&qu, out, 3, 5, &to_free), 0);
  dp_log_qchunk_free_chain(to_free);
  take_expect(&qu, 2, 10, 5 + 2);
  dp_log_queue_clear(&qu);
}

/* While the sender keeps up, records reuse the start of one chunk: a steady
 * stream allocates nothing and touches a few cache lines. */
static void steady_stream_reuses_one_chunk(void **state) {
  (void)state;
  dp_log_queue_t qu;
  dp_log_queue_init(&qu, 10000, 8u << 20);
  push_numbered(&qu, 0);
  dp_log_qchunk_t *chunk = qu.current;
  take_expect(&qu, 0, 1, 0);
  for (int i = 1; i < 100000; i += 3) {
    for (int k = i; k < i + 3; k++) push_numbered(&qu, k);
    take_expect(&qu, i, i + 3, 0);
    assert_ptr_equal(qu.current, chunk);
    assert_int_equal(chunk->used, 0);
  }
  /* a full queue recycles its chunks too: at most the spares stay */
  for (int i = 0; i < 50000; i++) push_numbered(&qu, i);
  assert_true(qu.n_spare <= DP_LOG_QUEUE_SPARE_MAX);
  take_expect(&qu, 40000, 50000, 40000);
  assert_int_equal(qu.n_spare, DP_LOG_QUEUE_SPARE_MAX);
  dp_log_queue_clear(&qu);
}

/* ---- through the public API ------------------------------------------------- */

enum { THREADS = 8, PER_THREAD = 1000 };

typedef struct worker {
  uv_thread_t thread;
  int id;
} worker_t;

/* Each thread has its own name and logger, and logs "t<id> <i>". */
static void worker_main(void *arg) {
  worker_t *w = arg;
  char name[32];
  snprintf(name, sizeof name, "queue.thread%d", w->id);
  dp_log_set_thread_name(name);
  dp_logger_t *lg = receiver_test_logger(name);
  for (int i = 0; i < PER_THREAD; i++) dp_log_info(lg, "t%d %d", w->id, i);
}

static void run_workers(void) {
  worker_t w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i].id = i;
    assert_int_equal(uv_thread_create(&w[i].thread, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) uv_thread_join(&w[i].thread);
}

/* Checks r->msgs[from..]: per thread in order, each record once, every
 * thread's records a run ending with its last one (all of them when nothing
 * was dropped); returns how many. */
static size_t check_thread_runs(receiver_t *r, size_t from) {
  int first[THREADS], next[THREADS];
  for (int i = 0; i < THREADS; i++) first[i] = next[i] = -1;
  for (size_t k = from; k < r->n; k++) {
    int id, i;
    assert_int_equal(sscanf(r->msgs[k], "t%d %d", &id, &i), 2);
    assert_true(id >= 0 && id < THREADS);
    if (first[id] < 0) first[id] = next[id] = i;
    if (i != next[id]) fail_msg("thread %d: record %d where %d was due", id, i, next[id]);
    next[id]++;
  }
  for (int i = 0; i < THREADS; i++)
    if (first[i] >= 0) assert_int_equal(next[i], PER_THREAD);
  return r->n - from;
}

static void many_threads_none_lost_with_room(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  dp_log_set_server("127.0.0.1", r->port);
  dp_log_set_queue_limits(THREADS * PER_THREAD, 0);
  dp_log_net_stats_t before, after;
  dp_log_net_stats(&before);
  run_workers();
  assert_int_equal(dp_log_flush(60000), 0);
  assert_int_equal(receiver_wait(r, THREADS * PER_THREAD), THREADS * PER_THREAD);
  dp_log_net_stats(&after);
  assert_int_equal(after.dropped, before.dropped);
  assert_int_equal(check_thread_runs(r, 0), THREADS * PER_THREAD);
  receiver_stop(r);
  receiver_free(r);
}

/* Server down, queue full: the newest records stay, in order per thread,
 * after one report of exactly how many were dropped. */
static void many_threads_full_queue_keeps_newest(void **state) {
  (void)state;
  enum { KEEP = 500 };
  int port = receiver_closed_port();
  dp_log_set_server("127.0.0.1", port);
  dp_log_set_queue_limits(KEEP, 0);
  dp_log_net_stats_t before, after;
  dp_log_net_stats(&before);
  run_workers();
  dp_log_net_stats(&after);
  assert_int_equal(after.dropped - before.dropped, THREADS * PER_THREAD - KEEP);
  receiver_t *r = receiver_new(port);
  dp_log_retry_now();
  assert_int_equal(dp_log_flush(60000), 0);
  assert_int_equal(receiver_wait(r, KEEP + 1), KEEP + 1);
  char want[128];
  snprintf(want, sizeof want,
           "%d log records were lost before this one (queue full or link broken)",
           THREADS * PER_THREAD - KEEP);
  assert_string_equal(r->msgs[0], want);
  assert_int_equal(check_thread_runs(r, 1), KEEP);
  receiver_stop(r);
  receiver_free(r);
}

/* A message far past the frame's limit goes out cut, with the count of what
 * was cut, between two short ones, in order. */
static void huge_message_goes_out_cut(void **state) {
  (void)state;
  receiver_t *r = receiver_new(0);
  dp_log_set_server("127.0.0.1", r->port);
  size_t len = (size_t)3 << 20;
  char *huge = malloc(len + 1);
  assert_non_null(huge);
  memset(huge, 'h', len);
  huge[len] = '\0';
  dp_logger_t *lg = receiver_test_logger("queue.huge");
  dp_log_info(lg, "before");
  dp_log_info(lg, "%s", huge);
  dp_log_info(lg, "after");
  free(huge);
  assert_int_equal(dp_log_flush(10000), 0);
  assert_int_equal(receiver_wait(r, 3), 3);
  assert_string_equal(r->msgs[0], "before");
  char note[64];
  snprintf(note, sizeof note, " [... %zu more bytes cut]", len - DP_LOG_MSG_MAX);
  assert_int_equal(strlen(r->msgs[1]), DP_LOG_MSG_MAX + strlen(note));
  assert_string_equal(r->msgs[1] + DP_LOG_MSG_MAX, note);
  assert_string_equal(r->msgs[2], "after");
  receiver_stop(r);
  receiver_free(r);
}

#ifndef _WIN32
/* The receiver of the fork test: global, so that the child, which exits
 * without freeing anything, still holds a pointer to it (valgrind). */
static receiver_t *volatile fork_receiver;

/* A child made by fork() while the parent has records queued sends only its
 * own; the parent's are sent once, by the parent. */
static void fork_with_records_queued(void **state) {
  (void)state;
  receiver_t *r = fork_receiver = receiver_new(0);
  dp_log_set_server("127.0.0.1", receiver_closed_port());
  dp_logger_t *lg = receiver_test_logger("queue.fork");
  for (int i = 0; i < 10; i++) dp_log_info(lg, "parent %d", i);
  /* the parent's attempt has failed: it waits for the retry below */
  assert_int_equal(dp_log_flush(10000), DP_ECONN);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    dp_log_set_server("127.0.0.1", r->port);
    for (int i = 0; i < 20; i++) dp_log_info(lg, "child %d", i);
    /* _exit: LeakSanitizer's exit check can hang in a child forked from a
     * threaded process (its allocator lock), so no exit handlers here. */
    _exit(dp_log_flush(10000) == 0 ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(receiver_wait(r, 20), 20);
  for (int i = 0; i < 20; i++) {
    char want[32];
    snprintf(want, sizeof want, "child %d", i);
    assert_string_equal(r->msgs[i], want);
  }
  dp_log_set_server("127.0.0.1", r->port);
  dp_log_retry_now();
  assert_int_equal(dp_log_flush(10000), 0);
  assert_int_equal(receiver_wait(r, 30), 30);
  for (int i = 0; i < 10; i++) {
    char want[32];
    snprintf(want, sizeof want, "parent %d", i);
    assert_string_equal(r->msgs[20 + i], want);
  }
  assert_int_equal(r->n, 30);
  receiver_stop(r);
  receiver_free(r);
}
#else
static void fork_with_records_queued(void **state) {
  (void)state;
  print_message("skipped: fork() does not exist on Windows\n");
  skip();
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(copy_encodes_like_the_record),
      cmocka_unit_test(no_loss_with_room),
      cmocka_unit_test(record_bound_drops_oldest),
      cmocka_unit_test(byte_bound_drops_oldest),
      cmocka_unit_test(batch_goes_back_in_order),
      cmocka_unit_test(steady_stream_reuses_one_chunk),
      cmocka_unit_test_setup_teardown(many_threads_none_lost_with_room, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(many_threads_full_queue_keeps_newest, receiver_setup,
                                      receiver_teardown),
      cmocka_unit_test_setup_teardown(huge_message_goes_out_cut, receiver_setup, receiver_teardown),
      cmocka_unit_test_setup_teardown(fork_with_records_queued, receiver_setup, receiver_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
