/*
 * outbox.c: due decisions -> durable jobs -> deliveries -> notifiers
 * (assistant.h, "Flow").
 *
 * The dispatcher (a timer every dispatch_interval, sooner on outbox_wake)
 * reads the planned decisions due before its next run and enqueues one
 * "assistant.deliver" job per decision, run_at = scheduled_at, keyed
 * "notification:<id>": two daemons on one database enqueue one job, and
 * both marking the decision "queued" is harmless. A decision revived after
 * its job finished (cancelled, then planned again) gets a new job keyed
 * "notification:<id>:<updated_at>" (the same for every daemon).
 *
 * The job (one per decision at a time) loads the decision, its event and
 * person and:
 *   - stops (job OK, nothing sent) when the decision is no longer
 *     planned/queued, the event is cancelled or declined (the decision is
 *     then cancelled), or the event has started (skipped);
 *   - creates the delivery row (UNIQUE notification_id): one that is past
 *     "sending" is history; one left "sending" by a crash is ambiguous and
 *     becomes "sent" with "outcome unknown after restart", never resent;
 *   - renders, stores the content, marks it "sending" (attempts + 1) and
 *     calls the channel's notifier ("dry-run" or a provider instance);
 *   - records the result: OK -> sent; EAMBIGUOUS -> sent with the error
 *     noted; EBUSY/EIO and the like -> the delivery goes back to planned
 *     with last_error and the job runs again later (a call that reached
 *     max_call_attempts fails instead and escalates to an e-mail
 *     decision); anything else -> failed. Audit "reminder.send".
 *
 * Webhook events (assistant_delivery_event) are deduplicated by their
 * provider event id and never move a delivery backwards.
 */
#include "assistant/assistant_int.h"

#include "assistant/prefs.h"
#include "assistant/reasons.h"
#include "assistant/render.h"
#include "assistant/rsvp.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "plugin/providers.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELIVER_KIND "assistant.deliver"
#define DISPATCH_BATCH 256
#define MAX_RETRY_S 900

/* ---------------- statements ---------------- */

/* $1 due before (ms), $2 limit. The index notifications_due is keyed by
 * the UTC day first (schema 0005): the day condition bounds the range read,
 * scheduled_at is compared from the index. */
static const store_stmt_t q_due = {
    "outbox_due",
    "SELECT id, scheduled_at, updated_at FROM notifications"
    " WHERE state = 'planned' AND channel IN ('email','call')"
    " AND scheduled_at / 86400000 <= $1 / 86400000"
    " AND scheduled_at > 0 AND scheduled_at <= $1"
    " ORDER BY scheduled_at, id LIMIT $2",
    "SELECT id, scheduled_at, updated_at FROM notifications"
    " WHERE state = 'planned' AND channel IN ('email','call')"
    " AND scheduled_at / 86400000 <= $1::bigint / 86400000"
    " AND scheduled_at > 0 AND scheduled_at <= $1::bigint"
    " ORDER BY scheduled_at, id LIMIT $2"};

/* $1 id, $2 job id, $3 now, $4 updated_at as read (a decision changed
 * since stays planned and is taken by the next pass) */
static const store_stmt_t q_mark_queued = {
    "outbox_mark_queued",
    "UPDATE notifications SET state = 'queued', job_id = $2, updated_at = $3"
    " WHERE id = $1 AND state = 'planned' AND updated_at = $4",
    NULL};

/* $1 job id, $2 notification id */
static const store_stmt_t q_job_state = {
    "outbox_job_state",
    "SELECT j.state, n.state, n.updated_at FROM jobs j, notifications n"
    " WHERE j.id = $1 AND n.id = $2",
    NULL};

enum {
  L_STATE,
  L_CHANNEL,
  L_SCHED,
  L_USER,
  L_EVENT,
  L_OFFSET,
  L_EXT,
  L_UID,
  L_SUMMARY,
  L_DESC,
  L_LOCATION,
  L_START,
  L_END,
  L_ALLDAY,
  L_STARTDATE,
  L_ORGANIZER,
  L_EVSTATUS,
  L_RESPONSE,
  L_SEQUENCE,
  L_EMAIL,
  L_NAME,
  L_PREFS,
  L_DISABLED,
};

/* $1 notification id */
static const store_stmt_t q_load = {
    "outbox_load",
    "SELECT n.state, n.channel, n.scheduled_at, n.user_id, n.event_id,"
    " n.offset_s, e.external_id, e.ical_uid, e.summary, e.description,"
    " e.location, e.start_at, e.end_at, e.all_day, e.start_date,"
    " e.organizer, e.status, e.response, e.sequence, u.email, u.name,"
    " u.preferences, u.disabled"
    " FROM notifications n JOIN calendar_events e ON e.id = n.event_id"
    " JOIN users u ON u.id = n.user_id WHERE n.id = $1",
    NULL};

/* $1 notification id */
static const store_stmt_t q_load_delivery = {
    "outbox_load_delivery",
    "SELECT id, state, attempts FROM deliveries WHERE notification_id = $1",
    NULL};

/* $1 notification, $2 event, $3 user, $4 channel, $5 notifier,
 * $6 recipient, $7 now */
static const store_stmt_t q_insert_delivery = {
    "outbox_insert_delivery",
    "INSERT INTO deliveries (notification_id, event_id, user_id, channel,"
    " notifier, state, recipient, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $7)"
    " ON CONFLICT (notification_id) DO NOTHING RETURNING id",
    NULL};

/* $1 delivery, $2 notifier, $3 recipient, $4 subject, $5 text, $6 html,
 * $7 ics, $8 now */
static const store_stmt_t q_mark_sending = {
    "outbox_mark_sending",
    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1,"
    " notifier = $2, recipient = $3, subject = $4, body_text = $5,"
    " body_html = $6, ics = $7, updated_at = $8"
    " WHERE id = $1 AND state = 'planned' RETURNING attempts",
    NULL};

/* $1 delivery, $2 provider message id (NULL keeps), $3 note, $4 now. A
 * webhook may have moved it on already: never backwards. */
static const store_stmt_t q_sent = {
    "outbox_sent",
    "UPDATE deliveries SET state = CASE WHEN state IN ('planned','sending')"
    " THEN 'sent' ELSE state END,"
    " provider_message_id = COALESCE($2, provider_message_id),"
    " last_error = $3, updated_at = $4 WHERE id = $1",
    NULL};

/* $1 delivery, $2 error, $3 now */
static const store_stmt_t q_back_to_planned = {
    "outbox_back_to_planned",
    "UPDATE deliveries SET state = 'planned', last_error = $2,"
    " updated_at = $3 WHERE id = $1 AND state = 'sending'",
    NULL};

/* $1 delivery, $2 error, $3 now */
static const store_stmt_t q_failed = {
    "outbox_failed",
    "UPDATE deliveries SET state = 'failed', last_error = $2,"
    " updated_at = $3 WHERE id = $1 AND state IN ('planned','sending')",
    NULL};

/* $1 notification, $2 now */
static const store_stmt_t q_notif_done = {
    "outbox_notif_done",
    "UPDATE notifications SET state = 'done', updated_at = $2"
    " WHERE id = $1 AND state IN ('planned','queued')",
    NULL};

/* $1 notification, $2 now */
static const store_stmt_t q_notif_cancel = {
    "outbox_notif_cancel",
    "UPDATE notifications SET state = 'cancelled', updated_at = $2"
    " WHERE id = $1 AND state IN ('planned','queued')",
    NULL};

/* $1 notification, $2 now */
static const store_stmt_t q_delivery_cancel = {
    "outbox_delivery_cancel",
    "UPDATE deliveries SET state = 'cancelled', updated_at = $2"
    " WHERE notification_id = $1 AND state = 'planned'",
    NULL};

/* Skipping a decision appends to its reason: the new text goes into the
 * reason dictionary (reasons.h), then the decision takes its id. */
#define SKIP_REASON "COALESCE(" REASON_TEXT_OF("n") ", '') || CAST($2 AS text)"
/* $1 notification, $2 reason suffix */
static const store_stmt_t q_skip_reason = {
    "outbox_skip_reason",
    "INSERT OR IGNORE INTO plan_reasons (text) SELECT " SKIP_REASON
    " FROM notifications n WHERE n.id = $1",
    "INSERT INTO plan_reasons (text) SELECT " SKIP_REASON
    " FROM notifications n WHERE n.id = $1 ON CONFLICT (text) DO NOTHING"};
/* $1 notification, $2 reason suffix, $3 now */
static const store_stmt_t q_notif_skip = {
    "outbox_notif_skip",
    "UPDATE notifications AS n SET state = 'skipped', updated_at = $3,"
    " reason_id = (SELECT id FROM plan_reasons WHERE text = " SKIP_REASON ")"
    " WHERE n.id = $1 AND n.state IN ('planned','queued')",
    NULL};

/* $1 event, $2 user, $3 offset, $4 scheduled_at, $5 reason, $6 now; the
 * reason is stored first (reasons_req_resolve) */
static const store_stmt_t q_escalate = {
    "outbox_escalate",
    "INSERT INTO notifications (event_id, user_id, offset_s, channel,"
    " scheduled_at, reason_id, state, created_at, updated_at)"
    " VALUES ($1, $2, $3, 'email', $4,"
    " (SELECT id FROM plan_reasons WHERE text = $5), 'planned', $6, $6)"
    " ON CONFLICT (event_id, offset_s, channel) DO NOTHING",
    NULL};

/* A copy of at most max bytes of s (cut at a UTF-8 boundary), or NULL
 * for NULL or "". */
static char *dup_max(const char *s, size_t max) {
  if (!s || !*s) return NULL;
  size_t n = strnlen(s, max);
  if (s[n] != '\0')
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return xstrndup(s, n);
}

/* ---------------- the dispatcher ---------------- */

/* a->dispatching: 0 idle, 1 a pass is running, 2 and another was asked
 * for meanwhile (outbox_wake). */

typedef struct pass {
  assistant_t *a;
  size_t left;
  int full;
} pass_t;

typedef struct pass_item {
  pass_t *p;
  int64_t id, scheduled_at, updated_at;
  int64_t job_id;
  int revived; /* enqueued under the revival key */
} pass_item_t;

static void dispatch_cb(uv_timer_t *t);

static void arm(assistant_t *a, int64_t delay_ms) {
  if (a->closing) return;
  if (delay_ms < 0) delay_ms = 0;
  a->next_dispatch_ms = store_now_ms() + delay_ms;
  uv_timer_start(&a->dispatch_timer, dispatch_cb, (uint64_t)delay_ms, 0);
}

static void pass_end(pass_t *p) {
  assistant_t *a = p->a;
  int rerun = p->full || a->dispatching == 2;
  a->dispatching = 0;
  free(p);
  arm(a, rerun ? 0 : a->dispatch_interval_ms);
  assistant_release(a);
}

static void item_done(pass_item_t *it) {
  pass_t *p = it->p;
  free(it);
  if (--p->left == 0) pass_end(p);
}

static void marked(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s, (void)res;
  if (status < 0 && status != -ECANCELED)
    log_kv(LOG_WARN, "outbox", "marking a decision queued failed", "error",
           errmsg, NULL);
  item_done(arg);
}

static void mark_queued(pass_item_t *it) {
  assistant_t *a = it->p->a;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_mark_queued);
  store_req_bind_int(r, it->id);
  store_req_bind_int(r, it->job_id);
  store_req_bind_int(r, store_now_ms());
  store_req_bind_int(r, it->updated_at);
  store_req_submit(r, marked, it);
}

static void enqueue_item(pass_item_t *it);

static void job_state_read(store_t *s, int status, const char *errmsg,
                           store_res_t *res, void *arg) {
  (void)s, (void)errmsg;
  pass_item_t *it = arg;
  if (status < 0) {
    item_done(it);
    return;
  }
  if (store_res_rows(res, 0) == 0) { /* the job or the decision is gone */
    item_done(it);
    return;
  }
  const char *js = store_res_text(res, 0, 0, 0);
  int job_over = !strcmp(js, "succeeded") || !strcmp(js, "dead") ||
                 !strcmp(js, "cancelled");
  int still_planned = !strcmp(store_res_text(res, 0, 0, 1), "planned") &&
                      store_res_int(res, 0, 0, 2) == it->updated_at;
  if (!job_over) {
    mark_queued(it); /* another daemon's job for it: fine */
    return;
  }
  if (!still_planned) {
    /* That job already handled it (another daemon was faster). */
    item_done(it);
    return;
  }
  /* That job is over and the decision is planned again (cancelled and
   * revived since): a job of its own for this generation. A job writes
   * the decision's end state before it completes, so a finished job
   * next to a planned decision means a revival, not a race. */
  it->revived = 1;
  enqueue_item(it);
}

static void enqueued(jobs_t *j, int status, int64_t id, int existed,
                     void *arg) {
  (void)j;
  pass_item_t *it = arg;
  assistant_t *a = it->p->a;
  if (status < 0) {
    if (status != -ECANCELED)
      log_kv(LOG_WARN, "outbox", "enqueueing a delivery failed", "error",
             strerror(-status), NULL);
    item_done(it);
    return;
  }
  it->job_id = id;
  if (!existed || it->revived || a->closing) {
    mark_queued(it);
    return;
  }
  /* The key existed: another daemon enqueued it (fine), or an earlier
   * generation of this decision ran already (look). */
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_job_state);
  store_req_bind_int(r, id);
  store_req_bind_int(r, it->id);
  store_req_submit(r, job_state_read, it);
}

static void enqueue_item(pass_item_t *it) {
  assistant_t *a = it->p->a;
  char payload[64], key[96];
  snprintf(payload, sizeof payload, "{\"notification_id\":%" PRId64 "}",
           it->id);
  if (it->revived)
    snprintf(key, sizeof key, "notification:%" PRId64 ":%" PRId64, it->id,
             it->updated_at);
  else
    snprintf(key, sizeof key, "notification:%" PRId64, it->id);
  jobs_spec_t spec = {.kind = DELIVER_KIND,
                      .payload = payload,
                      .run_at_ms = it->scheduled_at,
                      .priority = 10,
                      .max_attempts = 5,
                      .idem_key = key};
  jobs_enqueue(a->jobs, &spec, enqueued, it);
}

static void due_read(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  pass_t *p = arg;
  if (status < 0) {
    if (status != -ECANCELED)
      log_kv(LOG_WARN, "outbox", "reading due reminders failed", "error",
             errmsg, NULL);
    pass_end(p);
    return;
  }
  int rows = store_res_rows(res, 0);
  p->full = rows >= DISPATCH_BATCH;
  if (rows == 0 || p->a->closing) {
    p->full = 0;
    pass_end(p);
    return;
  }
  p->left = (size_t)rows;
  for (int i = 0; i < rows; i++) {
    pass_item_t *it = xcalloc(1, sizeof *it);
    it->p = p;
    it->id = store_res_int(res, 0, i, 0);
    it->scheduled_at = store_res_int(res, 0, i, 1);
    it->updated_at = store_res_int(res, 0, i, 2);
    enqueue_item(it);
  }
}

static void dispatch_cb(uv_timer_t *t) {
  assistant_t *a = t->data;
  if (a->closing) return;
  if (a->dispatching) {
    a->dispatching = 2;
    return;
  }
  a->dispatching = 1;
  a->next_dispatch_ms = 0;
  assistant_hold(a);
  pass_t *p = xcalloc(1, sizeof *p);
  p->a = a;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_due);
  store_req_bind_int(r, store_now_ms() + a->dispatch_interval_ms);
  store_req_bind_int(r, DISPATCH_BATCH);
  store_req_submit(r, due_read, p);
}

void outbox_wake(assistant_t *a, int64_t due_ms) {
  if (!a || a->closing || !a->dispatch_timer.data) return;
  if (a->dispatching) {
    /* The running pass may have read before this decision existed. */
    a->dispatching = 2;
    return;
  }
  /* A pass at time P covers decisions due before P + interval. */
  int64_t want = due_ms - a->dispatch_interval_ms;
  if (!a->next_dispatch_ms || want < a->next_dispatch_ms)
    arm(a, want - store_now_ms());
}

/* ---------------- the job ---------------- */

typedef struct deliver {
  assistant_t *a;
  jobs_job_t *job;
  int64_t nid, user_id, event_id, offset_s, scheduled_at, delivery_id;
  int attempt;  /* the delivery's attempts after marking it sending */
  int reloaded; /* the delivery row was inserted concurrently once */
  char channel[8];
  char *notifier;
  /* the event (owned copies) */
  render_event_t ev;
  char *ev_strs[9]; /* the last: the account's e-mail */
  /* the person */
  prefs_t prefs;
  char *name;
  char recipient[PREFS_EMAIL_MAX + 1];
  /* the message */
  render_out_t out;
  char *links[3];
  /* the result */
  int status, retry_after_s;
  char *provider_id, *error;
  const char *final_state; /* for the audit entry */
} deliver_t;

static void deliver_free(deliver_t *d) {
  for (size_t i = 0; i < sizeof d->ev_strs / sizeof d->ev_strs[0]; i++)
    free(d->ev_strs[i]);
  prefs_free(&d->prefs);
  free(d->name);
  free(d->notifier);
  render_out_free(&d->out);
  for (int i = 0; i < 3; i++) free(d->links[i]);
  free(d->provider_id);
  free(d->error);
  free(d);
}

static void finish(deliver_t *d, jobs_outcome_t outcome, int seconds,
                   const char *error) {
  assistant_t *a = d->a;
  jobs_complete(d->job, outcome, seconds, error);
  deliver_free(d);
  assistant_release(a);
}

static int retry_store_s(int status) {
  return status == -ECANCELED ? 1 : 10;
}

static void audit_send(deliver_t *d, const char *outcome) {
  if (!d->a->audit || !d->delivery_id) return;
  char target[48], subject[24];
  snprintf(target, sizeof target, "delivery:%" PRId64, d->delivery_id);
  snprintf(subject, sizeof subject, "%" PRId64, d->user_id);
  buf_t b = {0};
  buf_printf(&b,
             "{\"notification_id\":%" PRId64 ",\"event_id\":%" PRId64
             ",\"channel\":",
             d->nid, d->event_id);
  buf_json_str(&b, d->channel, strlen(d->channel));
  buf_puts(&b, ",\"notifier\":");
  const char *n = d->notifier ? d->notifier : "";
  buf_json_str(&b, n, strlen(n));
  buf_puts(&b, ",\"state\":");
  const char *st = d->final_state ? d->final_state : "";
  buf_json_str(&b, st, strlen(st));
  buf_printf(&b, ",\"attempt\":%d", d->attempt);
  if (d->provider_id) {
    buf_puts(&b, ",\"provider_message_id\":");
    buf_json_str(&b, d->provider_id, strlen(d->provider_id));
  }
  if (d->error && *d->error) {
    buf_puts(&b, ",\"error\":");
    buf_json_str(&b, d->error, strlen(d->error));
  }
  buf_puts(&b, "}");
  audit_record_t rec = {.actor = "assistant",
                        .action = "reminder.send",
                        .target = target,
                        .outcome = outcome,
                        .subject = subject,
                        .details = b.data};
  audit_svc_append(d->a->audit, &rec, NULL, NULL);
  buf_free(&b);
}

static void log_outcome(deliver_t *d, const char *msg, log_level_t lvl) {
  char did[24], nid[24], att[16];
  snprintf(did, sizeof did, "%" PRId64, d->delivery_id);
  snprintf(nid, sizeof nid, "%" PRId64, d->nid);
  snprintf(att, sizeof att, "%d", d->attempt);
  log_kv(lvl, "outbox", msg, "#delivery", did, "#notification", nid, "channel",
         d->channel, "notifier", d->notifier ? d->notifier : "", "#attempt",
         att, "error", d->error ? d->error : "", NULL);
}

/* A store write whose only follow-up is completing the job. */
typedef struct {
  deliver_t *d;
  jobs_outcome_t outcome;
  int seconds;
  const char *audit_outcome; /* NULL: no audit entry */
  int wake_escalation;
} tail_t;

static void tail_written(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s, (void)res;
  tail_t *t = arg;
  deliver_t *d = t->d;
  if (status < 0) {
    /* The notifier's result is not recorded: leave the delivery as it is
     * ("sending" reads as ambiguous on the next run: never resent). */
    log_kv(LOG_WARN, "outbox", "recording a delivery failed", "error", errmsg,
           NULL);
    free(t);
    finish(d, JOBS_RETRY_AFTER, retry_store_s(status),
           "recording the delivery failed");
    return;
  }
  if (t->audit_outcome) audit_send(d, t->audit_outcome);
  if (t->wake_escalation) outbox_wake(d->a, store_now_ms());
  jobs_outcome_t o = t->outcome;
  int secs = t->seconds;
  free(t);
  finish(d, o, secs, o == JOBS_OK ? NULL : d->error);
}

static void submit_tail(deliver_t *d, store_req_t *r, jobs_outcome_t outcome,
                        int seconds, const char *audit_outcome) {
  tail_t *t = xcalloc(1, sizeof *t);
  t->d = d;
  t->outcome = outcome;
  t->seconds = seconds;
  t->audit_outcome = audit_outcome;
  t->wake_escalation = strcmp(d->channel, "call") == 0 && d->final_state &&
                       !strcmp(d->final_state, "failed");
  store_req_submit(r, tail_written, t);
}

static void set_error(deliver_t *d, const char *e) {
  free(d->error);
  d->error = e ? xstrdup(e) : NULL;
}

/* The decision is over: record the delivery's last state and the
 * decision as done (plus the escalation e-mail of a failed call). */
static void record_final(deliver_t *d, const char *state,
                         const char *audit_outcome) {
  int64_t now = store_now_ms();
  d->final_state = state;
  store_req_t *r = store_req_new(d->a->store, STORE_TXN);
  if (!strcmp(state, "sent")) {
    store_req_stmt(r, &q_sent);
    store_req_bind_int(r, d->delivery_id);
    store_req_bind_text(r, d->provider_id); /* NULL keeps */
    store_req_bind_text(r, d->error);
    store_req_bind_int(r, now);
  } else {
    store_req_stmt(r, &q_failed);
    store_req_bind_int(r, d->delivery_id);
    store_req_bind_text(r, d->error ? d->error : "failed");
    store_req_bind_int(r, now);
    if (!strcmp(d->channel, "call")) {
      /* A call that could not be made becomes an e-mail, now. */
      char reason[200];
      snprintf(reason, sizeof reason,
               "escalated to e-mail: the call failed after %d attempt%s",
               d->attempt, d->attempt == 1 ? "" : "s");
      reasons_req_resolve(r, reason, strlen(reason));
      store_req_stmt(r, &q_escalate);
      store_req_bind_int(r, d->event_id);
      store_req_bind_int(r, d->user_id);
      store_req_bind_int(r, d->offset_s);
      store_req_bind_int(r, now);
      store_req_bind_text(r, reason);
      store_req_bind_int(r, now);
    }
  }
  store_req_stmt(r, &q_notif_done);
  store_req_bind_int(r, d->nid);
  store_req_bind_int(r, now);
  submit_tail(d, r, JOBS_OK, 0, audit_outcome);
}

/* Worth trying again later. Everything else (EINVAL, EACCES, EREAUTH: the
 * person must connect again...) fails the delivery. */
static int transient(int status) {
  return status == ASSIST_EBUSY || status == ASSIST_EIO ||
         status == ASSIST_ETIMEDOUT || status == ASSIST_ENOENT ||
         status == ASSIST_ECANCELED || status == ASSIST_ENOMEM;
}

static void apply_result(deliver_t *d) {
  int st = d->status;
  if (st == ASSIST_OK) {
    set_error(d, NULL);
    log_outcome(d, "reminder sent", LOG_INFO);
    record_final(d, "sent", "ok");
    return;
  }
  if (st == ASSIST_EAMBIGUOUS) {
    /* May have been sent: recorded as sent, never resent. */
    char note[300];
    snprintf(note, sizeof note, "outcome unknown: %s",
             d->error && *d->error ? d->error : "the notifier could not tell");
    set_error(d, note);
    log_outcome(d, "reminder outcome unknown; not resent", LOG_WARN);
    record_final(d, "sent", "unknown");
    return;
  }
  int is_call = !strcmp(d->channel, "call");
  int64_t now = store_now_ms();
  int too_late = !d->ev.all_day ? now >= d->ev.start_ms : now >= d->ev.end_ms;
  if (transient(st) && !(is_call && d->attempt >= d->prefs.max_call_attempts) &&
      !too_late) {
    int secs = d->retry_after_s;
    if (secs <= 0) {
      secs = is_call ? 120 : 30;
      for (int i = 1; i < d->attempt && secs < MAX_RETRY_S; i++) secs *= 2;
    }
    if (secs > MAX_RETRY_S) secs = MAX_RETRY_S;
    log_outcome(d, "reminder not sent yet; retrying", LOG_WARN);
    store_req_t *r = store_req_new(d->a->store, 0);
    store_req_stmt(r, &q_back_to_planned);
    store_req_bind_int(r, d->delivery_id);
    store_req_bind_text(r, d->error ? d->error : "temporary failure");
    store_req_bind_int(r, now);
    d->final_state = "planned";
    submit_tail(d, r, JOBS_RETRY_AFTER, secs, NULL);
    return;
  }
  if (transient(st)) {
    char note[300];
    snprintf(note, sizeof note, "%s (%s)",
             d->error && *d->error ? d->error : "temporary failure",
             too_late ? "gave up: the event has started"
                      : "gave up: max_call_attempts reached");
    set_error(d, note);
  } else if (!d->error || !*d->error) {
    set_error(d, "the notifier refused the message");
  }
  log_outcome(d, "reminder failed", LOG_WARN);
  record_final(d, "failed", "error");
}

static void send_done(void *arg, const assist_send_result_t *res) {
  deliver_t *d = arg;
  d->status = res ? res->status : ASSIST_EIO;
  d->retry_after_s = res ? res->retry_after_s : 0;
  free(d->provider_id);
  d->provider_id = dup_max(res ? res->provider_message_id : NULL, 255);
  free(d->error);
  d->error = dup_max(res ? res->error : NULL, 500);
  apply_result(d);
}

static void send_now(deliver_t *d) {
  char idem[48];
  snprintf(idem, sizeof idem, "delivery:%" PRId64, d->delivery_id);
  assist_message_t msg = {
      .struct_size = sizeof msg,
      .delivery_id = d->delivery_id,
      .channel = d->channel,
      .to = d->recipient,
      .to_name = d->name ? d->name : "",
      .from = strcmp(d->channel, "call") == 0 ? "" : d->a->from_email,
      .from_name = d->a->from_name,
      .subject = d->out.subject,
      .text = d->out.text,
      .html = d->out.html,
      .ics = d->out.ics,
      .ics_method = d->out.ics_method,
      .idempotency_key = idem,
      .attempt = d->attempt};
  int rc = strcmp(d->notifier, "dry-run") == 0
               ? dryrun_send(&msg, send_done, d)
               : providers_send(d->notifier, &msg, send_done, d);
  if (rc != 0) {
    /* Nothing was handed over: the notifier is not there (yet), or
     * refused up front. */
    assist_send_result_t res = {.struct_size = sizeof res,
                                .status = rc == -ENOENT ? ASSIST_ENOENT : rc,
                                .retry_after_s = rc == -ENOENT ? 60 : 0,
                                .error = rc == -ENOENT
                                             ? "no such notifier instance"
                                             : "the notifier refused the "
                                               "message"};
    send_done(d, &res);
  }
}

static void marked_sending(store_t *s, int status, const char *errmsg,
                           store_res_t *res, void *arg) {
  (void)s;
  deliver_t *d = arg;
  if (status < 0) {
    log_kv(LOG_WARN, "outbox", "storing a rendered delivery failed", "error",
           errmsg, NULL);
    finish(d, JOBS_RETRY_AFTER, retry_store_s(status), "storage failed");
    return;
  }
  if (store_res_rows(res, 0) == 0) {
    /* Not planned any more: someone else has it. */
    finish(d, JOBS_OK, 0, NULL);
    return;
  }
  d->attempt = (int)store_res_int(res, 0, 0, 0);
  send_now(d);
}

/* Renders, stores the content and marks the delivery "sending". */
static void render_and_mark(deliver_t *d) {
  int is_call = !strcmp(d->channel, "call");
  const char *to = is_call ? d->prefs.phone : d->prefs.email;
  if (!*to && !is_call) to = d->ev_strs[8];
  snprintf(d->recipient, sizeof d->recipient, "%s", to);
  if (!is_call) {
    static const char *const resp[3] = {"accepted", "declined", "tentative"};
    for (int i = 0; i < 3; i++)
      d->links[i] = rsvp_link(d->a, d->event_id, d->user_id, resp[i]);
  }
  render_input_t in = {.ev = &d->ev,
                       .delivery_id = d->delivery_id,
                       .channel = d->channel,
                       .to = d->recipient,
                       .to_name = d->name,
                       .zone = d->prefs.timezone,
                       .locale = d->prefs.locale,
                       .public_url = d->a->public_url,
                       .from_email = d->a->from_email,
                       .from_name = d->a->from_name,
                       .rsvp_accept = d->links[0],
                       .rsvp_decline = d->links[1],
                       .rsvp_tentative = d->links[2],
                       .now_ms = store_now_ms()};
  render_message(&in, &d->out);
  store_req_t *r = store_req_new(d->a->store, 0);
  store_req_stmt(r, &q_mark_sending);
  store_req_bind_int(r, d->delivery_id);
  store_req_bind_text(r, d->notifier);
  store_req_bind_text(r, d->recipient);
  store_req_bind_text(r, d->out.subject);
  store_req_bind_text(r, d->out.text);
  store_req_bind_text(r, d->out.html);
  store_req_bind_text(r, d->out.ics);
  store_req_bind_int(r, store_now_ms());
  if (!*d->recipient) {
    /* Nowhere to send it: a permanent failure (for a call: escalate). */
    store_req_free(r);
    set_error(d, is_call ? "no phone number in the preferences"
                         : "no e-mail address");
    d->attempt = 1;
    log_outcome(d, "reminder failed", LOG_WARN);
    record_final(d, "failed", "error");
    return;
  }
  store_req_submit(r, marked_sending, d);
}

static void load(deliver_t *d);

static void inserted(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  deliver_t *d = arg;
  if (status < 0) {
    log_kv(LOG_WARN, "outbox", "creating a delivery failed", "error", errmsg,
           NULL);
    finish(d, JOBS_RETRY_AFTER, retry_store_s(status), "storage failed");
    return;
  }
  if (store_res_rows(res, 0) == 0) {
    /* Created meanwhile by someone else: look again, once. */
    if (d->reloaded) {
      finish(d, JOBS_RETRY_AFTER, 5, "delivery created concurrently");
      return;
    }
    d->reloaded = 1;
    load(d);
    return;
  }
  d->delivery_id = store_res_int(res, 0, 0, 0);
  render_and_mark(d);
}

static char *dup_col(store_res_t *res, int col) {
  return xstrdup(store_res_text(res, 0, 0, col));
}

static void loaded(store_t *s, int status, const char *errmsg, store_res_t *res,
                   void *arg) {
  (void)s;
  deliver_t *d = arg;
  if (status < 0) {
    log_kv(LOG_WARN, "outbox", "loading a reminder failed", "error", errmsg,
           NULL);
    finish(d, JOBS_RETRY_AFTER, retry_store_s(status), "storage failed");
    return;
  }
  if (store_res_rows(res, 0) == 0) { /* the decision is gone */
    finish(d, JOBS_OK, 0, NULL);
    return;
  }
  const char *nstate = store_res_text(res, 0, 0, L_STATE);
  snprintf(d->channel, sizeof d->channel, "%s",
           store_res_text(res, 0, 0, L_CHANNEL));
  d->scheduled_at = store_res_int(res, 0, 0, L_SCHED);
  d->user_id = store_res_int(res, 0, 0, L_USER);
  d->event_id = store_res_int(res, 0, 0, L_EVENT);
  d->offset_s = store_res_int(res, 0, 0, L_OFFSET);
  if ((strcmp(nstate, "planned") && strcmp(nstate, "queued")) ||
      (strcmp(d->channel, "email") && strcmp(d->channel, "call"))) {
    finish(d, JOBS_OK, 0, NULL); /* cancelled, skipped or done meanwhile */
    return;
  }
  int64_t now = store_now_ms();
  const char *evstatus = store_res_text(res, 0, 0, L_EVSTATUS);
  const char *response = store_res_text(res, 0, 0, L_RESPONSE);
  int64_t disabled = store_res_int(res, 0, 0, L_DISABLED);
  if (!strcmp(evstatus, "cancelled") || !strcmp(response, "declined") ||
      disabled) {
    /* Nothing to remind of: the decision is cancelled, nothing sent. */
    store_req_t *r = store_req_new(d->a->store, STORE_TXN);
    store_req_stmt(r, &q_notif_cancel);
    store_req_bind_int(r, d->nid);
    store_req_bind_int(r, now);
    store_req_stmt(r, &q_delivery_cancel);
    store_req_bind_int(r, d->nid);
    store_req_bind_int(r, now);
    submit_tail(d, r, JOBS_OK, 0, NULL);
    return;
  }
  if (d->scheduled_at > now + 1000) {
    /* Moved later since it was queued: wait for its time. */
    int64_t secs = (d->scheduled_at - now + 999) / 1000;
    finish(d, JOBS_RETRY_AFTER, secs > 86400 ? 86400 : (int)secs, NULL);
    return;
  }
  /* The event (owned copies for the renderer). */
  const int cols[9] = {L_EXT,       L_UID,       L_SUMMARY,  L_DESC, L_LOCATION,
                       L_STARTDATE, L_ORGANIZER, L_EVSTATUS, L_EMAIL};
  for (int i = 0; i < 9; i++) {
    free(d->ev_strs[i]);
    d->ev_strs[i] = dup_col(res, cols[i]);
  }
  d->ev = (render_event_t){
      .id = d->event_id,
      .external_id = d->ev_strs[0],
      .ical_uid = d->ev_strs[1],
      .summary = d->ev_strs[2],
      .description = d->ev_strs[3],
      .location = d->ev_strs[4],
      .start_date =
          store_res_isnull(res, 0, 0, L_STARTDATE) ? NULL : d->ev_strs[5],
      .organizer = d->ev_strs[6],
      .status = d->ev_strs[7],
      .start_ms = store_res_int(res, 0, 0, L_START),
      .end_ms = store_res_int(res, 0, 0, L_END),
      .all_day = store_res_int(res, 0, 0, L_ALLDAY) != 0,
      .sequence = store_res_int(res, 0, 0, L_SEQUENCE),
  };
  free(d->name);
  d->name = dup_col(res, L_NAME);
  prefs_free(&d->prefs);
  prefs_load(store_res_text(res, 0, 0, L_PREFS), d->ev_strs[8], &d->prefs);
  free(d->notifier);
  d->notifier = xstrdup(strcmp(d->channel, "call") == 0 ? d->a->call_notifier
                                                        : d->a->email_notifier);

  int started = d->ev.all_day ? now >= d->ev.end_ms : now >= d->ev.start_ms;
  if (store_res_rows(res, 1) > 0) {
    d->delivery_id = store_res_int(res, 1, 0, 0);
    const char *dstate = store_res_text(res, 1, 0, 1);
    d->attempt = (int)store_res_int(res, 1, 0, 2);
    if (!strcmp(dstate, "sending")) {
      /* A run died between handing it over and recording the result. */
      set_error(d, "outcome unknown after restart");
      log_outcome(d, "reminder outcome unknown after restart; not resent",
                  LOG_WARN);
      record_final(d, "sent", "unknown");
      return;
    }
    if (strcmp(dstate, "planned") != 0) {
      /* Sent (or failed) already: never twice. */
      store_req_t *r = store_req_new(d->a->store, 0);
      store_req_stmt(r, &q_notif_done);
      store_req_bind_int(r, d->nid);
      store_req_bind_int(r, now);
      submit_tail(d, r, JOBS_OK, 0, NULL);
      return;
    }
    if (started) {
      set_error(d, "gave up: the event has started");
      log_outcome(d, "reminder failed", LOG_WARN);
      record_final(d, "failed", "error");
      return;
    }
    render_and_mark(d); /* a retry */
    return;
  }
  if (started) {
    /* Too late to remind (e.g. the daemon was down): skipped, with why. */
    static const char why[] = "; not sent: the event had started when it "
                              "came due";
    store_req_t *r = store_req_new(d->a->store, STORE_TXN);
    store_req_stmt(r, &q_skip_reason);
    store_req_bind_int(r, d->nid);
    store_req_bind_text(r, why);
    store_req_stmt(r, &q_notif_skip);
    store_req_bind_int(r, d->nid);
    store_req_bind_text(r, why);
    store_req_bind_int(r, now);
    submit_tail(d, r, JOBS_OK, 0, NULL);
    return;
  }
  store_req_t *r = store_req_new(d->a->store, 0);
  store_req_stmt(r, &q_insert_delivery);
  store_req_bind_int(r, d->nid);
  store_req_bind_int(r, d->event_id);
  store_req_bind_int(r, d->user_id);
  store_req_bind_text(r, d->channel);
  store_req_bind_text(r, d->notifier);
  store_req_bind_text(r, "");
  store_req_bind_int(r, now);
  store_req_submit(r, inserted, d);
}

static void load(deliver_t *d) {
  store_req_t *r = store_req_new(d->a->store, 0);
  store_req_stmt(r, &q_load);
  store_req_bind_int(r, d->nid);
  store_req_stmt(r, &q_load_delivery);
  store_req_bind_int(r, d->nid);
  store_req_submit(r, loaded, d);
}

static int64_t payload_nid(const char *payload) {
  json_object *o = json_tokener_parse(payload ? payload : "");
  json_object *v = NULL;
  int64_t id = 0;
  if (o && json_object_object_get_ex(o, "notification_id", &v) &&
      json_object_is_type(v, json_type_int))
    id = json_object_get_int64(v);
  json_object_put(o);
  return id;
}

static void deliver_job(jobs_job_t *job, void *arg) {
  assistant_t *a = arg;
  if (a->closing) {
    jobs_complete(job, JOBS_RETRY_AFTER, 1, "shutting down");
    return;
  }
  int64_t nid = payload_nid(jobs_job_payload(job));
  if (nid <= 0) {
    jobs_complete(job, JOBS_FAIL, 0, "payload: expected notification_id");
    return;
  }
  assistant_hold(a);
  deliver_t *d = xcalloc(1, sizeof *d);
  d->a = a;
  d->job = job;
  d->nid = nid;
  load(d);
}

/* ---------------- start and stop ---------------- */

int outbox_start(assistant_t *a) {
  jobs_kind_opts_t ko = {.concurrency = 16, .timeout_s = 600};
  int rc = jobs_register(a->jobs, DELIVER_KIND, &ko, deliver_job, a);
  if (rc != 0) return rc;
  uv_timer_init(a->loop, &a->dispatch_timer);
  a->dispatch_timer.data = a;
  arm(a, 0);
  return 0;
}

static void timer_closed(uv_handle_t *h) {
  assistant_release(h->data);
}

void outbox_stop(assistant_t *a) {
  if (!a->dispatch_timer.data) return;
  uv_timer_stop(&a->dispatch_timer);
  assistant_hold(a);
  uv_close((uv_handle_t *)&a->dispatch_timer, timer_closed);
}

/* ---------------- webhook events ---------------- */

/* $1 delivery id, $2 full provider id, $3 its part before the first '.' */
static const store_stmt_t q_ev_find = {
    "outbox_ev_find",
    "SELECT id, notifier, state, user_id FROM deliveries"
    " WHERE ($1 > 0 AND id = $1) OR ($1 = 0 AND"
    " (provider_message_id = $2 OR provider_message_id = $3))"
    " ORDER BY id LIMIT 1",
    "SELECT id, notifier, state, user_id FROM deliveries"
    " WHERE ($1::bigint > 0 AND id = $1::bigint) OR ($1::bigint = 0 AND"
    " (provider_message_id = $2 OR provider_message_id = $3))"
    " ORDER BY id LIMIT 1"};

/* $1 provider event id, $2 delivery, $3 state, $4 detail, $5 at */
static const store_stmt_t q_ev_insert = {
    "outbox_ev_insert",
    "INSERT INTO delivery_events (provider_event_id, delivery_id, state,"
    " detail, at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (provider_event_id) DO NOTHING RETURNING delivery_id",
    NULL};

/* $1 delivery, $2 new state, $3 detail, $4 now. Forward only: planned <
 * sending < sent < delivered < opened; bounced and failed are terminal and
 * beat sent and delivered (not opened: it was read). */
static const store_stmt_t q_ev_apply = {
    "outbox_ev_apply",
    "UPDATE deliveries SET state = $2, updated_at = $4,"
    " last_error = CASE WHEN $2 IN ('bounced','failed') THEN $3"
    " ELSE last_error END"
    " WHERE id = $1 AND ("
    " ($2 = 'sent' AND state IN ('planned','sending')) OR"
    " ($2 = 'delivered' AND state IN ('planned','sending','sent')) OR"
    " ($2 = 'opened' AND state IN ('planned','sending','sent','delivered'))"
    " OR ($2 IN ('bounced','failed') AND"
    " state IN ('planned','sending','sent','delivered')))",
    NULL};

typedef struct devent {
  assistant_t *a;
  char *instance, *provider_id, *state, *event_id, *detail;
  int64_t delivery_id, at_ms;
  void (*cb)(void *ud, int status);
  void *ud;
} devent_t;

static void devent_end(devent_t *e, int status) {
  assistant_t *a = e->a;
  if (e->cb) e->cb(e->ud, status);
  free(e->instance);
  free(e->provider_id);
  free(e->state);
  free(e->event_id);
  free(e->detail);
  free(e);
  assistant_release(a);
}

static int store_to_assist(int status) {
  switch (status) {
  case 0:
    return ASSIST_OK;
  case -ECANCELED:
    return ASSIST_ECANCELED;
  default:
    return ASSIST_EIO;
  }
}

static void ev_applied(store_t *s, int status, const char *errmsg,
                       store_res_t *res, void *arg) {
  (void)s;
  devent_t *e = arg;
  if (status < 0) {
    log_kv(LOG_WARN, "outbox", "recording a delivery event failed", "error",
           errmsg, NULL);
    devent_end(e, store_to_assist(status));
    return;
  }
  int fresh = store_res_rows(res, 0) > 0;
  int moved = fresh && store_res_changes(res, 1) > 0;
  char did[24];
  snprintf(did, sizeof did, "%" PRId64, e->delivery_id);
  log_kv(LOG_INFO, "outbox",
         !fresh  ? "delivery event already seen"
         : moved ? "delivery event applied"
                 : "delivery event recorded (state unchanged)",
         "#delivery", did, "state", e->state, "notifier", e->instance, NULL);
  devent_end(e, ASSIST_OK);
}

static void ev_found(store_t *s, int status, const char *errmsg,
                     store_res_t *res, void *arg) {
  (void)s;
  devent_t *e = arg;
  if (status < 0) {
    log_kv(LOG_WARN, "outbox", "finding a delivery failed", "error", errmsg,
           NULL);
    devent_end(e, store_to_assist(status));
    return;
  }
  /* Only the notifier that sent it reports on it. */
  if (store_res_rows(res, 0) == 0 ||
      strcmp(store_res_text(res, 0, 0, 1), e->instance) != 0) {
    devent_end(e, ASSIST_ENOENT);
    return;
  }
  e->delivery_id = store_res_int(res, 0, 0, 0);
  if (!e->event_id) {
    /* No provider event id: dedupe on what it says. */
    char buf[128];
    snprintf(buf, sizeof buf, "%s:%" PRId64 ":%s", e->instance, e->delivery_id,
             e->state);
    e->event_id = xstrdup(buf);
  }
  store_req_t *r = store_req_new(e->a->store, STORE_TXN);
  store_req_stmt(r, &q_ev_insert);
  store_req_bind_text(r, e->event_id);
  store_req_bind_int(r, e->delivery_id);
  store_req_bind_text(r, e->state);
  store_req_bind_text(r, e->detail ? e->detail : "");
  store_req_bind_int(r, e->at_ms);
  /* A duplicate is not recorded twice; applying it again changes nothing
   * (the same state, forward only). */
  store_req_stmt(r, &q_ev_apply);
  store_req_bind_int(r, e->delivery_id);
  store_req_bind_text(r, e->state);
  store_req_bind_text(r, e->detail ? e->detail : "");
  store_req_bind_int(r, store_now_ms());
  store_req_submit(r, ev_applied, e);
}

void assistant_delivery_event(assistant_t *a, const char *instance,
                              const assist_delivery_event_t *ev,
                              void (*cb)(void *ud, int status), void *ud) {
  static const char *const states[] = {"sent", "delivered", "opened", "bounced",
                                       "failed"};
  int ok = 0;
  for (size_t i = 0; ev && ev->state && i < 5; i++)
    ok |= strcmp(ev->state, states[i]) == 0;
  if (!a || a->closing || !instance || !ok ||
      (ev->delivery_id <= 0 &&
       (!ev->provider_message_id || !*ev->provider_message_id))) {
    if (cb) cb(ud, a && a->closing ? ASSIST_ECANCELED : ASSIST_EINVAL);
    return;
  }
  assistant_hold(a);
  devent_t *e = xcalloc(1, sizeof *e);
  e->a = a;
  e->instance = xstrdup(instance);
  e->state = xstrdup(ev->state);
  e->provider_id = dup_max(ev->provider_message_id, 255);
  e->event_id = dup_max(ev->provider_event_id, 255);
  e->detail = dup_max(ev->detail, 300);
  e->delivery_id = ev->delivery_id > 0 ? ev->delivery_id : 0;
  e->at_ms = ev->at_ms > 0 ? ev->at_ms : store_now_ms();
  e->cb = cb;
  e->ud = ud;
  /* SendGrid's sg_message_id is the X-Message-Id plus ".filter...". */
  const char *full = e->provider_id ? e->provider_id : "";
  char *prefix = xstrndup(full, strcspn(full, "."));
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &q_ev_find);
  store_req_bind_int(r, e->delivery_id);
  store_req_bind_text(r, full);
  store_req_bind_text(r, prefix);
  store_req_submit(r, ev_found, e);
  free(prefix);
}
