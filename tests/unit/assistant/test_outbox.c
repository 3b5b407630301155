/*
 * test_outbox.c: the outbox (core/assistant/outbox.c) with the real job
 * engine on the backend named by ASSIST_TEST_STORE_URI (run-tests.sh runs
 * it on SQLite and PostgreSQL). Decisions are inserted with SQL; a scripted
 * notifier stands in for the provider registry, and the service's lifetime
 * count and RSVP links are small doubles. They link only because nothing
 * the test pulls from the core library references anything else in
 * assistant.o, rsvp.o or providers.o; once something does, that object
 * comes in too and the link fails with a multiple definition.
 */
#include "../store/store_test_util.h"

#include "assistant/assistant_int.h"
#include "common/alloc.h"
#include "jobs/jobs.h"
#include "metrics/metrics.h"
#include "plugin/providers.h"

#include <errno.h>
#include <inttypes.h>

/* ---------------- doubles ---------------- */

void assistant_hold(assistant_t *a) {
  a->pending++;
}

void assistant_release(assistant_t *a) {
  if (a->pending > 0) a->pending--;
}

char *rsvp_link(struct assistant *a, int64_t event_id, int64_t user_id,
                const char *response) {
  return xasprintf("%s/rsvp/test-%" PRId64 "-%" PRId64 "-%s", a->public_url,
                   event_id, user_id, response);
}

/* The scripted notifier "fake": statuses in order, then the last one. */
static struct {
  int script[8];
  int n, next;
  int sends;
  int64_t last_delivery;
  char last_channel[8];
  char last_to[64];
  int last_attempt;
} fake;

static void fake_reset(void) {
  memset(&fake, 0, sizeof fake);
}

int providers_send(const char *name, const assist_message_t *msg,
                   assist_send_done_cb done, void *arg) {
  if (strcmp(name, "fake") != 0) return -ENOENT;
  fake.sends++;
  fake.last_delivery = msg->delivery_id;
  fake.last_attempt = msg->attempt;
  snprintf(fake.last_channel, sizeof fake.last_channel, "%s", msg->channel);
  snprintf(fake.last_to, sizeof fake.last_to, "%s", msg->to);
  int st = fake.n == 0          ? ASSIST_OK
           : fake.next < fake.n ? fake.script[fake.next++]
                                : fake.script[fake.n - 1];
  char id[32];
  snprintf(id, sizeof id, "fake-%" PRId64, msg->delivery_id);
  assist_send_result_t res = {.struct_size = sizeof res,
                              .status = st,
                              .provider_message_id = st == 0 ? id : NULL,
                              .retry_after_s = 1,
                              .error = st == 0 ? "" : "scripted failure"};
  done(arg, &res);
  return 0;
}

/* ---------------- fixture ---------------- */

typedef struct {
  tu_env_t env;
  jobs_t *j;
  assistant_t *a;
  int64_t user, now;
} fx_t;

static uv_loop_t *L(fx_t *f) {
  return &f->env.loop;
}

#define SQL(f, ...)                                                            \
  assert_int_equal(tu_sql(L(f), (f)->env.s, NULL, __VA_ARGS__), 0)
#define INT(f, ...) tu_int(L(f), (f)->env.s, __VA_ARGS__)

/* Waits until the query's integer is want (a guard catches hangs). */
static void wait_int(fx_t *f, int64_t want, const char *sql) {
  for (int i = 0; i < 600; i++) {
    if (INT(f, "%s", sql) == want) return;
    tu_run_for(L(f), 50);
  }
  fail_msg("timed out: %s != %" PRId64 " (is %" PRId64 ")", sql, want,
           INT(f, "%s", sql));
}

/* An outbox with its own job engine on store s (one "daemon"). */
static void start_on(uv_loop_t *loop, store_t *s, assistant_t **ao,
                     jobs_t **jo_out, const char *email_notifier,
                     const char *call_notifier) {
  assistant_t *a = xcalloc(1, sizeof *a);
  a->loop = loop;
  a->store = s;
  jobs_opts_t jo = {.poll_ms = 100, .commit_delay_ms = 1};
  jobs_t *j = jobs_new(s, &jo);
  a->jobs = j;
  a->public_url = xstrdup("http://127.0.0.1:8080");
  a->email_notifier = xstrdup(email_notifier);
  a->call_notifier = xstrdup(call_notifier);
  a->from_email = xstrdup("reminders@example.org");
  a->from_name = xstrdup("Reminders");
  a->dispatch_interval_ms = 200;
  assert_int_equal(outbox_start(a), 0);
  assert_int_equal(jobs_start(j), 0);
  *ao = a;
  *jo_out = j;
}

static void stop_on(uv_loop_t *loop, assistant_t *a, jobs_t *j) {
  int done = 0;
  jobs_close(j, tu_closed, &done);
  tu_run_until(loop, &done);
  outbox_stop(a);
  for (int i = 0; i < 200 && a->pending; i++) uv_run(loop, UV_RUN_ONCE);
  assert_int_equal(a->pending, 0);
  free(a->public_url);
  free(a->email_notifier);
  free(a->call_notifier);
  free(a->from_email);
  free(a->from_name);
  free(a);
}

static void fx_start(fx_t *f, const char *email_notifier,
                     const char *call_notifier) {
  start_on(L(f), f->env.s, &f->a, &f->j, email_notifier, call_notifier);
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  tu_env_open(&f->env);
  if (f->env.pg)
    SQL(f, "TRUNCATE users, calendar_events, notifications, deliveries,"
           " delivery_events RESTART IDENTITY CASCADE");
  f->now = store_now_ms();
  SQL(f,
      "INSERT INTO users (email, name, role, preferences, created_at,"
      " updated_at) VALUES ('pat@example.com', 'Pat Doe', 'user',"
      " '{\"timezone\":\"Europe/Berlin\",\"phone\":\"+4930123456\","
      "\"max_call_attempts\":2}', %" PRId64 ", %" PRId64 ")",
      f->now, f->now);
  f->user = INT(f, "SELECT id FROM users WHERE email = 'pat@example.com'");
  fake_reset();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->a) stop_on(L(f), f->a, f->j);
  tu_env_close(&f->env);
  free(f);
  metrics_reset();
  return 0;
}

/* An event starting in start_in_ms; status "confirmed"/"cancelled". */
static int64_t add_event(fx_t *f, int64_t start_in_ms, const char *status,
                         const char *summary) {
  static int n;
  int64_t start = f->now + start_in_ms;
  SQL(f,
      "INSERT INTO calendar_events (user_id, source, external_id, ical_uid,"
      " summary, location, start_at, end_at, tz, organizer, status,"
      " created_at, updated_at) VALUES (%" PRId64 ", 'feed:primary',"
      " 'ev%d', 'uid%d@example.com', '%s', 'Room 4', %" PRId64 ", %" PRId64
      ", 'Europe/Berlin', 'boss@example.com', '%s', %" PRId64 ", %" PRId64 ")",
      f->user, n, n, summary, start, start + 1800000, status, f->now, f->now);
  n++;
  return INT(f, "SELECT max(id) FROM calendar_events");
}

static int64_t add_decision(fx_t *f, int64_t event, const char *channel,
                            int64_t offset_s, int64_t due_in_ms) {
  SQL(f, "INSERT INTO plan_reasons (text) VALUES ('test') ON CONFLICT (text) "
         "DO NOTHING");
  SQL(f,
      "INSERT INTO notifications (event_id, user_id, offset_s, channel,"
      " scheduled_at, reason_id, state, created_at, updated_at) VALUES"
      " (%" PRId64 ", %" PRId64 ", %" PRId64 ", '%s', %" PRId64
      ", (SELECT id FROM plan_reasons WHERE text = 'test'), 'planned', %" PRId64
      ", %" PRId64 ")",
      event, f->user, offset_s, channel, f->now + due_in_ms, f->now, f->now);
  return INT(f, "SELECT max(id) FROM notifications");
}

static char q[512];
static const char *qs(const char *fmt, int64_t id) {
  snprintf(q, sizeof q, fmt, id);
  return q;
}

/* ---------------- tests ---------------- */

/* Dry-run: the decision becomes one job, one delivery, rendered and
 * "sent", never twice however often the dispatcher runs. */
static void test_dry_run(void **state) {
  fx_t *f = *state;
  int64_t ev = add_event(f, 3600000, "confirmed", "Dentist <b>");
  int64_t n = add_decision(f, ev, "email", 3600, -1000);
  fx_start(f, "dry-run", "dry-run");
  wait_int(f, 1,
           qs("SELECT count(*) FROM deliveries WHERE notification_id = %" PRId64
              " AND state = 'sent'",
              n));
  wait_int(f, 1,
           qs("SELECT count(*) FROM notifications WHERE id = %" PRId64
              " AND state = 'done'",
              n));
  int64_t d = INT(f, "SELECT id FROM deliveries");
  char want[64];
  snprintf(want, sizeof want, "dry-run-%" PRId64, d);
  assert_int_equal(
      INT(f, "SELECT count(*) FROM deliveries WHERE provider_message_id = '%s'",
          want),
      1);
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries WHERE recipient ="
                          " 'pat@example.com' AND notifier = 'dry-run' AND"
                          " attempts = 1 AND subject LIKE 'Reminder: Dentist%%'"
                          " AND body_html LIKE '%%&lt;b&gt;%%'"
                          " AND body_text LIKE '%%/rsvp/test-%%-declined%%'"
                          " AND ics LIKE 'BEGIN:VCALENDAR%%METHOD:REQUEST%%'"),
                   1);
  /* (the job's completion commits just after the decision is done) */
  char jq[128];
  snprintf(jq, sizeof jq,
           "SELECT count(*) FROM jobs WHERE idem_key = 'notification:%" PRId64
           "' AND state = 'succeeded'",
           n);
  wait_int(f, 1, jq);
  assert_int_equal(INT(f, "SELECT count(*) FROM jobs"), 1);
  /* More passes change nothing. */
  tu_run_for(L(f), 600);
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries"), 1);
  assert_int_equal(INT(f, "SELECT count(*) FROM jobs"), 1);
  assert_int_equal(fake.sends, 0);
}

/* A decision due later than the next pass is left alone; outbox_wake
 * with a near time brings it in. */
static void test_not_due_yet(void **state) {
  fx_t *f = *state;
  int64_t ev = add_event(f, 7200000, "confirmed", "Later");
  int64_t n = add_decision(f, ev, "email", 3600, 3600000);
  fx_start(f, "dry-run", "dry-run");
  tu_run_for(L(f), 500);
  assert_int_equal(INT(f, "SELECT count(*) FROM jobs"), 0);
  assert_int_equal(
      INT(f, "SELECT count(*) FROM notifications WHERE state = 'planned'"), 1);
  /* Planned sooner now: woken, it goes out. */
  SQL(f,
      "UPDATE notifications SET scheduled_at = %" PRId64 " WHERE id = %" PRId64,
      store_now_ms() + 100, n);
  outbox_wake(f->a, store_now_ms() + 100);
  wait_int(f, 1, "SELECT count(*) FROM deliveries WHERE state = 'sent'");
}

/* Transient failures retry the same delivery; the provider sees the
 * attempt number; one delivery row throughout. */
static void test_retry_then_sent(void **state) {
  fx_t *f = *state;
  fake.script[0] = ASSIST_EIO;
  fake.script[1] = ASSIST_EBUSY;
  fake.script[2] = ASSIST_OK;
  fake.n = 3;
  int64_t ev = add_event(f, 3600000, "confirmed", "Retry");
  add_decision(f, ev, "email", 3600, -1000);
  fx_start(f, "fake", "fake");
  wait_int(f, 1, "SELECT count(*) FROM deliveries WHERE state = 'sent'");
  assert_int_equal(fake.sends, 3);
  assert_int_equal(fake.last_attempt, 3);
  assert_string_equal(fake.last_to, "pat@example.com");
  assert_int_equal(INT(f, "SELECT attempts FROM deliveries"), 3);
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries WHERE"
                          " provider_message_id LIKE 'fake-%%'"
                          " AND last_error IS NULL"),
                   1);
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries"), 1);
}

/* An ambiguous result is recorded as sent with the note, never resent. */
static void test_ambiguous(void **state) {
  fx_t *f = *state;
  fake.script[0] = ASSIST_EAMBIGUOUS;
  fake.n = 1;
  int64_t ev = add_event(f, 3600000, "confirmed", "Maybe");
  add_decision(f, ev, "email", 3600, -1000);
  fx_start(f, "fake", "fake");
  wait_int(f, 1,
           "SELECT count(*) FROM deliveries WHERE state = 'sent' AND"
           " last_error LIKE 'outcome unknown%%'");
  tu_run_for(L(f), 1500);
  assert_int_equal(fake.sends, 1);
  assert_int_equal(
      INT(f, "SELECT count(*) FROM notifications WHERE state = 'done'"), 1);
}

/* A delivery left "sending" by a crash is ambiguous: sent, never resent. */
static void test_sending_after_crash(void **state) {
  fx_t *f = *state;
  int64_t ev = add_event(f, 3600000, "confirmed", "Crash");
  int64_t n = add_decision(f, ev, "email", 3600, -1000);
  SQL(f,
      "INSERT INTO deliveries (notification_id, event_id, user_id, channel,"
      " notifier, state, attempts, created_at, updated_at) VALUES (%" PRId64
      ", %" PRId64 ", %" PRId64 ", 'email', 'fake', 'sending', 1, 0, 0)",
      n, ev, f->user);
  fx_start(f, "fake", "fake");
  wait_int(f, 1,
           "SELECT count(*) FROM deliveries WHERE state = 'sent' AND"
           " last_error = 'outcome unknown after restart'");
  wait_int(f, 1, "SELECT count(*) FROM notifications WHERE state = 'done'");
  assert_int_equal(fake.sends, 0);
}

/* A cancelled event (or a declined one) sends nothing. */
static void test_cancelled_declined(void **state) {
  fx_t *f = *state;
  int64_t ev1 = add_event(f, 3600000, "cancelled", "Off");
  int64_t n1 = add_decision(f, ev1, "email", 3600, -1000);
  int64_t ev2 = add_event(f, 3600000, "confirmed", "No");
  SQL(f, "UPDATE calendar_events SET response = 'declined' WHERE id = %" PRId64,
      ev2);
  int64_t n2 = add_decision(f, ev2, "email", 3600, -1000);
  /* ... and one that already started: skipped with the reason. */
  int64_t ev3 = add_event(f, -60000, "confirmed", "Started");
  int64_t n3 = add_decision(f, ev3, "email", 300, -360000);
  fx_start(f, "fake", "fake");
  wait_int(f, 3, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries"), 0);
  assert_int_equal(fake.sends, 0);
  assert_int_equal(
      INT(f,
          "SELECT count(*) FROM notifications WHERE id IN (%" PRId64
          ", %" PRId64 ") AND state = 'cancelled'",
          n1, n2),
      2);
  assert_int_equal(
      INT(f,
          "SELECT count(*) FROM notifications WHERE id = %" PRId64
          " AND state = 'skipped' AND reason_id = (SELECT id FROM plan_reasons"
          " WHERE text = 'test; not sent: the event had started when it came"
          " due')",
          n3),
      1);
}

/* A permanent refusal fails the delivery once. */
static void test_permanent_failure(void **state) {
  fx_t *f = *state;
  fake.script[0] = ASSIST_EINVAL;
  fake.n = 1;
  int64_t ev = add_event(f, 3600000, "confirmed", "Bad");
  add_decision(f, ev, "email", 3600, -1000);
  fx_start(f, "fake", "fake");
  wait_int(f, 1,
           "SELECT count(*) FROM deliveries WHERE state = 'failed' AND"
           " last_error = 'scripted failure'");
  tu_run_for(L(f), 1000);
  assert_int_equal(fake.sends, 1);
}

/* A call failing max_call_attempts (2) times fails and escalates to an
 * e-mail decision, which the dry-run notifier sends. */
static void test_call_escalates(void **state) {
  fx_t *f = *state;
  fake.script[0] = ASSIST_EIO;
  fake.n = 1;
  int64_t ev = add_event(f, 3600000, "confirmed", "Call me");
  add_decision(f, ev, "call", 1800, -1000);
  fx_start(f, "dry-run", "fake");
  wait_int(f, 1,
           "SELECT count(*) FROM deliveries WHERE channel = 'call' AND"
           " state = 'failed' AND attempts = 2");
  assert_int_equal(fake.sends, 2);
  assert_string_equal(fake.last_channel, "call");
  assert_string_equal(fake.last_to, "+4930123456");
  wait_int(f, 1,
           "SELECT count(*) FROM deliveries WHERE channel = 'email' AND"
           " state = 'sent' AND notifier = 'dry-run'");
  assert_int_equal(INT(f, "SELECT count(*) FROM notifications WHERE"
                          " channel = 'email' AND offset_s = 1800 AND"
                          " reason_id IN (SELECT id FROM plan_reasons WHERE"
                          " text LIKE 'escalated to e-mail%%')"),
                   1);
}

/* A decision cancelled after its job ran and planned again gets a job of
 * its own (the first key is taken). */
static void test_revived(void **state) {
  fx_t *f = *state;
  int64_t ev = add_event(f, 3600000, "cancelled", "Back again");
  int64_t n = add_decision(f, ev, "email", 3600, -1000);
  fx_start(f, "dry-run", "dry-run");
  wait_int(f, 1,
           qs("SELECT count(*) FROM notifications WHERE id = %" PRId64
              " AND state = 'cancelled'",
              n));
  wait_int(f, 1, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
  SQL(f, "UPDATE calendar_events SET status = 'confirmed'");
  SQL(f,
      "UPDATE notifications SET state = 'planned', updated_at = %" PRId64
      " WHERE id = %" PRId64,
      store_now_ms(), n);
  outbox_wake(f->a, store_now_ms());
  wait_int(f, 1, "SELECT count(*) FROM deliveries WHERE state = 'sent'");
  assert_int_equal(INT(f, "SELECT count(*) FROM jobs"), 2);
}

/* Two daemons on one database: both dispatchers see the same decisions;
 * every decision still gets one job and one delivery. */
static void test_two_dispatchers(void **state) {
  fx_t *f = *state;
  if (!f->env.pg) {
    print_message("SKIPPED on SQLite: one daemon per database file\n");
    return;
  }
  int64_t ev = add_event(f, 3600000, "confirmed", "Twice?");
  for (int i = 0; i < 20; i++) add_decision(f, ev, "email", 600 + i, -1000);
  store_t *s2 = NULL;
  char msg[256];
  assert_int_equal(
      tu_open(L(f), f->env.uri, tu_migrations(), &s2, msg, sizeof msg), 0);
  assistant_t *a2;
  jobs_t *j2;
  start_on(L(f), s2, &a2, &j2, "fake", "fake");
  fx_start(f, "fake", "fake");
  wait_int(f, 20, "SELECT count(*) FROM deliveries WHERE state = 'sent'");
  tu_run_for(L(f), 1000);
  assert_int_equal(INT(f, "SELECT count(*) FROM deliveries"), 20);
  assert_int_equal(INT(f, "SELECT count(*) FROM jobs"), 20);
  assert_int_equal(
      INT(f, "SELECT count(*) FROM notifications WHERE state = 'done'"), 20);
  assert_int_equal(fake.sends, 20);
  stop_on(L(f), a2, j2);
  tu_close_store(L(f), s2);
}

/* Webhook events: found by delivery id or the provider id's prefix,
 * deduplicated, never backwards, only from the notifier that sent it. */
typedef struct {
  int done, status;
} evr_t;

static void ev_cb(void *ud, int status) {
  evr_t *r = ud;
  r->status = status;
  r->done = 1;
}

static int send_event(fx_t *f, const char *inst, int64_t delivery,
                      const char *pid, const char *state, const char *eid) {
  evr_t r = {0};
  assist_delivery_event_t ev = {.struct_size = sizeof ev,
                                .delivery_id = delivery,
                                .provider_message_id = pid,
                                .state = state,
                                .provider_event_id = eid,
                                .detail = "because"};
  assistant_delivery_event(f->a, inst, &ev, ev_cb, &r);
  tu_run_until(L(f), &r.done);
  return r.status;
}

static void test_delivery_events(void **state) {
  fx_t *f = *state;
  int64_t ev = add_event(f, 3600000, "confirmed", "Hooks");
  add_decision(f, ev, "email", 3600, -1000);
  add_decision(f, ev, "email", 1800, -1000);
  fx_start(f, "fake", "fake");
  wait_int(f, 2, "SELECT count(*) FROM deliveries WHERE state = 'sent'");
  int64_t d1 = INT(f, "SELECT min(id) FROM deliveries");
  int64_t d2 = INT(f, "SELECT max(id) FROM deliveries");
  char pid[64];
  snprintf(pid, sizeof pid, "fake-%" PRId64 ".filterdrecv-p3mdw1-xyz", d1);
  /* delivered, by the provider id's prefix */
  assert_int_equal(send_event(f, "fake", 0, pid, "delivered", "e1"), 0);
  assert_int_equal(INT(f,
                       "SELECT count(*) FROM deliveries WHERE id = %" PRId64
                       " AND state = 'delivered'",
                       d1),
                   1);
  /* a late "sent" does not move it back; a duplicate is ignored */
  assert_int_equal(send_event(f, "fake", 0, pid, "sent", "e0"), 0);
  assert_int_equal(send_event(f, "fake", 0, pid, "delivered", "e1"), 0);
  assert_int_equal(INT(f,
                       "SELECT count(*) FROM deliveries WHERE id = %" PRId64
                       " AND state = 'delivered'",
                       d1),
                   1);
  assert_int_equal(
      INT(f,
          "SELECT count(*) FROM delivery_events WHERE delivery_id = %" PRId64,
          d1),
      2);
  /* opened beats delivered; bounced does not beat opened */
  assert_int_equal(send_event(f, "fake", d1, NULL, "opened", "e2"), 0);
  assert_int_equal(send_event(f, "fake", d1, NULL, "bounced", "e3"), 0);
  assert_int_equal(INT(f,
                       "SELECT count(*) FROM deliveries WHERE id = %" PRId64
                       " AND state = 'opened'",
                       d1),
                   1);
  /* bounced beats sent and is terminal */
  assert_int_equal(send_event(f, "fake", d2, NULL, "bounced", "e4"), 0);
  assert_int_equal(send_event(f, "fake", d2, NULL, "delivered", "e5"), 0);
  assert_int_equal(INT(f,
                       "SELECT count(*) FROM deliveries WHERE id = %" PRId64
                       " AND state = 'bounced' AND last_error = 'because'",
                       d2),
                   1);
  /* another notifier, an unknown id, a bad state */
  assert_int_equal(send_event(f, "other", d2, NULL, "delivered", "e6"),
                   ASSIST_ENOENT);
  assert_int_equal(send_event(f, "fake", 0, "nope.x", "delivered", "e7"),
                   ASSIST_ENOENT);
  assert_int_equal(send_event(f, "fake", d2, NULL, "exploded", "e8"),
                   ASSIST_EINVAL);
  assert_int_equal(send_event(f, "fake", 0, NULL, "delivered", "e9"),
                   ASSIST_EINVAL);
}

int main(void) {
  (void)tu_flag_set;
  (void)tu_closed_flag;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_due_yet, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_then_sent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ambiguous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sending_after_crash, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_cancelled_declined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_permanent_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_call_escalates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_revived, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_dispatchers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delivery_events, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
