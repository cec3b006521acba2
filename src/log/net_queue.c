/* net_queue.c - the bounded record queue of the network handler: copies of
 * records in recycled blocks, a ring of pointers to them, drop-oldest at the
 * bounds with an exact count of what was lost. See net_queue.h.
 *
 * The point is the caller's cost: a log call copies a few short strings into
 * room carved from a chunk and appends a pointer. Encoding the JSON frame
 * (several times the work) happens on the sender thread. */
#include "log/net_queue.h"

#include "log/frame.h"

#include "dareplane/error.h"

#include <stdlib.h>
#include <string.h>

#define RING_MIN 64

void dp_log_queue_init(dp_log_queue_t *qu, size_t max_records, size_t max_bytes) {
  memset(qu, 0, sizeof *qu);
  qu->max_records = max_records;
  qu->max_bytes = max_bytes;
}

void dp_log_qchunk_free_chain(dp_log_qchunk_t *chain) {
  while (chain != NULL) {
    dp_log_qchunk_t *next = chain->next;
    free(chain);
    chain = next;
  }
}

static dp_log_qchunk_t *chunk_new(size_t size) {
  dp_log_qchunk_t *c = malloc(sizeof *c + size);
  if (c == NULL) return NULL;
  c->next = NULL;
  c->size = size;
  c->used = c->live = 0;
  return c;
}

/* Keeps an empty shared chunk for reuse, or chains it onto *to_free. */
static void retire(dp_log_queue_t *qu, dp_log_qchunk_t *c, dp_log_qchunk_t **to_free) {
  if (c->size == DP_LOG_QCHUNK_SIZE && qu->n_spare < DP_LOG_QUEUE_SPARE_MAX) {
    c->next = qu->spare;
    qu->spare = c;
    qu->n_spare++;
  } else {
    c->next = *to_free;
    *to_free = c;
  }
}

/* A record is done with: its chunk is reused once all of its records are. */
static void release(dp_log_queue_t *qu, dp_log_qrec_t *r, dp_log_qchunk_t **to_free) {
  dp_log_qchunk_t *c = r->chunk;
  if (--c->live > 0) return;
  if (c == qu->current)
    c->used = 0; /* start again at its cache-hot beginning */
  else
    retire(qu, c, to_free);
}

void dp_log_queue_clear(dp_log_queue_t *qu) {
  dp_log_qchunk_t *to_free = NULL;
  for (size_t i = 0; i < qu->count; i++)
    release(qu, qu->ring[(qu->head + i) % qu->cap].rec, &to_free);
  dp_log_qchunk_free_chain(to_free);
  if (qu->current != NULL && qu->current->live == 0) free(qu->current);
  dp_log_qchunk_free_chain(qu->spare);
  free(qu->ring);
  qu->ring = NULL;
  qu->current = qu->spare = NULL;
  qu->cap = qu->head = qu->count = qu->bytes = qu->n_spare = 0;
}

static size_t round8(size_t n) {
  return (n + 7) & ~(size_t)7;
}

/* The bytes of a message that are kept: the encoder uses no more. */
static size_t msg_kept(size_t msg_len) {
  return msg_len < DP_LOG_MSG_MAX ? msg_len : DP_LOG_MSG_MAX;
}

size_t dp_log_qrec_need(const dp_log_record_t *rec) {
  return round8(sizeof(dp_log_qrec_t) + strlen(rec->pathname) + strlen(rec->func) +
                strlen(rec->thread_name) + msg_kept(rec->msg_len) + 4);
}

static dp_log_qrec_t *carve(dp_log_qchunk_t *c, size_t need) {
  dp_log_qrec_t *r = (dp_log_qrec_t *)(void *)(c->data + c->used);
  c->used += need;
  c->live++;
  r->chunk = c;
  r->size = need;
  return r;
}

dp_log_qrec_t *dp_log_queue_alloc(dp_log_queue_t *qu, size_t need, dp_log_qchunk_t **to_free) {
  if (need > DP_LOG_QREC_BIG) return NULL;
  dp_log_qchunk_t *c = qu->current;
  if (c == NULL || c->used + need > c->size) {
    dp_log_qchunk_t *next = qu->spare;
    if (next != NULL) {
      qu->spare = next->next;
      qu->n_spare--;
      next->used = next->live = 0;
    } else if ((next = chunk_new(DP_LOG_QCHUNK_SIZE)) == NULL) {
      return NULL;
    }
    if (c != NULL && c->live == 0) retire(qu, c, to_free);
    qu->current = c = next;
  }
  return carve(c, need);
}

dp_log_qrec_t *dp_log_qrec_new(size_t need) {
  dp_log_qchunk_t *c = chunk_new(need);
  return c != NULL ? carve(c, need) : NULL;
}

static char *put_text(char *dst, const char *s, size_t n) {
  memcpy(dst, s, n);
  dst[n] = '\0';
  return dst + n + 1;
}

void dp_log_qrec_fill(dp_log_qrec_t *r, const dp_log_record_t *rec) {
  r->name = rec->name;
  r->created = rec->created;
  r->thread = rec->thread;
  r->process = rec->process;
  r->level = rec->level;
  r->lineno = rec->lineno;
  r->path_len = (uint32_t)strlen(rec->pathname);
  r->func_len = (uint32_t)strlen(rec->func);
  r->thread_name_len = (uint32_t)strlen(rec->thread_name);
  r->msg_len = rec->msg_len;
  char *p = put_text(r->text, rec->pathname, r->path_len);
  p = put_text(p, rec->func, r->func_len);
  p = put_text(p, rec->thread_name, r->thread_name_len);
  put_text(p, rec->msg, msg_kept(r->msg_len));
}

dp_log_record_t dp_log_qrec_view(const dp_log_qrec_t *r) {
  const char *path = r->text;
  const char *func = path + r->path_len + 1;
  const char *thread_name = func + r->func_len + 1;
  const char *msg = thread_name + r->thread_name_len + 1;
  dp_log_record_t rec = {
      .name = r->name,
      .level = r->level,
      .msg = msg,
      .msg_len = r->msg_len,
      .pathname = path,
      .lineno = r->lineno,
      .func = func,
      .created = r->created,
      .relative_ms = dp_log_relative_ms(r->created),
      .thread = r->thread,
      .thread_name = thread_name,
      .process = r->process,
      .process_name = "MainProcess",
      .network = true,
  };
  return rec;
}

/* Room for `extra` more pointers in the ring. */
static int reserve(dp_log_queue_t *qu, size_t extra) {
  if (qu->count + extra <= qu->cap) return 0;
  size_t cap = qu->cap < RING_MIN ? RING_MIN : qu->cap;
  while (cap < qu->count + extra) cap *= 2;
  dp_log_queue_slot_t *ring = malloc(cap * sizeof *ring);
  if (ring == NULL) return DP_ENOMEM;
  for (size_t i = 0; i < qu->count; i++) ring[i] = qu->ring[(qu->head + i) % qu->cap];
  free(qu->ring);
  qu->ring = ring;
  qu->cap = cap;
  qu->head = 0;
  return 0;
}

static void trim(dp_log_queue_t *qu, dp_log_qchunk_t **to_free) {
  while (qu->count > 0 && (qu->count > qu->max_records || qu->bytes > qu->max_bytes)) {
    dp_log_queue_slot_t s = qu->ring[qu->head];
    qu->head = (qu->head + 1) % qu->cap;
    qu->count--;
    qu->bytes -= s.size;
    qu->lost++;
    qu->dropped++;
    release(qu, s.rec, to_free);
  }
}

void dp_log_queue_count_lost(dp_log_queue_t *qu, unsigned long long n) {
  qu->lost += n;
  qu->dropped += n;
}

int dp_log_queue_push(dp_log_queue_t *qu, dp_log_qrec_t *r, dp_log_qchunk_t **to_free) {
  if (reserve(qu, 1) < 0) {
    dp_log_queue_count_lost(qu, 1);
    release(qu, r, to_free);
    return DP_ENOMEM;
  }
  qu->ring[(qu->head + qu->count) % qu->cap] = (dp_log_queue_slot_t){r, r->size};
  qu->count++;
  qu->bytes += r->size;
  trim(qu, to_free);
  return 0;
}

size_t dp_log_queue_take(dp_log_queue_t *qu, dp_log_qrec_t **out, size_t max,
                         unsigned long long *lost) {
  *lost = qu->lost;
  qu->lost = 0;
  size_t n = qu->count < max ? qu->count : max;
  for (size_t i = 0; i < n; i++) {
    dp_log_queue_slot_t s = qu->ring[qu->head];
    qu->head = (qu->head + 1) % qu->cap;
    qu->bytes -= s.size;
    out[i] = s.rec;
  }
  qu->count -= n;
  return n;
}

int dp_log_queue_unget(dp_log_queue_t *qu, dp_log_qrec_t **recs, size_t n, unsigned long long lost,
                       dp_log_qchunk_t **to_free) {
  qu->lost += lost;
  if (n == 0) return 0;
  if (reserve(qu, n) < 0) {
    dp_log_queue_count_lost(qu, n);
    dp_log_queue_release(qu, recs, n, to_free);
    return DP_ENOMEM;
  }
  for (size_t i = n; i > 0; i--) {
    qu->head = (qu->head + qu->cap - 1) % qu->cap;
    qu->ring[qu->head] = (dp_log_queue_slot_t){recs[i - 1], recs[i - 1]->size};
    qu->bytes += recs[i - 1]->size;
  }
  qu->count += n;
  trim(qu, to_free);
  return 0;
}

void dp_log_queue_release(dp_log_queue_t *qu, dp_log_qrec_t **recs, size_t n,
                          dp_log_qchunk_t **to_free) {
  for (size_t i = 0; i < n; i++) release(qu, recs[i], to_free);
}

void dp_log_queue_set_limits(dp_log_queue_t *qu, size_t max_records, size_t max_bytes,
                             dp_log_qchunk_t **to_free) {
  if (max_records > 0) qu->max_records = max_records;
  if (max_bytes > 0) qu->max_bytes = max_bytes;
  trim(qu, to_free);
}
