/* console_queue.c - the console handler's queue: a log call never blocks on
 * stderr.
 *
 * stderr may be a pipe that nobody reads (a control room that captures a
 * module's output and never drains it); a write to it then blocks for ever,
 * and so would every thread that logs, the event loop included. So a console
 * line is only put into a bounded FIFO queue (default 1 MiB) under a mutex;
 * one writer thread, started with the first line, writes the queue to fd 2.
 * When stderr stalls the queue fills and further lines are dropped. The
 * count of a gap is kept on the last line queued before it, so the writer
 * prints "N console lines dropped" exactly where lines are missing, as soon
 * as output resumes. One queue for all threads keeps every thread's lines in
 * the order it logged them.
 *
 * A producer with many lines at once (dp-logserver) builds them outside the
 * lock into a batch and queues the batch under one lock with one wake-up:
 * per line, the mutex and the writer's wake-up cost more than the line. A
 * batch packs its short lines into blocks of up to BLOCK_BYTES, one
 * allocation and one write each; a block is queued or dropped whole.
 *
 * At exit the library waits up to 1 s for the queue to be written. */
#include "common/platform.h"
#include "log/record.h"
#include "log/textbuf.h"

#include "dareplane/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_MAX_BYTES ((size_t)1024 * 1024)
#define ENTRY_OVERHEAD    64 /* what a queued line costs beyond its text */
#define EXIT_WAIT_MS      1000
#define WRITE_BATCH       64 /* lines per writev */
#define BLOCK_BYTES       ((size_t)16 * 1024)

/* A line, or a block of whole lines. */
typedef struct line {
  struct line *next;
  unsigned long long dropped_after; /* lines dropped right after this one */
  size_t len, cap;
  size_t lines; /* lines in text */
  char text[];  /* the whole lines with colours and '\n' */
} line_t;

static struct {
  uv_mutex_t lock;
  uv_cond_t wake;    /* for the writer: lines queued */
  uv_cond_t written; /* for waiters: the queue got shorter */
  line_t *head, *tail;
  line_t *writing;                 /* lines the writer has taken (reachable for fork) */
  size_t bytes;                    /* cost of queued and taken lines */
  unsigned long long dropped_head; /* dropped while the queue was empty */
  bool running;                    /* the writer thread exists */
  bool waiting;                    /* the writer waits for lines */
  uv_thread_t thread;
} cq;

static atomic_size_t max_bytes = DEFAULT_MAX_BYTES; /* bound of cq.bytes */
static uv_once_t cq_once = UV_ONCE_INIT;
static uv_once_t colour_once = UV_ONCE_INIT;
static bool colour; /* written once under colour_once */

static void decide_colour(void) {
  const char *no = getenv("NO_COLOR");
  colour =
      (no == NULL || no[0] == '\0') && uv_guess_handle(2) == UV_TTY && dp_console_takes_colour();
}

static void free_lines(line_t *l) {
  while (l != NULL) {
    line_t *next = l->next;
    free(l);
    l = next;
  }
}

static void at_exit(void) {
  dp_log_console_flush(EXIT_WAIT_MS);
}

static void cq_init(void);

static void before_fork(void) {
  /* (done already; it orders this thread after the lock's initialisation for
   * ThreadSanitizer, which cannot see the order glibc's fork handler list gives) */
  uv_once(&cq_once, cq_init);
  uv_mutex_lock(&cq.lock);
}

static void after_fork_parent(void) {
  uv_mutex_unlock(&cq.lock);
}

/* The child has no writer: the lines queued are the parent's to write. */
static void after_fork_child(void) {
  free_lines(cq.head);
  free_lines(cq.writing);
  cq.head = cq.tail = cq.writing = NULL;
  cq.bytes = 0;
  cq.dropped_head = 0;
  cq.running = cq.waiting = false;
  uv_mutex_unlock(&cq.lock);
}

static void cq_init(void) {
  uv_mutex_init(&cq.lock);
  uv_cond_init(&cq.wake);
  uv_cond_init(&cq.written);
  dp_atfork(before_fork, after_fork_parent, after_fork_child);
  atexit(at_exit);
}

/* A line "<colour><prefix><reset> <white><msg><reset>\n" (colours only on a
 * terminal) appended to `block` when it has room, else to a new heap line
 * with room for `room` bytes more; a message longer than `max` bytes is cut
 * and marked. Returns the line it went to, or NULL when out of memory. */
static line_t *add_line(line_t *block, size_t room, int level, const char *prefix,
                        size_t prefix_len, const char *msg, size_t msg_len, size_t max) {
  uv_once(&colour_once, decide_colour);
  char note[64] = "";
  if (prefix_len > 4096) prefix_len = 4096;
  if (msg_len > max) {
    size_t keep = dp_utf8_cut(msg, msg_len, max);
    snprintf(note, sizeof note, "... [truncated %zu bytes]", msg_len - keep);
    msg_len = keep;
  }
  const char *pre = "", *mid = "", *post = "";
  if (colour) { /* dareplane_utils' colorlog format */
    pre = dp_log_level_colour(level);
    mid = "\033[0m \033[37m";
    post = "\033[0m";
  }
  size_t lens[] = {strlen(pre), prefix_len, strlen(mid), msg_len, strlen(note), strlen(post), 1};
  const char *parts[] = {pre, prefix, mid, msg, note, post, "\n"};
  size_t total = 0;
  for (size_t i = 0; i < 7; i++) total += lens[i];
  line_t *l = block;
  if (l == NULL || l->cap - l->len < total) {
    l = malloc(sizeof *l + total + room);
    if (l == NULL) return NULL;
    *l = (line_t){.cap = total + room};
  }
  l->lines++;
  for (size_t i = 0; i < 7; i++) {
    if (lens[i] > 0) memcpy(l->text + l->len, parts[i], lens[i]);
    l->len += lens[i];
  }
  return l;
}

/* Writes the n buffers to fd 2; gives up on an error other than EINTR/EAGAIN. */
static void write_all(const struct iovec *iov, int n) {
  struct iovec v[WRITE_BATCH + 1];
  memcpy(v, iov, (size_t)n * sizeof *v);
  int i = 0;
  while (i < n) {
    ssize_t k = writev(2, v + i, n - i);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { /* stderr set non-blocking by someone: wait a little */
        uv_sleep(1);
        continue;
      }
      return; /* closed or broken: these lines are lost */
    }
    while (i < n && (size_t)k >= v[i].iov_len) k -= (ssize_t)v[i++].iov_len;
    if (i < n) {
      v[i].iov_base = (char *)v[i].iov_base + k;
      v[i].iov_len -= (size_t)k;
    }
  }
}

/* The line that reports a gap. */
static line_t *gap_line(unsigned long long n) {
  char prefix[128], msg[160];
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  size_t plen = dp_log_format_line(prefix, sizeof prefix, (double)tv.tv_sec + tv.tv_usec / 1e6,
                                   "dareplane.log", DP_LOG_WARNING, "");
  int mlen = snprintf(msg, sizeof msg,
                      "%llu console line%s dropped here: stderr was not being read fast enough", n,
                      n == 1 ? "" : "s");
  return add_line(NULL, 0, DP_LOG_WARNING, prefix, plen < sizeof prefix ? plen : sizeof prefix - 1,
                  msg, (size_t)mlen, sizeof msg);
}

/* Writes the taken lines in order, each gap report after the line it follows. */
static void write_lines(line_t *l, unsigned long long dropped_before) {
  struct iovec iov[WRITE_BATCH + 1];
  line_t *gaps = NULL; /* gap reports of this batch, freed after writing */
  int n = 0;
  if (dropped_before > 0 && (gaps = gap_line(dropped_before)) != NULL)
    iov[n++] = (struct iovec){gaps->text, gaps->len};
  for (; l != NULL; l = l->next) {
    iov[n++] = (struct iovec){l->text, l->len};
    if (l->dropped_after > 0) {
      line_t *g = gap_line(l->dropped_after);
      if (g != NULL) {
        iov[n++] = (struct iovec){g->text, g->len};
        g->next = gaps;
        gaps = g;
      }
    }
    if (n >= WRITE_BATCH || l->next == NULL) {
      write_all(iov, n);
      n = 0;
      free_lines(gaps);
      gaps = NULL;
    }
  }
  if (n > 0) write_all(iov, n); /* only a report for lines dropped at the head */
  free_lines(gaps);
}

static size_t cost(const line_t *l) {
  return l->len + l->lines * ENTRY_OVERHEAD;
}

static void writer_main(void *arg) {
  (void)arg;
  dp_block_sigpipe(); /* a closed stderr gives EPIPE here, not SIGPIPE */
  for (;;) {
    uv_mutex_lock(&cq.lock);
    while (cq.head == NULL && cq.dropped_head == 0) {
      cq.waiting = true;
      uv_cond_wait(&cq.wake, &cq.lock);
    }
    cq.waiting = false;
    line_t *batch = cq.head;
    unsigned long long before = cq.dropped_head;
    cq.writing = batch;
    cq.head = cq.tail = NULL;
    cq.dropped_head = 0;
    uv_mutex_unlock(&cq.lock);
    write_lines(batch, before);
    uv_mutex_lock(&cq.lock);
    for (line_t *l = batch; l != NULL; l = l->next) cq.bytes -= cost(l);
    cq.writing = NULL;
    uv_cond_broadcast(&cq.written);
    uv_mutex_unlock(&cq.lock);
    free_lines(batch);
  }
}

/* Adds a line to the batch; a new block gets room for `room` bytes more. */
static void batch_add(dp_log_console_batch_t *batch, size_t room, int level, const char *prefix,
                      size_t prefix_len, const char *msg, size_t msg_len) {
  size_t limit = atomic_load_explicit(&max_bytes, memory_order_relaxed);
  /* after a line lost, a new block: the gap is reported where it was */
  line_t *tail = batch->failed == 0 ? batch->tail : NULL;
  line_t *l = add_line(tail, room, level, prefix, prefix_len, msg, msg_len, limit / 2);
  if (l != NULL && l == tail) return;
  if (l == NULL) {
    batch->failed++; /* counted as dropped where it would have stood */
    return;
  }
  if (batch->failed > 0 && batch->tail == NULL) {
    batch->dropped_first += batch->failed;
  } else if (batch->failed > 0) {
    ((line_t *)batch->tail)->dropped_after += batch->failed;
  }
  batch->failed = 0;
  if (batch->tail != NULL)
    ((line_t *)batch->tail)->next = l;
  else
    batch->head = l;
  batch->tail = l;
}

void dp_log_console_batch_add(dp_log_console_batch_t *batch, int level, const char *prefix,
                              size_t prefix_len, const char *msg, size_t msg_len) {
  size_t limit = atomic_load_explicit(&max_bytes, memory_order_relaxed);
  batch_add(batch, limit / 8 < BLOCK_BYTES ? limit / 8 : BLOCK_BYTES, level, prefix, prefix_len,
            msg, msg_len);
}

/* Counts `n` dropped lines after the queue's last line. */
static void count_dropped(unsigned long long n) {
  if (cq.tail != NULL)
    cq.tail->dropped_after += n;
  else
    cq.dropped_head += n;
}

void dp_log_console_batch_send(dp_log_console_batch_t *batch) {
  uv_once(&cq_once, cq_init);
  line_t *l = batch->head;
  uv_mutex_lock(&cq.lock);
  if (!cq.running && uv_thread_create(&cq.thread, writer_main, NULL) == 0) cq.running = true;
  count_dropped(batch->dropped_first);
  size_t limit = atomic_load_explicit(&max_bytes, memory_order_relaxed);
  while (l != NULL) {
    line_t *next = l->next;
    if (next == NULL && l->cap - l->len > 1024) { /* the last block: its room is not needed */
      line_t *fit = realloc(l, sizeof *l + l->len);
      if (fit != NULL) {
        l = fit;
        l->cap = l->len;
      }
    }
    unsigned long long after = l->dropped_after;
    if (!cq.running || cq.bytes + cost(l) > limit) {
      count_dropped(l->lines + after);
      free(l);
    } else {
      l->next = NULL;
      if (cq.tail != NULL)
        cq.tail->next = l;
      else
        cq.head = l;
      cq.tail = l;
      cq.bytes += cost(l);
    }
    l = next;
  }
  count_dropped(batch->failed);
  if (cq.waiting) { /* a busy writer looks again by itself */
    cq.waiting = false;
    uv_cond_signal(&cq.wake);
  }
  uv_mutex_unlock(&cq.lock);
  *batch = (dp_log_console_batch_t){0};
}

void dp_log_console_line(int level, const char *prefix, size_t prefix_len, const char *msg) {
  dp_log_console_batch_t batch = {0};
  batch_add(&batch, 0, level, prefix, prefix_len, msg, strlen(msg));
  dp_log_console_batch_send(&batch);
}

void dp_log_set_console_limit(size_t bytes) {
  if (bytes > 0) atomic_store(&max_bytes, bytes < 4096 ? 4096 : bytes);
}

void dp_log_console_prepare(void) {
  uv_once(&cq_once, cq_init);
}

int dp_log_console_flush(unsigned timeout_ms) {
  uv_once(&cq_once, cq_init);
  int rc = 0;
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  uv_mutex_lock(&cq.lock);
  while (cq.running && (cq.bytes > 0 || cq.dropped_head > 0))
    if ((rc = dp_log_wait_until(&cq.written, &cq.lock, deadline)) < 0) break;
  uv_mutex_unlock(&cq.lock);
  return rc;
}
