/*
 * rsvp.h: RSVP links in reminder e-mails.
 *
 * A link is <public_url>/rsvp/<token>; the token is signed by the
 * daemon's keyring (secrets_token_sign, purpose "rsvp"), expires after
 * rsvp_ttl_s and carries "<event id>:<user id>:<response>".
 *
 *   GET  /rsvp/{token}   a small confirmation page ("Decline 'Dentist' on
 *                        3 March 15:00?") with a form; changes nothing,
 *                        because mail scanners open links.
 *   POST /rsvp/{token}   form field csrf (a MAC of the token under the
 *                        keyring, rendered into the GET page) required;
 *                        records the response once: the token's digest
 *                        goes into rsvp_used, the event's response and
 *                        its "self" attendee status change, a decline
 *                        cancels the remaining reminders, the calendar
 *                        provider writes it back where it can
 *                        (providers_rsvp), and the audit log records it.
 * Reused, tampered and expired tokens get a clear page (410, 400, 410),
 * never a stack trace or a half-applied answer.
 */
#ifndef ASSIST_RSVP_H
#define ASSIST_RSVP_H

#include <stdint.h>

struct assistant;

/** A link for response ("accepted", "declined", "tentative"); malloc'd,
 * NULL on error. */
char *rsvp_link(struct assistant *a, int64_t event_id, int64_t user_id,
                const char *response);

#endif
