/* console.c - the standard line format and the console handler.
 *
 * The line is `<asctime> - <name> - <LEVELNAME> - <message>`, asctime in local
 * time as `YYYY-MM-DD HH:MM:SS,mmm` (Python's logging default). On a terminal
 * the prefix is coloured by level and the message is white, as dareplane_utils'
 * colorlog formatter does; NO_COLOR or a non-terminal gives plain text. On
 * Windows the console is asked to understand the colour codes (VT mode,
 * Windows 10 and later); a console that refuses gets plain text. */
#include "log/record.h"

#include "dareplane/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>
#ifdef _WIN32
#include <windows.h>
#endif

size_t dp_log_format_asctime(char *out, size_t size, double created, double msecs) {
  time_t secs = (time_t)created;
  int millis = (int)msecs;
  if (millis < 0) millis = 0;
  if (millis > 999) millis = 999;
  struct tm tm;
  char stamp[32];
  if (localtime_r(&secs, &tm) == NULL ||
      strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf(stamp, sizeof stamp, "1970-01-01 00:00:00");
  int n = snprintf(out, size, "%s,%03d", stamp, millis);
  return n < 0 ? 0 : (size_t)n;
}

size_t dp_log_format_line(char *buf, size_t size, double created, const char *name, int level,
                          const char *msg) {
  char stamp[48];
  dp_log_format_asctime(stamp, sizeof stamp, created, (created - (double)(time_t)created) * 1000.0);
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

/* ANSI colour of the prefix for a level (colorlog's defaults as dareplane_utils
 * configures them: DEBUG cyan, INFO green, WARNING yellow, ERROR red, CRITICAL
 * red on white). */
static const char *level_colour(int level) {
  if (level >= DP_LOG_CRITICAL) return "\033[31m\033[47m";
  if (level >= DP_LOG_ERROR) return "\033[31m";
  if (level >= DP_LOG_WARNING) return "\033[33m";
  if (level >= DP_LOG_INFO) return "\033[32m";
  return "\033[36m";
}

/* Whether stderr's console shows the colour codes (always, but on Windows). */
static bool console_takes_colour(void) {
#ifdef _WIN32
  HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
  DWORD mode;
  return GetConsoleMode(h, &mode) && ((mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0 ||
                                      SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING));
#else
  return true;
#endif
}

static int use_colour(void) {
  static int decided = -1; /* computed once; benign race: same value everywhere */
  if (decided < 0) {
    const char *no = getenv("NO_COLOR");
    decided =
        (no == NULL || no[0] == '\0') && uv_guess_handle(2) == UV_TTY && console_takes_colour();
  }
  return decided;
}

void dp_log_console_line(int level, const char *prefix, size_t prefix_len, const char *msg) {
  int len = prefix_len > 4096 ? 4096 : (int)prefix_len;
  if (use_colour()) {
    /* as dareplane_utils' colorlog format: "<colour><prefix><reset> <white><msg>" */
    fprintf(stderr, "%s%.*s\033[0m \033[37m%s\033[0m\n", level_colour(level), len, prefix, msg);
  } else {
    fprintf(stderr, "%.*s%s\n", len, prefix, msg);
  }
}

void dp_log_console_emit(const dp_log_record_t *rec) {
  char prefix[512];
  /* Format the prefix alone (empty message), then append the message so a long
   * message is never truncated. */
  size_t n = dp_log_format_line(prefix, sizeof prefix, rec->created, rec->name, rec->level, "");
  if (n >= sizeof prefix) n = sizeof prefix - 1;
  dp_log_console_line(rec->level, prefix, n, rec->msg);
}
