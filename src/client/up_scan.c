/* up_scan.c - the answer to UP among glued callbacks (up_scan.h): a state
 * machine over the callback grammar, one byte at a time, so that how TCP
 * splits or joins the module's writes changes nothing. */
#include "client/up_scan.h"

enum {
  BOUNDARY,      /* where a message begins */
  TARGET,        /* in the target's name */
  PCOMM_START,   /* after the first '|' */
  PCOMM,         /* in the PCOMM's name */
  PAYLOAD_START, /* after the second '|': '{' or the end of the callback */
  OBJECT,        /* in the payload object, outside strings */
  STRING,        /* in a string of the payload */
  ESCAPE,        /* after a backslash in a string */
  ERROR,
};

void dp_up_scan_init(dp_up_scan_t *s, size_t max_answers) {
  s->state = BOUNDARY;
  s->depth = 0;
  s->callbacks = 0;
  s->answers = 0;
  s->max_answers = max_answers;
}

/* What a target or PCOMM name may hold (printable ASCII but blanks, '|' and
 * ';', as dp_server_add() allows). */
static bool name_char(unsigned char ch) {
  return ch > ' ' && ch < 0x7F && ch != '|' && ch != ';';
}

static dp_up_event_t fail(dp_up_scan_t *s) {
  s->state = ERROR;
  s->callbacks = 0;
  return DP_UP_ERROR;
}

static dp_up_event_t boundary(dp_up_scan_t *s, unsigned char ch) {
  if (ch == '1') {
    if (s->answers == s->max_answers) return fail(s);
    s->answers++;
    s->callbacks = 0;
    return DP_UP_ANSWER;
  }
  if (!name_char(ch)) return fail(s);
  s->state = TARGET;
  return DP_UP_MORE;
}

static void callback_done(dp_up_scan_t *s) {
  s->callbacks++;
  s->state = BOUNDARY;
}

dp_up_event_t dp_up_scan_byte(dp_up_scan_t *s, unsigned char ch) {
  switch (s->state) {
  case BOUNDARY: return boundary(s, ch);
  case TARGET:
  case PCOMM:
    if (ch == '|')
      s->state = s->state == TARGET ? PCOMM_START : PAYLOAD_START;
    else if (!name_char(ch))
      return fail(s);
    return DP_UP_MORE;
  case PCOMM_START:
    if (!name_char(ch)) return fail(s);
    s->state = PCOMM;
    return DP_UP_MORE;
  case PAYLOAD_START:
    if (ch != '{') { /* an empty payload: ch begins the next message */
      callback_done(s);
      return boundary(s, ch);
    }
    s->state = OBJECT;
    s->depth = 1;
    return DP_UP_MORE;
  case OBJECT:
    if (ch == '"')
      s->state = STRING;
    else if (ch == '{')
      s->depth++;
    else if (ch == '}' && --s->depth == 0)
      callback_done(s);
    return DP_UP_MORE;
  case STRING:
    if (ch == '\\')
      s->state = ESCAPE;
    else if (ch == '"')
      s->state = OBJECT;
    return DP_UP_MORE;
  case ESCAPE: s->state = STRING; return DP_UP_MORE;
  default: return DP_UP_ERROR;
  }
}

bool dp_up_scan_at_end(const dp_up_scan_t *s) {
  return s->state == BOUNDARY || s->state == PAYLOAD_START;
}
