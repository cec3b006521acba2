/* test_proc_tree.c - a process worker as one unit (proc_tree.h), on the
 * platform's implementation (a supervisor on Linux, a Job Object on
 * Windows): stopping ends the program and a grandchild that left its group
 * (a detached process), and a program that exits leaving a grandchild behind
 * is reported with rest_left and the rest is ended by itself. The
 * processes are this program in a child mode (main), so the test runs the
 * same on both platforms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uv.h>

#include "proc_tree/proc_tree.h"
#include "test_platform.h"

#define DEADLINE_NS (20 * (uint64_t)1000000000)

static char self[1024];

typedef struct {
  int exited, gone, status;
  bool rest_left, gone_after_exited;
} seen_t;

static void on_exited(void *user, int status, int sig, bool rest_left) {
  seen_t *s = user;
  (void)sig;
  s->exited++;
  s->status = status;
  s->rest_left = rest_left;
}

static void on_killed(void *user, int n) {
  (void)user;
  (void)n;
}

static void on_gone(void *user) {
  seen_t *s = user;
  s->gone++;
  s->gone_after_exited = s->exited == 1;
}

static const dp_proc_tree_events_t events = {on_exited, on_killed, on_gone};

/* Runs the loop until *flag is set (deadline: a failure). */
static void run_until(uv_loop_t *loop, const int *flag) {
  uint64_t deadline = uv_hrtime() + DEADLINE_NS;
  while (*flag == 0) {
    assert_true(uv_hrtime() < deadline);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(5);
  }
}

/* The grandchild's pid, once the child has written it. */
static int grandchild_pid(uv_loop_t *loop, const char *file) {
  uint64_t deadline = uv_hrtime() + DEADLINE_NS;
  for (;;) {
    FILE *f = fopen(file, "r");
    int pid = 0;
    if (f != NULL) {
      int n = fscanf(f, "%d", &pid);
      fclose(f);
      if (n == 1) {
        remove(file);
        return pid;
      }
    }
    assert_true(uv_hrtime() < deadline);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(5);
  }
}

static dp_proc_tree_t *start(uv_loop_t *loop, const char *mode, const char *file, seen_t *seen) {
  const char *argv[] = {self, mode, file, NULL};
  dp_proc_tree_spec_t spec = {.argv = argv, .grace_s = 0.5, .events = &events, .user = seen};
  dp_proc_tree_t *t = NULL;
  int pid = 0;
  assert_int_equal(dp_proc_tree_start(loop, &spec, &t, &pid), 0);
  assert_true(pid > 0);
  return t;
}

/* One tree under test: its loop, what it reported, its grandchild. */
typedef struct {
  uv_loop_t loop;
  seen_t seen;
  dp_proc_tree_t *tree;
  int grandchild;
} run_t;

/* Starts this program in `mode` and waits for its grandchild's pid. */
static void begin(run_t *r, const char *mode) {
  memset(r, 0, sizeof *r);
  uv_loop_init(&r->loop);
  char file[1024];
  test_temp_name(file, sizeof file, "proc_tree"); /* the grandchild's pid goes there */
  r->tree = start(&r->loop, mode, file, &r->seen);
  r->grandchild = grandchild_pid(&r->loop, file);
}

/* Waits for `gone` (after `exited`); the grandchild must be gone too. */
static void end(run_t *r) {
  run_until(&r->loop, &r->seen.gone);
  assert_true(r->seen.gone_after_exited);
  assert_int_equal(uv_kill(r->grandchild, 0), UV_ESRCH);
  assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void stop_ends_the_whole_tree(void **state) {
  (void)state;
  run_t r;
  begin(&r, "child-tree");
  assert_int_equal(uv_kill(r.grandchild, 0), 0); /* alive, outside its parent's group */
  dp_proc_tree_stop(r.tree);
  end(&r);
}

static void orphans_are_reported_and_ended(void **state) {
  (void)state;
  run_t r;
  begin(&r, "child-orphan");
  run_until(&r.loop, &r.seen.exited);
  assert_int_equal(r.seen.status, 3);
  assert_true(r.seen.rest_left);
  end(&r);
}

/* The child modes. child-tree and child-orphan start a detached grandchild
 * (its own session on Linux, no console and its own group on Windows),
 * write its pid into the file argv[2] (under another name first, so the
 * test never reads half of it), then sleep or exit with 3. */
static int child_main(int argc, char **argv) {
  if (strcmp(argv[1], "child-sleep") == 0) {
    uv_sleep(30000);
    return 0;
  }
  if (argc < 3) return 2;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *gargv[] = {self, "child-sleep", NULL};
  uv_process_options_t o = {.file = self, .args = gargv, .flags = UV_PROCESS_DETACHED};
  uv_process_t proc;
  if (uv_spawn(&loop, &proc, &o) != 0) return 2;
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
  FILE *f = fopen(tmp, "w");
  if (f == NULL || fprintf(f, "%d\n", proc.pid) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0)
    return 2;
  uv_close((uv_handle_t *)&proc, NULL); /* the grandchild runs on, unwatched */
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (strcmp(argv[1], "child-orphan") == 0) return 3;
  uv_sleep(30000);
  return 0;
}

int main(int argc, char **argv) {
  size_t size = sizeof self;
  if (uv_exepath(self, &size) != 0) return 1;
  if (argc > 1) return child_main(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stop_ends_the_whole_tree),
      cmocka_unit_test(orphans_are_reported_and_ended),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
