/* console.c - the standard line format and the console handler.
 *
 * The line is `<asctime> - <name> - <LEVELNAME> - <message>`, asctime in local
 * time as `YYYY-MM-DD HH:MM:SS,mmm` (Python's logging default). On a terminal
 * the prefix is coloured by level and the message is white, as dareplane_utils'
 * colorlog formatter does; NO_COLOR or a non-terminal gives plain text. The
 * lines go to stderr through the queue of console_queue.c. */
#include "log/record.h"

#include "dareplane/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Whole seconds of `created`; a time that is no number or lies beyond
 * +-1e15 s (no calendar date) counts as 0, so the conversion is defined. */
static time_t whole_seconds(double created) {
  return created > -1e15 && created < 1e15 ? (time_t)created : 0;
}

size_t dp_log_format_asctime(char *out, size_t size, double created, double msecs) {
  /* The date and time of the last second asked for in this thread: records
   * come many per second, and localtime_r + strftime cost more than the
   * rest of a log server's line. */
  static _Thread_local time_t cached_secs = -1;
  static _Thread_local char cached[32];
  static _Thread_local size_t cached_len;
  time_t secs = whole_seconds(created);
  /* compared as a double first: converting one outside int's range (or NaN)
   * to int is undefined */
  int millis = msecs >= 0.0 && msecs < 1000.0 ? (int)msecs : msecs >= 1000.0 ? 999 : 0;
  if (secs != cached_secs || cached[0] == '\0') {
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL ||
        strftime(cached, sizeof cached, "%Y-%m-%d %H:%M:%S", &tm) == 0)
      snprintf(cached, sizeof cached, "1970-01-01 00:00:00");
    cached_secs = secs;
    cached_len = strlen(cached);
  }
  if (size < cached_len + 5) { /* (never, as called) */
    int n = snprintf(out, size, "%s,%03d", cached, millis);
    return n < 0 ? 0 : (size_t)n;
  }
  /* by hand: snprintf cost dp-logserver more than the rest of the prefix */
  memcpy(out, cached, cached_len);
  char *m = out + cached_len;
  m[0] = ',';
  m[1] = (char)('0' + millis / 100);
  m[2] = (char)('0' + millis / 10 % 10);
  m[3] = (char)('0' + millis % 10);
  m[4] = '\0';
  return cached_len + 4;
}

size_t dp_log_format_line(char *buf, size_t size, double created, const char *name, int level,
                          const char *msg) {
  char stamp[48];
  dp_log_format_asctime(stamp, sizeof stamp, created,
                        (created - (double)whole_seconds(created)) * 1000.0);
  const char *levelname = dp_log_level_name(level);
  char unnamed[24];
  if (levelname == NULL) {
    snprintf(unnamed, sizeof unnamed, "Level %d", level);
    levelname = unnamed;
  }
  int n = snprintf(buf, size, "%s - %s - %s - %s", stamp, name != NULL ? name : "", levelname,
                   msg != NULL ? msg : "");
  return n < 0 ? 0 : (size_t)n;
}

const char *dp_log_level_colour(int level) {
  if (level >= DP_LOG_CRITICAL) return "\033[31m\033[47m";
  if (level >= DP_LOG_ERROR) return "\033[31m";
  if (level >= DP_LOG_WARNING) return "\033[33m";
  if (level >= DP_LOG_INFO) return "\033[32m";
  return "\033[36m";
}

void dp_log_console_emit(const dp_log_record_t *rec) {
  char prefix[512];
  /* Format the prefix alone (empty message), then append the message so a long
   * message is never truncated. */
  size_t n = dp_log_format_line(prefix, sizeof prefix, rec->created, rec->name, rec->level, "");
  if (n >= sizeof prefix) n = sizeof prefix - 1;
  dp_log_console_line(rec->level, prefix, n, rec->msg);
}

int dp_log_wait_until(uv_cond_t *cond, uv_mutex_t *lock, uint64_t deadline) {
  uint64_t now = uv_hrtime();
  if (now >= deadline) return DP_ETIMEDOUT;
  uv_cond_timedwait(cond, lock, deadline - now);
  return 0;
}
