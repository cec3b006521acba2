/* realtime.c - dp_thread_set_realtime(): the calling thread under real-time
 * scheduling, for closed loops whose wake-up latency must not depend on what
 * else runs on the machine. POSIX: pthread_setschedparam with SCHED_FIFO
 * (inherited by threads created later, which is how liblsl's threads get it);
 * Windows: the thread priority, which is not inherited. */
#include "dareplane/time.h"

#include <string.h>

#include "common/error_internal.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <uv.h>
#endif

int dp_thread_set_realtime(int priority) {
  if (priority < 0 || priority > DP_REALTIME_MAX_PRIORITY)
    return dp_error_set(DP_EINVAL, "real-time priority %d is outside 0..%d", priority,
                        DP_REALTIME_MAX_PRIORITY);
#ifdef _WIN32
  int level = priority > 0 ? THREAD_PRIORITY_TIME_CRITICAL : THREAD_PRIORITY_NORMAL;
  if (!SetThreadPriority(GetCurrentThread(), level))
    return dp_error_set(DP_ESYS, "cannot set the thread priority (Windows error %lu)",
                        (unsigned long)GetLastError());
  return 0;
#else
  int policy = priority > 0 ? SCHED_FIFO : SCHED_OTHER;
  if (priority > 0 && priority > sched_get_priority_max(SCHED_FIFO))
    return dp_error_set(DP_EINVAL, "real-time priority %d is above this system's maximum %d",
                        priority, sched_get_priority_max(SCHED_FIFO));
  struct sched_param param;
  memset(&param, 0, sizeof param);
  param.sched_priority = priority;
  int rc = pthread_setschedparam(pthread_self(), policy, &param);
  if (rc == EPERM)
    return dp_error_set(DP_ESYS,
                        "not permitted to use real-time priority %d: needs root, CAP_SYS_NICE "
                        "or an RLIMIT_RTPRIO of at least %d (ulimit -r)",
                        priority, priority);
  if (rc != 0)
    return dp_error_set(DP_ESYS, "cannot set scheduling policy %d at priority %d: %s", policy,
                        priority, uv_strerror(uv_translate_sys_error(rc)));
  return 0;
#endif
}
