/* framing.c - cutting a client's byte stream into commands at ';' and
 * newlines (framing.h). Commands that arrive whole in one read are handed out
 * in place, without a copy; only the unterminated tail is kept, and new bytes
 * are scanned once, so a command trickled in byte by byte costs no more than
 * one sent in one piece. */
#include "server/framing.h"

#include "common/error_internal.h"

#include <stdlib.h>
#include <string.h>

/* A kept buffer larger than this is released once its command has run. */
#define KEEP_CAP 4096

void dp_framer_init(dp_framer_t *f, size_t max_len) {
  memset(f, 0, sizeof *f);
  f->max_len = max_len;
}

void dp_framer_free(dp_framer_t *f) {
  free(f->buf);
  f->buf = NULL;
  f->len = f->cap = 0;
}

/* The first terminator in [p, end), or end. */
static const char *find_end(dp_framer_t *f, const char *p, const char *end) {
  const char *q = p;
  while (q < end && *q != ';' && *q != '\n') q++;
  f->scanned += (uint64_t)(q - p) + (q < end);
  return q;
}

static int too_long(const dp_framer_t *f, size_t len) {
  return dp_error_set(DP_ETOOBIG, "a command of %zu bytes or more (limit %zu)", len, f->max_len);
}

/* Appends n bytes to the kept tail, growing it geometrically. */
static int keep(dp_framer_t *f, const char *p, size_t n) {
  if (f->len + n > f->max_len) return too_long(f, f->len + n);
  if (f->len + n > f->cap) {
    size_t cap = f->cap < 64 ? 64 : f->cap * 2;
    while (cap < f->len + n) cap *= 2;
    if (cap > f->max_len) cap = f->max_len;
    char *b = realloc(f->buf, cap);
    if (b == NULL) return dp_error_set(DP_ENOMEM, "no memory for a command of %zu bytes", cap);
    f->copied += f->len; /* what realloc may have moved */
    f->buf = b;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, p, n);
  f->len += n;
  f->copied += n;
  return 0;
}

int dp_framer_feed(dp_framer_t *f, const char *data, size_t n, dp_framer_fn fn, void *user) {
  const char *p = data, *end = data + n;
  if (f->len > 0) { /* finish the kept command first */
    const char *t = find_end(f, p, end);
    int rc = keep(f, p, (size_t)(t - p));
    if (rc < 0 || t == end) return rc;
    size_t len = f->len;
    f->len = 0;
    bool go = fn(user, f->buf, len);
    if (f->cap > KEEP_CAP) dp_framer_free(f);
    if (!go) return 0;
    p = t + 1;
  }
  while (p < end) {
    const char *t = find_end(f, p, end);
    if ((size_t)(t - p) > f->max_len) return too_long(f, (size_t)(t - p));
    if (t == end) return keep(f, p, (size_t)(t - p));
    if (t > p && !fn(user, p, (size_t)(t - p))) return 0;
    p = t + 1;
  }
  return 0;
}
