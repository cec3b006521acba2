/* test_realtime.c - dp_thread_set_realtime(): bad priorities are refused and
 * change nothing; when the system permits it the calling thread runs
 * SCHED_FIFO at the priority, threads it creates afterwards inherit that
 * (how liblsl's threads get it), and 0 puts it back to normal; when the
 * system refuses (a child that gave up root and its RLIMIT_RTPRIO), the
 * error says so. On Windows: the thread priority. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "dareplane/error.h"
#include "dareplane/time.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#ifndef _WIN32
/* The calling thread's policy and priority. */
static int current_policy(int *priority) {
  int policy;
  struct sched_param p;
  assert_int_equal(pthread_getschedparam(pthread_self(), &policy, &p), 0);
  *priority = p.sched_priority;
  return policy;
}

static void *report_policy(void *out) {
  int *got = out;
  got[0] = current_policy(&got[1]);
  return NULL;
}
#endif

static void bad_priorities_are_refused(void **state) {
  (void)state;
  assert_int_equal(dp_thread_set_realtime(-1), DP_EINVAL);
  assert_int_equal(dp_thread_set_realtime(DP_REALTIME_MAX_PRIORITY + 1), DP_EINVAL);
  assert_non_null(strstr(dp_error_detail(), "outside 0..99"));
#ifndef _WIN32
  int prio;
  assert_int_equal(current_policy(&prio), SCHED_OTHER);
  assert_int_equal(prio, 0);
#endif
}

static void realtime_and_back(void **state) {
  (void)state;
  int rc = dp_thread_set_realtime(10);
  if (rc != 0) { /* not permitted here: a clear error, nothing changed */
    assert_int_equal(rc, DP_ESYS);
    assert_non_null(strstr(dp_error_detail(), "not permitted"));
    skip();
  }
#ifdef _WIN32
  assert_int_equal(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_TIME_CRITICAL);
  assert_int_equal(dp_thread_set_realtime(0), 0);
  assert_int_equal(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_NORMAL);
#else
  int prio;
  assert_int_equal(current_policy(&prio), SCHED_FIFO);
  assert_int_equal(prio, 10);
  int child[2] = {-1, -1};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, report_policy, child), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(child[0], SCHED_FIFO); /* inherited by a thread created later */
  assert_int_equal(child[1], 10);
  assert_int_equal(dp_thread_set_realtime(0), 0);
  assert_int_equal(current_policy(&prio), SCHED_OTHER);
  assert_int_equal(prio, 0);
#endif
}

#ifndef _WIN32
/* In a child without the right to real-time scheduling (no RLIMIT_RTPRIO,
 * and no longer root): DP_ESYS, a detail that says why, policy unchanged.
 * Exit status 0 = as expected, 1 = not, 2 = could not give up root. */
static int refused_child(void) {
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_RTPRIO, &none) != 0) return 2;
  if (geteuid() == 0 && setuid(65534) != 0) return 2;
  int prio;
  int ok = dp_thread_set_realtime(20) == DP_ESYS &&
           strstr(dp_error_detail(), "not permitted to use real-time priority 20") != NULL &&
           current_policy(&prio) == SCHED_OTHER;
  return ok ? 0 : 1;
}

static void refusal_is_a_clear_error(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(refused_child());
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) skip();
  assert_int_equal(WEXITSTATUS(status), 0);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bad_priorities_are_refused),
      cmocka_unit_test(realtime_and_back),
#ifndef _WIN32
      cmocka_unit_test(refusal_is_a_clear_error),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
