/*
 * sg_mail.h: SendGrid v3 mail/send request bodies, error bodies, rate-limit
 * waits and Event Webhook batches (json-c). Pure functions without the
 * host: safe on any thread, unit-tested on their own.
 */
#ifndef SG_MAIL_H
#define SG_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "assist/plugin.h"

/**
 * Builds the POST /v3/mail/send JSON for msg (borrowed). from_override
 * (borrowed, NULL or "": none) replaces msg->from as the sender; replies
 * then still go to msg->from. Returns a malloc'ed NUL-terminated body, or
 * NULL with *err (static text, no message content) set: a malformed
 * message (missing recipient or subject, CR/LF in an address or name, an
 * ICS whose METHOD differs from ics_method) or no memory.
 */
char *sg_mail_body(const assist_message_t *msg, const char *from_override,
                   const char **err);

/** The first errors[].message of a SendGrid error body (borrowed, len
 * bytes), cut to 200 bytes with control characters replaced, malloc'ed;
 * NULL when the body has none. */
char *sg_error_message(const char *body, size_t len);

/**
 * Seconds to wait after a 429: X-RateLimit-Reset (Unix seconds, borrowed,
 * may be NULL) minus now_s plus jitter_s, else retry_after_s (from
 * Retry-After) plus jitter_s, else 60; always between 1 and 3600.
 */
int sg_retry_wait(const char *reset_hdr, int retry_after_s, int64_t now_s,
                  int jitter_s);

/** The delivery state an Event Webhook event means, or NULL for events
 * that do not change a delivery (deferred, click, spamreport, unsubscribe
 * and the rest; see README). event: borrowed. */
const char *sg_event_state(const char *event);

/** One event of a webhook batch, with owned strings. */
typedef struct sg_event {
  int64_t delivery_id; /**< from custom_args "delivery_id"; 0 if absent */
  char *message_id;    /**< sg_message_id up to its first '.'; or NULL */
  char *event_id;      /**< sg_event_id; NULL if absent */
  char *event;         /**< the event name as sent */
  const char *state;   /**< sg_event_state(event): static, or NULL */
  int64_t at_ms;       /**< timestamp * 1000; 0 if absent */
  char *detail;        /**< reason/type for bounces and drops, or NULL */
} sg_event_t;

/** Parses a webhook body (a JSON array of objects; borrowed). *out
 * (caller frees with sg_events_free) gets *n events; entries that are not
 * objects are skipped. Returns 0, or -1 when the body is not a JSON array
 * or memory ran out. */
int sg_events_parse(const char *body, size_t len, sg_event_t **out, size_t *n);
void sg_events_free(sg_event_t *ev, size_t n);

#endif
