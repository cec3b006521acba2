/* lineedit.c - the interactive console's line editor (see lineedit.h): a key
 * decoder with a history, drawn with plain ANSI sequences on a raw TTY. */
#include "lineedit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX    200
#define LINE_MAX_BYTES 65536

struct dp_lineedit {
  uv_tty_t tty;
  bool has_tty;
  char prompt[64];
  dp_lineedit_fn fn;
  void *user;
  char line[LINE_MAX_BYTES];
  size_t len, cursor;
  char *history[HISTORY_MAX];
  size_t n_history, browse; /* browse == n_history: editing a new line */
  char *draft;              /* the new line while browsing the history */
  int esc;                  /* 0 none, 1 after ESC, 2 after ESC [ or ESC O */
  char esc_arg;             /* digit of ESC [ n ~ */
};

static void out(const char *s, size_t n) {
  fwrite(s, 1, n, stdout);
}

static void redraw(dp_lineedit_t *le) {
  if (!le->has_tty) return;
  printf("\r%s", le->prompt);
  out(le->line, le->len);
  printf("\x1b[K");
  if (le->cursor < le->len) printf("\x1b[%zuD", le->len - le->cursor);
  fflush(stdout);
}

static void set_line(dp_lineedit_t *le, const char *s) {
  size_t n = strlen(s);
  if (n >= sizeof le->line) n = sizeof le->line - 1;
  memcpy(le->line, s, n);
  le->len = le->cursor = n;
}

static void browse(dp_lineedit_t *le, int dir) {
  if (dir < 0 && le->browse == 0) return;
  if (dir > 0 && le->browse >= le->n_history) return;
  if (le->browse == le->n_history) { /* leaving the new line: keep it */
    free(le->draft);
    le->line[le->len] = '\0';
    le->draft = strdup(le->line);
  }
  le->browse = dir < 0 ? le->browse - 1 : le->browse + 1;
  set_line(le, le->browse < le->n_history ? le->history[le->browse]
                                          : (le->draft != NULL ? le->draft : ""));
}

static void remember(dp_lineedit_t *le, const char *line) {
  if (line[0] == '\0') return;
  if (le->n_history > 0 && strcmp(le->history[le->n_history - 1], line) == 0) return;
  char *copy = strdup(line);
  if (copy == NULL) return;
  if (le->n_history == HISTORY_MAX) {
    free(le->history[0]);
    memmove(le->history, le->history + 1, (HISTORY_MAX - 1) * sizeof *le->history);
    le->n_history--;
  }
  le->history[le->n_history++] = copy;
}

static void submit(dp_lineedit_t *le) {
  le->line[le->len] = '\0';
  if (le->has_tty) {
    /* Draw the line as submitted: a pasted line arrives in one read and was
     * not drawn yet. Then a new line (raw mode keeps ONLCR: the terminal adds
     * the \r). */
    le->cursor = le->len;
    redraw(le);
    printf("\n");
    fflush(stdout);
  }
  char *line = strdup(le->line);
  remember(le, le->line);
  le->len = le->cursor = 0;
  le->browse = le->n_history;
  free(le->draft);
  le->draft = NULL;
  if (line != NULL) le->fn(line, le->user);
  free(line);
  redraw(le);
}

static void insert(dp_lineedit_t *le, char ch) {
  if (le->len + 1 >= sizeof le->line) return;
  memmove(le->line + le->cursor + 1, le->line + le->cursor, le->len - le->cursor);
  le->line[le->cursor++] = ch;
  le->len++;
}

static void delete_at(dp_lineedit_t *le, size_t at) {
  memmove(le->line + at, le->line + at + 1, le->len - at - 1);
  le->len--;
}

/* An escape sequence ended with `final`. */
static void escape(dp_lineedit_t *le, char final) {
  switch (final) {
  case 'A': browse(le, -1); break;
  case 'B': browse(le, +1); break;
  case 'C':
    if (le->cursor < le->len) le->cursor++;
    break;
  case 'D':
    if (le->cursor > 0) le->cursor--;
    break;
  case 'H': le->cursor = 0; break;
  case 'F': le->cursor = le->len; break;
  case '~':
    if (le->esc_arg == '3' && le->cursor < le->len)
      delete_at(le, le->cursor);
    else if (le->esc_arg == '1' || le->esc_arg == '7')
      le->cursor = 0;
    else if (le->esc_arg == '4' || le->esc_arg == '8')
      le->cursor = le->len;
    break;
  default: break;
  }
}

int dp_lineedit_feed(dp_lineedit_t *le, const char *keys, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char ch = keys[i];
    if (le->esc == 1) {
      le->esc = (ch == '[' || ch == 'O') ? 2 : 0;
      le->esc_arg = 0;
      continue;
    }
    if (le->esc == 2) {
      if (ch >= '0' && ch <= '9') {
        le->esc_arg = ch;
        continue;
      }
      le->esc = 0;
      escape(le, ch);
      continue;
    }
    switch (ch) {
    case 0x1b: le->esc = 1; break;
    case '\r':
    case '\n': submit(le); break;
    case 0x03: return 1; /* Ctrl-C */
    case 0x04:           /* Ctrl-D */
      if (le->len == 0) return 1;
      if (le->cursor < le->len) delete_at(le, le->cursor);
      break;
    case 0x7f:
    case 0x08:
      if (le->cursor > 0) delete_at(le, --le->cursor);
      break;
    case 0x01: le->cursor = 0; break;       /* Ctrl-A */
    case 0x05: le->cursor = le->len; break; /* Ctrl-E */
    default:
      if ((unsigned char)ch >= 0x20) insert(le, ch);
      break;
    }
  }
  redraw(le);
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  (void)suggested;
  static char keys[256];
  *b = uv_buf_init(keys, sizeof keys);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  dp_lineedit_t *le = s->data;
  if (n < 0 || (n > 0 && dp_lineedit_feed(le, b->base, (size_t)n) == 1)) le->fn(NULL, le->user);
}

dp_lineedit_t *dp_lineedit_new_detached(dp_lineedit_fn fn, void *user) {
  dp_lineedit_t *le = calloc(1, sizeof *le);
  if (le == NULL) return NULL;
  le->fn = fn;
  le->user = user;
  return le;
}

dp_lineedit_t *dp_lineedit_start(uv_loop_t *loop, const char *prompt, dp_lineedit_fn fn,
                                 void *user) {
  if (uv_guess_handle(0) != UV_TTY) return NULL;
  dp_lineedit_t *le = dp_lineedit_new_detached(fn, user);
  if (le == NULL) return NULL;
  if (uv_tty_init(loop, &le->tty, 0, 1) != 0) {
    free(le);
    return NULL;
  }
  le->has_tty = true;
  le->tty.data = le;
  snprintf(le->prompt, sizeof le->prompt, "%s", prompt);
  uv_tty_set_mode(&le->tty, UV_TTY_MODE_RAW);
  uv_read_start((uv_stream_t *)&le->tty, alloc_cb, read_cb);
  redraw(le);
  return le;
}

void dp_lineedit_print(dp_lineedit_t *le, const char *text, size_t len) {
  if (le->has_tty) printf("\r\x1b[K");
  out(text, len);
  if (len == 0 || text[len - 1] != '\n') out("\n", 1);
  redraw(le);
  fflush(stdout);
}

void dp_lineedit_free(dp_lineedit_t *le) {
  for (size_t i = 0; i < le->n_history; i++) free(le->history[i]);
  free(le->draft);
  free(le);
}

static void closed(uv_handle_t *h) {
  dp_lineedit_free(h->data);
}

void dp_lineedit_stop(dp_lineedit_t *le) {
  uv_tty_reset_mode();
  printf("\n");
  fflush(stdout);
  uv_close((uv_handle_t *)&le->tty, closed);
}
