/* ringbuffer.c - fixed-size ring buffer of samples + timestamps (see
 * include/dareplane/ringbuffer.h for the contract).
 *
 * Storage is one flat array of capacity x frame elements and one array of
 * capacity timestamps. An add is at most two memcpy runs (before and after the
 * wrap point); reads are at most two runs too. The read mark for "what is
 * new" counts in samples ever given to add (`arrived`, oversize skips
 * included), so the unread ones still held are always the newest
 * min(unread, capacity) slots. Strings are stored as owned
 * char pointers; "" for a never-written slot is a static empty string that is
 * never freed. This file uses nothing else of the library but the error codes (constants
 * of error.h). */
#include "dareplane/ringbuffer.h"

#include <stdlib.h>
#include <string.h>

struct dp_ringbuffer {
  dp_dtype_t type;
  size_t capacity;   /* samples */
  size_t frame;      /* elements per sample */
  size_t frame_size; /* bytes per sample */
  size_t n_dims;
  size_t dims[DP_RINGBUFFER_MAX_DIMS];
  size_t write_i; /* next slot to write */
  double last_t;
  uint64_t total;
  uint64_t arrived;    /* samples ever given: total + skipped oversize ones */
  uint64_t read_mark;  /* `arrived` at the last consume */
  unsigned char *data; /* capacity * frame_size bytes */
  double *times;       /* capacity timestamps */
};

static char empty_string[1] = "";

size_t dp_dtype_size(dp_dtype_t type) {
  switch (type) {
  case DP_FLOAT32: return sizeof(float);
  case DP_DOUBLE64: return sizeof(double);
  case DP_STRING: return sizeof(char *);
  case DP_INT32: return sizeof(int32_t);
  case DP_INT16: return sizeof(int16_t);
  case DP_INT8: return sizeof(int8_t);
  case DP_INT64: return sizeof(int64_t);
  }
  return 0;
}

const char *dp_dtype_name(dp_dtype_t type) {
  switch (type) {
  case DP_FLOAT32: return "float32";
  case DP_DOUBLE64: return "double64";
  case DP_STRING: return "string";
  case DP_INT32: return "int32";
  case DP_INT16: return "int16";
  case DP_INT8: return "int8";
  case DP_INT64: return "int64";
  }
  return NULL;
}

int dp_dtype_parse(const char *name, dp_dtype_t *out) {
  static const struct {
    const char *name;
    dp_dtype_t type;
  } names[] = {{"float32", DP_FLOAT32}, {"float", DP_FLOAT32},    {"double64", DP_DOUBLE64},
               {"double", DP_DOUBLE64}, {"float64", DP_DOUBLE64}, {"string", DP_STRING},
               {"int32", DP_INT32},     {"int16", DP_INT16},      {"int8", DP_INT8},
               {"int64", DP_INT64}};
  if (name == NULL || out == NULL) return DP_EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(name, names[i].name) == 0) {
      *out = names[i].type;
      return 0;
    }
  }
  return DP_EINVAL;
}

int dp_ringbuffer_new(dp_ringbuffer_t **out, dp_dtype_t type, size_t capacity, const size_t *dims,
                      size_t n_dims) {
  if (out == NULL) return DP_EINVAL;
  *out = NULL;
  size_t elem = dp_dtype_size(type);
  if (elem == 0 || capacity == 0 || dims == NULL || n_dims == 0 || n_dims > DP_RINGBUFFER_MAX_DIMS)
    return DP_EINVAL;
  size_t frame = 1;
  for (size_t i = 0; i < n_dims; i++) {
    if (dims[i] == 0) return DP_EINVAL;
    if (frame > SIZE_MAX / dims[i]) return DP_ERANGE;
    frame *= dims[i];
  }
  if (frame > SIZE_MAX / elem || frame * elem > SIZE_MAX / capacity ||
      capacity > SIZE_MAX / sizeof(double))
    return DP_ERANGE;

  dp_ringbuffer_t *rb = calloc(1, sizeof *rb);
  if (rb == NULL) return DP_ENOMEM;
  rb->type = type;
  rb->capacity = capacity;
  rb->frame = frame;
  rb->frame_size = frame * elem;
  rb->n_dims = n_dims;
  memcpy(rb->dims, dims, n_dims * sizeof dims[0]);
  rb->data = calloc(capacity, rb->frame_size);
  rb->times = calloc(capacity, sizeof(double));
  if (rb->data == NULL || rb->times == NULL) {
    free(rb->data);
    free(rb->times);
    free(rb);
    return DP_ENOMEM;
  }
  if (type == DP_STRING) {
    char **s = (char **)rb->data;
    for (size_t i = 0; i < capacity * frame; i++) s[i] = empty_string;
  }
  *out = rb;
  return 0;
}

static void free_strings(char **s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] != empty_string) free(s[i]);
    s[i] = empty_string;
  }
}

void dp_ringbuffer_free(dp_ringbuffer_t *rb) {
  if (rb == NULL) return;
  if (rb->type == DP_STRING) free_strings((char **)rb->data, rb->capacity * rb->frame);
  free(rb->data);
  free(rb->times);
  free(rb);
}

/* Copies `n` string samples into slots starting at `slot` (no wrap inside).
 * Returns 0 or DP_ENOMEM; on failure the remaining slots hold "". */
static int put_strings(dp_ringbuffer_t *rb, size_t slot, const char *const *src, size_t n) {
  char **dst = (char **)rb->data + slot * rb->frame;
  size_t count = n * rb->frame;
  int rc = 0;
  free_strings(dst, count);
  for (size_t i = 0; i < count; i++) {
    const char *v = src[i] != NULL ? src[i] : "";
    if (v[0] == '\0') continue; /* stays the shared empty string */
    size_t len = strlen(v);
    char *copy = malloc(len + 1);
    if (copy == NULL) {
      rc = DP_ENOMEM;
      continue;
    }
    memcpy(copy, v, len + 1);
    dst[i] = copy;
  }
  return rc;
}

/* Writes `n` samples (n <= capacity - slot) at `slot`. */
static int put_run(dp_ringbuffer_t *rb, size_t slot, const unsigned char *src, const double *times,
                   size_t n) {
  memcpy(rb->times + slot, times, n * sizeof(double));
  if (rb->type == DP_STRING) return put_strings(rb, slot, (const char *const *)src, n);
  memcpy(rb->data + slot * rb->frame_size, src, n * rb->frame_size);
  return 0;
}

int dp_ringbuffer_add(dp_ringbuffer_t *rb, const void *samples, const double *times, size_t n) {
  if (rb == NULL || samples == NULL || times == NULL) return DP_EINVAL;
  if (n == 0) return DP_EEMPTY;

  size_t skipped = 0;
  const unsigned char *src = samples;
  if (n > rb->capacity) {
    skipped = n - rb->capacity;
    src += skipped * rb->frame_size;
    times += skipped;
    n = rb->capacity;
  }

  size_t first = rb->capacity - rb->write_i;
  if (first > n) first = n;
  int rc = put_run(rb, rb->write_i, src, times, first);
  int rc2 = 0;
  if (n > first) rc2 = put_run(rb, 0, src + first * rb->frame_size, times + first, n - first);

  rb->write_i = (rb->write_i + n) % rb->capacity;
  rb->last_t = times[n - 1];
  rb->total += n;
  rb->arrived += n + skipped;
  if (rc < 0) return rc;
  if (rc2 < 0) return rc2;
  return skipped > (size_t)INT32_MAX ? INT32_MAX : (int)skipped;
}

/* The newest n (<= capacity) samples as at most two runs of slots. */
static void newest_spans(const dp_ringbuffer_t *rb, size_t n, dp_ringbuffer_view_t *v) {
  /* The newest n end just before write_i; they start at write_i - n (mod cap). */
  size_t start = (rb->write_i + rb->capacity - n) % rb->capacity;
  size_t first = rb->capacity - start;
  if (first > n) first = n;
  v->data[0] = rb->data + start * rb->frame_size;
  v->times[0] = rb->times + start;
  v->n[0] = first;
  v->data[1] = rb->data;
  v->times[1] = rb->times;
  v->n[1] = n - first;
  v->count = n;
}

/* Copies the first n samples of a view to data/times (either may be NULL). */
static void copy_view(const dp_ringbuffer_t *rb, const dp_ringbuffer_view_t *v, size_t n,
                      unsigned char *data, double *times) {
  size_t row = 0;
  for (int i = 0; i < 2 && row < n; i++) {
    size_t k = v->n[i] < n - row ? v->n[i] : n - row;
    if (data != NULL) memcpy(data + row * rb->frame_size, v->data[i], k * rb->frame_size);
    if (times != NULL) memcpy(times + row, v->times[i], k * sizeof(double));
    row += k;
  }
}

int dp_ringbuffer_newest(const dp_ringbuffer_t *rb, size_t n, void *data, double *times) {
  if (rb == NULL) return DP_EINVAL;
  if (n > rb->capacity) return DP_ERANGE;
  dp_ringbuffer_view_t v;
  newest_spans(rb, n, &v);
  copy_view(rb, &v, n, data, times);
  return 0;
}

int dp_ringbuffer_unfold(const dp_ringbuffer_t *rb, void *data, double *times) {
  if (rb == NULL) return DP_EINVAL;
  return dp_ringbuffer_newest(rb, rb->capacity, data, times);
}

void dp_ringbuffer_reset(dp_ringbuffer_t *rb) {
  if (rb == NULL) return;
  if (rb->type == DP_STRING)
    free_strings((char **)rb->data, rb->capacity * rb->frame);
  else
    memset(rb->data, 0, rb->capacity * rb->frame_size);
  memset(rb->times, 0, rb->capacity * sizeof(double));
  rb->write_i = 0;
  rb->last_t = 0;
  rb->total = 0;
  rb->arrived = 0;
  rb->read_mark = 0;
}

uint64_t dp_ringbuffer_unread(const dp_ringbuffer_t *rb) {
  return rb->arrived - rb->read_mark;
}

/* Unread samples the buffer still holds: the newest min(unread, capacity). */
static size_t held_unread(const dp_ringbuffer_t *rb) {
  uint64_t unread = rb->arrived - rb->read_mark;
  return unread < rb->capacity ? (size_t)unread : rb->capacity;
}

int dp_ringbuffer_peek_new(const dp_ringbuffer_t *rb, dp_ringbuffer_view_t *view) {
  if (rb == NULL || view == NULL) return DP_EINVAL;
  size_t held = held_unread(rb);
  newest_spans(rb, held, view);
  view->overrun = rb->arrived - rb->read_mark - held;
  return 0;
}

int dp_ringbuffer_consume(dp_ringbuffer_t *rb, size_t n) {
  if (rb == NULL) return DP_EINVAL;
  size_t held = held_unread(rb);
  size_t k = n < held ? n : held;
  rb->read_mark = rb->arrived - held + k;
  return k > (size_t)INT32_MAX ? INT32_MAX : (int)k;
}

int dp_ringbuffer_read_new(dp_ringbuffer_t *rb, void *data, double *times, size_t max_n,
                           uint64_t *overrun) {
  dp_ringbuffer_view_t v;
  if (dp_ringbuffer_peek_new(rb, &v) != 0) return DP_EINVAL;
  size_t n = v.count < max_n ? v.count : max_n;
  copy_view(rb, &v, n, data, times);
  if (overrun != NULL) *overrun = v.overrun;
  return dp_ringbuffer_consume(rb, n);
}

int dp_ringbuffer_write_span(dp_ringbuffer_t *rb, void **data, double **times) {
  if (rb == NULL || data == NULL || times == NULL) return DP_EINVAL;
  if (rb->type == DP_STRING) return DP_ETYPE;
  *data = rb->data + rb->write_i * rb->frame_size;
  *times = rb->times + rb->write_i;
  size_t span = rb->capacity - rb->write_i;
  return span > (size_t)INT32_MAX ? INT32_MAX : (int)span;
}

int dp_ringbuffer_commit(dp_ringbuffer_t *rb, size_t n) {
  if (rb == NULL) return DP_EINVAL;
  if (rb->type == DP_STRING) return DP_ETYPE;
  if (n == 0) return DP_EEMPTY;
  if (n > rb->capacity - rb->write_i) return DP_ERANGE;
  rb->last_t = rb->times[rb->write_i + n - 1];
  rb->write_i = (rb->write_i + n) % rb->capacity;
  rb->total += n;
  rb->arrived += n;
  return 0;
}

dp_dtype_t dp_ringbuffer_dtype(const dp_ringbuffer_t *rb) {
  return rb->type;
}
size_t dp_ringbuffer_capacity(const dp_ringbuffer_t *rb) {
  return rb->capacity;
}
size_t dp_ringbuffer_frame(const dp_ringbuffer_t *rb) {
  return rb->frame;
}
size_t dp_ringbuffer_dims(const dp_ringbuffer_t *rb, const size_t **dims) {
  if (dims != NULL) *dims = rb->dims;
  return rb->n_dims;
}
size_t dp_ringbuffer_write_index(const dp_ringbuffer_t *rb) {
  return rb->write_i;
}
double dp_ringbuffer_last_time(const dp_ringbuffer_t *rb) {
  return rb->last_t;
}
uint64_t dp_ringbuffer_total(const dp_ringbuffer_t *rb) {
  return rb->total;
}
size_t dp_ringbuffer_count(const dp_ringbuffer_t *rb) {
  return rb->total < rb->capacity ? (size_t)rb->total : rb->capacity;
}
const void *dp_ringbuffer_raw_data(const dp_ringbuffer_t *rb) {
  return rb->data;
}
const double *dp_ringbuffer_raw_times(const dp_ringbuffer_t *rb) {
  return rb->times;
}
