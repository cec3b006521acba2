/* ringbuffer.h - a fixed-size ring buffer of samples plus one timestamp per
 * sample, the C counterpart of dareplane_utils' RingBuffer.
 *
 * A buffer holds `capacity` samples. Each sample is a block of `frame` elements
 * of one element type, laid out row-major over the trailing dimensions (for
 * samples x channels: frame = n_channels; for samples x channels x bands:
 * frame = n_channels * n_bands). Memory layout of the whole buffer is
 * capacity x frame elements, sample-major, exactly like a C-contiguous numpy
 * array of shape (capacity, dims...).
 *
 * Semantics (reference §3):
 * - New buffers are zero-filled (strings: empty), timestamps 0.
 * - dp_ringbuffer_add() writes at the write index and wraps; when more samples
 *   arrive than fit, only the newest `capacity` are kept. An empty add changes
 *   nothing and returns DP_EEMPTY.
 * - Unfolding gives all `capacity` slots oldest first, newest last; slots never
 *   written read as zero (empty string), as in the Python reference.
 *
 * Ownership: the buffer owns its memory. String elements are copied on add and
 * freed when overwritten or when the buffer is freed; reads hand out borrowed
 * pointers into the buffer that stay valid until the next add, reset or free.
 *
 * Reading what is new: the buffer keeps a read mark. dp_ringbuffer_peek_new()
 * shows, without copying, the samples added since the mark as at most two
 * contiguous spans (oldest first); dp_ringbuffer_consume() moves the mark;
 * dp_ringbuffer_read_new() copies and consumes in one call. With nothing new
 * they return nothing (not the whole buffer, unlike the Python idiom
 * unfold_buffer()[-n_new:]). When more arrived than the buffer holds, what
 * it holds is returned and the rest is reported as overrun.
 *
 * Thread-safety: none inside. One writer and any readers must be serialised by
 * the caller (the StreamWatcher does this for its own buffer).
 *
 * Numeric adds and all reads allocate nothing. The ring buffer depends on no
 * other component of the library. */
#ifndef DAREPLANE_RINGBUFFER_H
#define DAREPLANE_RINGBUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. The values equal liblsl's channel format codes, so an LSL
 * channel format converts by a cast. */
typedef enum {
  DP_FLOAT32 = 1,
  DP_DOUBLE64 = 2,
  DP_STRING = 3,
  DP_INT32 = 4,
  DP_INT16 = 5,
  DP_INT8 = 6,
  DP_INT64 = 7
} dp_dtype_t;

/* Size in bytes of one element of `type` (for DP_STRING: sizeof(char *)), or 0
 * for a value that is not a dp_dtype_t. Thread-safe. */
DP_EXTERN size_t dp_dtype_size(dp_dtype_t type);

/* Name of `type` as liblsl spells it ("float32", "double64", "string", "int32",
 * "int16", "int8", "int64"), or NULL for an unknown value. Static. */
DP_EXTERN const char *dp_dtype_name(dp_dtype_t type);

/* Parses a name as returned by dp_dtype_name() (also "float", "double",
 * "float64") into *out. Returns 0, or DP_EINVAL for an unknown name. */
DP_EXTERN int dp_dtype_parse(const char *name, dp_dtype_t *out);

/* Maximum number of trailing dimensions of one sample. */
#define DP_RINGBUFFER_MAX_DIMS 4

/* A ring buffer (opaque; dp_ringbuffer_new() makes one). */
typedef struct dp_ringbuffer dp_ringbuffer_t;

/* Creates a zero-filled buffer of `capacity` samples of element type `type`,
 * each sample of shape dims[0] x ... x dims[n_dims-1] (1 <= n_dims <=
 * DP_RINGBUFFER_MAX_DIMS, every dim >= 1; capacity >= 1), and stores it in
 * *out; the caller owns it and frees it with dp_ringbuffer_free().
 * Returns 0; DP_EINVAL (bad shape, type or NULL out), DP_ERANGE (the size
 * overflows) or DP_ENOMEM, with *out set to NULL. */
DP_EXTERN int dp_ringbuffer_new(dp_ringbuffer_t **out, dp_dtype_t type, size_t capacity,
                                const size_t *dims, size_t n_dims);

/* Frees the buffer and every string it holds. NULL is a no-op. */
DP_EXTERN void dp_ringbuffer_free(dp_ringbuffer_t *rb);

/* Adds `n` samples with their timestamps, oldest first.
 * `samples` points to n x frame elements, sample-major: for numeric types the
 * values themselves, for DP_STRING an array of n x frame `const char *`
 * (NUL-terminated UTF-8; NULL is stored as ""), which are copied.
 * `times` points to n timestamps.
 * When n > capacity only the newest `capacity` samples are written.
 * Returns the number of given samples that did not fit and were skipped
 * (0 when n <= capacity); DP_EEMPTY when n == 0 (nothing changes); DP_EINVAL
 * for NULL pointers; DP_ENOMEM if copying a string failed (the slots written
 * before the failure hold the new samples, the failed ones hold ""). */
DP_EXTERN int dp_ringbuffer_add(dp_ringbuffer_t *rb, const void *samples, const double *times,
                                size_t n);

/* Copies the whole buffer in time order, oldest first, into caller memory:
 * `data` (capacity x frame elements; for DP_STRING, capacity x frame
 * `const char *`, borrowed) and `times` (capacity doubles). Either may be NULL
 * to skip it. Returns 0, or DP_EINVAL for a NULL buffer. */
DP_EXTERN int dp_ringbuffer_unfold(const dp_ringbuffer_t *rb, void *data, double *times);

/* Copies the newest `n` samples in time order (oldest of them first) into
 * `data` (n x frame elements) and `times` (n doubles); either may be NULL.
 * This equals the last n rows of dp_ringbuffer_unfold() without unfolding the
 * rest. Returns 0; DP_ERANGE when n > capacity; DP_EINVAL for a NULL buffer. */
DP_EXTERN int dp_ringbuffer_newest(const dp_ringbuffer_t *rb, size_t n, void *data, double *times);

/* ---- what arrived since the last look ----------------------------------- */

/* The unread samples, oldest first, as views into the buffer: span 0 then
 * span 1 (n[1] is 0 unless the unread samples wrap around the end). For
 * DP_STRING, data[i] is an array of `const char *`. */
typedef struct {
  const void *data[2];    /* n[i] x frame elements each */
  const double *times[2]; /* n[i] timestamps each */
  size_t n[2];
  size_t count;     /* n[0] + n[1] */
  uint64_t overrun; /* unread samples that were overwritten before this look */
} dp_ringbuffer_view_t;

/* Samples added since the read mark (may exceed the capacity: the excess is
 * overrun). O(1). */
DP_EXTERN uint64_t dp_ringbuffer_unread(const dp_ringbuffer_t *rb);

/* Fills *view with the unread samples the buffer still holds (at most
 * `capacity`, the newest ones) without copying or moving the mark. The
 * pointers are borrowed and valid until the next add, commit, reset or free.
 * count == 0 when nothing is new. Returns 0, or DP_EINVAL for NULL
 * arguments. */
DP_EXTERN int dp_ringbuffer_peek_new(const dp_ringbuffer_t *rb, dp_ringbuffer_view_t *view);

/* Marks the oldest `n` unread samples that the buffer holds, and every
 * overrun one, as read (n larger than what is held: all; SIZE_MAX is the
 * usual way to say all). Returns the number of held samples consumed (>= 0)
 * or DP_EINVAL. */
DP_EXTERN int dp_ringbuffer_consume(dp_ringbuffer_t *rb, size_t n);

/* Copies the oldest min(max_n, held unread) unread samples, oldest first,
 * into `data` (max_n x frame elements; for DP_STRING borrowed `const char *`)
 * and `times` (max_n doubles; either may be NULL), and consumes them. When
 * `overrun` is not NULL it receives the number of unread samples lost to
 * overwriting (consumed too). Call again to get the rest when max_n was
 * smaller than what was unread. Returns the number of samples copied (0 when
 * nothing is new) or DP_EINVAL. */
DP_EXTERN int dp_ringbuffer_read_new(dp_ringbuffer_t *rb, void *data, double *times, size_t max_n,
                                     uint64_t *overrun);

/* ---- writing in place (for producers such as the StreamWatcher) --------- */

/* The contiguous slots from the write index to the end of the storage, into
 * which a producer may write samples directly (numeric types only): *data
 * and *times receive pointers to the first slot; returns the number of
 * slots (>= 1). What is in them is the oldest data, overwritten by the
 * writes. Make written samples part of the buffer with dp_ringbuffer_commit().
 * Returns DP_ETYPE for DP_STRING, DP_EINVAL for NULL arguments. */
DP_EXTERN int dp_ringbuffer_write_span(dp_ringbuffer_t *rb, void **data, double **times);

/* Makes `n` samples written at the write index through dp_ringbuffer_write_span()
 * part of the buffer, as dp_ringbuffer_add() of them would (write index, last
 * time, total). Returns 0; DP_EEMPTY for n == 0 (nothing changes); DP_ERANGE
 * when n exceeds the span; DP_ETYPE for DP_STRING; DP_EINVAL for NULL. */
DP_EXTERN int dp_ringbuffer_commit(dp_ringbuffer_t *rb, size_t n);

/* Empties the buffer: zero data (strings freed), zero timestamps, write index
 * 0, last timestamp 0, total 0, nothing unread. Shape and type stay. NULL is
 * a no-op. */
DP_EXTERN void dp_ringbuffer_reset(dp_ringbuffer_t *rb);

/* Accessors. Each takes a non-NULL buffer and is O(1). */
DP_EXTERN dp_dtype_t dp_ringbuffer_dtype(const dp_ringbuffer_t *rb);
DP_EXTERN size_t dp_ringbuffer_capacity(const dp_ringbuffer_t *rb);
/* Elements per sample (the product of the trailing dimensions). */
DP_EXTERN size_t dp_ringbuffer_frame(const dp_ringbuffer_t *rb);
/* Number of trailing dimensions; *dims (if not NULL) receives a pointer to them. */
DP_EXTERN size_t dp_ringbuffer_dims(const dp_ringbuffer_t *rb, const size_t **dims);
/* Index of the slot the next sample goes to (Python's curr_i). */
DP_EXTERN size_t dp_ringbuffer_write_index(const dp_ringbuffer_t *rb);
/* Timestamp of the newest sample (0 before the first add; Python's last_t). */
DP_EXTERN double dp_ringbuffer_last_time(const dp_ringbuffer_t *rb);
/* Total number of samples ever written (skipped oversize samples not counted;
 * they count as overrun for the read-new functions). */
DP_EXTERN uint64_t dp_ringbuffer_total(const dp_ringbuffer_t *rb);
/* Number of slots holding written samples: min(total, capacity). */
DP_EXTERN size_t dp_ringbuffer_count(const dp_ringbuffer_t *rb);
/* The raw storage in slot order (Python's buffer and buffer_t), borrowed. For
 * DP_STRING the data is an array of `const char *`. */
DP_EXTERN const void *dp_ringbuffer_raw_data(const dp_ringbuffer_t *rb);
DP_EXTERN const double *dp_ringbuffer_raw_times(const dp_ringbuffer_t *rb);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_RINGBUFFER_H */
