/* record.h - one log record as the handlers see it (internal).
 *
 * Fields mirror the attributes of a Python LogRecord that the network frame
 * carries (reference §2); the console handler uses a few of them. All pointers
 * are borrowed for the duration of one handler call. */
#ifndef DP_LOG_RECORD_H
#define DP_LOG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dp_log_record {
  const char *name;     /* logger name */
  int level;            /* levelno */
  const char *msg;      /* the formatted message */
  size_t msg_len;       /* strlen(msg); in a view of a queued record
                           (net_queue.h) of a message longer than
                           DP_LOG_MSG_MAX, its full length */
  const char *pathname; /* __FILE__ as given, or "" */
  int lineno;           /* __LINE__ */
  const char *func;     /* __func__, or "" */
  double created;       /* seconds since the epoch */
  double relative_ms;   /* milliseconds since logging started in this process */
  uint64_t thread;      /* thread identifier */
  const char *thread_name;
  int64_t process; /* process id */
  const char *process_name;
  bool network; /* the logger allows network logging */
} dp_log_record_t;

/* Milliseconds from the start of logging in this process to `created`
 * (Python's relativeCreated). */
double dp_log_relative_ms(double created);

/* Console handler (console.c): writes the standard line to stderr. */
void dp_log_console_emit(const dp_log_record_t *rec);

/* Queues one line for stderr (console_queue.c; never blocks): `prefix`
 * ("<asctime> - <name> - <LEVEL> - ", prefix_len bytes) coloured by `level`
 * on a terminal, then `msg`. A message longer than half the console queue is
 * cut and marked "... [truncated N bytes]"; when the queue is full the line
 * is dropped and counted. */
void dp_log_console_line(int level, const char *prefix, size_t prefix_len, const char *msg);

/* Lines for the console gathered outside the queue's lock and queued in one
 * go (dp-logserver queues each read's lines so): zero-initialise, add lines
 * (their text is copied), send. Each line is accepted or dropped and counted
 * exactly as dp_log_console_line would; send leaves the batch empty. Not
 * thread-safe itself (one producer per batch). */
typedef struct dp_log_console_batch {
  void *head, *tail;                /* the lines made so far (console_queue.c's) */
  unsigned long long dropped_first; /* lines lost (no memory) before head */
  unsigned long long failed;        /* lines lost (no memory) after tail */
} dp_log_console_batch_t;

/* Adds a line: `prefix` (prefix_len bytes) and `msg` (msg_len bytes). */
void dp_log_console_batch_add(dp_log_console_batch_t *batch, int level, const char *prefix,
                              size_t prefix_len, const char *msg, size_t msg_len);
/* Queues the batch's lines in order (never blocks on stderr). */
void dp_log_console_batch_send(dp_log_console_batch_t *batch);

/* Sets up the console queue (once; later calls do nothing). The network
 * handler calls it before its sender thread exists: the set-up registers an
 * exit handler, and on Windows a thread that registers one while the main
 * thread runs the exit handlers (joining that thread) deadlocks in the C
 * runtime. */
void dp_log_console_prepare(void);

/* The ANSI colour of a level's prefix on a terminal (colorlog's defaults as
 * dareplane_utils configures them: DEBUG cyan, INFO green, WARNING yellow,
 * ERROR red, CRITICAL red on white). */
const char *dp_log_level_colour(int level);

/* Writes asctime, local `YYYY-MM-DD HH:MM:SS,mmm`, with the seconds of
 * `created` and the milliseconds `msecs` (as Python's formatter does), into
 * out; returns its length like snprintf. Defined for any double: msecs is
 * clamped to 0..999 (NaN gives 0), a `created` beyond +-1e15 s or NaN shows as
 * the epoch. The date and time of the last second are kept per thread (a
 * change of the time zone shows from the next second on). */
size_t dp_log_format_asctime(char *out, size_t size, double created, double msecs);

/* Waits on `cond` (with `lock` held) until signalled or until the uv_hrtime()
 * `deadline`: 0, or DP_ETIMEDOUT when the deadline has passed (console.c). */
int dp_log_wait_until(uv_cond_t *cond, uv_mutex_t *lock, uint64_t deadline);

/* Network handler (net_handler.c): copies the record into the queue of the
 * sender thread, which encodes its frame; never waits for the network. */
void dp_log_net_emit(const dp_log_record_t *rec);

#endif
