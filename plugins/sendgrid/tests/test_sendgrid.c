/* Unit tests of the sendgrid plugin's pure parts: the signed Event
 * Webhook (official vector from sendgrid-python's test_eventwebhook.py and
 * altered copies), the mail/send body, error bodies, rate-limit waits and
 * webhook batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_common.h"
#include "sg_mail.h"
#include "sg_verify.h"

static const char *PUB =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8k"
    "F9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
static const char *SIG =
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+"
    "luQAbPIqHh89M15TluLtEZtM=";
static const char *TS = "1600112502";
static const char *PAYLOAD =
    "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":"
    "\"Bounced Address\",\"sg_event_id\":"
    "\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\","
    "\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-"
    "756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":"
    "\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\","
    "\"timestamp\":1600112492}]\r\n";
static const char *OTHER_PUB =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW"
    "6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
static const char *OTHER_SIG =
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpS"
    "zoQsbVRamr2nlxFDWYNH3j/0=";

static void vector_passes(void **st) {
  (void)st;
  assert_int_equal(strlen(PAYLOAD), 327);
  sg_key_t *k = sg_key_parse(PUB);
  assert_non_null(k);
  assert_int_equal(sg_verify(k, TS, PAYLOAD, strlen(PAYLOAD), SIG), 1);
  sg_key_free(k);
}

static void altered_copies_fail(void **st) {
  (void)st;
  sg_key_t *k = sg_key_parse(PUB);
  assert_non_null(k);
  size_t n = strlen(PAYLOAD);
  char *b = strdup(PAYLOAD);
  /* every single flipped body byte */
  for (size_t i = 0; i < n; i++) {
    b[i] ^= 0x01;
    assert_int_equal(sg_verify(k, TS, b, n, SIG), 0);
    b[i] ^= 0x01;
  }
  /* the body without its trailing CRLF, and with one byte more */
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n - 2, SIG), 0);
  char *longer = malloc(n + 2);
  memcpy(longer, PAYLOAD, n);
  longer[n] = '\n';
  assert_int_equal(sg_verify(k, TS, longer, n + 1, SIG), 0);
  free(longer);
  /* another timestamp */
  assert_int_equal(sg_verify(k, "1600112503", PAYLOAD, n, SIG), 0);
  assert_int_equal(sg_verify(k, "", PAYLOAD, n, SIG), 0);
  /* another signature, a truncated one, garbage, empty */
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n, OTHER_SIG), 0);
  char *trunc = strdup(SIG);
  trunc[strlen(trunc) - 8] = '\0';
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n, trunc), 0);
  free(trunc);
  char *flipped = strdup(SIG);
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n, flipped), 0);
  free(flipped);
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n, "not base64 !"), 0);
  assert_int_equal(sg_verify(k, TS, PAYLOAD, n, ""), 0);
  sg_key_free(k);
  /* another key */
  sg_key_t *o = sg_key_parse(OTHER_PUB);
  assert_non_null(o);
  assert_int_equal(sg_verify(o, TS, PAYLOAD, n, SIG), 0);
  /* the library's own negative case: all of it from the other side */
  assert_int_equal(sg_verify(o, "timestamp", "payload", 7, OTHER_SIG), 0);
  sg_key_free(o);
  free(b);
}

static void bad_keys_refused(void **st) {
  (void)st;
  assert_null(sg_key_parse(""));
  assert_null(sg_key_parse("MFkw"));
  assert_null(sg_key_parse("not a key at all"));
  /* a valid SPKI with trailing bytes */
  unsigned char *der;
  size_t len;
  assert_int_equal(sg_b64_decode(PUB, &der, &len), 0);
  unsigned char *more = malloc(len + 1);
  memcpy(more, der, len);
  more[len] = 0;
  char *b64 = mail_b64_encode(more, len + 1, 0);
  assert_null(sg_key_parse(b64));
  free(b64);
  /* cut short */
  b64 = mail_b64_encode(der, len - 3, 0);
  assert_null(sg_key_parse(b64));
  free(b64);
  free(more);
  free(der);
  /* line breaks and spaces, as pasted from a web page, are fine */
  char wrapped[256];
  snprintf(wrapped, sizeof wrapped, "%.40s\n %s", PUB, PUB + 40);
  sg_key_t *k = sg_key_parse(wrapped);
  assert_non_null(k);
  sg_key_free(k);
}

static void base64_roundtrip(void **st) {
  (void)st;
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char *e = mail_b64_encode(in[i], strlen(in[i]), 0);
    assert_string_equal(e, out[i]);
    unsigned char *d;
    size_t dl;
    assert_int_equal(sg_b64_decode(e, &d, &dl), 0);
    assert_int_equal(dl, strlen(in[i]));
    assert_memory_equal(d, in[i], dl);
    free(d);
    free(e);
  }
  unsigned char *d;
  size_t dl;
  assert_int_equal(sg_b64_decode("Zg=", &d, &dl), -1);
  assert_int_equal(sg_b64_decode("Zg==Zg==", &d, &dl), -1);
  assert_int_equal(sg_b64_decode("Z$==", &d, &dl), -1);
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
      .from_name = "Clinic",
      .subject = "Reminder: Dental check-up at 15:00",
      .text = "See you soon.",
      .html = "<p>See you soon.</p>",
      .ics = ICS,
      .ics_method = "REQUEST",
      .idempotency_key = "delivery-42",
      .attempt = 1,
  };
  return m;
}

static json_object *get(json_object *o, const char *k) {
  json_object *v = NULL;
  assert_true(json_object_object_get_ex(o, k, &v));
  return v;
}

static void mail_body_shape(void **st) {
  (void)st;
  assist_message_t m = sample();
  const char *err = NULL;
  char *body = sg_mail_body(&m, NULL, &err);
  assert_non_null(body);
  json_object *root = json_tokener_parse(body);
  assert_non_null(root);
  json_object *p0 = json_object_array_get_idx(get(root, "personalizations"), 0);
  json_object *to0 = json_object_array_get_idx(get(p0, "to"), 0);
  assert_string_equal(json_object_get_string(get(to0, "email")),
                      "pat@example.com");
  assert_string_equal(json_object_get_string(get(to0, "name")),
                      "Pat \"P\" Doe");
  json_object *args = get(p0, "custom_args");
  assert_true(json_object_is_type(get(args, "delivery_id"), json_type_string));
  assert_string_equal(json_object_get_string(get(args, "delivery_id")), "42");
  assert_string_equal(json_object_get_string(get(args, "msg_key")),
                      "delivery-42");
  assert_string_equal(json_object_get_string(get(get(root, "from"), "email")),
                      "scheduler@clinic.example");
  json_object *content = get(root, "content");
  assert_int_equal(json_object_array_length(content), 3);
  const char *types[] = {"text/plain", "text/html",
                         "text/calendar; method=REQUEST"};
  for (int i = 0; i < 3; i++)
    assert_string_equal(json_object_get_string(
                            get(json_object_array_get_idx(content, i), "type")),
                        types[i]);
  assert_string_equal(json_object_get_string(
                          get(json_object_array_get_idx(content, 2), "value")),
                      ICS);
  json_object *a0 = json_object_array_get_idx(get(root, "attachments"), 0);
  assert_string_equal(json_object_get_string(get(a0, "type")),
                      "application/ics");
  assert_string_equal(json_object_get_string(get(a0, "filename")),
                      "invite.ics");
  assert_string_equal(json_object_get_string(get(a0, "disposition")),
                      "attachment");
  unsigned char *dec;
  size_t dl;
  assert_int_equal(
      sg_b64_decode(json_object_get_string(get(a0, "content")), &dec, &dl), 0);
  assert_int_equal(dl, strlen(ICS));
  assert_memory_equal(dec, ICS, dl);
  free(dec);
  assert_string_equal(json_object_get_string(json_object_array_get_idx(
                          get(root, "categories"), 0)),
                      "reminder");
  json_object_put(root);
  free(body);

  /* from override: sender replaced, replies to the message's sender */
  body = sg_mail_body(&m, "noreply@assist.example", &err);
  root = json_tokener_parse(body);
  assert_string_equal(json_object_get_string(get(get(root, "from"), "email")),
                      "noreply@assist.example");
  assert_string_equal(
      json_object_get_string(get(get(root, "reply_to"), "email")),
      "scheduler@clinic.example");
  json_object_put(root);
  free(body);

  /* no html, no ics: one content entry, no attachments */
  m.html = "";
  m.ics = "";
  body = sg_mail_body(&m, NULL, &err);
  root = json_tokener_parse(body);
  assert_int_equal(json_object_array_length(get(root, "content")), 1);
  json_object *x;
  assert_false(json_object_object_get_ex(root, "attachments", &x));
  json_object_put(root);
  free(body);
}

static void mail_body_refusals(void **st) {
  (void)st;
  const char *err;
  assist_message_t m = sample();
  m.to = "";
  assert_null(sg_mail_body(&m, NULL, &err));
  assert_non_null(err);
  m = sample();
  m.to = "pat@example.com\r\nBcc: x@evil.example";
  assert_null(sg_mail_body(&m, NULL, &err));
  m = sample();
  m.subject = "Hi\r\nBcc: x@evil.example";
  assert_null(sg_mail_body(&m, NULL, &err));
  m = sample();
  m.subject = "";
  assert_null(sg_mail_body(&m, NULL, &err));
  m = sample();
  m.ics_method = "CANCEL"; /* the ICS says REQUEST */
  assert_null(sg_mail_body(&m, NULL, &err));
  assert_string_equal(err, "the ICS METHOD does not match ics_method");
  m = sample();
  m.text = "";
  m.html = "";
  assert_null(sg_mail_body(&m, NULL, &err));
  m = sample();
  assert_null(sg_mail_body(&m, "not-an-address", &err));
}

static void ics_method(void **st) {
  (void)st;
  assert_int_equal(mail_ics_method_ok(ICS, "REQUEST"), 1);
  /* the property's value compares case-insensitively; ics_method itself
   * must be upper case */
  assert_int_equal(mail_ics_method_ok("METHOD:request\r\n", "REQUEST"), 1);
  assert_int_equal(mail_ics_method_ok(ICS, "request"), 0);
  assert_int_equal(mail_ics_method_ok(ICS, "REQ"), 0);
  assert_int_equal(mail_ics_method_ok("BEGIN:VCALENDAR\r\n", "REQUEST"), 0);
  assert_int_equal(mail_ics_method_ok("METHOD:CANCEL\n", "CANCEL"), 1);
}

static void error_bodies(void **st) {
  (void)st;
  const char *b =
      "{\"errors\":[{\"message\":\"The from address does not "
      "match a verified Sender Identity.\\n\",\"field\":\"from\"}]}";
  char *m = sg_error_message(b, strlen(b));
  assert_string_equal(m, "The from address does not match a verified Sender "
                         "Identity. ");
  free(m);
  assert_null(sg_error_message("", 0));
  assert_null(sg_error_message("<html>", 6));
  assert_null(sg_error_message("{\"errors\":[]}", 13));
  char big[1024];
  memset(big, 'a', sizeof big);
  int n = snprintf(big, sizeof big, "{\"errors\":[{\"message\":\"");
  memset(big + n, 'x', 600);
  strcpy(big + n + 600, "\"}]}");
  m = sg_error_message(big, strlen(big));
  assert_int_equal(strlen(m), 200);
  free(m);
}

static void retry_waits(void **st) {
  (void)st;
  assert_int_equal(sg_retry_wait("1000060", 0, 1000000, 2), 62);
  assert_int_equal(sg_retry_wait("1000060", 5, 1000000, 0), 60);
  /* reset in the past: at least a second */
  assert_int_equal(sg_retry_wait("999000", 0, 1000000, 0), 1);
  assert_int_equal(sg_retry_wait("junk", 7, 1000000, 1), 8);
  assert_int_equal(sg_retry_wait(NULL, 0, 1000000, 0), 60);
  assert_int_equal(sg_retry_wait("99999999999", 0, 1000000, 0), 3600);
}

static void webhook_batches(void **st) {
  (void)st;
  sg_event_t *ev;
  size_t n;
  assert_int_equal(sg_events_parse(PAYLOAD, strlen(PAYLOAD), &ev, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(ev[0].event, "dropped");
  assert_string_equal(ev[0].state, "bounced");
  assert_string_equal(ev[0].message_id, "LRzXl_NHStOGhQ4kofSm_A");
  assert_string_equal(ev[0].event_id,
                      "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA");
  assert_int_equal(ev[0].delivery_id, 0);
  assert_int_equal(ev[0].at_ms, 1600112492000LL);
  assert_string_equal(ev[0].detail, "Bounced Address");
  sg_events_free(ev, n);

  const char *b =
      "[{\"event\":\"processed\",\"delivery_id\":\"7\",\"sg_event_id\":\"a\","
      "\"sg_message_id\":\"M1.x\",\"timestamp\":5},"
      "{\"event\":\"delivered\",\"delivery_id\":\"7\",\"sg_event_id\":\"b\"},"
      "{\"event\":\"open\",\"delivery_id\":\"7\",\"sg_event_id\":\"c\"},"
      "{\"event\":\"bounce\",\"delivery_id\":\"8\",\"type\":\"blocked\"},"
      "{\"event\":\"deferred\",\"delivery_id\":\"7\"},"
      "{\"event\":\"spamreport\",\"delivery_id\":\"7\"},"
      "{\"event\":\"delivered\",\"delivery_id\":\"x9\"},"
      "42, \"junk\"]";
  assert_int_equal(sg_events_parse(b, strlen(b), &ev, &n), 0);
  assert_int_equal(n, 7);
  assert_string_equal(ev[0].state, "sent");
  assert_int_equal(ev[0].delivery_id, 7);
  assert_string_equal(ev[0].message_id, "M1");
  assert_int_equal(ev[0].at_ms, 5000);
  assert_string_equal(ev[1].state, "delivered");
  assert_string_equal(ev[2].state, "opened");
  assert_string_equal(ev[3].state, "bounced");
  assert_string_equal(ev[3].detail, "blocked");
  assert_null(ev[4].state);
  assert_null(ev[5].state);
  assert_int_equal(ev[6].delivery_id, 0);
  sg_events_free(ev, n);

  assert_int_equal(sg_events_parse("{}", 2, &ev, &n), -1);
  assert_int_equal(sg_events_parse("[", 1, &ev, &n), -1);
  assert_int_equal(sg_events_parse("[] x", 4, &ev, &n), -1);
  assert_int_equal(sg_events_parse("", 0, &ev, &n), -1);
  assert_int_equal(sg_events_parse("[]", 2, &ev, &n), 0);
  assert_int_equal(n, 0);
  sg_events_free(ev, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vector_passes),    cmocka_unit_test(altered_copies_fail),
      cmocka_unit_test(bad_keys_refused), cmocka_unit_test(base64_roundtrip),
      cmocka_unit_test(mail_body_shape),  cmocka_unit_test(mail_body_refusals),
      cmocka_unit_test(ics_method),       cmocka_unit_test(error_bodies),
      cmocka_unit_test(retry_waits),      cmocka_unit_test(webhook_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
