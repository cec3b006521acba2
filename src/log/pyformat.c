/* pyformat.c - Python's str(), repr() and %-formatting for JSON values, so the
 * log server renders a Python producer's `msg` with its `args` as Python's
 * getMessage() would (see pyformat.h). */
#include "log/pyformat.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Width and precision are capped here (Python has no cap). */
#define WIDTH_MAX 4096

/* Python's repr of a float: shortest round-trip digits, '.0' on integral
 * values, exponent form outside 1e-4 <= |v| < 1e16. */
static void put_py_float(dp_textbuf_t *b, double v) {
  if (isnan(v)) {
    dp_textbuf_puts(b, "nan");
    return;
  }
  if (isinf(v)) {
    dp_textbuf_puts(b, v < 0 ? "-inf" : "inf");
    return;
  }
  char tmp[40];
  int prec;
  for (prec = 1; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    if (strtod(tmp, NULL) == v) break;
  }
  double mag = fabs(v);
  if (mag != 0.0 && (mag < 1e-4 || mag >= 1e16)) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v); /* e.g. 1e-05, 1.5e+16 */
    char *e = strchr(tmp, 'e');
    char mant[40];
    snprintf(mant, sizeof mant, "%.*s", (int)(e - tmp), tmp);
    int exp = (int)strtol(e + 1, NULL, 10);
    dp_textbuf_printf(b, "%se%c%02d", mant, exp < 0 ? '-' : '+', abs(exp));
    return;
  }
  snprintf(tmp, sizeof tmp, "%.*g", prec, v);
  dp_textbuf_puts(b, tmp);
  if (strpbrk(tmp, ".e") == NULL) dp_textbuf_puts(b, ".0");
}

static void put_py_quoted(dp_textbuf_t *b, const char *s, size_t n) {
  bool has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
  char q = has_single && !has_double ? '"' : '\'';
  dp_textbuf_putc(b, q);
  for (size_t i = 0; i < n && !b->truncated; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == (unsigned char)q || c == '\\') {
      dp_textbuf_putc(b, '\\');
      dp_textbuf_putc(b, (char)c);
    } else if (c == '\n') {
      dp_textbuf_puts(b, "\\n");
    } else if (c == '\r') {
      dp_textbuf_puts(b, "\\r");
    } else if (c == '\t') {
      dp_textbuf_puts(b, "\\t");
    } else if (c < 0x20 || c == 0x7f) {
      dp_textbuf_printf(b, "\\x%02x", c);
    } else {
      dp_textbuf_putc(b, (char)c);
    }
  }
  dp_textbuf_putc(b, q);
}

static void put_value(dp_textbuf_t *b, const json_t *v, bool repr) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    if (repr)
      put_py_quoted(b, json_string_value(v), json_string_length(v));
    else
      dp_textbuf_put(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER: dp_textbuf_printf(b, "%lld", (long long)json_integer_value(v)); break;
  case JSON_REAL: put_py_float(b, json_real_value(v)); break;
  case JSON_TRUE: dp_textbuf_puts(b, "True"); break;
  case JSON_FALSE: dp_textbuf_puts(b, "False"); break;
  case JSON_NULL: dp_textbuf_puts(b, "None"); break;
  case JSON_ARRAY: {
    dp_textbuf_putc(b, '[');
    for (size_t i = 0; i < json_array_size(v) && !b->truncated; i++) {
      if (i > 0) dp_textbuf_puts(b, ", ");
      put_value(b, json_array_get(v, i), true);
    }
    dp_textbuf_putc(b, ']');
    break;
  }
  case JSON_OBJECT: {
    dp_textbuf_putc(b, '{');
    const char *key;
    json_t *item;
    bool first = true;
    json_object_foreach((json_t *)v, key, item) {
      if (b->truncated) break;
      if (!first) dp_textbuf_puts(b, ", ");
      first = false;
      put_py_quoted(b, key, strlen(key));
      dp_textbuf_puts(b, ": ");
      put_value(b, item, true);
    }
    dp_textbuf_putc(b, '}');
    break;
  }
  }
}

void dp_py_str(dp_textbuf_t *b, const json_t *value) {
  put_value(b, value, false);
}

void dp_py_repr(dp_textbuf_t *b, const json_t *value) {
  put_value(b, value, true);
}

/* One parsed conversion specifier. */
typedef struct spec {
  char flags[8];
  int width;     /* -1: none */
  int precision; /* -1: none */
  char type;
} spec_t;

/* Number of characters (code points) in UTF-8 text. */
static size_t utf8_chars(const char *s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += ((unsigned char)s[i] & 0xC0) != 0x80;
  return count;
}

/* Byte length of the first `chars` characters of s. */
static size_t utf8_prefix(const char *s, size_t n, size_t chars) {
  size_t i = 0;
  for (size_t seen = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (seen == chars) break;
      seen++;
    }
  }
  return i;
}

static void put_padded(dp_textbuf_t *b, const spec_t *sp, const char *s, size_t n) {
  if (sp->precision >= 0) n = utf8_prefix(s, n, (size_t)sp->precision);
  size_t chars = utf8_chars(s, n);
  size_t pad = sp->width > 0 && (size_t)sp->width > chars ? (size_t)sp->width - chars : 0;
  bool left = strchr(sp->flags, '-') != NULL;
  if (!left)
    for (size_t i = 0; i < pad; i++) dp_textbuf_putc(b, ' ');
  dp_textbuf_put(b, s, n);
  if (left)
    for (size_t i = 0; i < pad; i++) dp_textbuf_putc(b, ' ');
}

/* A C format string for one numeric conversion: "%<flags><width>.<prec><len><type>". */
static void c_format(char *out, size_t size, const spec_t *sp, const char *len, char type) {
  char width[16] = "", prec[16] = "";
  if (sp->width >= 0) snprintf(width, sizeof width, "%d", sp->width);
  if (sp->precision >= 0) snprintf(prec, sizeof prec, ".%d", sp->precision);
  snprintf(out, size, "%%%s%s%s%s%c", sp->flags, width, prec, len, type);
}

/* Appends one number printed with a format built at run time (c_format). */
static void put_c(dp_textbuf_t *b, const char *cfmt, ...) {
  char tmp[WIDTH_MAX + 512]; /* %f of 1e308 has 309 digits before the precision */
  va_list ap;
  va_start(ap, cfmt);
  int n = vsnprintf(tmp, sizeof tmp, cfmt, ap);
  va_end(ap);
  if (n > 0) dp_textbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Formats one value for one specifier. Returns 0 or -1 (type error). */
static int convert(dp_textbuf_t *b, const spec_t *sp, const json_t *v, const char **why) {
  char cfmt[48];
  switch (sp->type) {
  case 's':
  case 'r':
  case 'a': {
    dp_textbuf_t tmp;
    char storage[256];
    dp_textbuf_init(&tmp, storage, sizeof storage);
    /* no more than can still be shown: the room left in b, plus what a
     * width (at most WIDTH_MAX characters) needs to decide the padding */
    if (b->limit > 0)
      tmp.limit = (b->limit > b->len ? b->limit - b->len : 0) + (size_t)4 * WIDTH_MAX + 4;
    put_value(&tmp, v, sp->type != 's');
    put_padded(b, sp, tmp.data != NULL ? tmp.data : "", tmp.len);
    dp_textbuf_free(&tmp);
    return 0;
  }
  case 'd':
  case 'i':
  case 'u':
  case 'o':
  case 'x':
  case 'X': {
    json_int_t n;
    if (json_is_integer(v))
      n = json_integer_value(v);
    else if (json_is_boolean(v))
      n = json_is_true(v);
    else if (json_is_real(v) && strchr("diu", sp->type) != NULL && isfinite(json_real_value(v)) &&
             fabs(json_real_value(v)) < 9.2e18)
      n = (json_int_t)json_real_value(v);
    else {
      *why = "%d format: a number is required";
      return -1;
    }
    char type = sp->type == 'i' || sp->type == 'u' ? 'd' : sp->type;
    c_format(cfmt, sizeof cfmt, sp, "ll", type);
    if (type == 'd' || n >= 0) {
      put_c(b, cfmt, (long long)n);
    } else { /* Python prints negative hex/octal with a minus sign */
      spec_t pos = *sp;
      if (pos.width > 0) pos.width--;
      c_format(cfmt, sizeof cfmt, &pos, "ll", type);
      dp_textbuf_putc(b, '-');
      put_c(b, cfmt, 0ULL - (unsigned long long)n); /* -n overflows for the smallest n */
    }
    return 0;
  }
  case 'e':
  case 'E':
  case 'f':
  case 'F':
  case 'g':
  case 'G':
    if (!json_is_number(v) && !json_is_boolean(v)) {
      *why = "must be real number";
      return -1;
    }
    c_format(cfmt, sizeof cfmt, sp, "", sp->type);
    put_c(b, cfmt, json_is_boolean(v) ? (double)json_is_true(v) : json_number_value(v));
    return 0;
  case 'c':
    if (json_is_string(v) && utf8_chars(json_string_value(v), json_string_length(v)) == 1) {
      put_padded(b, sp, json_string_value(v), json_string_length(v));
      return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 0x80) {
      char c = (char)json_integer_value(v);
      put_padded(b, sp, &c, 1);
      return 0;
    }
    *why = "%c requires an int or a single character";
    return -1;
  default: *why = "unsupported format character"; return -1;
  }
}

/* Reads a width or precision: digits, or '*' taken from the arguments. */
static int read_number(const char **p, const char *end, const json_t *args, size_t *next, int *out,
                       const char **why) {
  if (*p < end && **p == '*') {
    (*p)++;
    const json_t *v = json_is_array(args) ? json_array_get(args, (*next)++) : NULL;
    if (!json_is_integer(v)) {
      *why = "* wants int";
      return -1;
    }
    json_int_t n = json_integer_value(v);
    *out = n < 0 ? 0 : n > WIDTH_MAX ? WIDTH_MAX : (int)n;
    return 0;
  }
  int n = -1;
  while (*p < end && **p >= '0' && **p <= '9') {
    n = (n < 0 ? 0 : n) * 10 + (**p - '0');
    if (n > WIDTH_MAX) n = WIDTH_MAX;
    (*p)++;
  }
  *out = n;
  return 0;
}

int dp_py_percent(dp_textbuf_t *b, const char *fmt, size_t fmt_len, const json_t *args,
                  const char **why) {
  const char *p = fmt, *end = fmt + fmt_len;
  bool tuple = json_is_array(args), mapping = json_is_object(args);
  size_t n_args = tuple ? json_array_size(args) : 1;
  size_t next = 0;
  bool used_mapping_key = false;
  while (p < end && !b->truncated) { /* at the limit the rest cannot show */
    const char *pct = memchr(p, '%', (size_t)(end - p));
    if (pct == NULL) {
      dp_textbuf_put(b, p, (size_t)(end - p));
      break;
    }
    dp_textbuf_put(b, p, (size_t)(pct - p));
    p = pct + 1;
    const json_t *value = NULL;
    if (p < end && *p == '(') { /* %(key)s */
      const char *close = memchr(p, ')', (size_t)(end - p));
      if (close == NULL) {
        *why = "incomplete format key";
        return -1;
      }
      if (!mapping) {
        *why = "format requires a mapping";
        return -1;
      }
      char key[256];
      snprintf(key, sizeof key, "%.*s", (int)(close - p - 1), p + 1);
      value = json_object_get(args, key);
      if (value == NULL) {
        *why = "format key not found in args";
        return -1;
      }
      used_mapping_key = true;
      p = close + 1;
    }
    spec_t sp = {.width = -1, .precision = -1};
    size_t nf = 0;
    while (p < end && strchr("-+ #0", *p) != NULL && *p != '\0') {
      if (nf + 1 < sizeof sp.flags && strchr(sp.flags, *p) == NULL) sp.flags[nf++] = *p;
      p++;
    }
    if (read_number(&p, end, args, &next, &sp.width, why) < 0) return -1;
    if (p < end && *p == '.') {
      p++;
      if (read_number(&p, end, args, &next, &sp.precision, why) < 0) return -1;
      if (sp.precision < 0) sp.precision = 0;
    }
    while (p < end && strchr("hlL", *p) != NULL && *p != '\0') p++;
    if (p >= end) {
      *why = "incomplete format";
      return -1;
    }
    sp.type = *p++;
    if (sp.type == '%') {
      dp_textbuf_putc(b, '%');
      continue;
    }
    if (value == NULL) {
      if (next >= n_args) {
        *why = "not enough arguments for format string";
        return -1;
      }
      value = tuple ? json_array_get(args, next) : args;
      next++;
    }
    if (convert(b, &sp, value, why) < 0) return -1;
  }
  if (!b->truncated && !mapping && !used_mapping_key && next < n_args) {
    *why = "not all arguments converted during string formatting";
    return -1;
  }
  return 0;
}
