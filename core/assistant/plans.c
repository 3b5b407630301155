/* plans.c: planning stored events and persisting the plans (plans.h). */
#include "assistant/plans.h"

#include "assistant/prefs.h"
#include "assistant/tz.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------- statements ---------------- */

#define EV_COLS                                                                \
  "SELECT e.id, e.user_id, e.start_at, e.end_at, e.all_day, "                  \
  "COALESCE(e.start_date, ''), e.tz, e.organizer, e.attendees, e.location, "   \
  "e.status, e.response, u.email, u.preferences "                              \
  "FROM calendar_events e JOIN users u ON u.id = e.user_id "
#define N_COLS                                                                 \
  "SELECT id, event_id, offset_s, channel, scheduled_at, reason, state "       \
  "FROM notifications "

enum {
  EC_ID,
  EC_USER,
  EC_START,
  EC_END,
  EC_ALLDAY,
  EC_DATE,
  EC_TZ,
  EC_ORG,
  EC_ATT,
  EC_LOC,
  EC_STATUS,
  EC_RESP,
  EC_EMAIL,
  EC_PREFS
};
enum { NC_ID, NC_EVENT, NC_OFFSET, NC_CHANNEL, NC_SCHED, NC_REASON, NC_STATE };

static const store_stmt_t q_ev_ids = {
    "plans.events_by_ids",
    EV_COLS "WHERE e.id IN (SELECT value FROM json_each($1)) ORDER BY e.id",
    EV_COLS "WHERE e.id IN (SELECT jsonb_array_elements_text($1::jsonb)::"
            "bigint) ORDER BY e.id"};
static const store_stmt_t q_n_ids = {
    "plans.decisions_by_ids",
    N_COLS "WHERE event_id IN (SELECT value FROM json_each($1)) "
           "ORDER BY event_id, id",
    N_COLS "WHERE event_id IN (SELECT jsonb_array_elements_text($1::jsonb)::"
           "bigint) ORDER BY event_id, id"};
static const store_stmt_t q_ev_user = {
    "plans.events_of_user",
    EV_COLS "WHERE e.user_id = $1 AND e.end_at > $2 AND e.start_at < $3 "
            "AND e.id > $4 ORDER BY e.id LIMIT $5",
    NULL};
static const store_stmt_t q_n_user = {
    "plans.decisions_of_user",
    N_COLS "WHERE event_id IN (SELECT id FROM calendar_events WHERE "
           "user_id = $1 AND end_at > $2 AND start_at < $3 AND id > $4 "
           "ORDER BY id LIMIT $5) ORDER BY event_id, id",
    NULL};
/* SQLite: the unary + keeps the planner on the primary key (a walk in id
 * order) instead of the start_at index plus a sort of the whole window
 * for every batch. */
static const store_stmt_t q_ev_unplanned = {
    "plans.events_unplanned",
    EV_COLS "WHERE +e.end_at > $1 AND +e.start_at < $2 AND e.id > $3 "
            "AND e.status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM "
            "notifications n WHERE n.event_id = e.id) ORDER BY e.id LIMIT $4",
    EV_COLS "WHERE e.end_at > $1 AND e.start_at < $2 AND e.id > $3 "
            "AND e.status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM "
            "notifications n WHERE n.event_id = e.id) ORDER BY e.id LIMIT $4"};

static const store_stmt_t q_update = {
    "plans.update",
    "UPDATE notifications SET scheduled_at = $2, reason = $3, state = $4, "
    "updated_at = $5 WHERE id = $1 AND state IN ('planned','skipped',"
    "'cancelled')",
    NULL};
static const store_stmt_t q_cancel = {
    "plans.cancel",
    "UPDATE notifications SET state = 'cancelled', updated_at = $2 "
    "WHERE id = $1 AND state IN ('planned','queued')",
    NULL};
static const store_stmt_t q_delete = {
    "plans.delete_skipped",
    "DELETE FROM notifications WHERE id = $1 AND state = 'skipped'", NULL};

/* Inserts: one row, and INS_ROWS rows at once (bulk plans). The texts are
 * built once; the descriptors are static as the store requires. */
#define INS_ROWS 32
#define INS_COLS 9
static char ins1_sql[512], insn_sql[INS_ROWS * 48 + 512];
static store_stmt_t q_ins1 = {"plans.insert", ins1_sql, NULL};
static store_stmt_t q_insn = {"plans.insert_bulk", insn_sql, NULL};

static void build_insert(char *out, size_t cap, int rows) {
  size_t k = (size_t)snprintf(
      out, cap,
      "INSERT INTO notifications (event_id, user_id, offset_s, channel, "
      "scheduled_at, reason, state, created_at, updated_at) VALUES ");
  for (int r = 0; r < rows; r++) {
    k += (size_t)snprintf(out + k, cap - k, "%s(", r ? "," : "");
    for (int c = 0; c < INS_COLS; c++)
      k += (size_t)snprintf(out + k, cap - k, "%s$%d", c ? "," : "",
                            r * INS_COLS + c + 1);
    k += (size_t)snprintf(out + k, cap - k, ")");
  }
  snprintf(out + k, cap - k,
           " ON CONFLICT (event_id, offset_s, channel) DO NOTHING");
}

static void statements_init(void) {
  if (ins1_sql[0]) return;
  build_insert(ins1_sql, sizeof ins1_sql, 1);
  build_insert(insn_sql, sizeof insn_sql, INS_ROWS);
}

/* ---------------- formatting helpers ---------------- */

void plans_fmt_duration(int64_t s, char out[32]) {
  if (s != 0 && s % 86400 == 0 && (s >= 3 * 86400 || s <= -3 * 86400))
    snprintf(out, 32, "%" PRId64 "d", s / 86400);
  else if (s != 0 && s % 3600 == 0)
    snprintf(out, 32, "%" PRId64 "h", s / 3600);
  else if (s != 0 && s % 60 == 0)
    snprintf(out, 32, "%" PRId64 "m", s / 60);
  else
    snprintf(out, 32, "%" PRId64 "s", s);
}

void plans_fmt_utc(int64_t ms, char out[32]) {
  time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void plans_fmt_local(int64_t ms, const char *tzname, char out[40]) {
  const tz_t *z = tzname && *tzname ? tz_get(tzname) : NULL;
  if (!z) z = tz_get("UTC");
  if (!z) {
    plans_fmt_utc(ms, out);
    return;
  }
  tz_local_t l;
  tz_to_local(z, ms, &l);
  int off = l.utc_offset_s;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", l.year, l.month,
           l.day, l.hour, l.minute, l.second, sign, off / 3600,
           (off / 60) % 60);
}

int plans_http_status(int status, const char **msg) {
  switch (status) {
  case -ENOENT:
    *msg = "not found";
    return 404;
  case -ENOTCONN:
    *msg = "the database is unreachable";
    return 503;
  case -ECANCELED:
    *msg = "the daemon is stopping";
    return 503;
  default:
    *msg = "database error";
    return 500;
  }
}

/* ---------------- per-run preference cache ---------------- */

typedef struct pentry {
  int64_t user_id; /* 0: empty slot */
  uint64_t hash;   /* of e-mail and preferences text */
  prefs_t prefs;
} pentry_t;

typedef struct pcache {
  pentry_t *slots;
  size_t cap, n;
} pcache_t;

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static size_t slot_of(const pcache_t *c, int64_t uid) {
  uint64_t h = (uint64_t)uid * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (c->cap - 1);
}

static void pcache_grow(pcache_t *c) {
  pcache_t n = {.cap = c->cap ? c->cap * 2 : 256};
  n.slots = xcalloc(n.cap, sizeof *n.slots);
  for (size_t i = 0; i < c->cap; i++) {
    if (!c->slots[i].user_id) continue;
    size_t j = slot_of(&n, c->slots[i].user_id);
    while (n.slots[j].user_id) j = (j + 1) & (n.cap - 1);
    n.slots[j] = c->slots[i];
    n.n++;
  }
  free(c->slots);
  *c = n;
}

/* The parsed preferences of uid (borrowed from the cache). Stored
 * preferences were validated when written; should they not parse (an
 * older format), the defaults apply, with the account's e-mail. */
static const prefs_t *pcache_get(pcache_t *c, int64_t uid, const char *email,
                                 const char *json) {
  if (c->n * 2 >= c->cap) pcache_grow(c);
  uint64_t h = fnv(fnv(1469598103934665603ull, email), json);
  size_t j = slot_of(c, uid);
  while (c->slots[j].user_id && c->slots[j].user_id != uid)
    j = (j + 1) & (c->cap - 1);
  pentry_t *e = &c->slots[j];
  if (e->user_id == uid && e->hash == h) return &e->prefs;
  if (e->user_id == uid)
    prefs_free(&e->prefs);
  else
    c->n++;
  e->user_id = uid;
  e->hash = h;
  prefs_errors_t errs = {0};
  if (prefs_parse(json, email, &e->prefs, &errs) != 0) {
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, uid);
    log_kv(LOG_WARN, "assistant", "stored preferences invalid; defaults used",
           "#user_id", id, NULL);
    prefs_errors_free(&errs);
    prefs_free(&e->prefs);
    prefs_parse("{}", email, &e->prefs, &errs);
    prefs_errors_free(&errs);
  }
  return &e->prefs;
}

static void pcache_free(pcache_t *c) {
  for (size_t i = 0; i < c->cap; i++)
    if (c->slots[i].user_id) prefs_free(&c->slots[i].prefs);
  free(c->slots);
  memset(c, 0, sizeof *c);
}

/* ---------------- runs ---------------- */

enum { MODE_IDS, MODE_USER, MODE_UNPLANNED };

#define MAX_WRITES 2

typedef struct run {
  assistant_t *a;
  int mode;
  int64_t user_id;
  int64_t *ids;
  size_t nids, next;
  int64_t after_id;
  size_t batch;
  int64_t now_ms, horizon_end;
  int reading, done_reading;
  unsigned writing;
  int status;
  plans_stats_t st;
  pcache_t cache;
  plans_done_cb cb;
  void *ud;
} run_t;

typedef struct write_ctx {
  run_t *run;
  int64_t earliest; /* earliest planned time written (0: none) */
} write_ctx_t;

static void pump(run_t *r);

static void finish(run_t *r) {
  assistant_t *a = r->a;
  if (r->cb) r->cb(r->ud, r->status, &r->st);
  pcache_free(&r->cache);
  free(r->ids);
  free(r);
  assistant_release(a);
}

static void written(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  write_ctx_t *w = arg;
  run_t *r = w->run;
  r->writing--;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "cannot store plans", "error",
           errmsg ? errmsg : "", NULL);
    if (!r->status) r->status = status;
  } else if (w->earliest) {
    outbox_wake(r->a, w->earliest); /* a no-op unless the outbox runs */
  }
  free(w);
  pump(r);
}

/* One stored decision of the event being diffed. */
typedef struct stored {
  int64_t id, offset_s, sched;
  const char *channel, *reason, *state;
  int used;
} stored_t;

typedef struct ins_row {
  int64_t event_id, user_id, offset_s, sched;
  const char *channel, *state;
  char reason[PLAN_REASON_MAX];
} ins_row_t;

typedef struct batch_out {
  store_req_t *req;
  ins_row_t *rows;
  size_t nrows, cap;
  size_t nstmts;
  int64_t now, earliest;
} batch_out_t;

static void bind_row(store_req_t *q, const ins_row_t *x, int64_t now) {
  store_req_bind_int(q, x->event_id);
  store_req_bind_int(q, x->user_id);
  store_req_bind_int(q, x->offset_s);
  store_req_bind_text(q, x->channel);
  store_req_bind_int(q, x->sched);
  store_req_bind_text(q, x->reason);
  store_req_bind_text(q, x->state);
  store_req_bind_int(q, now);
  store_req_bind_int(q, now);
}

static void flush_inserts(batch_out_t *o) {
  size_t i = 0;
  for (; i + INS_ROWS <= o->nrows; i += INS_ROWS) {
    store_req_stmt(o->req, &q_insn);
    for (size_t k = 0; k < INS_ROWS; k++)
      bind_row(o->req, &o->rows[i + k], o->now);
    o->nstmts++;
  }
  for (; i < o->nrows; i++) {
    store_req_stmt(o->req, &q_ins1);
    bind_row(o->req, &o->rows[i], o->now);
    o->nstmts++;
  }
  o->nrows = 0;
}

static void note_due(batch_out_t *o, int64_t sched) {
  if (sched > 0 && (!o->earliest || sched < o->earliest)) o->earliest = sched;
}

/* Diffs one event's plan against its stored decisions. */
static void diff_event(run_t *r, batch_out_t *o, int64_t event_id,
                       int64_t user_id, const plan_t *plan, stored_t *st,
                       size_t nst) {
  for (size_t i = 0; i < plan->n; i++) {
    const plan_item_t *it = &plan->items[i];
    const char *ch = it->skipped ? "none" : channel_name(it->channel);
    const char *state = it->skipped ? "skipped" : "planned";
    int64_t sched = it->skipped ? 0 : it->scheduled_ms;
    int dup = 0;
    for (size_t k = 0; k < i && !dup; k++) {
      const plan_item_t *p = &plan->items[k];
      dup = p->offset_s == it->offset_s &&
            strcmp(p->skipped ? "none" : channel_name(p->channel), ch) == 0;
    }
    if (dup) continue;
    if (it->skipped)
      r->st.skipped++;
    else
      r->st.planned++;
    stored_t *s = NULL;
    for (size_t k = 0; k < nst && !s; k++)
      if (!st[k].used && st[k].offset_s == it->offset_s &&
          strcmp(st[k].channel, ch) == 0)
        s = &st[k];
    if (!s) {
      if (o->nrows == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        o->rows = xrealloc(o->rows, o->cap * sizeof *o->rows);
      }
      ins_row_t *x = &o->rows[o->nrows++];
      *x = (ins_row_t){event_id, user_id, it->offset_s, sched, ch, state, ""};
      snprintf(x->reason, sizeof x->reason, "%s", it->reason);
      if (o->nrows == INS_ROWS) flush_inserts(o);
      r->st.inserted++;
      note_due(o, sched);
      continue;
    }
    s->used = 1;
    if (strcmp(s->state, "queued") == 0 || strcmp(s->state, "done") == 0)
      continue; /* being sent, or history */
    if (strcmp(s->state, state) == 0 && s->sched == sched &&
        strcmp(s->reason, it->reason) == 0)
      continue;
    store_req_stmt(o->req, &q_update);
    store_req_bind_int(o->req, s->id);
    store_req_bind_int(o->req, sched);
    store_req_bind_text(o->req, it->reason);
    store_req_bind_text(o->req, state);
    store_req_bind_int(o->req, o->now);
    o->nstmts++;
    r->st.updated++;
    note_due(o, sched);
  }
  for (size_t k = 0; k < nst; k++) {
    stored_t *s = &st[k];
    if (s->used) continue;
    if (strcmp(s->state, "planned") == 0 || strcmp(s->state, "queued") == 0) {
      store_req_stmt(o->req, &q_cancel);
      store_req_bind_int(o->req, s->id);
      store_req_bind_int(o->req, o->now);
      o->nstmts++;
      r->st.cancelled++;
    } else if (strcmp(s->state, "skipped") == 0) {
      store_req_stmt(o->req, &q_delete);
      store_req_bind_int(o->req, s->id);
      o->nstmts++;
    }
  }
}

#define MAX_ATTENDEES 256

/* Plans the batch in res and submits its write. */
static void plan_batch(run_t *r, store_res_t *res) {
  int nev = store_res_rows(res, 0);
  int nn = store_res_count(res) > 1 ? store_res_rows(res, 1) : 0;
  batch_out_t o = {.req = store_req_new(r->a->store, STORE_TXN),
                   .now = store_now_ms()};
  stored_t *st = NULL;
  size_t stcap = 0;
  int ni = 0; /* cursor into the decisions (both sorted by event id) */
  const char *att_emails[MAX_ATTENDEES];
  for (int i = 0; i < nev; i++) {
    int64_t id = store_res_int(res, 0, i, EC_ID);
    int64_t uid = store_res_int(res, 0, i, EC_USER);
    /* this event's stored decisions */
    while (ni < nn && store_res_int(res, 1, ni, NC_EVENT) < id) ni++;
    size_t nst = 0;
    for (; ni < nn && store_res_int(res, 1, ni, NC_EVENT) == id; ni++) {
      if (nst == stcap) {
        stcap = stcap ? stcap * 2 : 16;
        st = xrealloc(st, stcap * sizeof *st);
      }
      st[nst++] = (stored_t){store_res_int(res, 1, ni, NC_ID),
                             store_res_int(res, 1, ni, NC_OFFSET),
                             store_res_int(res, 1, ni, NC_SCHED),
                             store_res_text(res, 1, ni, NC_CHANNEL),
                             store_res_text(res, 1, ni, NC_REASON),
                             store_res_text(res, 1, ni, NC_STATE),
                             0};
    }
    const prefs_t *p =
        pcache_get(&r->cache, uid, store_res_text(res, 0, i, EC_EMAIL),
                   store_res_text(res, 0, i, EC_PREFS));
    /* attendees: the planner wants their e-mails */
    const char *att = store_res_text(res, 0, i, EC_ATT);
    json_object *aj = NULL;
    size_t natt = 0;
    if (strcmp(att, "[]") != 0 && (aj = json_tokener_parse(att)) &&
        json_object_is_type(aj, json_type_array)) {
      size_t len = json_object_array_length(aj);
      for (size_t k = 0; k < len && natt < MAX_ATTENDEES; k++) {
        json_object *e = json_object_array_get_idx(aj, k), *em;
        if (json_object_object_get_ex(e, "email", &em) &&
            json_object_is_type(em, json_type_string))
          att_emails[natt++] = json_object_get_string(em);
      }
    }
    int all_day = (int)store_res_int(res, 0, i, EC_ALLDAY);
    plan_event_t ev = {
        .id = id,
        .start_ms = store_res_int(res, 0, i, EC_START),
        .end_ms = store_res_int(res, 0, i, EC_END),
        .all_day = all_day,
        .start_date = all_day ? store_res_text(res, 0, i, EC_DATE) : NULL,
        .tz = store_res_text(res, 0, i, EC_TZ),
        .organizer = store_res_text(res, 0, i, EC_ORG),
        .attendee_emails = natt ? att_emails : NULL,
        .nattendees = natt,
        .location = store_res_text(res, 0, i, EC_LOC),
        .status = store_res_text(res, 0, i, EC_STATUS),
        .response = store_res_text(res, 0, i, EC_RESP),
    };
    plan_input_t in = {.prefs = p, .ev = &ev, .now_ms = o.now};
    plan_t plan;
    planner_plan(r->a->chain, &in, &plan);
    json_object_put(aj);
    diff_event(r, &o, id, uid, &plan, st, nst);
    r->st.events++;
    r->after_id = id;
  }
  flush_inserts(&o);
  free(st);
  free(o.rows);
  r->st.batches++;
  if (o.nstmts == 0) {
    store_req_free(o.req);
    return;
  }
  write_ctx_t *w = xcalloc(1, sizeof *w);
  w->run = r;
  w->earliest = o.earliest;
  r->writing++;
  store_req_submit(o.req, written, w);
}

static void read_done(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  run_t *r = arg;
  r->reading = 0;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "cannot read events to plan", "error",
           errmsg ? errmsg : "", NULL);
    if (!r->status) r->status = status;
    pump(r);
    return;
  }
  int nev = store_res_rows(res, 0);
  if (r->mode == MODE_IDS)
    r->done_reading = r->next >= r->nids;
  else
    r->done_reading = nev < (int)r->batch;
  if (nev > 0) plan_batch(r, res);
  pump(r);
}

static void submit_read(run_t *r) {
  store_req_t *q = store_req_new(r->a->store, 0);
  if (r->mode == MODE_IDS) {
    buf_t b = {0};
    buf_puts(&b, "[");
    size_t end = r->next + r->batch;
    if (end > r->nids) end = r->nids;
    for (size_t i = r->next; i < end; i++)
      buf_printf(&b, "%s%" PRId64, i > r->next ? "," : "", r->ids[i]);
    buf_puts(&b, "]");
    r->next = end;
    store_req_stmt(q, &q_ev_ids);
    store_req_bind_text(q, b.data);
    store_req_stmt(q, &q_n_ids);
    store_req_bind_text(q, b.data);
    buf_free(&b);
  } else if (r->mode == MODE_USER) {
    for (int k = 0; k < 2; k++) {
      store_req_stmt(q, k ? &q_n_user : &q_ev_user);
      store_req_bind_int(q, r->user_id);
      store_req_bind_int(q, r->now_ms);
      store_req_bind_int(q, r->horizon_end);
      store_req_bind_int(q, r->after_id);
      store_req_bind_int(q, (int64_t)r->batch);
    }
  } else {
    store_req_stmt(q, &q_ev_unplanned);
    store_req_bind_int(q, r->now_ms);
    store_req_bind_int(q, r->horizon_end);
    store_req_bind_int(q, r->after_id);
    store_req_bind_int(q, (int64_t)r->batch);
  }
  r->reading = 1;
  store_req_submit(q, read_done, r);
}

static void pump(run_t *r) {
  if (r->a->closing && !r->status) r->status = -ECANCELED;
  if (!r->reading && !r->done_reading && !r->status &&
      r->writing < MAX_WRITES) {
    submit_read(r);
    return;
  }
  if (!r->reading && r->writing == 0 && (r->done_reading || r->status))
    finish(r);
}

static run_t *run_new(assistant_t *a, int mode, plans_done_cb cb, void *ud) {
  statements_init();
  assistant_hold(a);
  run_t *r = xcalloc(1, sizeof *r);
  r->a = a;
  r->mode = mode;
  r->batch = PLANS_BATCH;
  r->now_ms = store_now_ms();
  int64_t days = a->horizon_days > 0 ? a->horizon_days : 60;
  r->horizon_end = r->now_ms + days * 86400000;
  r->cb = cb;
  r->ud = ud;
  return r;
}

void plans_replan_ids(assistant_t *a, const int64_t *ids, size_t n,
                      plans_done_cb cb, void *ud) {
  run_t *r = run_new(a, MODE_IDS, cb, ud);
  r->ids = xcalloc(n ? n : 1, sizeof *r->ids);
  if (n) memcpy(r->ids, ids, n * sizeof *ids);
  r->nids = n;
  r->done_reading = n == 0;
  pump(r);
}

void plans_replan_user(assistant_t *a, int64_t user_id, plans_done_cb cb,
                       void *ud) {
  run_t *r = run_new(a, MODE_USER, cb, ud);
  r->user_id = user_id;
  pump(r);
}

void plans_plan_unplanned(assistant_t *a, size_t batch, plans_done_cb cb,
                          void *ud) {
  run_t *r = run_new(a, MODE_UNPLANNED, cb, ud);
  if (batch) r->batch = batch;
  pump(r);
}
