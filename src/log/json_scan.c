/* json_scan.c - the one-pass validating scanner of log frames (see
 * json_scan.h). It follows jansson 2.14's parser rule for rule: whitespace
 * is space, tab, CR and LF; strings are valid UTF-8 without raw control
 * characters, with the escapes \" \\ \/ \b \f \n \r \t \uXXXX where a
 * surrogate must come as a high-low pair and no key may hold \u0000; numbers
 * are JSON's grammar, integers within int64 and reals within double's range;
 * at most 2048 nested values; nothing but whitespace after the object; and
 * one NUL right after a number or literal goes unseen, as it does in
 * jansson.
 *
 * Most of a record is the plain runs of its strings. Where SSE2 is there
 * (every x86-64) a run is looked at 16 bytes per step and its end found in
 * one go; elsewhere 8 bytes per step with plain C. Both are compiled where
 * SSE2 is, and dp_json_scan_object_portable() lets the tests and the fuzzer
 * hold one against the other. */
#include "log/json_scan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_SSE2 1
#else
#define HAVE_SSE2 0
#endif

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: values nested */
#define KEY_MAX   64   /* longer escaped keys are not among the wanted ones */

typedef const unsigned char *ptr_t;

static ptr_t skip_ws(ptr_t p, ptr_t end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* The value of 4 hex digits at p, or -1. */
static long hex4(ptr_t p, ptr_t end) {
  if (end - p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    int d = is_digit(c)            ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Whether none of the 8 bytes in w ends a plain run of a string: a quote,
 * a backslash, a control character or a non-ASCII byte. Each test below is
 * the "has a zero byte" (or "has a byte under n") trick, exact as to
 * whether any byte qualifies; the run of a string is most of a record, and
 * this looks at it 8 bytes per step instead of 1. */
static bool plain8(uint64_t w) {
  const uint64_t ones = 0x0101010101010101u, high = ones * 0x80;
  uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
  uint64_t hit =
      ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | ((w - ones * 0x20) & ~w) | w;
  return (hit & high) == 0;
}

static uint64_t load8(ptr_t p) {
  uint64_t w;
  memcpy(&w, p, sizeof w); /* any alignment */
  return w;
}

/* The end of the plain run at p: the first quote, backslash, control
 * character or non-ASCII byte, or `end`. With simd, 16 bytes per step. */
static ptr_t skip_plain(ptr_t p, ptr_t end, bool simd) {
#if HAVE_SSE2
  if (simd) {
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    for (; end - p >= 16; p += 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
      /* signed: bytes of 0x80 and above count as below the space */
      __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                  _mm_cmplt_epi8(v, space));
      unsigned mask = (unsigned)_mm_movemask_epi8(stop);
      if (mask != 0) return p + __builtin_ctz(mask);
    }
  }
#else
  (void)simd;
#endif
  while (end - p >= 8 && plain8(load8(p))) p += 8;
  while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
  return p;
}

/* A string starting at the quote at p: the byte after its closing quote, or
 * NULL when invalid. Notes whether it has escapes and whether one is NUL. */
static ptr_t scan_string(ptr_t p, ptr_t end, bool *escaped, bool *nul, bool simd) {
  *escaped = *nul = false;
  p++;
  for (;;) {
    p = skip_plain(p, end, simd);
    if (p >= end) return NULL;
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      *escaped = true;
      if (end - p < 2) return NULL;
      unsigned char e = p[1];
      if (e != 'u') {
        if (e == 0 || strchr("\"\\/bfnrt", e) == NULL) return NULL;
        p += 2;
        continue;
      }
      long u = hex4(p + 2, end);
      if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) return NULL;
      p += 6;
      if (u == 0) *nul = true;
      if (u >= 0xD800 && u <= 0xDBFF) { /* must be followed by a low surrogate */
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return NULL;
        long lo = hex4(p + 2, end);
        if (lo < 0xDC00 || lo > 0xDFFF) return NULL;
        p += 6;
      }
      continue;
    }
    if (*p < 0x20) return NULL; /* a raw control character */
    size_t k = dp_utf8_sequence(p, (size_t)(end - p));
    if (k == 0) return NULL;
    p += k;
  }
}

/* strtod overflows on the token (jansson: "real number overflow"). */
static bool real_overflows(ptr_t p, size_t n) {
  char small[64];
  char *s = n < sizeof small ? small : malloc(n + 1);
  if (s == NULL) return true; /* let jansson decide */
  memcpy(s, p, n);
  s[n] = '\0';
  errno = 0;
  double x = strtod(s, NULL);
  bool over = isinf(x) && errno == ERANGE;
  if (s != small) free(s);
  return over;
}

/* A number at p: the byte after it, or NULL when it is invalid or when
 * jansson would not take it as it is (an integer beyond int64, a real beyond
 * double). */
static ptr_t scan_number(ptr_t p, ptr_t end) {
  ptr_t start = p;
  bool neg = p < end && *p == '-';
  if (neg) p++;
  if (p >= end || !is_digit(*p)) return NULL;
  ptr_t digits = p;
  if (*p == '0')
    p++;
  else
    while (p < end && is_digit(*p)) p++;
  size_t int_digits = (size_t)(p - digits);
  bool real = false;
  long exp = 0;
  if (p < end && *p == '.') {
    real = true;
    if (++p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = true;
    bool exp_neg = false;
    if (++p < end && (*p == '+' || *p == '-')) exp_neg = *p++ == '-';
    if (p >= end || !is_digit(*p)) return NULL;
    for (; p < end && is_digit(*p); p++)
      if (exp < 1000000) exp = exp * 10 + (*p - '0');
    if (exp_neg) exp = -exp;
  }
  if (!real) {
    if (int_digits != 19) return int_digits < 19 ? p : NULL;
    return memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0 ? p : NULL;
  }
  /* |x| < 10^(int digits + exp) <= 10^308 < DBL_MAX: no overflow */
  long mag =
      int_digits == 1 && *digits == '0' ? 0 : (long)(int_digits < 1000000 ? int_digits : 1000000);
  if (mag + exp <= 308) return p;
  return real_overflows(start, (size_t)(p - start)) ? NULL : p;
}

/* The literal `word` at p: the byte after it, or NULL. */
static ptr_t scan_literal(ptr_t p, ptr_t end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The wanted keys, their lengths, and a small hash table over length, first
 * and last byte: a record has twenty-odd members, and comparing each key
 * with every wanted one was a third of the scan (mispredicted branches).
 * Now most keys look at one table slot. The table of the last keys is kept
 * per thread: callers pass the same string constants each time. */
#define KEY_SLOTS 64
typedef struct wanted {
  const char *keys[DP_JSON_KEYS_MAX];
  size_t n;
  size_t len[DP_JSON_KEYS_MAX];
  uint32_t slot[KEY_SLOTS]; /* bit i: keys[i] hashes to this slot */
} wanted_t;

static unsigned key_slot(const char *text, size_t len) {
  size_t first = (unsigned char)text[0], last = (unsigned char)text[len - 1];
  return (unsigned)((len * 7 + first * 3 + last) % KEY_SLOTS);
}

static void wanted_init(wanted_t *w, const char *const *keys, size_t n_keys) {
  if (w->n == n_keys && memcmp(w->keys, keys, n_keys * sizeof *keys) == 0)
    return; /* as last time */
  memcpy(w->keys, keys, n_keys * sizeof *keys);
  w->n = n_keys;
  memset(w->slot, 0, sizeof w->slot);
  for (size_t i = 0; i < n_keys; i++) {
    w->len[i] = strlen(keys[i]);
    if (w->len[i] > 0) w->slot[key_slot(keys[i], w->len[i])] |= (uint32_t)1 << i;
  }
}

/* Which of the wanted keys the key string [k, k_end) (with quotes) is, or -1. */
static long find_key(ptr_t k, ptr_t k_end, bool escaped, const wanted_t *w) {
  const char *text = (const char *)k + 1;
  size_t len = (size_t)(k_end - k) - 2;
  char storage[KEY_MAX + 8];
  dp_textbuf_t b;
  if (escaped) {
    if (len > (size_t)6 * KEY_MAX) return -1;
    dp_textbuf_init(&b, storage, sizeof storage);
    dp_json_span_t s = {.raw = (const char *)k, .raw_len = (size_t)(k_end - k)};
    dp_json_unescape(&b, &s);
    text = b.data;
    len = b.len;
  }
  long found = -1;
  uint32_t candidates = len > 0 ? w->slot[key_slot(text, len)] : 0;
  for (long i = 0; candidates != 0 && found < 0; i++, candidates >>= 1)
    if ((candidates & 1) != 0 && w->len[i] == len && memcmp(w->keys[i], text, len) == 0) found = i;
  if (escaped) dp_textbuf_free(&b);
  return found;
}

/* dp_json_scan_object, with or without SSE2 for strings. */
static bool scan_object(const char *json, size_t len, const char *const *keys, size_t n_keys,
                        dp_json_span_t *spans, bool simd) {
  ptr_t p = (ptr_t)json, end = p + len;
  unsigned char closer[MAX_DEPTH]; /* '}' or ']' of each open container */
  size_t depth = 0;
  long key = -1;      /* the wanted key of the top-level member being read */
  ptr_t value = NULL; /* where that member's value began */
  dp_json_kind_t kind = DP_JSON_OTHER;
  bool escaped = false, nul;
  bool bare = false; /* the value just read is a number or a literal */
  if (n_keys > DP_JSON_KEYS_MAX) return false;
  static _Thread_local wanted_t wanted;
  wanted_init(&wanted, keys, n_keys);
  for (size_t i = 0; i < n_keys; i++) spans[i] = (dp_json_span_t){0};
  p = skip_ws(p, end);
  if (p == end || *p != '{') return false;
  closer[depth++] = '}';
  p++;
  bool first = true; /* just after an opening bracket: its closer may follow */
  for (;;) {
    p = skip_ws(p, end);
    if (p == end) return false;
    bool closing = first && *p == closer[depth - 1];
    if (!closing) {
      if (closer[depth - 1] == '}') { /* a member: key, colon */
        ptr_t k = p;
        if (*p != '"' || (p = scan_string(p, end, &escaped, &nul, simd)) == NULL || nul)
          return false;
        if (depth == 1) key = find_key(k, p, escaped, &wanted);
        p = skip_ws(p, end);
        if (p == end || *p != ':') return false;
        p = skip_ws(p + 1, end);
        if (p == end) return false;
      }
      if (depth + 1 > MAX_DEPTH) return false;
      if (depth == 1) value = p;
      escaped = false;
      if (*p == '{' || *p == '[') {
        closer[depth++] = *p == '{' ? '}' : ']';
        p++;
        first = true;
        continue;
      }
      bare = *p != '"';
      if (*p == '"') {
        kind = DP_JSON_STRING;
        p = scan_string(p, end, &escaped, &nul, simd);
      } else if (*p == '-' || is_digit(*p)) {
        kind = DP_JSON_NUMBER;
        p = scan_number(p, end);
      } else {
        kind = DP_JSON_OTHER;
        p = *p == 't'   ? scan_literal(p, end, "true")
            : *p == 'f' ? scan_literal(p, end, "false")
            : *p == 'n' ? scan_literal(p, end, "null")
                        : NULL;
      }
      if (p == NULL) return false;
    }
    /* after a value, or at the closer of an empty container */
    for (;;) {
      if (!closing) {
        if (depth == 1 && key >= 0)
          spans[key] = (dp_json_span_t){(const char *)value, (size_t)(p - value), kind, escaped};
        /* jansson reads one byte past a number or literal and puts it back;
         * a NUL put back is lost (its reader takes NUL for the end of its
         * buffer), so one NUL right after one is skipped as if absent */
        if (bare && p < end && *p == '\0') p++;
        bare = false;
        p = skip_ws(p, end);
        if (p == end) return false;
        if (*p == ',') {
          p++;
          first = false;
          break;
        }
        if (*p != closer[depth - 1]) return false;
      }
      p++;
      if (--depth == 0) return skip_ws(p, end) == end;
      kind = DP_JSON_OTHER; /* a container value ended */
      escaped = false;
      closing = false;
    }
  }
}

bool dp_json_scan_object(const char *json, size_t len, const char *const *keys, size_t n_keys,
                         dp_json_span_t *spans) {
  return scan_object(json, len, keys, n_keys, spans, HAVE_SSE2);
}

bool dp_json_scan_object_portable(const char *json, size_t len, const char *const *keys,
                                  size_t n_keys, dp_json_span_t *spans) {
  return scan_object(json, len, keys, n_keys, spans, false);
}

/* Appends code point u as UTF-8. */
static void put_code_point(dp_textbuf_t *b, unsigned long u) {
  char s[4];
  size_t n;
  if (u < 0x80) {
    s[0] = (char)u;
    n = 1;
  } else if (u < 0x800) {
    s[0] = (char)(0xC0 | u >> 6);
    s[1] = (char)(0x80 | (u & 0x3F));
    n = 2;
  } else if (u < 0x10000) {
    s[0] = (char)(0xE0 | u >> 12);
    s[1] = (char)(0x80 | (u >> 6 & 0x3F));
    s[2] = (char)(0x80 | (u & 0x3F));
    n = 3;
  } else {
    s[0] = (char)(0xF0 | u >> 18);
    s[1] = (char)(0x80 | (u >> 12 & 0x3F));
    s[2] = (char)(0x80 | (u >> 6 & 0x3F));
    s[3] = (char)(0x80 | (u & 0x3F));
    n = 4;
  }
  dp_textbuf_put(b, s, n);
}

void dp_json_unescape(dp_textbuf_t *b, const dp_json_span_t *s) {
  ptr_t p = (ptr_t)s->raw + 1, end = (ptr_t)s->raw + s->raw_len - 1; /* inside the quotes */
  while (p < end && !b->truncated) {
    ptr_t run = p;
    while (p < end && *p != '\\') p++;
    dp_textbuf_put(b, run, (size_t)(p - run));
    if (p >= end) break;
    unsigned char e = p[1];
    p += 2;
    if (e != 'u') {
      static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
      const char *at = strchr(from, e);
      dp_textbuf_putc(b, at != NULL ? to[at - from] : (char)e);
      continue;
    }
    unsigned long u = (unsigned long)hex4(p, end);
    p += 4;
    if (u >= 0xD800 && u <= 0xDBFF) { /* the scanner checked the pair */
      u = 0x10000 + ((u - 0xD800) << 10) + ((unsigned long)hex4(p + 2, end) - 0xDC00);
      p += 6;
    }
    put_code_point(b, u);
  }
}
