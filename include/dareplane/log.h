/* log.h - named loggers with Dareplane's (Python's) levels, record format and
 * handlers.
 *
 * A module gets a logger by dotted name and logs through the dp_log_* macros,
 * which capture file, line and function:
 *
 *     dp_logger_t *log = dp_log_get("mymodule.decoder");
 *     dp_log_info(log, "connected to %s", stream_name);
 *
 * Defaults equal those of dareplane_utils' get_logger(): the effective level is
 * WARNING until set, records go to the network handler (the central log
 * server) and not to the console; tools and examples switch the console on.
 *
 * Thread-safety: every function here may be called from any thread. A log call
 * never waits for the network: the network handler only enqueues.
 *
 * Errors follow error.h: negative DP_E* codes. */
#ifndef DAREPLANE_LOG_H
#define DAREPLANE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Python's logging levels. Any int works as a level; these are the named ones. */
typedef enum {
  DP_LOG_NOTSET = 0,
  DP_LOG_DEBUG = 10,
  DP_LOG_INFO = 20,
  DP_LOG_WARNING = 30,
  DP_LOG_ERROR = 40,
  DP_LOG_CRITICAL = 50
} dp_log_level_t;

/* A named logger (opaque; dp_log_get() gives one). */
typedef struct dp_logger dp_logger_t;

/* Returns the logger called `name` (NULL or "" mean "root"), creating it on
 * first use. Loggers live until the process ends: never free one. The same
 * name always gives the same logger. Returns NULL only when out of memory. */
DP_EXTERN dp_logger_t *dp_log_get(const char *name);

/* The logger's name. Static for the logger's (the process's) lifetime. */
DP_EXTERN const char *dp_logger_name(const dp_logger_t *lg);

/* Sets the logger's own level; DP_LOG_NOTSET makes it follow the process-wide
 * default level again. */
DP_EXTERN void dp_logger_set_level(dp_logger_t *lg, int level);

/* The effective level: the logger's own, or the default level if it has none. */
DP_EXTERN int dp_logger_level(const dp_logger_t *lg);

/* True when a record of `level` would be emitted by this logger. */
DP_EXTERN bool dp_logger_enabled(const dp_logger_t *lg, int level);

/* Opts this logger in (default) or out of network logging; its records then
 * reach the console handler only (Python's no_socket_handler=True). */
DP_EXTERN void dp_logger_set_network(dp_logger_t *lg, bool enabled);

/* Emits one record: formats `fmt` printf-style into the message and hands the
 * record to every enabled handler. Records below the logger's effective level
 * are dropped cheaply. `file`, `func` may be NULL. Use the macros below. */
DP_EXTERN void dp_log_write(dp_logger_t *lg, int level, const char *file, int line,
                            const char *func, const char *fmt, ...) DP_PRINTF(6, 7);
DP_EXTERN void dp_log_vwrite(dp_logger_t *lg, int level, const char *file, int line,
                             const char *func, const char *fmt, va_list ap);

/* Logs a printf-style record at `level`, then at each named level; the
 * arguments are evaluated only when the logger would emit the record. */
#define DP_LOG_AT(lg, level, ...)                                                                  \
  do {                                                                                             \
    dp_logger_t *dp_log_lg_ = (lg);                                                                \
    if (dp_logger_enabled(dp_log_lg_, (level)))                                                    \
      dp_log_write(dp_log_lg_, (level), __FILE__, __LINE__, __func__, __VA_ARGS__);                \
  } while (0)
#define dp_log_debug(lg, ...)    DP_LOG_AT(lg, DP_LOG_DEBUG, __VA_ARGS__)
#define dp_log_info(lg, ...)     DP_LOG_AT(lg, DP_LOG_INFO, __VA_ARGS__)
#define dp_log_warning(lg, ...)  DP_LOG_AT(lg, DP_LOG_WARNING, __VA_ARGS__)
#define dp_log_error(lg, ...)    DP_LOG_AT(lg, DP_LOG_ERROR, __VA_ARGS__)
#define dp_log_critical(lg, ...) DP_LOG_AT(lg, DP_LOG_CRITICAL, __VA_ARGS__)

/* ---- process-wide configuration ------------------------------------------ */

/* The level of every logger that has none of its own (default WARNING). */
DP_EXTERN void dp_log_set_default_level(int level);
DP_EXTERN int dp_log_default_level(void);

/* Parses a level: a number ("10") or a name in any case ("debug", "WARNING",
 * also "WARN" and "FATAL"). Returns 0 and sets *level, or DP_EINVAL. */
DP_EXTERN int dp_log_level_parse(const char *text, int *level);

/* Applies a level from the command line or the environment to the default
 * level: `cli_value` (e.g. the text of --loglevel) when not NULL, else the
 * DP_LOG_LEVEL environment variable when set, else nothing changes.
 * Returns 0, or DP_EINVAL (and changes nothing) when the text is no level. */
DP_EXTERN int dp_log_configure_level(const char *cli_value);

/* Switches the console handler (stderr, standard format) on or off (default
 * off). Colours are used only when stderr is a terminal and NO_COLOR is unset
 * (decided once, at the first console line).
 *
 * The console never blocks a log call: lines go into a bounded queue that one
 * background thread (started with the first line) writes to fd 2, in the
 * order they were logged. When stderr is not drained (a pipe nobody reads)
 * the queue fills and further lines are dropped; once output resumes a
 * WARNING line from "dareplane.log" stands where they are missing and says
 * how many. A message longer than half the queue is cut and ends with
 * "... [truncated N bytes]". At exit the library waits up to 1 s for the
 * queue to be written. */
DP_EXTERN void dp_log_set_console(bool enabled);

/* Bounds the console queue to `max_bytes` (text plus 64 bytes per line;
 * default 1 MiB, at least 4096; 0 keeps the bound). Lines already queued stay. */
DP_EXTERN void dp_log_set_console_limit(size_t max_bytes);

/* Waits until every console line queued so far (by any thread) has been
 * written to fd 2, for at most `timeout_ms`. Returns 0, or DP_ETIMEDOUT (e.g.
 * stderr is a pipe nobody reads). Any thread; not from a signal handler. */
DP_EXTERN int dp_log_console_flush(unsigned timeout_ms);

/* ---- network handler ----------------------------------------------------- *
 *
 * Every record of a logger that allows it (dp_logger_set_network) is copied
 * by the calling thread into a bounded queue (no allocation once the queue has
 * been in use); one background thread (started with the first such record)
 * encodes each as the JSON frame dareplane_utils sends, connects to the log
 * server, sends, and reconnects with back-off when the server is down or
 * restarts, keeping the queued records across the outage.
 * A full queue drops its OLDEST records; once the link is back, one WARNING
 * record from logger "dareplane.log" says how many were lost. The first
 * failure to reach the server prints one warning on stderr (once per outage:
 * again only after a connection has succeeded).
 *
 * Delivery is at most once: a record is never sent twice. Records the kernel
 * had already accepted when the server died are lost with it (as with Python).
 *
 * At exit (atexit) the handler waits up to 1 s for the queue to drain; it
 * gives up at once when the server cannot be reached. Call dp_log_flush() or
 * dp_log_shutdown() to control this yourself.
 *
 * A child made by fork() starts its own sender with an empty queue at its
 * first record (records the parent had queued are the parent's to send). */

/* Switches the network handler on (default) or off for the whole process.
 * Records logged while it is off are not queued. */
DP_EXTERN void dp_log_set_network_handler(bool enabled);

/* Sets the log server's address. host NULL keeps the current one, port 0 the
 * current one. Without a call, DP_LOG_HOST and DP_LOG_PORT from the
 * environment (read when the sender thread starts) or 127.0.0.1:9020 apply.
 * Takes effect at the next connection attempt (an established connection is
 * kept). Returns 0, or DP_EINVAL for a port above 65535 or a host longer than
 * 255 bytes. */
DP_EXTERN int dp_log_set_server(const char *host, int port);

/* Bounds of the queue: at most `max_records` records and `max_bytes` bytes
 * of queued records (defaults 10000 and 8 MiB; 0 keeps a bound as it is). A
 * record's bytes are its strings (message, pathname, function, thread name)
 * plus about 80 bytes. Lowering them drops the oldest records beyond the new
 * bounds. */
DP_EXTERN void dp_log_set_queue_limits(size_t max_records, size_t max_bytes);

/* Reconnect back-off: the first retry after `initial_ms`, each next one after
 * twice the previous wait, at most `max_ms` (defaults 1000 and 30000, like
 * Python's SocketHandler). 0 keeps a value. */
DP_EXTERN void dp_log_set_backoff(unsigned initial_ms, unsigned max_ms);

/* Ends the current back-off wait and tries to connect now. No effect while
 * connected. Returns at once. */
DP_EXTERN void dp_log_retry_now(void);

/* Waits until the queue is empty and its records have been handed to the
 * operating system (records other threads log meanwhile count too), for at
 * most `timeout_ms`. When not connected it tries to connect at once; returns
 * DP_ECONN as soon as that attempt fails, DP_ETIMEDOUT when the time is up,
 * 0 on success (also when the handler never started). */
DP_EXTERN int dp_log_flush(unsigned timeout_ms);

/* dp_log_flush(timeout_ms), then stops the sender thread and frees the queue
 * (records still queued are lost; their number is printed on stderr). The
 * next network record starts the handler again. Not to be called from a
 * signal handler. */
DP_EXTERN void dp_log_shutdown(unsigned timeout_ms);

/* Counters of the network handler since the process started. */
typedef struct dp_log_net_stats {
  unsigned long long queued;   /* records put into the queue */
  unsigned long long sent;     /* records handed to the OS (loss reports too) */
  unsigned long long dropped;  /* records lost (queue full, link broken mid-record) */
  unsigned long long connects; /* successful connections */
  bool connected;              /* connected right now */
} dp_log_net_stats_t;

/* Fills *out with the counters. Thread-safe. */
DP_EXTERN void dp_log_net_stats(dp_log_net_stats_t *out);

/* Names the calling thread in its records (Python's threadName; the main thread
 * is "MainThread", others "Thread-<n>" until named). The name is copied and
 * truncated to 63 bytes. */
DP_EXTERN void dp_log_set_thread_name(const char *name);

/* Python's name for a standard level ("DEBUG" .. "CRITICAL", "NOTSET"), or
 * NULL for a level without a name (formatted as "Level <n>", like Python). */
DP_EXTERN const char *dp_log_level_name(int level);

/* Writes the standard line `<asctime> - <name> - <LEVELNAME> - <msg>` without a
 * newline into buf (always NUL-terminated when size > 0), with asctime the
 * local time of `created` (seconds since the epoch) as
 * `YYYY-MM-DD HH:MM:SS,mmm`. Returns the length the full line has (like
 * snprintf): a result >= size means it was truncated. */
DP_EXTERN size_t dp_log_format_line(char *buf, size_t size, double created, const char *name,
                                    int level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LOG_H */
