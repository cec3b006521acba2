/* args.c - the flag iterator of args.h: walks argv without copying, so that
 * every module and tool accepts `--key=value` and `--key value` alike and
 * words its usage errors the same way. */
#include "dareplane/args.h"

#include "common/error_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dp_args_init(dp_args_t *a, int argc, char **argv, bool positionals) {
  memset(a, 0, sizeof *a);
  a->argc = argc;
  a->argv = argv;
  a->positionals = positionals;
}

int dp_args_next(dp_args_t *a) {
  a->key = NULL;
  a->key_len = 0;
  a->value = NULL;
  if (a->index + 1 >= a->argc) {
    a->index = a->argc;
    a->arg = NULL;
    return DP_ARGS_END;
  }
  const char *s = a->arg = a->argv[++a->index];
  if (s[0] == '-' && s[1] == '-' && s[2] != '\0') {
    const char *eq = strchr(s + 2, '=');
    a->key = s + 2;
    a->key_len = eq != NULL ? (size_t)(eq - a->key) : strlen(a->key);
    a->value = eq != NULL ? eq + 1 : NULL;
    return DP_ARGS_FLAG;
  }
  if (s[0] == '-' && s[1] != '\0' && s[1] != '-' && (s[1] < '0' || s[1] > '9') && s[2] == '\0') {
    a->key = s + 1;
    a->key_len = 1;
    return DP_ARGS_FLAG;
  }
  a->value = s;
  return a->positionals ? DP_ARGS_POSITIONAL : dp_args_unknown(a);
}

bool dp_args_key_equal(const char *key, size_t len, const char *name) {
  size_t i = 0;
  for (; i < len && name[i] != '\0'; i++) {
    char x = key[i] == '-' ? '_' : key[i], y = name[i] == '-' ? '_' : name[i];
    if (x != y) return false;
  }
  return i == len && name[i] == '\0';
}

bool dp_args_is(const dp_args_t *a, const char *name) {
  return a->key != NULL && dp_args_key_equal(a->key, a->key_len, name);
}

int dp_args_value(dp_args_t *a) {
  if (a->value != NULL) return 0;
  if (a->index + 1 >= a->argc)
    return dp_error_set(DP_EINVAL, "--%.*s needs a value", (int)a->key_len, a->key);
  a->value = a->argv[++a->index];
  return 0;
}

const char *dp_args_optional(dp_args_t *a) {
  if (a->value == NULL && a->index + 1 < a->argc && strncmp(a->argv[a->index + 1], "--", 2) != 0)
    a->value = a->argv[++a->index];
  return a->value;
}

/* Checks that strto*() consumed all of a->value; sets the error if not. */
static int whole(const dp_args_t *a, const char *end, const char *what) {
  if (end != a->value && *end == '\0') return 0;
  return dp_error_set(DP_EINVAL, "--%.*s takes %s, not '%s'", (int)a->key_len, a->key, what,
                      a->value);
}

int dp_args_long(dp_args_t *a, long min, long max, long *out) {
  int rc = dp_args_value(a);
  if (rc < 0) return rc;
  char *end;
  errno = 0;
  long v = strtol(a->value, &end, 10);
  if ((rc = whole(a, end, "a whole number")) < 0) return rc;
  if (errno == ERANGE || v < min || v > max) {
    if (max == LONG_MAX)
      return dp_error_set(DP_ERANGE, "--%.*s must be at least %ld, got %s", (int)a->key_len, a->key,
                          min, a->value);
    return dp_error_set(DP_ERANGE, "--%.*s must be %ld..%ld, got %s", (int)a->key_len, a->key, min,
                        max, a->value);
  }
  *out = v;
  return 0;
}

int dp_args_double(dp_args_t *a, double *out) {
  int rc = dp_args_value(a);
  if (rc < 0) return rc;
  char *end;
  double v = strtod(a->value, &end);
  if ((rc = whole(a, isfinite(v) ? end : a->value, "a finite number")) < 0) return rc;
  *out = v;
  return 0;
}

int dp_args_unknown(const dp_args_t *a) {
  if (a->key == NULL)
    return dp_error_set(DP_EINVAL,
                        "unexpected argument '%s' (flags are --key=value or --key value)", a->arg);
  return dp_error_set(DP_EINVAL, "unknown flag --%.*s", (int)a->key_len, a->key);
}
