/* error.h - the one error convention of libdareplane.
 *
 * Every function that can fail returns an int: 0 (or a non-negative count where
 * the function says so) on success, a negative DP_E* code on failure. Functions
 * that return a pointer return NULL on failure and say which DP_E* code applies
 * through dp_error_last().
 *
 * A failing call may also leave a human-readable sentence about *this* failure
 * (what was tried, what was expected) for the calling thread: dp_error_detail().
 * The codes are stable; the sentences are for people and may change. */
#ifndef DAREPLANE_ERROR_H
#define DAREPLANE_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: code name, value, default message. */
#define DP_ERRNO_MAP(XX)                                                                           \
  XX(DP_EINVAL, -1, "invalid argument")                                                            \
  XX(DP_ENOMEM, -2, "out of memory")                                                               \
  XX(DP_ETYPE, -3, "element type does not match")                                                  \
  XX(DP_EEMPTY, -4, "nothing to do: empty input")                                                  \
  XX(DP_ERANGE, -5, "value out of range")                                                          \
  XX(DP_ETOOBIG, -6, "input larger than the allowed limit")                                        \
  XX(DP_EPARSE, -7, "malformed input")                                                             \
  XX(DP_ENOTFOUND, -8, "not found")                                                                \
  XX(DP_EEXIST, -9, "already exists")                                                              \
  XX(DP_ETIMEDOUT, -10, "timed out")                                                               \
  XX(DP_ECONN, -11, "connection failed")                                                           \
  XX(DP_ECLOSED, -12, "connection closed")                                                         \
  XX(DP_EIO, -13, "input/output error")                                                            \
  XX(DP_ESTATE, -14, "operation not allowed in the current state")                                 \
  XX(DP_EAGAIN, -15, "resource temporarily unavailable")                                           \
  XX(DP_ENOLSL, -16, "liblsl could not be loaded")                                                 \
  XX(DP_ELSL, -17, "liblsl reported an error")                                                     \
  XX(DP_ESYS, -18, "system call failed")

/* The codes: DP_OK (0) and one negative DP_E* code per line of DP_ERRNO_MAP. */
typedef enum {
  DP_OK = 0,
/* Makes one enumerator of a DP_ERRNO_MAP line (defined only here). */
#define DP_ERRNO_ENUM(name, value, msg) name = (value),
  DP_ERRNO_MAP(DP_ERRNO_ENUM)
#undef DP_ERRNO_ENUM
} dp_errno_t;

/* Returns a static, constant message for a DP_E* code ("success" for 0,
 * "unknown error" for anything else). Never NULL, never free it. Thread-safe. */
DP_EXTERN const char *dp_strerror(int code);

/* Returns the name of a DP_E* code, e.g. "DP_EINVAL" ("DP_OK" for 0,
 * "DP_E?" for an unknown code). Static; thread-safe. */
DP_EXTERN const char *dp_err_name(int code);

/* Returns the detail sentence the last failing call of the calling thread left,
 * or dp_strerror(dp_error_last()) when it left none. The pointer stays valid
 * until the next libdareplane call on this thread; copy it to keep it.
 * Thread-safe: each thread has its own. */
DP_EXTERN const char *dp_error_detail(void);

/* Returns the code of the last failure recorded on the calling thread (0 if none
 * since the thread started). Used with functions that return NULL on failure. */
DP_EXTERN int dp_error_last(void);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_ERROR_H */
