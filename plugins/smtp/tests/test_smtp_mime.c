/* Unit tests of the smtp plugin's MIME builder: quoted-printable and
 * base64 line rules, RFC 2047 words, header injection refused, the iMIP
 * structure and a Message-ID stable across retries. (The integration test
 * parses whole messages with Python's email package.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_common.h"
#include "smtp_mime.h"

static int hexv(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Decodes quoted-printable (CRLF breaks become LF) for comparisons. */
static char *qp_decode(const char *q) {
  char *o = malloc(strlen(q) + 1), *w = o;
  for (const char *p = q; *p;) {
    if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
      p += 3;
    } else if (p[0] == '=') {
      assert_true(hexv(p[1]) >= 0 && hexv(p[2]) >= 0);
      *w++ = (char)(hexv(p[1]) * 16 + hexv(p[2]));
      p += 3;
    } else if (p[0] == '\r' && p[1] == '\n') {
      *w++ = '\n';
      p += 2;
    } else {
      assert_true(*p == ' ' || *p == '\t' || (*p >= 33 && *p <= 126));
      *w++ = *p++;
    }
  }
  *w = '\0';
  return o;
}

static void max_line(const char *s, size_t max) {
  size_t col = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '\r') {
      assert_int_equal(p[1], '\n');
      continue;
    }
    if (*p == '\n') {
      col = 0;
      continue;
    }
    col++;
    assert_true(col <= max);
  }
}

static void quoted_printable(void **st) {
  (void)st;
  const char *in[] = {
      "plain text",
      "Grüße aus Köln = 100 %",
      "trailing space \nand tab\t\r\nend ",
      "line1\r\nline2\nline3",
      ".starts with a dot",
      "",
  };
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    char *q = smtp_qp(in[i]);
    max_line(q, 76);
    char *d = qp_decode(q);
    /* CRLF and LF both come back as LF */
    char *want = strdup(in[i]), *w = want;
    for (const char *p = in[i]; *p; p++)
      if (!(p[0] == '\r' && p[1] == '\n')) *w++ = *p;
    *w = '\0';
    assert_string_equal(d, want);
    free(want);
    free(d);
    free(q);
  }
  /* long lines get soft breaks of at most 76 characters */
  char longl[1000];
  for (int i = 0; i < 999; i++) longl[i] = (char)('a' + i % 26);
  longl[999] = '\0';
  char *q = smtp_qp(longl);
  max_line(q, 76);
  char *d = qp_decode(q);
  assert_string_equal(d, longl);
  free(d);
  free(q);
  /* a trailing space is encoded, '=' always */
  q = smtp_qp("a \nb=c");
  assert_string_equal(q, "a=20\r\nb=3Dc");
  free(q);
}

static void base64_lines(void **st) {
  (void)st;
  char buf[300];
  for (int i = 0; i < 300; i++) buf[i] = (char)i;
  char *b = mail_b64_encode(buf, sizeof buf, 76);
  max_line(b, 76);
  assert_int_equal(strlen(b), 400 + 2 * 6); /* 400 chars in 6 lines */
  assert_memory_equal(b + strlen(b) - 2, "\r\n", 2);
  free(b);
  b = mail_b64_encode("foobar", 6, 76);
  assert_string_equal(b, "Zm9vYmFy\r\n");
  free(b);
}

static void encoded_words(void **st) {
  (void)st;
  char *w = smtp_encode_word("Plain subject");
  assert_string_equal(w, "Plain subject");
  free(w);
  w = smtp_encode_word("Zahnarzt: Grüße");
  assert_string_equal(w, "=?UTF-8?B?WmFobmFyenQ6IEdyw7zDn2U=?=");
  free(w);
  /* long: several words of <= 75 characters, never splitting a sequence */
  char s[400] = "";
  for (int i = 0; i < 40; i++) strcat(s, "äöü ");
  w = smtp_encode_word(s);
  size_t words = 0;
  for (char *p = w; p; words++) {
    char *next = strstr(p, "\r\n ");
    size_t len = next ? (size_t)(next - p) : strlen(p);
    assert_true(len <= 75);
    assert_memory_equal(p, "=?UTF-8?B?", 10);
    p = next ? next + 3 : NULL;
  }
  assert_true(words > 1);
  free(w);
  /* "=?" in plain text is encoded so that it cannot be read as a word */
  w = smtp_encode_word("a =?x?= b");
  assert_memory_equal(w, "=?UTF-8?B?", 10);
  free(w);
}

static const char *ICS =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:u1@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

static assist_message_t sample(void) {
  assist_message_t m = {
      .struct_size = sizeof m,
      .delivery_id = 42,
      .channel = "email",
      .to = "pat@example.com",
      .to_name = "Pat \"P\" Doe",
      .from = "scheduler@clinic.example",
      .from_name = "Zahnarztpraxis Müller",
      .subject = "Erinnerung: Termin um 15:00 — bitte bestätigen",
      .text = "See you soon.\nReply in your mail client.",
      .html = "<p>See you soon.</p>",
      .ics = ICS,
      .ics_method = "REQUEST",
      .idempotency_key = "delivery:42/1",
      .attempt = 1,
  };
  return m;
}

static void message_structure(void **st) {
  (void)st;
  assist_message_t m = sample();
  smtp_mail_t mail;
  const char *err = NULL;
  assert_int_equal(smtp_mail_build(&m, NULL, NULL, 1772539200, &mail, &err), 0);
  const char *d = mail.data;
  assert_int_equal(strlen(d), mail.len);
  assert_string_equal(mail.message_id, "<delivery=3A42=2F1@clinic.example>");
  assert_string_equal(mail.envelope_from, "<scheduler@clinic.example>");
  assert_string_equal(mail.envelope_to, "<pat@example.com>");
  assert_non_null(strstr(d, "To: \"Pat \\\"P\\\" Doe\" <pat@example.com>\r\n"));
  assert_non_null(strstr(d, "From: =?UTF-8?B?"));
  assert_non_null(strstr(d, "Subject: =?UTF-8?B?"));
  assert_non_null(strstr(d, "Date: Tue, 03 Mar 2026 12:00:00 +0000\r\n"));
  assert_non_null(
      strstr(d, "Message-ID: <delivery=3A42=2F1@clinic.example>\r\n"));
  assert_null(strstr(d, "Reply-To:"));
  /* the parts in order */
  const char *mixed = strstr(d, "Content-Type: multipart/mixed;");
  const char *alt = strstr(d, "Content-Type: multipart/alternative;");
  const char *plain = strstr(d, "Content-Type: text/plain; charset=UTF-8\r\n");
  const char *html = strstr(d, "Content-Type: text/html; charset=UTF-8\r\n");
  const char *cal = strstr(
      d, "Content-Type: text/calendar; charset=UTF-8; method=REQUEST\r\n");
  const char *att = strstr(d, "Content-Type: application/ics; "
                              "name=\"invite.ics\"\r\nContent-Disposition: "
                              "attachment; filename=\"invite.ics\"\r\n");
  assert_true(mixed && alt && plain && html && cal && att);
  assert_true(mixed < alt && alt < plain && plain < html && html < cal &&
              cal < att);
  /* no header or body line over 998 characters, CRLF only */
  max_line(d, 998);
  /* the same key gives the same Message-ID on a later attempt */
  smtp_mail_t again;
  m.attempt = 2;
  assert_int_equal(smtp_mail_build(&m, NULL, NULL, 1772539999, &again, &err),
                   0);
  assert_string_equal(again.message_id, mail.message_id);
  smtp_mail_free(&again);
  smtp_mail_free(&mail);

  /* sender override: From is the override, Reply-To the message's */
  m = sample();
  m.html = "";
  m.ics = "";
  assert_int_equal(smtp_mail_build(&m, "noreply@assist.example",
                                   "mx.assist.example", 0, &mail, &err),
                   0);
  assert_non_null(strstr(mail.data, " <noreply@assist.example>\r\n"));
  assert_non_null(strstr(mail.data, "Reply-To: "));
  assert_null(strstr(mail.data, "text/html"));
  assert_null(strstr(mail.data, "text/calendar"));
  assert_null(strstr(mail.data, "application/ics"));
  assert_string_equal(mail.message_id, "<delivery=3A42=2F1@mx.assist.example>");
  assert_string_equal(mail.envelope_from, "<noreply@assist.example>");
  smtp_mail_free(&mail);
}

static void refusals(void **st) {
  (void)st;
  smtp_mail_t mail;
  const char *err;
  struct {
    const char *field;
    const char *value;
  } bad[] = {
      {"to", "pat@example.com\r\nBcc: x@evil.example"},
      {"to", "pat@example.com>, <x@evil.example"},
      {"to", ""},
      {"to_name", "Pat\r\nBcc: x@evil.example"},
      {"from_name", "Clinic\nX-Evil: 1"},
      {"subject", "Hi\r\nBcc: x@evil.example"},
      {"subject", "Hi\rthere"},
      {"key", "k\r\n"},
      {"key", ""},
      {"method", "CANCEL"},
      {"method", "REQUEST\r\nX: y"},
      {"from", "not-an-address"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assist_message_t m = sample();
    if (!strcmp(bad[i].field, "to")) m.to = bad[i].value;
    if (!strcmp(bad[i].field, "to_name")) m.to_name = bad[i].value;
    if (!strcmp(bad[i].field, "from_name")) m.from_name = bad[i].value;
    if (!strcmp(bad[i].field, "subject")) m.subject = bad[i].value;
    if (!strcmp(bad[i].field, "key")) m.idempotency_key = bad[i].value;
    if (!strcmp(bad[i].field, "method")) m.ics_method = bad[i].value;
    if (!strcmp(bad[i].field, "from")) m.from = bad[i].value;
    err = NULL;
    assert_int_equal(smtp_mail_build(&m, NULL, NULL, 0, &mail, &err), -1);
    assert_non_null(err);
  }
  assist_message_t m = sample();
  assert_int_equal(smtp_mail_build(&m, NULL, "bad domain", 0, &mail, &err), -1);
  assert_int_equal(smtp_header_safe("tab\tis fine"), 1);
  assert_int_equal(smtp_header_safe(NULL), 1);
  assert_int_equal(smtp_header_safe("bell\a"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(quoted_printable), cmocka_unit_test(base64_lines),
      cmocka_unit_test(encoded_words),    cmocka_unit_test(message_structure),
      cmocka_unit_test(refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
