/* plans.c: planning stored events and persisting the plans (plans.h). */
#include "assistant/plans.h"

#include "assistant/prefs.h"
#include "assistant/reasons.h"
#include "common/tz.h"
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

/* The events without their person's columns: a run reads each person's
 * e-mail and preferences once (q_users), not with every event (for a
 * million events, half a gigabyte of the same texts copied into result
 * sets; tests/bench/planner.sh). */
#define EV_COLS                                                                \
  "SELECT e.id, e.user_id, e.start_at, e.end_at, e.all_day, "                  \
  "COALESCE(e.start_date, ''), e.tz, e.organizer, e.attendees, e.location, "   \
  "e.status, e.response "                                                      \
  "FROM calendar_events e "
#define N_COLS                                                                 \
  "SELECT n.id, n.event_id, n.offset_s, n.channel, n.scheduled_at, "           \
  "COALESCE(" REASON_TEXT_OF("n") ", ''), n.state, n.reason_id "               \
                                  "FROM notifications n "

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
  EC_RESP
};
enum { UC_ID, UC_EMAIL, UC_PREFS };
enum {
  NC_ID,
  NC_EVENT,
  NC_OFFSET,
  NC_CHANNEL,
  NC_SCHED,
  NC_REASON,
  NC_STATE,
  NC_REASON_ID
};

static const store_stmt_t q_ev_ids = {
    "plans.events_by_ids",
    EV_COLS "WHERE e.id IN (SELECT value FROM json_each($1)) ORDER BY e.id",
    EV_COLS "WHERE e.id IN (SELECT jsonb_array_elements_text($1::jsonb)::"
            "bigint) ORDER BY e.id"};
static const store_stmt_t q_users = {
    "plans.users",
    "SELECT id, email, preferences FROM users "
    "WHERE id IN (SELECT value FROM json_each($1))",
    "SELECT id, email, preferences FROM users "
    "WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"};
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
    "UPDATE notifications SET scheduled_at = $2, reason_id = $3, state = $4, "
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

/* Inserts: multi-row statements of INS_ROWS rows and smaller ones for the
 * rest of a batch (the sizes halve down to 1), all rows of a batch bound
 * after it is planned. Each row binds 7 values; $1, the time, is shared
 * by every row (created_at = updated_at). The texts are built once; the
 * descriptors are static as the store requires. Fewer, larger statements
 * cost the SQLite thread less per row (one step and reset per statement;
 * tests/bench/planner.sh). */
#define INS_ROWS 128
#define INS_SIZES 8 /* 128, 64, ..., 1 */
#define INS_COLS 7
/* SQLite: OR IGNORE (the rows are valid by construction; a decision
 * already stored is skipped, as ON CONFLICT DO NOTHING does) and the
 * deferred check of the event key (0005_reminders.sql) leave no
 * constraint that could abort a statement half-way, so SQLite keeps no
 * statement journal for these multi-row inserts (it copied every page
 * each statement touched: about a tenth of the bench's SQLite time). */
static char ins_sql[INS_SIZES][INS_ROWS * 40 + 512];
static char ins_pg[INS_SIZES][INS_ROWS * 40 + 512];
static store_stmt_t q_ins[INS_SIZES] = {
    {"plans.insert_128", ins_sql[0], ins_pg[0]},
    {"plans.insert_64", ins_sql[1], ins_pg[1]},
    {"plans.insert_32", ins_sql[2], ins_pg[2]},
    {"plans.insert_16", ins_sql[3], ins_pg[3]},
    {"plans.insert_8", ins_sql[4], ins_pg[4]},
    {"plans.insert_4", ins_sql[5], ins_pg[5]},
    {"plans.insert_2", ins_sql[6], ins_pg[6]},
    {"plans.insert", ins_sql[7], ins_pg[7]},
};

static void build_insert(char *out, size_t cap, int rows, int pg) {
  size_t k = (size_t)snprintf(
      out, cap,
      "INSERT %sINTO notifications (created_at, updated_at, event_id, "
      "user_id, offset_s, channel, scheduled_at, reason_id, state) VALUES ",
      pg ? "" : "OR IGNORE ");
  for (int r = 0; r < rows; r++) {
    k += (size_t)snprintf(out + k, cap - k, "%s($1,$1", r ? "," : "");
    for (int c = 0; c < INS_COLS; c++)
      k += (size_t)snprintf(out + k, cap - k, ",$%d", r * INS_COLS + c + 2);
    k += (size_t)snprintf(out + k, cap - k, ")");
  }
  if (pg)
    snprintf(out + k, cap - k,
             " ON CONFLICT (event_id, offset_s, channel) DO NOTHING");
}

static void statements_init(void) {
  if (ins_sql[0][0]) return;
  for (int i = 0; i < INS_SIZES; i++) {
    build_insert(ins_sql[i], sizeof ins_sql[i], INS_ROWS >> i, 0);
    build_insert(ins_pg[i], sizeof ins_pg[i], INS_ROWS >> i, 1);
  }
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

/* A run reads a person's e-mail and preferences the first time one of
 * their events comes up (one request for a batch's new people) and keeps
 * them until it ends. plans_replan_user (a person's preferences changed)
 * bumps the assistant's generation: runs under way then read everyone
 * again from their next batch. */
enum { PE_EMPTY, PE_LOADING, PE_READY, PE_GONE };

typedef struct pentry {
  int64_t user_id;
  int state; /* PE_*: PE_GONE, the person no longer exists */
  prefs_t prefs;
} pentry_t;

typedef struct pcache {
  pentry_t *slots;
  size_t cap, n;
} pcache_t;

static size_t slot_of(const pcache_t *c, int64_t uid) {
  uint64_t h = (uint64_t)uid * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (c->cap - 1);
}

static void pcache_grow(pcache_t *c) {
  pcache_t n = {.cap = c->cap ? c->cap * 2 : 256};
  n.slots = xcalloc(n.cap, sizeof *n.slots);
  for (size_t i = 0; i < c->cap; i++) {
    if (c->slots[i].state == PE_EMPTY) continue;
    size_t j = slot_of(&n, c->slots[i].user_id);
    while (n.slots[j].state != PE_EMPTY) j = (j + 1) & (n.cap - 1);
    n.slots[j] = c->slots[i];
    n.n++;
  }
  free(c->slots);
  *c = n;
}

/* uid's entry, added (PE_EMPTY) when absent. */
static pentry_t *pcache_slot(pcache_t *c, int64_t uid) {
  if (c->n * 2 >= c->cap) pcache_grow(c);
  size_t j = slot_of(c, uid);
  while (c->slots[j].state != PE_EMPTY && c->slots[j].user_id != uid)
    j = (j + 1) & (c->cap - 1);
  pentry_t *e = &c->slots[j];
  if (e->state == PE_EMPTY) {
    e->user_id = uid;
    c->n++;
  }
  return e;
}

/* The parsed preferences of uid (borrowed from the cache), or NULL when
 * the person is not (or no longer) known. */
static const prefs_t *pcache_get(const pcache_t *c, int64_t uid) {
  if (!c->cap) return NULL;
  size_t j = slot_of(c, uid);
  while (c->slots[j].state != PE_EMPTY) {
    if (c->slots[j].user_id == uid)
      return c->slots[j].state == PE_READY ? &c->slots[j].prefs : NULL;
    j = (j + 1) & (c->cap - 1);
  }
  return NULL;
}

/* Stored preferences were validated when written; should they not parse
 * (an older format), the defaults apply, with the account's e-mail. */
static void pcache_set(pcache_t *c, int64_t uid, const char *email,
                       const char *json) {
  pentry_t *e = pcache_slot(c, uid);
  if (e->state == PE_READY) prefs_free(&e->prefs);
  e->state = PE_READY;
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
}

static void pcache_free(pcache_t *c) {
  for (size_t i = 0; i < c->cap; i++)
    if (c->slots[i].state == PE_READY) prefs_free(&c->slots[i].prefs);
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
  int loading;       /* the people of held are being read */
  store_res_t *held; /* a batch read, waiting for its people (owned) */
  int64_t *want;     /* the people being read */
  size_t nwant, capwant;
  uint64_t cache_gen; /* a->plans_gen the cache was filled under */
  unsigned writing;
  int status;
  plans_stats_t st;
  pcache_t cache;
  struct batch_out *pend; /* the write being gathered (NULL: none) */
  size_t pend_events;
  plans_done_cb cb;
  void *ud;
} run_t;

/* One decision to insert or update, until write_batch binds it with its
 * reason's id (looked up once when added; the unknown ones are filled in
 * by resolve_reasons). */
typedef struct ins_row {
  int64_t id; /* the stored decision to update; 0: insert */
  int64_t event_id, user_id, offset_s, sched;
  const char *channel, *state;   /* literals */
  size_t reason_off, reason_len; /* into the batch's reasons */
  int64_t reason_id;             /* 0: not known yet */
} ins_row_t;

typedef struct write_ctx {
  run_t *run;
  int64_t earliest; /* earliest planned time written (0: none) */
} write_ctx_t;

static void pump(run_t *r);

static void finish(run_t *r) {
  assistant_t *a = r->a;
  if (r->cb) r->cb(r->ud, r->status, &r->st);
  pcache_free(&r->cache);
  store_res_free(r->held);
  free(r->want);
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

typedef struct batch_out {
  run_t *run;
  store_req_t *req;
  ins_row_t *rows, *upds; /* to insert, to update */
  size_t nrows, cap, nupds, capupds;
  buf_t reasons; /* the rows' reasons, each NUL-terminated */
  size_t nstmts;
  int64_t now, earliest;
  size_t *unknown; /* resolve_reasons: offsets of the texts asked for */
  size_t nunknown;
} batch_out_t;

static void bind_row(batch_out_t *o, const ins_row_t *x) {
  store_req_t *q = o->req;
  store_req_bind_int(q, x->event_id);
  store_req_bind_int(q, x->user_id);
  store_req_bind_int(q, x->offset_s);
  store_req_bind_text_ref(q, x->channel, strlen(x->channel));
  store_req_bind_int(q, x->sched);
  store_req_bind_int(q, x->reason_id);
  store_req_bind_text_ref(q, x->state, strlen(x->state));
}

/* Binds every row, once the batch is planned and its reasons have ids:
 * the updates, then as many INS_ROWS-row inserts as fit and one of each
 * smaller size the rest needs. */
static void flush_rows(batch_out_t *o) {
  for (size_t i = 0; i < o->nupds; i++) {
    const ins_row_t *x = &o->upds[i];
    store_req_stmt(o->req, &q_update);
    store_req_bind_int(o->req, x->id);
    store_req_bind_int(o->req, x->sched);
    store_req_bind_int(o->req, x->reason_id);
    store_req_bind_text_ref(o->req, x->state, strlen(x->state));
    store_req_bind_int(o->req, o->now);
    o->nstmts++;
  }
  size_t i = 0;
  for (int k = 0; k < INS_SIZES; k++) {
    size_t rows = (size_t)INS_ROWS >> k;
    for (; o->nrows - i >= rows; i += rows) {
      store_req_stmt(o->req, &q_ins[k]);
      store_req_bind_int(o->req, o->now);
      for (size_t j = 0; j < rows; j++) bind_row(o, &o->rows[i + j]);
      o->nstmts++;
    }
  }
}

/* Appends x (its reason copied into the batch) to *v. */
static void add_row(batch_out_t *o, ins_row_t **v, size_t *n, size_t *cap,
                    ins_row_t x, const char *reason) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 256;
    *v = xrealloc(*v, *cap * sizeof **v);
  }
  x.reason_off = o->reasons.len;
  x.reason_len = strnlen(reason, PLAN_REASON_MAX - 1);
  x.reason_id = reasons_id(o->run->a->reasons, reason, x.reason_len);
  buf_append(&o->reasons, reason, x.reason_len);
  buf_append(&o->reasons, "", 1);
  (*v)[(*n)++] = x;
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
    /* No duplicate keys: the guardrails, last in every chain, keep one
     * item per (offset, channel), skipped ones with CHANNEL_NONE. */
    if (it->skipped)
      r->st.skipped++;
    else
      r->st.planned++;
    stored_t *s = NULL;
    for (size_t k = 0; k < nst && !s; k++)
      if (!st[k].used && st[k].offset_s == it->offset_s &&
          strcmp(st[k].channel, ch) == 0)
        s = &st[k];
    ins_row_t x = {.event_id = event_id,
                   .user_id = user_id,
                   .offset_s = it->offset_s,
                   .sched = sched,
                   .channel = ch,
                   .state = state};
    if (!s) {
      add_row(o, &o->rows, &o->nrows, &o->cap, x, it->reason);
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
    x.id = s->id;
    add_row(o, &o->upds, &o->nupds, &o->capupds, x, it->reason);
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

/* The attendees' e-mails from the stored array ([{"email":...,"name":...},
 * ...], written by events.c) without building a json-c tree, as json-c
 * would read them: each element's "email" string (the last one when an
 * element repeats the key). The strings are copied into buf (at least
 * strlen(att) + 1 bytes). Returns the count, or -1 for a text this scanner
 * does not take (escapes, deeper nesting, anything unexpected): the caller
 * then asks json-c. */
static int scan_attendees(const char *att, char *buf, const char **out,
                          size_t max) {
  const char *p = att;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p != '[' || strchr(p, '\\')) return -1;
  int depth = 0, n = 0, in_elem = -1; /* in_elem: out index of this element */
  while (*p) {
    char c = *p++;
    if (c == '[' || c == '{') {
      if (++depth > 4) return -1;
      if (depth == 2) {
        if (c != '{') return -1;
        in_elem = -1;
      }
    } else if (c == ']' || c == '}') {
      if (--depth < 0) return -1;
    } else if (c == '"') {
      const char *str = p, *end = strchr(p, '"');
      if (!end) return -1;
      p = end + 1;
      if (depth != 2) continue;
      const char *q = p;
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
      if (*q != ':') continue; /* a value */
      if (end - str != 5 || memcmp(str, "email", 5) != 0) continue;
      q++;
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
      if (*q != '"') continue; /* not a string: json-c skips it too */
      const char *v = q + 1, *vend = strchr(v, '"');
      if (!vend) return -1;
      p = vend + 1;
      size_t len = (size_t)(vend - v);
      memcpy(buf, v, len);
      buf[len] = '\0';
      if (in_elem >= 0) {
        out[in_elem] = buf;
      } else if ((size_t)n < max) {
        in_elem = n;
        out[n++] = buf;
      }
      buf += len + 1;
    }
  }
  return depth == 0 ? n : -1;
}

/* The e-mails of att into out (borrowed from *aj or scratch). */
static size_t attendee_emails(const char *att, buf_t *scratch, json_object **aj,
                              const char **out) {
  *aj = NULL;
  if (strcmp(att, "[]") == 0) return 0;
  size_t need = strlen(att) + 1;
  buf_reset(scratch);
  buf_reserve(scratch, need);
  int n = scan_attendees(att, scratch->data, out, MAX_ATTENDEES);
  if (n >= 0) return (size_t)n;
  size_t natt = 0;
  if ((*aj = json_tokener_parse(att)) &&
      json_object_is_type(*aj, json_type_array)) {
    size_t len = json_object_array_length(*aj);
    for (size_t k = 0; k < len && natt < MAX_ATTENDEES; k++) {
      json_object *e = json_object_array_get_idx(*aj, k), *em;
      if (json_object_object_get_ex(e, "email", &em) &&
          json_object_is_type(em, json_type_string))
        out[natt++] = json_object_get_string(em);
    }
  }
  return natt;
}

/* Plans the batch in res and submits its write. */
static void plan_batch(run_t *r, store_res_t *res) {
  int nev = store_res_rows(res, 0);
  int nn = store_res_count(res) > 1 ? store_res_rows(res, 1) : 0;
  if (!r->pend) {
    r->pend = xcalloc(1, sizeof *r->pend);
    r->pend->run = r;
    r->pend->req = store_req_new(r->a->store, STORE_TXN);
    r->pend->now = store_now_ms();
  }
  batch_out_t *o = r->pend;
  int64_t now = store_now_ms();
  stored_t *st = NULL;
  size_t stcap = 0;
  int ni = 0; /* cursor into the decisions (both sorted by event id) */
  const char *att_emails[MAX_ATTENDEES];
  buf_t att_buf = {0};
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
      const char *why = store_res_text(res, 1, ni, NC_REASON);
      if (*why)
        reasons_put(r->a->reasons, why, strlen(why),
                    store_res_int(res, 1, ni, NC_REASON_ID));
      st[nst++] = (stored_t){store_res_int(res, 1, ni, NC_ID),
                             store_res_int(res, 1, ni, NC_OFFSET),
                             store_res_int(res, 1, ni, NC_SCHED),
                             store_res_text(res, 1, ni, NC_CHANNEL),
                             store_res_text(res, 1, ni, NC_REASON),
                             store_res_text(res, 1, ni, NC_STATE),
                             0};
    }
    const prefs_t *p = pcache_get(&r->cache, uid);
    if (!p) { /* the person was deleted (their events go with them) */
      r->after_id = id;
      continue;
    }
    /* attendees: the planner wants their e-mails */
    json_object *aj;
    size_t natt = attendee_emails(store_res_text(res, 0, i, EC_ATT), &att_buf,
                                  &aj, att_emails);
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
    plan_input_t in = {.prefs = p, .ev = &ev, .now_ms = now};
    plan_t plan;
    planner_plan(r->a->chain, &in, &plan);
    json_object_put(aj);
    diff_event(r, o, id, uid, &plan, st, nst);
    r->st.events++;
    r->after_id = id;
  }
  free(st);
  buf_free(&att_buf);
  r->st.batches++;
  r->pend_events += (size_t)nev;
}

static void batch_free(batch_out_t *o) {
  store_req_free(o->req); /* NULL once submitted */
  free(o->rows);
  free(o->upds);
  free(o->unknown);
  buf_free(&o->reasons);
  free(o);
}

/* Binds the batch (its reasons all have ids) and submits it as one
 * transaction; frees o. */
static void write_batch(run_t *r, batch_out_t *o) {
  flush_rows(o);
  if (o->nstmts) {
    write_ctx_t *w = xcalloc(1, sizeof *w);
    w->run = r;
    w->earliest = o->earliest;
    r->writing++;
    store_req_submit(o->req, written, w);
    o->req = NULL;
  }
  batch_free(o);
}

/* The rows whose reason the cache did not know take their ids from it,
 * now that resolve_reasons has filled it. */
static void fill_reason_ids(batch_out_t *o) {
  ins_row_t *v[2] = {o->upds, o->rows};
  size_t n[2] = {o->nupds, o->nrows};
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < n[l]; i++)
      if (!v[l][i].reason_id)
        v[l][i].reason_id =
            reasons_id(o->run->a->reasons, o->reasons.data + v[l][i].reason_off,
                       v[l][i].reason_len);
}

static void reasons_resolved(store_t *s, int status, const char *errmsg,
                             store_res_t *res, void *arg) {
  (void)s;
  batch_out_t *o = arg;
  run_t *r = o->run;
  r->writing--;
  for (size_t k = 0; status == 0 && k < o->nunknown; k++) {
    const char *t = o->reasons.data + o->unknown[k];
    if (store_res_rows(res, 2 * k + 1) != 1) {
      status = -EIO;
      errmsg = "a plan reason was not stored";
      break;
    }
    reasons_put(r->a->reasons, t, strlen(t),
                store_res_int(res, 2 * k + 1, 0, 0));
  }
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "cannot store plan reasons", "error",
           errmsg ? errmsg : "", NULL);
    if (!r->status) r->status = status;
    batch_free(o);
  } else {
    fill_reason_ids(o);
    write_batch(r, o);
  }
  pump(r);
}

/* Asks for the ids of the batch's reasons the cache does not know (one
 * request, before the write: its rows bind the ids); returns 0 when
 * there are none. */
static int resolve_reasons(run_t *r, batch_out_t *o) {
  reasons_t *asked = reasons_new();
  store_req_t *q = NULL;
  const ins_row_t *v[2] = {o->upds, o->rows};
  size_t n[2] = {o->nupds, o->nrows};
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < n[l]; i++) {
      const ins_row_t *x = &v[l][i];
      const char *t = o->reasons.data + x->reason_off;
      if (x->reason_id || reasons_id(asked, t, x->reason_len)) continue;
      reasons_put(asked, t, x->reason_len, 1);
      if (!q) q = store_req_new(r->a->store, 0);
      reasons_req_resolve(q, t, x->reason_len);
      o->unknown = xrealloc(o->unknown, (o->nunknown + 1) * sizeof *o->unknown);
      o->unknown[o->nunknown++] = x->reason_off;
    }
  reasons_free(asked);
  if (!q) return 0;
  r->writing++;
  store_req_submit(q, reasons_resolved, o);
  return 1;
}

/* Submits the gathered write (one transaction), after the ids of its new
 * reasons when there are some. */
static void submit_write(run_t *r) {
  batch_out_t *o = r->pend;
  r->pend = NULL;
  r->pend_events = 0;
  if (!resolve_reasons(r, o)) write_batch(r, o);
}

static void submit_read(run_t *r);
static int load_people(run_t *r, store_res_t *res);

/* Submits the next read when one may run; returns 1 when it did. */
static int maybe_read(run_t *r) {
  if (r->a->closing && !r->status) r->status = -ECANCELED;
  if (r->reading || r->loading || r->done_reading || r->status ||
      r->writing >= MAX_WRITES)
    return 0;
  submit_read(r);
  return 1;
}

static void people_done(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  run_t *r = arg;
  r->loading = 0;
  store_res_t *held = r->held;
  r->held = NULL;
  if (status != 0) {
    log_kv(LOG_ERROR, "assistant", "cannot read preferences to plan", "error",
           errmsg ? errmsg : "", NULL);
    if (!r->status) r->status = status;
  } else {
    int n = store_res_rows(res, 0);
    for (int i = 0; i < n; i++)
      pcache_set(&r->cache, store_res_int(res, 0, i, UC_ID),
                 store_res_text(res, 0, i, UC_EMAIL),
                 store_res_text(res, 0, i, UC_PREFS));
    for (size_t i = 0; i < r->nwant; i++) {
      pentry_t *e = pcache_slot(&r->cache, r->want[i]);
      if (e->state != PE_READY) e->state = PE_GONE;
    }
    maybe_read(r);
    plan_batch(r, held);
  }
  r->nwant = 0;
  store_res_free(held);
  pump(r);
}

/* Submits the read of the people of res's events this run has not read
 * yet (after a preferences change: all of them); returns 1 when it did. */
static int load_people(run_t *r, store_res_t *res) {
  if (r->cache_gen != r->a->plans_gen) {
    pcache_free(&r->cache);
    r->cache_gen = r->a->plans_gen;
  }
  int nev = store_res_rows(res, 0);
  r->nwant = 0;
  for (int i = 0; i < nev; i++) {
    int64_t uid = store_res_int(res, 0, i, EC_USER);
    pentry_t *e = pcache_slot(&r->cache, uid);
    if (e->state != PE_EMPTY) continue;
    e->state = PE_LOADING;
    if (r->nwant == r->capwant) {
      r->capwant = r->capwant ? r->capwant * 2 : 64;
      r->want = xrealloc(r->want, r->capwant * sizeof *r->want);
    }
    r->want[r->nwant++] = uid;
  }
  if (!r->nwant) return 0;
  buf_t b = {0};
  buf_puts(&b, "[");
  for (size_t i = 0; i < r->nwant; i++)
    buf_printf(&b, "%s%" PRId64, i ? "," : "", r->want[i]);
  buf_puts(&b, "]");
  store_req_t *q = store_req_new(r->a->store, STORE_READ);
  store_req_stmt(q, &q_users);
  store_req_bind_text(q, b.data);
  buf_free(&b);
  r->loading = 1;
  store_req_submit(q, people_done, r);
  return 1;
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
  if (nev > 0) r->after_id = store_res_int(res, 0, nev - 1, EC_ID);
  /* People not seen yet in this run are read first (the batch waits). */
  if (nev > 0 && load_people(r, res)) {
    r->held = store_res_take(res);
    return;
  }
  /* The store reads the next batch while this one is planned. */
  maybe_read(r);
  if (nev > 0) plan_batch(r, res);
  pump(r);
}

static void submit_read(run_t *r) {
  store_req_t *q = store_req_new(r->a->store, STORE_READ);
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
  if (r->pend && (r->pend_events >= PLANS_WRITE_EVENTS ||
                  ((r->done_reading || r->status) && !r->loading)))
    submit_write(r);
  if (maybe_read(r)) return;
  if (!r->reading && !r->loading && r->writing == 0 && !r->pend &&
      (r->done_reading || r->status))
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
  a->plans_gen++; /* runs under way read preferences again */
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
