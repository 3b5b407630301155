/*
 * smtp_mime.h: the MIME message an e-mail reminder travels as over SMTP
 * (CONNECTORS.md §9.1, RFC 6047 iMIP):
 *
 *   multipart/mixed
 *     multipart/alternative
 *       text/plain; charset=UTF-8                    quoted-printable
 *       text/html; charset=UTF-8                     quoted-printable
 *       text/calendar; charset=UTF-8; method=REQUEST base64
 *     application/ics; name="invite.ics" (attachment) base64
 *
 * Headers are refused when any value holds CR or LF (no header injection);
 * non-ASCII display names and subjects become RFC 2047 encoded words.
 * Pure functions without the host: safe on any thread.
 */
#ifndef SMTP_MIME_H
#define SMTP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "assist/plugin.h"

/** A built message: every string malloc'ed, freed by smtp_mail_free. */
typedef struct smtp_mail {
  char *data; /**< the whole message, CRLF lines */
  size_t len;
  char *message_id;    /**< "<...@domain>", as in the Message-ID header */
  char *envelope_from; /**< "<addr>" for MAIL FROM */
  char *envelope_to;   /**< "<addr>" for RCPT TO */
} smtp_mail_t;

/**
 * Builds the message for msg (borrowed). from_override (borrowed; NULL or
 * "": none) replaces msg->from as sender (Reply-To then names msg->from).
 * domain (borrowed; NULL or "": the sender's domain) is the right-hand side
 * of the Message-ID, whose left-hand side is the idempotency key (stable
 * across retries). now_s stamps the Date header. Returns 0, or -1 with *err
 * (static text, no message content) for a malformed message.
 */
int smtp_mail_build(const assist_message_t *msg, const char *from_override,
                    const char *domain, int64_t now_s, smtp_mail_t *out,
                    const char **err);
void smtp_mail_free(smtp_mail_t *m);

/* Building blocks, exposed for the unit tests. All return malloc'ed
 * NUL-terminated text or NULL when out of memory. */
/** Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters, line
 * breaks (LF or CRLF) kept as CRLF. */
char *smtp_qp(const char *s);
/** s as is when printable ASCII, else RFC 2047 "=?UTF-8?B?...?=" words of
 * at most 75 characters joined by CRLF SP (never splitting a UTF-8
 * sequence). */
char *smtp_encode_word(const char *s);
/** 1 when s (NULL: "") holds no CR, LF or other control character but
 * tab, so it may go into a header; else 0. */
int smtp_header_safe(const char *s);

#endif
