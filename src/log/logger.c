/* logger.c - the logger registry, levels, and record dispatch.
 *
 * Loggers are created on first use and kept in a small list for the life of
 * the process (like Python's logging.getLogger): they are never freed, so a
 * dp_logger_t pointer may be cached anywhere. The level test on the hot path
 * is two relaxed atomic loads; only emitting takes the dispatch lock. */
#include "log/record.h"

#include "dareplane/log.h"

#ifndef _WIN32
#include <pthread.h>
#endif
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct dp_logger {
  struct dp_logger *next;
  atomic_int level;    /* DP_LOG_NOTSET: follow the default */
  atomic_bool network; /* may this logger's records go to the network? */
  char name[];
};

static uv_once_t init_once = UV_ONCE_INIT;
static uv_mutex_t registry_lock;
static dp_logger_t *registry;
static atomic_int default_level = DP_LOG_WARNING;
static atomic_bool console_on;
static double start_time;       /* seconds since the epoch at init */
static uv_thread_t main_thread; /* the thread that loaded the library */
static atomic_uint thread_counter;

static _Thread_local char thread_name[64];

static double now_seconds(void) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static atomic_llong process_id; /* cached: getpid() is a system call */

#ifndef _WIN32
static void refresh_pid(void) { /* in a child made by fork() */
  atomic_store(&process_id, (long long)uv_os_getpid());
}
#endif

static void init(void) {
  uv_mutex_init(&registry_lock);
  start_time = now_seconds();
  atomic_store(&process_id, (long long)uv_os_getpid());
#ifndef _WIN32
  pthread_atfork(NULL, NULL, refresh_pid);
#endif
}

/* Runs in the thread that loads the library, which is the main thread for
 * every program that links libdareplane; that one is "MainThread". */
__attribute__((constructor)) static void remember_main_thread(void) {
  main_thread = uv_thread_self();
  uv_once(&init_once, init);
}

dp_logger_t *dp_log_get(const char *name) {
  uv_once(&init_once, init);
  if (name == NULL || name[0] == '\0') name = "root";
  uv_mutex_lock(&registry_lock);
  dp_logger_t *lg;
  for (lg = registry; lg != NULL; lg = lg->next)
    if (strcmp(lg->name, name) == 0) break;
  if (lg == NULL) {
    size_t len = strlen(name);
    lg = malloc(sizeof *lg + len + 1);
    if (lg != NULL) {
      memcpy(lg->name, name, len + 1);
      atomic_init(&lg->level, DP_LOG_NOTSET);
      atomic_init(&lg->network, true);
      lg->next = registry;
      registry = lg;
    }
  }
  uv_mutex_unlock(&registry_lock);
  return lg;
}

const char *dp_logger_name(const dp_logger_t *lg) {
  return lg->name;
}

void dp_logger_set_level(dp_logger_t *lg, int level) {
  atomic_store_explicit(&lg->level, level, memory_order_relaxed);
}

int dp_logger_level(const dp_logger_t *lg) {
  int level = atomic_load_explicit(&((dp_logger_t *)lg)->level, memory_order_relaxed);
  return level != DP_LOG_NOTSET ? level
                                : atomic_load_explicit(&default_level, memory_order_relaxed);
}

bool dp_logger_enabled(const dp_logger_t *lg, int level) {
  return lg != NULL && level >= dp_logger_level(lg);
}

void dp_logger_set_network(dp_logger_t *lg, bool enabled) {
  atomic_store(&lg->network, enabled);
}

void dp_log_set_default_level(int level) {
  atomic_store(&default_level, level);
}

int dp_log_default_level(void) {
  return atomic_load(&default_level);
}

void dp_log_set_console(bool enabled) {
  atomic_store(&console_on, enabled);
}

const char *dp_log_level_name(int level) {
  switch (level) {
  case DP_LOG_NOTSET: return "NOTSET";
  case DP_LOG_DEBUG: return "DEBUG";
  case DP_LOG_INFO: return "INFO";
  case DP_LOG_WARNING: return "WARNING";
  case DP_LOG_ERROR: return "ERROR";
  case DP_LOG_CRITICAL: return "CRITICAL";
  default: return NULL;
  }
}

int dp_log_level_parse(const char *text, int *level) {
  static const struct {
    const char *name;
    int level;
  } names[] = {{"NOTSET", DP_LOG_NOTSET},     {"DEBUG", DP_LOG_DEBUG},   {"INFO", DP_LOG_INFO},
               {"WARNING", DP_LOG_WARNING},   {"WARN", DP_LOG_WARNING},  {"ERROR", DP_LOG_ERROR},
               {"CRITICAL", DP_LOG_CRITICAL}, {"FATAL", DP_LOG_CRITICAL}};
  if (text == NULL || level == NULL || text[0] == '\0') return DP_EINVAL;
  char *end;
  long v = strtol(text, &end, 10);
  if (*end == '\0') {
    if (v < 0 || v > 1000) return DP_EINVAL;
    *level = (int)v;
    return 0;
  }
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *a = text, *b = names[i].name;
    while (*a != '\0' && toupper((unsigned char)*a) == *b) a++, b++;
    if (*a == '\0' && *b == '\0') {
      *level = names[i].level;
      return 0;
    }
  }
  return DP_EINVAL;
}

int dp_log_configure_level(const char *cli_value) {
  const char *text = cli_value != NULL ? cli_value : getenv("DP_LOG_LEVEL");
  if (text == NULL) return 0;
  int level;
  int rc = dp_log_level_parse(text, &level);
  if (rc == 0) dp_log_set_default_level(level);
  return rc;
}

void dp_log_set_thread_name(const char *name) {
  snprintf(thread_name, sizeof thread_name, "%s", name != NULL ? name : "");
}

static const char *current_thread_name(void) {
  if (thread_name[0] == '\0') {
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &main_thread))
      snprintf(thread_name, sizeof thread_name, "MainThread");
    else
      snprintf(thread_name, sizeof thread_name, "Thread-%u",
               atomic_fetch_add(&thread_counter, 1) + 1);
  }
  return thread_name;
}

double dp_log_relative_ms(double created) {
  uv_once(&init_once, init);
  return (created - start_time) * 1000.0;
}

static void dispatch(const dp_log_record_t *rec) {
  if (atomic_load(&console_on)) dp_log_console_emit(rec);
  if (rec->network) dp_log_net_emit(rec);
}

void dp_log_vwrite(dp_logger_t *lg, int level, const char *file, int line, const char *func,
                   const char *fmt, va_list ap) {
  if (!dp_logger_enabled(lg, level) || fmt == NULL) return;
  uv_once(&init_once, init);

  char stack[1024];
  char *msg = stack;
  va_list ap2;
  va_copy(ap2, ap);
  int len = vsnprintf(stack, sizeof stack, fmt, ap);
  if (len < 0) {
    snprintf(stack, sizeof stack, "(bad log format string: %s)", fmt);
    len = (int)strlen(stack);
  } else if ((size_t)len >= sizeof stack) {
    msg = malloc((size_t)len + 1);
    if (msg != NULL)
      vsnprintf(msg, (size_t)len + 1, fmt, ap2);
    else {
      msg = stack; /* keep the truncated text rather than lose the record */
      len = (int)sizeof stack - 1;
    }
  }
  va_end(ap2);

  dp_log_record_t rec = {
      .name = lg->name,
      .level = level,
      .msg = msg,
      .msg_len = (size_t)len,
      .pathname = file != NULL ? file : "",
      .lineno = line,
      .func = func != NULL ? func : "",
      .created = now_seconds(),
      .thread = (uint64_t)uv_thread_self(),
      .thread_name = current_thread_name(),
      .process = (int64_t)atomic_load_explicit(&process_id, memory_order_relaxed),
      .process_name = "MainProcess",
      .network = atomic_load(&lg->network),
  };
  rec.relative_ms = dp_log_relative_ms(rec.created);
  dispatch(&rec);
  if (msg != stack) free(msg);
}

void dp_log_write(dp_logger_t *lg, int level, const char *file, int line, const char *func,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dp_log_vwrite(lg, level, file, line, func, fmt, ap);
  va_end(ap);
}
