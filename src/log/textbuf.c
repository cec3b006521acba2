/* textbuf.c - the growable byte buffer of the logger, with the JSON string
 * and UTF-8 repair helpers that the frame encoder and the log server share. */
#include "log/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_textbuf_init(dp_textbuf_t *b, char *storage, size_t cap) {
  b->data = storage;
  b->len = 0;
  b->cap = storage != NULL ? cap : 0;
  b->limit = 0;
  b->heap = false;
  b->failed = false;
  b->truncated = false;
}

void dp_textbuf_free(dp_textbuf_t *b) {
  if (b->heap) free(b->data);
  dp_textbuf_init(b, NULL, 0);
}

/* How many of `n` more bytes fit under the limit; marks a cut. */
static size_t fitting(dp_textbuf_t *b, size_t n) {
  if (b->limit == 0 || b->len + n <= b->limit) return n;
  b->truncated = true;
  return b->len < b->limit ? b->limit - b->len : 0;
}

/* Makes room for `extra` more bytes plus a NUL (extra fits the limit). */
static bool reserve(dp_textbuf_t *b, size_t extra) {
  if (b->failed) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap < 256 ? 256 : b->cap;
  while (cap < b->len + extra + 1) cap *= 2;
  if (b->limit > 0 && cap > b->limit + 1 && b->len + extra <= b->limit) cap = b->limit + 1;
  char *p = b->heap ? realloc(b->data, cap) : malloc(cap);
  if (p == NULL) {
    b->failed = true;
    return false;
  }
  if (!b->heap && b->len > 0) memcpy(p, b->data, b->len);
  b->data = p;
  b->cap = cap;
  b->heap = true;
  return true;
}

char *dp_textbuf_take(dp_textbuf_t *b) {
  char *out = NULL;
  if (!b->failed) {
    if (b->heap && reserve(b, 0)) {
      out = b->data;
      out[b->len] = '\0';
      b->heap = false;
    } else if ((out = malloc(b->len + 1)) != NULL) {
      if (b->len > 0) memcpy(out, b->data, b->len);
      out[b->len] = '\0';
    }
  }
  dp_textbuf_free(b);
  return out;
}

bool dp_textbuf_failed(const dp_textbuf_t *b) {
  return b->failed;
}

void dp_textbuf_put(dp_textbuf_t *b, const void *bytes, size_t n) {
  n = fitting(b, n);
  if (n == 0 || !reserve(b, n)) return;
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void dp_textbuf_puts(dp_textbuf_t *b, const char *s) {
  dp_textbuf_put(b, s, strlen(s));
}

void dp_textbuf_putc(dp_textbuf_t *b, char c) {
  dp_textbuf_put(b, &c, 1);
}

void dp_textbuf_printf(dp_textbuf_t *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    dp_textbuf_put(b, small, (size_t)n);
    return;
  }
  size_t k = fitting(b, (size_t)n);
  if (k == 0 || !reserve(b, k)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, k + 1, fmt, ap);
  va_end(ap);
  b->len += k;
}

void dp_textbuf_trim_utf8(dp_textbuf_t *b) {
  size_t start = b->len; /* where the last sequence starts */
  while (start > 0 && b->len - start < 3 && ((unsigned char)b->data[start - 1] & 0xC0) == 0x80)
    start--;
  if (start == 0) return;
  unsigned char lead = (unsigned char)b->data[start - 1];
  size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (want > 1 && b->len - (start - 1) < want) {
    b->len = start - 1;
    b->data[b->len] = '\0';
  }
}

size_t dp_utf8_sequence(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0; /* no overlongs */
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90; /* no overlongs */
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

void dp_textbuf_put_utf8(dp_textbuf_t *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t run = 0; /* valid bytes not yet copied, ending at i */
  size_t i = 0;
  while (i < n) {
    size_t k = dp_utf8_sequence(p + i, n - i);
    if (k > 0) {
      i += k;
      run += k;
      continue;
    }
    dp_textbuf_put(b, p + i - run, run);
    dp_textbuf_put(b, replacement, 3);
    run = 0;
    i++;
  }
  dp_textbuf_put(b, p + i - run, run);
}

void dp_textbuf_put_json_string(dp_textbuf_t *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  dp_textbuf_putc(b, '"');
  size_t start = 0; /* first byte not yet copied */
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) { /* as it is */
      i++;
      continue;
    }
    size_t k = c < 0x80 ? 1 : dp_utf8_sequence(p + i, n - i);
    if (k > 1) {
      i += k;
      continue;
    }
    dp_textbuf_put(b, p + start, i - start);
    switch (c) {
    case '"': dp_textbuf_put(b, "\\\"", 2); break;
    case '\\': dp_textbuf_put(b, "\\\\", 2); break;
    case '\n': dp_textbuf_put(b, "\\n", 2); break;
    case '\r': dp_textbuf_put(b, "\\r", 2); break;
    case '\t': dp_textbuf_put(b, "\\t", 2); break;
    default:
      if (c < 0x20)
        dp_textbuf_printf(b, "\\u%04x", c);
      else
        dp_textbuf_put(b, replacement, 3); /* not valid UTF-8 */
    }
    start = ++i;
  }
  dp_textbuf_put(b, p + start, i - start);
  dp_textbuf_putc(b, '"');
}

size_t dp_utf8_cut(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t k = max; /* s[k] is the first byte left out: back off its continuation bytes */
  while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  return ((unsigned char)s[k] & 0xC0) == 0x80 ? max : k;
}
