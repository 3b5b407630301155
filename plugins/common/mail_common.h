/*
 * mail_common.h: what the e-mail notifier plugins (sendgrid, smtp) both
 * need: base64 for the ICS attachment and the check that a message's
 * ics_method is the calendar's own METHOD. Pure functions: safe on any
 * thread.
 */
#ifndef MAIL_COMMON_H
#define MAIL_COMMON_H

#include <stddef.h>

/** Standard base64 of len bytes (data: borrowed). line 0: one line;
 * otherwise lines of `line` characters, each (the last too) ending in
 * CRLF. Malloc'ed, NUL-terminated, or NULL on allocation failure. */
char *mail_b64_encode(const void *data, size_t len, size_t line);

/** 1 when method (borrowed) is a METHOD value (upper-case letters and
 * '-', at most 32) and ics (borrowed, LF or CRLF lines) has a METHOD
 * property equal to it (case-insensitive); else 0. */
int mail_ics_method_ok(const char *ics, const char *method);

#endif
