/*
 * libFuzzer harness for the e-mail notifier plugins' input handling:
 * - the SendGrid Event Webhook: signature checks (the official key) over
 *   any timestamp, body and signature, and batch parsing of any body;
 * - SendGrid error bodies and rate-limit headers;
 * - message building for both plugins (SendGrid JSON, SMTP MIME) from any
 *   field values: either a clean refusal or a message, never a crash, a
 *   leak or a hang. Where a MIME message is built, no header line may
 *   carry a bare CR or LF taken from the input.
 * The first byte picks what the rest is; fields are separated by NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_mail.h"
#include "sg_verify.h"
#include "smtp_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PUB =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8k"
    "F9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";

/* Splits data into up to n NUL-terminated fields (copies). */
static size_t fields(const uint8_t *data, size_t size, char **out, size_t n) {
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= size && k < n; i++) {
    if (i == size || data[i] == 0) {
      out[k] = malloc(i - start + 1);
      memcpy(out[k], data + start, i - start);
      out[k][i - start] = '\0';
      k++;
      start = i + 1;
    }
  }
  for (size_t i = k; i < n; i++) out[i] = strdup("");
  return k;
}

static void check_headers(const char *mime) {
  /* In the header block, every CR is followed by LF and every LF preceded
   * by CR; a line that starts with a space or tab continues a header. */
  const char *end = strstr(mime, "\r\n\r\n");
  if (!end) abort();
  for (const char *p = mime; p < end; p++) {
    if (*p == '\r' && p[1] != '\n') abort();
    if (*p == '\n' && (p == mime || p[-1] != '\r')) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  uint8_t what = data[0] % 4;
  data++;
  size--;
  if (what == 0) {
    /* webhook: timestamp \0 signature \0 body */
    static sg_key_t *key;
    if (!key) key = sg_key_parse(PUB);
    char *f[3];
    fields(data, size, f, 3);
    (void)sg_verify(key, f[0], f[2], strlen(f[2]), f[1]);
    sg_event_t *ev;
    size_t n;
    if (sg_events_parse(f[2], strlen(f[2]), &ev, &n) == 0)
      sg_events_free(ev, n);
    sg_key_t *k = sg_key_parse(f[1]);
    sg_key_free(k);
    for (int i = 0; i < 3; i++) free(f[i]);
  } else if (what == 1) {
    /* raw bytes as a batch and as an error body */
    sg_event_t *ev;
    size_t n;
    if (sg_events_parse((const char *)data, size, &ev, &n) == 0)
      sg_events_free(ev, n);
    free(sg_error_message((const char *)data, size));
    char *f[1];
    fields(data, size, f, 1);
    (void)sg_retry_wait(f[0], 0, 1000000, 2);
    free(f[0]);
  } else {
    char *f[12];
    fields(data, size, f, 12);
    assist_message_t m = {
        .struct_size = sizeof m,
        .delivery_id = 7,
        .channel = "email",
        .to = f[0],
        .to_name = f[1],
        .from = f[2],
        .from_name = f[3],
        .subject = f[4],
        .text = f[5],
        .html = f[6],
        .ics = f[7],
        .ics_method = f[8],
        .idempotency_key = f[9],
        .attempt = 1,
    };
    const char *err = NULL;
    if (what == 2) {
      free(sg_mail_body(&m, f[10], &err));
    } else {
      smtp_mail_t mail;
      if (smtp_mail_build(&m, f[10], f[11], 1772539200, &mail, &err) == 0) {
        check_headers(mail.data);
        smtp_mail_free(&mail);
      }
      free(smtp_qp(f[5]));
      free(smtp_encode_word(f[4]));
    }
    for (int i = 0; i < 12; i++) free(f[i]);
  }
  return 0;
}
