/*
 * prefs.h: a person's reminder preferences, stored as JSON in
 * users.preferences and edited through /api/users/{id}/preferences.
 *
 * JSON shape (every key optional; missing keys take the defaults):
 *   {
 *     "timezone": "Europe/Berlin",          IANA zone            [UTC]
 *     "email": "pat@example.com",           [the account's e-mail]
 *     "phone": "+4930123456",               E.164               [none]
 *     "channel": "email" | "call" | "both",                    [email]
 *     "offsets": ["24h", "2h", "30m", "5m"], durations (also seconds as
 *                                             integers), 1..8, distinct,
 *                                             each 1 min .. 14 days
 *     "quiet_hours": {"start": "22:00", "end": "07:00"} | null, [22:00-07:00]
 *     "weekend": "normal" | "email_only" | "none",              [normal]
 *     "escalation_threshold": "30m",  with channel "both": reminders this
 *                                      close to the start (or closer) are
 *                                      calls, earlier ones e-mails  [30m]
 *     "max_call_attempts": 1..5,                                 [2]
 *     "vip_organizers": ["boss@example.com"],  up to 64          [[]]
 *     "internal_domains": ["example.com"],     up to 64          [[]]
 *     "travel_buffer": "15m",   0 .. 4h, added to the lead time of events
 *                               with a physical location           [0]
 *     "all_day_time": "18:00",  local time of the evening-before reminder
 *                               of an all-day event               [18:00]
 *     "locale": "en" | "de" | ...                                 [en]
 *   }
 *
 * weekend: "normal" reminds as on weekdays; "email_only" never calls on a
 * Saturday or Sunday (local to the person); "none" sends nothing whose
 * time falls on a weekend (such reminders are skipped, with the reason).
 *
 * Validation collects every error as "field: message" (e.g.
 * "offsets[2]: must be between 1m and 14d") so the API answers 422 with
 * all of them at once.
 */
#ifndef ASSIST_PREFS_H
#define ASSIST_PREFS_H

#include <stddef.h>
#include <stdint.h>

#define PREFS_MAX_OFFSETS 8
#define PREFS_MAX_LIST 64
#define PREFS_TZ_MAX 64
#define PREFS_EMAIL_MAX 254
#define PREFS_PHONE_MAX 16

typedef enum {
  PREFS_CH_EMAIL = 1,
  PREFS_CH_CALL = 2,
  PREFS_CH_BOTH = 3,
} prefs_channel_t;

typedef enum {
  PREFS_WEEKEND_NORMAL = 0,
  PREFS_WEEKEND_EMAIL_ONLY,
  PREFS_WEEKEND_NONE,
} prefs_weekend_t;

typedef struct prefs {
  char timezone[PREFS_TZ_MAX];
  char email[PREFS_EMAIL_MAX + 1];
  char phone[PREFS_PHONE_MAX + 1];
  prefs_channel_t channel;
  int64_t offsets_s[PREFS_MAX_OFFSETS]; /* sorted, largest first */
  size_t noffsets;
  int quiet_enabled;
  int quiet_start_min, quiet_end_min; /* local minutes 0..1439; start >
                                         end crosses midnight */
  prefs_weekend_t weekend;
  int64_t escalation_threshold_s;
  int max_call_attempts;
  char *vip_organizers[PREFS_MAX_LIST]; /* lower-case, owned */
  size_t nvip;
  char *internal_domains[PREFS_MAX_LIST]; /* lower-case, owned */
  size_t ninternal;
  int64_t travel_buffer_s;
  int all_day_min; /* local minutes of the all-day reminder */
  char locale[16];
} prefs_t;

/** The defaults above (email: ""). */
void prefs_defaults(prefs_t *p);

/** Validation errors: "field: message" strings (owned). */
typedef struct prefs_errors {
  char **msgs;
  size_t n;
} prefs_errors_t;
void prefs_errors_free(prefs_errors_t *e);

/**
 * Parses JSON text over the defaults into *out (account_email fills
 * "email" when the JSON has none, and is accepted as "email" as it is,
 * so the JSON prefs_to_json() writes parses back). Returns 0, or -1 with
 * every problem in
 * errs (out then holds defaults and must still be freed with prefs_free).
 */
int prefs_parse(const char *json, const char *account_email, prefs_t *out,
                prefs_errors_t *errs);
/** Stored preferences json into *out, or the defaults (with account_email)
 * when they no longer validate. Free with prefs_free. */
void prefs_load(const char *json, const char *account_email, prefs_t *out);
/** The canonical JSON of p (every key, durations as strings like "2h");
 * malloc'd, caller frees. */
char *prefs_to_json(const prefs_t *p);
void prefs_free(prefs_t *p);

#endif
