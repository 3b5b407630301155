/* smtp_mime.c: see smtp_mime.h. */
#include "smtp_mime.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail_common.h"

/* A growable buffer; on allocation failure it sets oom and stops. */
typedef struct sb {
  char *p;
  size_t len, cap;
  int oom;
} sb_t;

static void sb_grow(sb_t *b, size_t more) {
  if (b->oom || b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) cap *= 2;
  char *n = realloc(b->p, cap);
  if (!n) {
    b->oom = 1;
    return;
  }
  b->p = n;
  b->cap = cap;
}

static void sb_addn(sb_t *b, const char *s, size_t n) {
  sb_grow(b, n);
  if (b->oom) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_add(sb_t *b, const char *s) {
  sb_addn(b, s, strlen(s));
}

static void sb_addf(sb_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_addf(sb_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  sb_grow(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static char *sb_take(sb_t *b) {
  if (b->oom) {
    free(b->p);
    return NULL;
  }
  if (!b->p) return strdup("");
  return b->p;
}

static int nonempty(const char *s) {
  return s && *s;
}

int smtp_header_safe(const char *s) {
  if (!s) return 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
  return 1;
}

static int addr_ok(const char *a) {
  if (!nonempty(a) || strlen(a) > 320) return 0;
  const char *at = strrchr(a, '@');
  if (!at || at == a || !at[1]) return 0;
  for (const unsigned char *p = (const unsigned char *)a; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || strchr("<>,;\"()[]\\:", *p)) return 0;
  return 1;
}

static int domain_ok(const char *d) {
  if (!nonempty(d) || strlen(d) > 253) return 0;
  for (const char *p = d; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-')) return 0;
  return 1;
}

char *smtp_qp(const char *s) {
  sb_t b = {0};
  size_t col = 0;
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\r' && p[1] == '\n') continue; /* the LF writes the break */
    if (*p == '\n') {
      sb_add(&b, "\r\n");
      col = 0;
      continue;
    }
    char enc[4];
    size_t n;
    /* Whitespace before a line break (or the end) must be encoded. */
    int ws_at_end =
        (*p == ' ' || *p == '\t') &&
        (p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'));
    if ((*p >= 33 && *p <= 126 && *p != '=') ||
        ((*p == ' ' || *p == '\t') && !ws_at_end)) {
      enc[0] = (char)*p;
      n = 1;
    } else {
      enc[0] = '=';
      enc[1] = hex[*p >> 4];
      enc[2] = hex[*p & 15];
      n = 3;
    }
    /* A soft break keeps every line at 76 characters including its '='. */
    if (col + n > 75) {
      sb_add(&b, "=\r\n");
      col = 0;
    }
    /* A '.' opening a line is left to the SMTP client's dot-stuffing. */
    sb_addn(&b, enc, n);
    col += n;
  }
  return sb_take(&b);
}

static int plain_ascii(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p > 0x7e) return 0;
  /* "=?" could be read as an encoded word */
  return strstr(s, "=?") == NULL;
}

char *smtp_encode_word(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  if (plain_ascii(s) && n <= 900) return strdup(s);
  sb_t b = {0};
  /* "=?UTF-8?B?" + 4*k + "?=" <= 75  ->  at most 45 input bytes per word */
  size_t i = 0;
  int first = 1;
  while (i < n) {
    size_t take = n - i > 45 ? 45 : n - i;
    /* back off to a UTF-8 sequence boundary */
    while (take > 0 && i + take < n &&
           ((unsigned char)s[i + take] & 0xC0) == 0x80)
      take--;
    if (take == 0) take = n - i > 45 ? 45 : n - i; /* not UTF-8: cut */
    if (!first) sb_add(&b, "\r\n ");
    char *w = mail_b64_encode(s + i, take, 0);
    if (!w) b.oom = 1;
    sb_addf(&b, "=?UTF-8?B?%s?=", w ? w : "");
    free(w);
    first = 0;
    i += take;
  }
  return sb_take(&b);
}

/* A display name: an encoded word, or a quoted string. */
static void add_mailbox(sb_t *b, const char *name, const char *addr) {
  if (!nonempty(name)) {
    sb_addf(b, "<%s>", addr);
    return;
  }
  if (plain_ascii(name) && strlen(name) < 200) {
    sb_add(b, "\"");
    for (const char *p = name; *p; p++) {
      if (*p == '"' || *p == '\\') sb_add(b, "\\");
      sb_addn(b, p, 1);
    }
    sb_add(b, "\"");
  } else {
    char *w = smtp_encode_word(name);
    if (!w) {
      b->oom = 1;
      return;
    }
    sb_add(b, w);
    free(w);
  }
  sb_addf(b, " <%s>", addr);
}

/* The idempotency key as a msg-id left-hand side: letters, digits, '-',
 * '_' and '+' kept, every other byte as "=XX" (one-to-one, all atext). */
static void add_id_part(sb_t *b, const char *key) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    if (isalnum(*p) || *p == '-' || *p == '_' || *p == '+') {
      sb_addn(b, (const char *)p, 1);
    } else {
      char e[3] = {'=', hex[*p >> 4], hex[*p & 15]};
      sb_addn(b, e, 3);
    }
  }
}

static void add_date(sb_t *b, int64_t now_s) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)now_s;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
  sb_addf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
          days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
          tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void add_part_qp(sb_t *b, const char *boundary, const char *ctype,
                        const char *text) {
  char *q = smtp_qp(text);
  if (!q) {
    b->oom = 1;
    return;
  }
  sb_addf(b,
          "--%s\r\nContent-Type: %s\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n",
          boundary, ctype, q);
  free(q);
}

void smtp_mail_free(smtp_mail_t *m) {
  if (!m) return;
  free(m->data);
  free(m->message_id);
  free(m->envelope_from);
  free(m->envelope_to);
  memset(m, 0, sizeof *m);
}

int smtp_mail_build(const assist_message_t *msg, const char *from_override,
                    const char *domain, int64_t now_s, smtp_mail_t *out,
                    const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  memset(out, 0, sizeof *out);
  if (!msg) {
    *err = "no message";
    return -1;
  }
  const char *from = nonempty(from_override) ? from_override : msg->from;
  if (!addr_ok(msg->to)) {
    *err = "recipient address missing or malformed";
    return -1;
  }
  if (!addr_ok(from)) {
    *err = "sender address missing or malformed";
    return -1;
  }
  if (nonempty(msg->from) && !addr_ok(msg->from)) {
    *err = "reply-to address malformed";
    return -1;
  }
  if (!smtp_header_safe(msg->to_name) || !smtp_header_safe(msg->from_name) ||
      !smtp_header_safe(msg->subject) ||
      !smtp_header_safe(msg->idempotency_key)) {
    *err = "line break or control character in a header value";
    return -1;
  }
  if (!nonempty(msg->idempotency_key) || strlen(msg->idempotency_key) > 200) {
    *err = "idempotency key missing or too long";
    return -1;
  }
  if (!nonempty(msg->text) && !nonempty(msg->html)) {
    *err = "neither a text nor an HTML body";
    return -1;
  }
  int has_ics = nonempty(msg->ics);
  const char *method = nonempty(msg->ics_method) ? msg->ics_method : "REQUEST";
  if (has_ics && !mail_ics_method_ok(msg->ics, method)) {
    *err = "the ICS METHOD does not match ics_method";
    return -1;
  }
  if (!nonempty(domain)) domain = strrchr(from, '@') + 1;
  if (!domain_ok(domain)) {
    *err = "Message-ID domain malformed";
    return -1;
  }

  sb_t id = {0};
  sb_add(&id, "<");
  add_id_part(&id, msg->idempotency_key);
  sb_addf(&id, "@%s>", domain);
  char *message_id = sb_take(&id);
  if (!message_id) goto nomem;

  /* Boundaries contain "=_", which neither quoted-printable nor base64
   * output can contain, so no body can end a part early. */
  char mixed[80], alt[80];
  unsigned h = 2166136261u;
  for (const char *p = message_id; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  snprintf(mixed, sizeof mixed, "=_assistd_mixed_%08x", h);
  snprintf(alt, sizeof alt, "=_assistd_alt_%08x", h);

  sb_t b = {0};
  sb_add(&b, "From: ");
  add_mailbox(&b, msg->from_name, from);
  sb_add(&b, "\r\n");
  if (nonempty(msg->from) && strcmp(msg->from, from) != 0) {
    sb_add(&b, "Reply-To: ");
    add_mailbox(&b, msg->from_name, msg->from);
    sb_add(&b, "\r\n");
  }
  sb_add(&b, "To: ");
  add_mailbox(&b, msg->to_name, msg->to);
  sb_add(&b, "\r\n");
  char *subj = smtp_encode_word(nonempty(msg->subject) ? msg->subject : "");
  if (!subj) b.oom = 1;
  sb_addf(&b, "Subject: %s\r\n", subj ? subj : "");
  free(subj);
  add_date(&b, now_s);
  sb_addf(&b, "Message-ID: %s\r\n", message_id);
  sb_add(&b, "MIME-Version: 1.0\r\n");
  sb_addf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", mixed);
  sb_add(&b, "This is a MIME message.\r\n");
  sb_addf(&b,
          "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n"
          "\r\n",
          mixed, alt);
  if (nonempty(msg->text))
    add_part_qp(&b, alt, "text/plain; charset=UTF-8", msg->text);
  if (nonempty(msg->html))
    add_part_qp(&b, alt, "text/html; charset=UTF-8", msg->html);
  char *ics64 = NULL;
  if (has_ics) {
    ics64 = mail_b64_encode(msg->ics, strlen(msg->ics), 76);
    if (!ics64) b.oom = 1;
    sb_addf(&b,
            "--%s\r\nContent-Type: text/calendar; charset=UTF-8; method=%s\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s",
            alt, method, ics64 ? ics64 : "");
  }
  sb_addf(&b, "--%s--\r\n", alt);
  if (has_ics)
    sb_addf(&b,
            "--%s\r\nContent-Type: application/ics; name=\"invite.ics\"\r\n"
            "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s",
            mixed, ics64 ? ics64 : "");
  free(ics64);
  sb_addf(&b, "--%s--\r\n", mixed);
  char *data = sb_take(&b);
  if (!data) {
    free(message_id);
    goto nomem;
  }
  out->data = data;
  out->len = strlen(data);
  out->message_id = message_id;
  size_t fl = strlen(from) + 3, tl = strlen(msg->to) + 3;
  out->envelope_from = malloc(fl);
  out->envelope_to = malloc(tl);
  if (!out->envelope_from || !out->envelope_to) {
    smtp_mail_free(out);
    goto nomem;
  }
  snprintf(out->envelope_from, fl, "<%s>", from);
  snprintf(out->envelope_to, tl, "<%s>", msg->to);
  return 0;
nomem:
  *err = "out of memory";
  return -1;
}
