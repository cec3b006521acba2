/* args.h - one command-line flag parser for modules and tools, so that every
 * program takes flags the same way Dareplane's Python modules (fire) do:
 * `--key=value` and `--key value`, bare `--flag`s, and '-' and '_' in keys
 * meaning the same.
 *
 *   dp_args_t a;
 *   int rc;
 *   dp_args_init(&a, argc, argv, false);
 *   while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
 *     if (dp_args_is(&a, "port"))
 *       rc = dp_args_long(&a, 1, 65535, &port);
 *     else if (dp_args_is(&a, "quiet"))
 *       quiet = true;
 *     else
 *       rc = dp_args_unknown(&a);
 *     if (rc < 0) break;
 *   }
 *   if (rc < 0) fprintf(stderr, "prog: %s\n", dp_error_detail());
 *
 * (a text flag: `rc = dp_args_value(&a);` then use a.value.)
 *
 * The iterator only points into argv: it allocates nothing and copies
 * nothing, so argv must outlive every pointer it hands out. A dp_args_t is
 * used by one thread at a time; separate iterators are independent. */
#ifndef DAREPLANE_ARGS_H
#define DAREPLANE_ARGS_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What dp_args_next() found (failures are negative DP_E* codes). */
enum { DP_ARGS_END = 0, DP_ARGS_FLAG = 1, DP_ARGS_POSITIONAL = 2 };

/* The iterator: dp_args_init() prepares it, dp_args_next() moves it on. */
typedef struct {
  /* Read these; do not write them. */
  const char *arg;   /* the current argv element, whole */
  const char *key;   /* a flag's name after the dashes; NOT NUL-terminated */
  size_t key_len;    /* its length (up to '=' if there is one) */
  const char *value; /* the text after '=', a taken value, or a positional
                        argument; NULL: none (yet) */
  int index;         /* argv index of the current element */
  /* private */
  int argc;
  char **argv;
  bool positionals;
} dp_args_t;

/* Prepares `a` to walk argv[1..argc-1]. With `positionals` true, arguments
 * that are no flag are reported as DP_ARGS_POSITIONAL; otherwise they are an
 * error. Cannot fail. */
DP_EXTERN void dp_args_init(dp_args_t *a, int argc, char **argv, bool positionals);

/* Moves to the next argument. A flag is `--key`, `--key=value` or `-k` (one
 * letter, e.g. -h); for it, returns DP_ARGS_FLAG with a->key/a->key_len set
 * and a->value the text after '=' (NULL without '='; "" for `--key=`).
 * Anything else (also "-", "--" and "-5") is a positional argument: returns
 * DP_ARGS_POSITIONAL with a->value = the argument, or, when positionals were
 * not allowed, DP_EINVAL with the detail "unexpected argument 'x' ...".
 * Returns DP_ARGS_END after the last argument. The caller decides whether
 * the flag takes a value (dp_args_value() and friends) before calling this
 * again, so that a value given as the next argument is skipped. */
DP_EXTERN int dp_args_next(dp_args_t *a);

/* True if the current flag is `name` (without dashes); '-' and '_' match
 * each other, as in fire. */
DP_EXTERN bool dp_args_is(const dp_args_t *a, const char *name);

/* True if `key` (len bytes, need not be NUL-terminated) names `name`, with
 * '-' and '_' matching each other. For callers that keep flag tables. */
DP_EXTERN bool dp_args_key_equal(const char *key, size_t len, const char *name);

/* The current flag takes a value: the text after '=', or else the next argv
 * element whatever it looks like (which is consumed). Sets a->value and
 * returns 0; returns DP_EINVAL ("--port needs a value") at the end of argv.
 * Calling it again for the same flag returns the same value. */
DP_EXTERN int dp_args_value(dp_args_t *a);

/* Fire-style optional value: the text after '=', else the next argv element
 * if there is one that does not begin with "--" (consumed), else NULL (a
 * bare flag). Also sets a->value. Cannot fail. */
DP_EXTERN const char *dp_args_optional(dp_args_t *a);

/* The current flag takes a whole decimal number in [min, max]: takes its
 * value as dp_args_value() does and parses all of it into *out. Returns 0,
 * or DP_EINVAL (no value, not a number, trailing text, empty) or DP_ERANGE
 * (outside [min, max]) with a detail naming the flag and the text. */
DP_EXTERN int dp_args_long(dp_args_t *a, long min, long max, long *out);

/* As dp_args_long() for a finite real number (strtod syntax), no range. */
DP_EXTERN int dp_args_double(dp_args_t *a, double *out);

/* Records "unknown flag --key" (or "unexpected argument 'x'" for a
 * positional) as the calling thread's error detail and returns DP_EINVAL,
 * so that every program words it the same way. */
DP_EXTERN int dp_args_unknown(const dp_args_t *a);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_ARGS_H */
