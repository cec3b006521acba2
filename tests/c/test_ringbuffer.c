/* test_ringbuffer.c - the ring buffer against the reference's worked example,
 * every wrap offset, oversize adds, strings, three dimensions and a randomized
 * comparison with a naive model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dareplane/ringbuffer.h"

static dp_ringbuffer_t *make(dp_dtype_t type, size_t capacity, size_t n_channels) {
  dp_ringbuffer_t *rb = NULL;
  assert_int_equal(dp_ringbuffer_new(&rb, type, capacity, &n_channels, 1), 0);
  assert_non_null(rb);
  return rb;
}

/* Reference §3: capacity 10, add 5 samples t=0..4, then 8 samples t=0..7. */
static void worked_example(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_FLOAT32, 10, 1);
  float v[8];
  double t[8];
  for (int i = 0; i < 8; i++) v[i] = (float)(t[i] = i);
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 5), 0);
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 8), 0);

  const double raw_expected[10] = {5, 6, 7, 3, 4, 0, 1, 2, 3, 4};
  const double unfold_expected[10] = {3, 4, 0, 1, 2, 3, 4, 5, 6, 7};
  assert_memory_equal(dp_ringbuffer_raw_times(rb), raw_expected, sizeof raw_expected);
  assert_int_equal(dp_ringbuffer_write_index(rb), 3);
  assert_true(dp_ringbuffer_last_time(rb) == 7.0);
  assert_int_equal(dp_ringbuffer_total(rb), 13);
  assert_int_equal(dp_ringbuffer_count(rb), 10);

  double ut[10];
  float ud[10];
  assert_int_equal(dp_ringbuffer_unfold(rb, ud, ut), 0);
  assert_memory_equal(ut, unfold_expected, sizeof ut);
  for (int i = 0; i < 10; i++) assert_true(ud[i] == (float)unfold_expected[i]);
  dp_ringbuffer_free(rb);
}

/* Before the first wrap, unwritten slots read as zeros at the front. */
static void partial_fill_reads_zeros_first(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_INT32, 6, 2);
  int32_t v[4] = {1, 2, 3, 4};
  double t[2] = {10, 11};
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 2), 0);
  int32_t out[12];
  double ot[6];
  dp_ringbuffer_unfold(rb, out, ot);
  const int32_t expected[12] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  const double expected_t[6] = {0, 0, 0, 0, 10, 11};
  assert_memory_equal(out, expected, sizeof out);
  assert_memory_equal(ot, expected_t, sizeof ot);
  dp_ringbuffer_free(rb);
}

static void empty_add_changes_nothing(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_DOUBLE64, 4, 1);
  double v[1] = {1.5}, t[1] = {2.5};
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 1), 0);
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 0), DP_EEMPTY);
  assert_int_equal(dp_ringbuffer_write_index(rb), 1);
  assert_int_equal(dp_ringbuffer_total(rb), 1);
  assert_true(dp_ringbuffer_last_time(rb) == 2.5);
  dp_ringbuffer_free(rb);
}

static void bad_arguments(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = (dp_ringbuffer_t *)1;
  size_t dims[5] = {2, 2, 2, 2, 2}, zero = 0;
  assert_int_equal(dp_ringbuffer_new(&rb, DP_FLOAT32, 0, dims, 1), DP_EINVAL);
  assert_null(rb);
  assert_int_equal(dp_ringbuffer_new(&rb, DP_FLOAT32, 4, &zero, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_new(&rb, DP_FLOAT32, 4, dims, 0), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_new(&rb, DP_FLOAT32, 4, dims, 5), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_new(&rb, (dp_dtype_t)42, 4, dims, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_new(NULL, DP_FLOAT32, 4, dims, 1), DP_EINVAL);
  size_t huge = SIZE_MAX / 2;
  assert_int_equal(dp_ringbuffer_new(&rb, DP_DOUBLE64, 4, &huge, 1), DP_ERANGE);

  rb = make(DP_FLOAT32, 4, 1);
  float v = 1;
  double t = 1;
  assert_int_equal(dp_ringbuffer_add(rb, NULL, &t, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_add(rb, &v, NULL, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_add(NULL, &v, &t, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_newest(rb, 5, NULL, NULL), DP_ERANGE);
  assert_int_equal(dp_ringbuffer_unfold(NULL, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_total(rb), 0);
  dp_ringbuffer_free(rb);
  dp_ringbuffer_free(NULL);
}

/* Oversize: only the newest `capacity` samples are kept; the count of the
 * skipped ones is returned; the write index moves by `capacity`. */
static void oversize_add_keeps_newest(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_INT64, 10, 1);
  int64_t v[25];
  double t[25];
  for (int i = 0; i < 25; i++) v[i] = 100 + (int64_t)(t[i] = i);
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 3), 0);
  assert_int_equal(dp_ringbuffer_add(rb, v, t, 25), 15);
  assert_int_equal(dp_ringbuffer_write_index(rb), 3);
  int64_t out[10];
  double ot[10];
  dp_ringbuffer_unfold(rb, out, ot);
  for (int i = 0; i < 10; i++) {
    assert_true(ot[i] == 15 + i);
    assert_int_equal(out[i], 115 + i);
  }
  assert_true(dp_ringbuffer_last_time(rb) == 24);
  dp_ringbuffer_free(rb);
}

/* Every start offset x every add size up to twice the capacity, against the
 * expected "last capacity values of zeros followed by everything added". */
static void wrap_at_every_offset(void **state) {
  (void)state;
  enum { CAP = 7 };
  for (size_t offset = 0; offset < CAP; offset++) {
    for (size_t n = 1; n <= 2 * CAP; n++) {
      dp_ringbuffer_t *rb = make(DP_INT16, CAP, 1);
      int16_t seq[CAP + 2 * CAP];
      double ts[CAP + 2 * CAP];
      size_t total = 0;
      for (size_t i = 0; i < offset + n; i++) seq[i] = (int16_t)(i + 1), ts[i] = (double)(i + 1);
      if (offset > 0) dp_ringbuffer_add(rb, seq, ts, offset);
      dp_ringbuffer_add(rb, seq + offset, ts + offset, n);
      total = offset + n;
      assert_int_equal(dp_ringbuffer_write_index(rb), (offset + (n > CAP ? CAP : n)) % CAP);

      int16_t out[CAP];
      double ot[CAP];
      dp_ringbuffer_unfold(rb, out, ot);
      for (size_t k = 0; k < CAP; k++) {
        /* position k of the unfolded buffer holds overall sample total-CAP+k */
        long idx = (long)total - CAP + (long)k;
        int16_t want = idx >= 0 ? seq[idx] : 0;
        assert_int_equal(out[k], want);
        assert_true(ot[k] == (idx >= 0 ? ts[idx] : 0.0));
      }
      dp_ringbuffer_free(rb);
    }
  }
}

static void strings_are_owned_copies(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_STRING, 3, 1);
  char a[] = "alpha", b[] = "beta";
  const char *s1[2] = {a, b};
  double t[4] = {1, 2, 3, 4};
  assert_int_equal(dp_ringbuffer_add(rb, s1, t, 2), 0);
  a[0] = 'X'; /* the buffer must hold its own copy */

  const char *out[3];
  dp_ringbuffer_unfold(rb, out, NULL);
  assert_string_equal(out[0], "");
  assert_string_equal(out[1], "alpha");
  assert_string_equal(out[2], "beta");

  /* overwrite both old values (frees them; ASan/valgrind would flag a leak) */
  const char *s2[3] = {"gamma", NULL, "epsilon-long-marker-text"};
  assert_int_equal(dp_ringbuffer_add(rb, s2, t, 3), 0);
  dp_ringbuffer_unfold(rb, out, NULL);
  assert_string_equal(out[0], "gamma");
  assert_string_equal(out[1], "");
  assert_string_equal(out[2], "epsilon-long-marker-text");

  const char *newest[1];
  dp_ringbuffer_newest(rb, 1, newest, NULL);
  assert_string_equal(newest[0], "epsilon-long-marker-text");

  dp_ringbuffer_reset(rb);
  dp_ringbuffer_unfold(rb, out, NULL);
  for (int i = 0; i < 3; i++) assert_string_equal(out[i], "");
  assert_int_equal(dp_ringbuffer_total(rb), 0);
  assert_int_equal(dp_ringbuffer_add(rb, s2, t, 3), 0);
  dp_ringbuffer_free(rb); /* frees the strings still held */
}

/* samples x channels x bands: a sample is a contiguous channels x bands block. */
static void three_dimensions(void **state) {
  (void)state;
  size_t dims[2] = {4, 3};
  dp_ringbuffer_t *rb = NULL;
  assert_int_equal(dp_ringbuffer_new(&rb, DP_FLOAT32, 5, dims, 2), 0);
  assert_int_equal(dp_ringbuffer_frame(rb), 12);
  const size_t *d;
  assert_int_equal(dp_ringbuffer_dims(rb, &d), 2);
  assert_int_equal(d[0], 4);
  assert_int_equal(d[1], 3);

  float v[7][4][3];
  double t[7];
  for (int s = 0; s < 7; s++) {
    t[s] = s;
    for (int c = 0; c < 4; c++)
      for (int b = 0; b < 3; b++) v[s][c][b] = (float)(s * 100 + c * 10 + b);
  }
  dp_ringbuffer_add(rb, v, t, 4);
  dp_ringbuffer_add(rb, v[4], t + 4, 3);
  float out[5][4][3];
  dp_ringbuffer_unfold(rb, out, NULL);
  for (int s = 0; s < 5; s++)
    for (int c = 0; c < 4; c++)
      for (int b = 0; b < 3; b++) assert_true(out[s][c][b] == (float)((s + 2) * 100 + c * 10 + b));

  float last2[2][4][3];
  double lt[2];
  dp_ringbuffer_newest(rb, 2, last2, lt);
  assert_memory_equal(last2, out[3], sizeof last2);
  assert_true(lt[0] == 5 && lt[1] == 6);
  dp_ringbuffer_free(rb);
}

/* A deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Thousands of random add sizes (0 .. 2.5 x capacity) for several capacities and
 * every numeric type width, compared with the naive model after every add,
 * through unfold and through newest(n) for a random n. */
static void randomized_against_model(void **state) {
  (void)state;
  const size_t caps[] = {1, 2, 3, 10, 64, 97};
  const size_t channels = 3;
  for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
    size_t cap = caps[ci];
    dp_ringbuffer_t *rb = make(DP_DOUBLE64, cap, channels);
    size_t max_add = cap * 5 / 2 + 1;
    /* model: every value ever added, preceded by `cap` zero samples */
    size_t model_cap = cap + 2000 * max_add;
    double *model = calloc(model_cap * channels, sizeof(double));
    double *model_t = calloc(model_cap, sizeof(double));
    double *in = malloc(max_add * channels * sizeof(double));
    double *in_t = malloc(max_add * sizeof(double));
    double *out = malloc(cap * channels * sizeof(double));
    double *out_t = malloc(cap * sizeof(double));
    assert_non_null(model);
    assert_non_null(model_t);
    size_t len = cap; /* model length including the leading zeros */
    double counter = 1;
    for (int step = 0; step < 2000; step++) {
      size_t n = (size_t)(rnd() % (max_add + 1));
      for (size_t i = 0; i < n; i++) {
        in_t[i] = counter;
        for (size_t c = 0; c < channels; c++) in[i * channels + c] = counter * 10 + (double)c;
        counter++;
      }
      int rc = dp_ringbuffer_add(rb, in, in_t, n);
      if (n == 0) {
        assert_int_equal(rc, DP_EEMPTY);
        continue;
      }
      assert_int_equal(rc, n > cap ? (int)(n - cap) : 0);
      memcpy(model + len * channels, in, n * channels * sizeof(double));
      memcpy(model_t + len, in_t, n * sizeof(double));
      len += n;

      dp_ringbuffer_unfold(rb, out, out_t);
      assert_memory_equal(out, model + (len - cap) * channels, cap * channels * sizeof(double));
      assert_memory_equal(out_t, model_t + (len - cap), cap * sizeof(double));
      size_t k = (size_t)(rnd() % (cap + 1));
      dp_ringbuffer_newest(rb, k, out, out_t);
      assert_memory_equal(out, model + (len - k) * channels, k * channels * sizeof(double));
      assert_memory_equal(out_t, model_t + (len - k), k * sizeof(double));
      assert_true(dp_ringbuffer_last_time(rb) == model_t[len - 1]);
    }
    free(model);
    free(model_t);
    free(in);
    free(in_t);
    free(out);
    free(out_t);
    dp_ringbuffer_free(rb);
  }
}

/* Every element type stores and returns its values bit for bit. */
static void every_numeric_type_round_trips(void **state) {
  (void)state;
  const dp_dtype_t types[] = {DP_FLOAT32, DP_DOUBLE64, DP_INT8, DP_INT16, DP_INT32, DP_INT64};
  for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
    size_t es = dp_dtype_size(types[ti]);
    assert_true(es > 0);
    dp_ringbuffer_t *rb = make(types[ti], 5, 2);
    unsigned char in[7 * 2 * 8], out[5 * 2 * 8];
    for (size_t i = 0; i < sizeof in; i++) in[i] = (unsigned char)(rnd() & 0x7f);
    double t[7] = {1, 2, 3, 4, 5, 6, 7};
    dp_ringbuffer_add(rb, in, t, 7);
    dp_ringbuffer_unfold(rb, out, NULL);
    assert_memory_equal(out, in + 2 * 2 * es, 5 * 2 * es);
    dp_dtype_t parsed;
    assert_int_equal(dp_dtype_parse(dp_dtype_name(types[ti]), &parsed), 0);
    assert_int_equal(parsed, types[ti]);
    dp_ringbuffer_free(rb);
  }
  dp_dtype_t parsed;
  assert_int_equal(dp_dtype_parse("complex128", &parsed), DP_EINVAL);
  assert_null(dp_dtype_name((dp_dtype_t)0));
}

/* ---- read-new / consume ---------------------------------------------------- */

/* Adds samples whose value (2 channels: v, -v) and time are seq, seq+1, ... */
static void add_seq(dp_ringbuffer_t *rb, double *seq, size_t n) {
  float v[64];
  double t[32];
  assert_true(n <= 32);
  if (n == 0) return;
  for (size_t i = 0; i < n; i++) {
    t[i] = *seq;
    v[2 * i] = (float)*seq;
    v[2 * i + 1] = -(float)*seq;
    *seq += 1;
  }
  assert_true(dp_ringbuffer_add(rb, v, t, n) >= 0);
}

/* Checks that a view holds the consecutive samples first, first+1, ... */
static void assert_view_seq(const dp_ringbuffer_view_t *v, double first) {
  size_t k = 0;
  for (int s = 0; s < 2; s++) {
    const float *d = v->data[s];
    for (size_t i = 0; i < v->n[s]; i++, k++) {
      assert_true(v->times[s][i] == first + (double)k);
      assert_true(d[2 * i] == (float)(first + (double)k) && d[2 * i + 1] == -d[2 * i]);
    }
  }
  assert_int_equal(k, v->count);
}

static void read_new_gives_nothing_when_nothing_is_new(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_FLOAT32, 5, 2);
  dp_ringbuffer_view_t v;
  float out[10];
  uint64_t over = 99;
  assert_int_equal(dp_ringbuffer_peek_new(rb, &v), 0);
  assert_int_equal(v.count, 0);
  assert_int_equal(dp_ringbuffer_read_new(rb, out, NULL, 5, &over), 0);
  assert_int_equal(over, 0);
  double seq = 1;
  add_seq(rb, &seq, 3);
  assert_int_equal(dp_ringbuffer_unread(rb), 3);
  assert_int_equal(dp_ringbuffer_peek_new(rb, &v), 0);
  assert_int_equal(v.count, 3);
  assert_int_equal(v.n[1], 0);
  assert_int_equal(v.overrun, 0);
  assert_ptr_equal(v.times[0], dp_ringbuffer_raw_times(rb)); /* a view, not a copy */
  assert_view_seq(&v, 1);
  assert_int_equal(dp_ringbuffer_consume(rb, SIZE_MAX), 3);
  assert_int_equal(dp_ringbuffer_peek_new(rb, &v), 0);
  assert_int_equal(v.count, 0);
  assert_int_equal(dp_ringbuffer_consume(rb, 7), 0);
  assert_int_equal(dp_ringbuffer_peek_new(NULL, &v), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_consume(NULL, 1), DP_EINVAL);
  assert_int_equal(dp_ringbuffer_read_new(NULL, out, NULL, 1, NULL), DP_EINVAL);
  dp_ringbuffer_free(rb);
}

/* Unread samples that cross the end of the storage come as two spans, at
 * every offset of the wrap. */
static void read_new_wraps_in_two_spans(void **state) {
  (void)state;
  for (size_t offset = 0; offset < 6; offset++) {
    dp_ringbuffer_t *rb = make(DP_FLOAT32, 6, 2);
    double seq = 0;
    add_seq(rb, &seq, offset);
    dp_ringbuffer_consume(rb, SIZE_MAX);
    add_seq(rb, &seq, 5);
    dp_ringbuffer_view_t v;
    assert_int_equal(dp_ringbuffer_peek_new(rb, &v), 0);
    assert_int_equal(v.count, 5);
    assert_int_equal(v.n[0], offset + 5 > 6 ? 6 - offset : 5);
    assert_view_seq(&v, (double)offset);
    float out[10];
    double t[5];
    assert_int_equal(dp_ringbuffer_read_new(rb, out, t, 5, NULL), 5);
    for (size_t i = 0; i < 5; i++) assert_true(t[i] == (double)(offset + i) && out[2 * i] == t[i]);
    dp_ringbuffer_free(rb);
  }
}

/* More than the buffer holds: the held ones come back, the rest is overrun,
 * reported once; a single oversize add counts its skipped samples too. */
static void overrun_is_counted(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_FLOAT32, 4, 2);
  double seq = 0;
  for (int i = 0; i < 3; i++) add_seq(rb, &seq, 3); /* 9 into 4 */
  assert_int_equal(dp_ringbuffer_unread(rb), 9);
  float out[8];
  double t[4];
  uint64_t over = 0;
  assert_int_equal(dp_ringbuffer_read_new(rb, out, t, 4, &over), 4);
  assert_int_equal(over, 5);
  for (int i = 0; i < 4; i++) assert_true(t[i] == 5.0 + i);
  assert_int_equal(dp_ringbuffer_read_new(rb, out, t, 4, &over), 0);
  assert_int_equal(over, 0);
  add_seq(rb, &seq, 6); /* oversize: 2 skipped in the add itself */
  dp_ringbuffer_view_t v;
  dp_ringbuffer_peek_new(rb, &v);
  assert_int_equal(v.count, 4);
  assert_int_equal(v.overrun, 2);
  assert_view_seq(&v, 11);
  dp_ringbuffer_reset(rb);
  assert_int_equal(dp_ringbuffer_unread(rb), 0);
  dp_ringbuffer_free(rb);
}

/* Random adds and reads of random sizes: everything added is either read,
 * in order and exactly once, or reported as overrun. */
static void read_new_random_never_loses_or_repeats(void **state) {
  (void)state;
  for (size_t cap = 1; cap <= 9; cap += 4) {
    dp_ringbuffer_t *rb = make(DP_FLOAT32, cap, 2);
    double seq = 0, next = 0; /* next sample expected by the reader */
    for (int round = 0; round < 3000; round++) {
      size_t n = (size_t)(rnd() % (2 * cap + 2));
      add_seq(rb, &seq, n);
      if (rnd() % 3 == 0) continue;
      float out[64];
      double t[32];
      size_t max = (size_t)(rnd() % (cap + 2));
      uint64_t over;
      int got = dp_ringbuffer_read_new(rb, out, t, max, &over);
      assert_true(got >= 0 && (size_t)got <= max);
      next += (double)over;
      for (int i = 0; i < got; i++) assert_true(t[i] == next + i && out[2 * i] == (float)t[i]);
      next += got;
      assert_true(next + (double)dp_ringbuffer_unread(rb) == seq);
    }
    dp_ringbuffer_free(rb);
  }
}

/* Strings: the views and the copies are the buffer's own (borrowed) strings. */
static void read_new_strings_are_borrowed(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_STRING, 3, 1);
  const char *in[4] = {"a", "bb", "ccc", "dddd"};
  double t[4] = {1, 2, 3, 4};
  assert_int_equal(dp_ringbuffer_add(rb, in, t, 2), 0);
  dp_ringbuffer_consume(rb, SIZE_MAX);
  assert_int_equal(dp_ringbuffer_add(rb, in + 2, t + 2, 2), 0); /* wraps */
  dp_ringbuffer_view_t v;
  dp_ringbuffer_peek_new(rb, &v);
  assert_int_equal(v.count, 2);
  assert_int_equal(v.n[0], 1);
  assert_string_equal(((const char *const *)v.data[0])[0], "ccc");
  assert_string_equal(((const char *const *)v.data[1])[0], "dddd");
  const char *out[3];
  assert_int_equal(dp_ringbuffer_read_new(rb, out, NULL, 3, NULL), 2);
  assert_ptr_equal(out[0], ((const char *const *)v.data[0])[0]);
  assert_string_equal(out[1], "dddd");
  dp_ringbuffer_free(rb);
}

/* Writing in place: the span runs to the end of the storage; commit makes
 * the samples part of the buffer exactly as an add would. */
static void write_span_and_commit(void **state) {
  (void)state;
  dp_ringbuffer_t *rb = make(DP_FLOAT32, 5, 2), *ref = make(DP_FLOAT32, 5, 2);
  double seq = 0, seq_ref = 0;
  for (int round = 0; round < 7; round++) {
    void *data;
    double *times;
    int span = dp_ringbuffer_write_span(rb, &data, &times);
    assert_int_equal(span, 5 - (int)dp_ringbuffer_write_index(rb));
    size_t n = (size_t)(round % 3 + 1) < (size_t)span ? (size_t)(round % 3 + 1) : (size_t)span;
    for (size_t i = 0; i < n; i++, seq++) {
      times[i] = seq;
      ((float *)data)[2 * i] = (float)seq;
      ((float *)data)[2 * i + 1] = -(float)seq;
    }
    assert_int_equal(dp_ringbuffer_commit(rb, n), 0);
    add_seq(ref, &seq_ref, n);
    assert_memory_equal(dp_ringbuffer_raw_data(rb), dp_ringbuffer_raw_data(ref), 5 * 2 * 4);
    assert_memory_equal(dp_ringbuffer_raw_times(rb), dp_ringbuffer_raw_times(ref), 5 * 8);
    assert_true(dp_ringbuffer_last_time(rb) == seq - 1);
    assert_int_equal(dp_ringbuffer_total(rb), dp_ringbuffer_total(ref));
    assert_int_equal(dp_ringbuffer_unread(rb), dp_ringbuffer_unread(ref));
  }
  void *data;
  double *times;
  int span = dp_ringbuffer_write_span(rb, &data, &times);
  assert_int_equal(dp_ringbuffer_commit(rb, (size_t)span + 1), DP_ERANGE);
  assert_int_equal(dp_ringbuffer_commit(rb, 0), DP_EEMPTY);
  dp_ringbuffer_t *str = make(DP_STRING, 3, 1);
  assert_int_equal(dp_ringbuffer_write_span(str, &data, &times), DP_ETYPE);
  assert_int_equal(dp_ringbuffer_commit(str, 1), DP_ETYPE);
  assert_int_equal(dp_ringbuffer_write_span(NULL, &data, &times), DP_EINVAL);
  dp_ringbuffer_free(str);
  dp_ringbuffer_free(rb);
  dp_ringbuffer_free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(worked_example),
      cmocka_unit_test(partial_fill_reads_zeros_first),
      cmocka_unit_test(empty_add_changes_nothing),
      cmocka_unit_test(bad_arguments),
      cmocka_unit_test(oversize_add_keeps_newest),
      cmocka_unit_test(wrap_at_every_offset),
      cmocka_unit_test(strings_are_owned_copies),
      cmocka_unit_test(three_dimensions),
      cmocka_unit_test(randomized_against_model),
      cmocka_unit_test(every_numeric_type_round_trips),
      cmocka_unit_test(read_new_gives_nothing_when_nothing_is_new),
      cmocka_unit_test(read_new_wraps_in_two_spans),
      cmocka_unit_test(overrun_is_counted),
      cmocka_unit_test(read_new_random_never_loses_or_repeats),
      cmocka_unit_test(read_new_strings_are_borrowed),
      cmocka_unit_test(write_span_and_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
