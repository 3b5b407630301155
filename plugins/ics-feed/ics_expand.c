/*
 * ics_expand.c: iCalendar text -> normalized event instances in a window
 * (ics_expand.h). One pass collects the overrides (VEVENTs with a
 * RECURRENCE-ID) by UID; a second expands every master: its instances
 * (RRULE iterations in the series' zone, plus RDATE), minus EXDATE, each
 * replaced by its override when there is one; overrides whose instance
 * the master does not produce are kept on their own.
 */
#include "ics_expand.h"

#include <libical/ical.h>

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Bounds on work, whatever the input: RRULE iterations per rule and per
 * text (a FREQ=SECONDLY rule from 1970 must not spin for minutes). */
#define MAX_ITER_PER_RULE 200000
#define MAX_ITER_TOTAL 2000000

/* libical's zone caches are process-wide and not every libical release
 * guards them: expansions run one at a time (several feeds only queue). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void ics_expand_init(void) {
  icalerror_set_errors_are_fatal(0);
  /* builds libical's table of built-in zones now, on this thread */
  (void)icaltimezone_get_builtin_timezones();
  (void)icaltimezone_get_utc_timezone();
}

/* ---------------- small helpers ---------------- */

static void *xrealloc_or_die(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) abort(); /* like the host's xalloc: out of memory is fatal */
  return q;
}

static char *dup_or_null(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = xrealloc_or_die(NULL, n);
  memcpy(d, s, n);
  return d;
}

static char *dup_str(const char *s) {
  return dup_or_null(s ? s : "");
}

static void seterr(char *err, size_t len, const char *fmt, ...) {
  if (!err || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* Days since 1970-01-01 of a civil date (libc's timegm; _GNU_SOURCE). */
static int64_t days_of(int y, int m, int d) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
  return (int64_t)timegm(&tm) / 86400;
}

static int64_t date_key(struct icaltimetype t) {
  return (int64_t)t.year * 10000 + t.month * 100 + t.day;
}

/* "mailto:a@b" -> "a@b"; NULL for an empty address. */
static char *address_of(const char *v) {
  if (!v) return NULL;
  while (*v == ' ') v++;
  if (strncasecmp(v, "mailto:", 7) == 0) v += 7;
  if (!*v) return NULL;
  return dup_or_null(v);
}

/* FNV-1a 64 over the fields that make an event what it is. */
typedef struct fnv {
  uint64_t h;
} fnv_t;

static void fnv_add(fnv_t *f, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    f->h ^= b[i];
    f->h *= 0x100000001b3ull;
  }
  f->h ^= 0xff; /* field separator */
  f->h *= 0x100000001b3ull;
}

static void fnv_str(fnv_t *f, const char *s) {
  fnv_add(f, s ? s : "", s ? strlen(s) : 0);
}

/* ---------------- context ---------------- */

typedef struct override {
  const char *uid;
  icalcomponent *comp;
  struct icaltimetype rid; /* resolved */
  int used;
} override_t;

typedef struct ctx {
  icalcomponent *root;
  icaltimezone *utc;
  icaltimezone *deftz; /* never NULL */
  const char *deftz_name;
  const ics_opts_t *o;
  ics_result_t *r;
  time_t from, to; /* seconds */
  size_t max_series, max_events;
  size_t iterations;
  override_t *ovr;
  size_t novr;
} ctx_t;

static icaltimezone *find_zone(ctx_t *c, const char *tzid) {
  if (!tzid || !*tzid) return NULL;
  icaltimezone *z = icalcomponent_get_timezone(c->root, tzid);
  if (!z) z = icaltimezone_get_builtin_timezone(tzid);
  if (!z && tzid[0] == '/')
    z = icaltimezone_get_builtin_timezone_from_tzid(tzid);
  return z;
}

/* An IANA name for zone z (the tz field): its location or TZID when
 * libical knows it as such, else the longest known suffix of the TZID
 * ("/citadel.org/20190914_1/Europe/Berlin"), else the default zone. */
static const char *zone_name(ctx_t *c, icaltimezone *z) {
  if (!z) return c->deftz_name;
  if (z == c->utc) return "UTC";
  const char *loc = icaltimezone_get_location(z);
  if (loc && icaltimezone_get_builtin_timezone(loc)) return loc;
  const char *tzid = icaltimezone_get_tzid(z);
  if (tzid) {
    if (icaltimezone_get_builtin_timezone(tzid)) return tzid;
    for (const char *p = tzid; (p = strchr(p, '/')) != NULL; p++)
      if (p[1] && icaltimezone_get_builtin_timezone(p + 1)) return p + 1;
  }
  return c->deftz_name;
}

/* Attaches the zone a property's time is in: UTC for "Z" times, its TZID
 * (a VTIMEZONE of the file or a known IANA name), else the default zone
 * (floating times, unknown TZIDs). Dates get no zone. */
static struct icaltimetype resolve(ctx_t *c, icalproperty *p,
                                   struct icaltimetype t) {
  if (t.is_date) {
    t.zone = NULL;
    return t;
  }
  if (icaltime_is_utc(t)) {
    t.zone = c->utc;
    return t;
  }
  icalparameter *par = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
  icaltimezone *z = par ? find_zone(c, icalparameter_get_tzid(par)) : NULL;
  t.zone = z ? z : c->deftz;
  return t;
}

static int time_ok(struct icaltimetype t) {
  return !icaltime_is_null_time(t) && icaltime_is_valid_time(t) &&
         t.year >= 1900 && t.year <= 2200 && t.month >= 1 && t.month <= 12 &&
         t.day >= 1 && t.day <= 31;
}

/* UTC seconds of t (dates: midnight in the default zone). */
static time_t utc_of(ctx_t *c, struct icaltimetype t) {
  icaltimezone *z = t.is_date ? c->deftz : (icaltimezone *)t.zone;
  t.is_date = 0;
  return icaltime_as_timet_with_zone(t, z ? z : c->deftz);
}

/* ---------------- building events ---------------- */

static const char *status_of(icalcomponent *ev) {
  switch (icalcomponent_get_status(ev)) {
  case ICAL_STATUS_CANCELLED:
    return "cancelled";
  case ICAL_STATUS_TENTATIVE:
    return "tentative";
  default:
    return "confirmed";
  }
}

static const char *partstat_of(icalproperty *p) {
  icalparameter *par =
      icalproperty_get_first_parameter(p, ICAL_PARTSTAT_PARAMETER);
  if (!par) return "needsAction";
  switch (icalparameter_get_partstat(par)) {
  case ICAL_PARTSTAT_ACCEPTED:
    return "accepted";
  case ICAL_PARTSTAT_DECLINED:
    return "declined";
  case ICAL_PARTSTAT_TENTATIVE:
    return "tentative";
  default:
    return "needsAction";
  }
}

static ics_event_t *push(ctx_t *c) {
  ics_result_t *r = c->r;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 64;
    r->events = xrealloc_or_die(r->events, r->cap * sizeof *r->events);
  }
  ics_event_t *e = &r->events[r->n++];
  memset(e, 0, sizeof *e);
  return e;
}

static void event_free(ics_event_t *e) {
  free(e->external_id);
  free(e->etag);
  free(e->uid);
  free(e->summary);
  free(e->description);
  free(e->location);
  free(e->tz);
  free(e->organizer);
  for (size_t i = 0; i < e->nattendees; i++) {
    free(e->attendees[i].email);
    free(e->attendees[i].name);
  }
  free(e->attendees);
}

/* Emits one instance with the content of comp (the master or an
 * override). start/end: UTC seconds; date: the all-day start date. */
static void emit(ctx_t *c, icalcomponent *comp, const char *uid,
                 const char *external_id, time_t start, time_t end, int all_day,
                 struct icaltimetype date, icaltimezone *zone, int cancelled) {
  if (c->r->n >= c->max_events) {
    c->r->truncated++;
    return;
  }
  ics_event_t *e = push(c);
  e->external_id = dup_str(external_id);
  e->uid = dup_str(uid);
  e->summary = dup_str(icalcomponent_get_summary(comp));
  e->description = dup_str(icalcomponent_get_description(comp));
  e->location = dup_str(icalcomponent_get_location(comp));
  e->start_ms = (int64_t)start * 1000;
  e->end_ms = (int64_t)end * 1000;
  e->all_day = all_day;
  e->tz = dup_str(all_day ? c->deftz_name : zone_name(c, zone));
  if (all_day)
    snprintf(e->start_date, sizeof e->start_date, "%04d-%02d-%02d",
             (date.year % 10000 + 10000) % 10000, (date.month % 13 + 13) % 13,
             (date.day % 32 + 32) % 32);
  icalproperty *org =
      icalcomponent_get_first_property(comp, ICAL_ORGANIZER_PROPERTY);
  if (org) e->organizer = address_of(icalproperty_get_organizer(org));
  size_t na = 0;
  for (icalproperty *p =
           icalcomponent_get_first_property(comp, ICAL_ATTENDEE_PROPERTY);
       p; p = icalcomponent_get_next_property(comp, ICAL_ATTENDEE_PROPERTY))
    na++;
  if (na > 500) na = 500;
  if (na) e->attendees = xrealloc_or_die(NULL, na * sizeof *e->attendees);
  for (icalproperty *p =
           icalcomponent_get_first_property(comp, ICAL_ATTENDEE_PROPERTY);
       p && e->nattendees < na;
       p = icalcomponent_get_next_property(comp, ICAL_ATTENDEE_PROPERTY)) {
    char *email = address_of(icalproperty_get_attendee(p));
    if (!email) continue;
    ics_attendee_t *a = &e->attendees[e->nattendees++];
    a->email = email;
    icalparameter *cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
    a->name = cn ? dup_or_null(icalparameter_get_cn(cn)) : NULL;
    a->status = partstat_of(p);
    a->self = c->o->self_email && *c->o->self_email &&
              strcasecmp(email, c->o->self_email) == 0;
  }
  e->status = cancelled ? "cancelled" : status_of(comp);
  int seq = icalcomponent_get_sequence(comp);
  e->sequence = seq > 0 ? seq : 0;

  fnv_t f = {0xcbf29ce484222325ull};
  fnv_str(&f, e->summary);
  fnv_str(&f, e->description);
  fnv_str(&f, e->location);
  fnv_add(&f, &e->start_ms, sizeof e->start_ms);
  fnv_add(&f, &e->end_ms, sizeof e->end_ms);
  fnv_str(&f, e->tz);
  fnv_str(&f, e->status);
  fnv_str(&f, e->organizer);
  for (size_t i = 0; i < e->nattendees; i++) {
    fnv_str(&f, e->attendees[i].email);
    fnv_str(&f, e->attendees[i].name);
    fnv_str(&f, e->attendees[i].status);
  }
  fnv_add(&f, &e->sequence, sizeof e->sequence);
  char tag[24];
  snprintf(tag, sizeof tag, "%016llx", (unsigned long long)f.h);
  e->etag = dup_str(tag);
}

static int in_window(ctx_t *c, time_t start, time_t end) {
  if (start >= c->to) return 0;
  return end > c->from || (end == start && start >= c->from);
}

/* "<UID>/20261122T080000Z" or, for all-day series, "<UID>/20261122". */
static char *instance_id(const char *uid, int all_day, time_t start,
                         struct icaltimetype date) {
  char when[32];
  if (all_day) {
    snprintf(when, sizeof when, "%04d%02d%02d",
             (date.year % 10000 + 10000) % 10000, (date.month % 13 + 13) % 13,
             (date.day % 32 + 32) % 32);
  } else {
    struct tm tm;
    gmtime_r(&start, &tm);
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
  }
  size_t n = strlen(uid) + strlen(when) + 2;
  char *s = xrealloc_or_die(NULL, n);
  snprintf(s, n, "%s/%s", uid, when);
  return s;
}

/* The span of an event: seconds for timed ones, days for all-day ones. */
static void span_of(ctx_t *c, icalcomponent *ev, struct icaltimetype ds,
                    int64_t *secs, int64_t *days) {
  *secs = 0;
  *days = 1;
  icalproperty *pe = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
  icalproperty *pd =
      icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY);
  if (pe) {
    struct icaltimetype de = resolve(c, pe, icalproperty_get_dtend(pe));
    if (!time_ok(de)) return;
    if (ds.is_date) {
      int64_t d = days_of(de.year, de.month, de.day) -
                  days_of(ds.year, ds.month, ds.day);
      *days = d >= 1 && d <= 3660 ? d : 1;
    } else {
      int64_t s = (int64_t)utc_of(c, de) - (int64_t)utc_of(c, ds);
      *secs = s > 0 && s <= 3660 * 86400LL ? s : 0;
    }
  } else if (pd) {
    struct icaldurationtype du = icalproperty_get_duration(pd);
    int64_t s = icaldurationtype_as_int(du);
    if (s < 0 || s > 3660 * 86400LL) s = 0;
    if (ds.is_date)
      *days = s >= 86400 ? s / 86400 : 1;
    else
      *secs = s;
  }
}

/* One instance of a series (local start in the series zone). */
typedef struct inst {
  struct icaltimetype local;
  time_t utc;
  int64_t key; /* UTC seconds, or the date key for all-day series */
} inst_t;

static int inst_cmp(const void *a, const void *b) {
  const inst_t *x = a, *y = b;
  return x->key < y->key ? -1 : x->key > y->key;
}

static override_t *find_override(ctx_t *c, override_t **mine, size_t nmine,
                                 const inst_t *in, int all_day) {
  for (size_t i = 0; i < nmine; i++) {
    override_t *o = mine[i];
    if (o->used) continue;
    if (o->rid.is_date || all_day) {
      if (date_key(o->rid) == date_key(in->local)) return o;
    } else if (utc_of(c, o->rid) == in->utc) {
      return o;
    }
  }
  return NULL;
}

/* Emits an override on its own terms (its DTSTART/DTEND). */
static void emit_override(ctx_t *c, override_t *o, int series_all_day,
                          int master_cancelled) {
  icalcomponent *ev = o->comp;
  icalproperty *ps =
      icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
  struct icaltimetype ds =
      ps ? resolve(c, ps, icalproperty_get_dtstart(ps)) : o->rid;
  if (!time_ok(ds)) {
    c->r->skipped++;
    return;
  }
  int64_t secs, days;
  span_of(c, ev, ds, &secs, &days);
  time_t start = utc_of(c, ds);
  time_t end = ds.is_date ? start + (time_t)days * 86400 : start + secs;
  if (ds.is_date) {
    /* the exact end: midnight of the end date in the default zone */
    struct icaltimetype de = ds;
    icaltime_adjust(&de, (int)days, 0, 0, 0);
    end = utc_of(c, de);
  }
  if (!in_window(c, start, end)) return;
  int rid_all_day = o->rid.is_date || series_all_day;
  char *id = instance_id(o->uid, rid_all_day, utc_of(c, o->rid), o->rid);
  emit(c, ev, o->uid, id, start, end, ds.is_date, ds, (icaltimezone *)ds.zone,
       master_cancelled);
  free(id);
}

static void expand_master(ctx_t *c, icalcomponent *ev) {
  const char *uid = icalcomponent_get_uid(ev);
  icalproperty *ps =
      icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
  if (!uid || !*uid || !ps) {
    c->r->skipped++;
    return;
  }
  struct icaltimetype ds = resolve(c, ps, icalproperty_get_dtstart(ps));
  if (!time_ok(ds)) {
    c->r->skipped++;
    return;
  }
  int all_day = ds.is_date;
  icaltimezone *zone = all_day ? c->deftz : (icaltimezone *)ds.zone;
  int64_t secs, days;
  span_of(c, ev, ds, &secs, &days);
  int cancelled = icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED;

  icalproperty *rr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
  icalproperty *rd = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY);

  /* the instances: DTSTART, every RRULE, every RDATE */
  inst_t *in = NULL;
  size_t n = 0, cap = 0;
#define ADD(t)                                                                 \
  do {                                                                         \
    if (n == cap) {                                                            \
      cap = cap ? cap * 2 : 16;                                                \
      in = xrealloc_or_die(in, cap * sizeof *in);                              \
    }                                                                          \
    in[n].local = (t);                                                         \
    in[n].utc = utc_of(c, in[n].local);                                        \
    in[n].key = all_day ? date_key(in[n].local) : (int64_t)in[n].utc;          \
    n++;                                                                       \
  } while (0)

  ADD(ds);
  for (; rr; rr = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
    struct icalrecurrencetype rule = icalproperty_get_rrule(rr);
    if (rule.freq == ICAL_NO_RECURRENCE) continue;
    icalrecur_iterator *it = icalrecur_iterator_new(rule, ds);
    if (!it) continue;
    for (size_t k = 0; k < MAX_ITER_PER_RULE; k++) {
      if (c->iterations++ >= MAX_ITER_TOTAL) {
        c->r->truncated++;
        break;
      }
      struct icaltimetype t = icalrecur_iterator_next(it);
      if (icaltime_is_null_time(t) || !time_ok(t)) break;
      t.is_date = all_day;
      t.zone = all_day ? NULL : zone;
      ADD(t);
      if (in[n - 1].utc >= c->to) break; /* ascending: past the window */
    }
    icalrecur_iterator_free(it);
  }
  for (; rd; rd = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
    struct icaldatetimeperiodtype v = icalproperty_get_rdate(rd);
    struct icaltimetype t =
        !icaltime_is_null_time(v.time) ? v.time : v.period.start;
    t = resolve(c, rd, t);
    if (!time_ok(t)) continue;
    if (all_day && !t.is_date) continue; /* mixing is not allowed */
    if (!all_day && t.is_date) {
      t.is_date = 0; /* a date for a timed series: that day, its time */
      t.hour = ds.hour;
      t.minute = ds.minute;
      t.second = ds.second;
      t.zone = zone;
    }
    ADD(t);
  }
#undef ADD
  int recurring = n > 1 || icalcomponent_get_first_property(
                               ev, ICAL_RRULE_PROPERTY) != NULL;
  qsort(in, n, sizeof *in, inst_cmp);

  /* this series' overrides */
  override_t **mine = NULL;
  size_t nmine = 0;
  for (size_t i = 0; recurring && i < c->novr; i++)
    if (strcmp(c->ovr[i].uid, uid) == 0) {
      mine = xrealloc_or_die(mine, (nmine + 1) * sizeof *mine);
      mine[nmine++] = &c->ovr[i];
    }

  size_t emitted = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && in[i].key == in[i - 1].key) continue; /* RDATE = RRULE */
    inst_t *x = &in[i];
    /* EXDATE */
    int excluded = 0;
    for (icalproperty *p =
             icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY);
         p && !excluded;
         p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
      struct icaltimetype t = resolve(c, p, icalproperty_get_exdate(p));
      if (!time_ok(t)) continue;
      if (t.is_date || all_day)
        excluded = date_key(t) == date_key(x->local);
      else
        excluded = utc_of(c, t) == x->utc;
    }
    if (excluded) continue;
    override_t *o = nmine ? find_override(c, mine, nmine, x, all_day) : NULL;
    if (o) {
      o->used = 1;
      if (emitted++ >= c->max_series) {
        c->r->truncated++;
        continue;
      }
      emit_override(c, o, all_day, cancelled);
      continue;
    }
    time_t start = x->utc, end;
    if (all_day) {
      struct icaltimetype de = x->local;
      icaltime_adjust(&de, (int)days, 0, 0, 0);
      end = utc_of(c, de);
    } else {
      end = start + (time_t)secs;
    }
    if (!in_window(c, start, end)) continue;
    if (emitted++ >= c->max_series) {
      c->r->truncated++;
      continue;
    }
    if (recurring) {
      char *id = instance_id(uid, all_day, start, x->local);
      emit(c, ev, uid, id, start, end, all_day, x->local, zone, cancelled);
      free(id);
    } else {
      emit(c, ev, uid, uid, start, end, all_day, x->local, zone, cancelled);
    }
  }
  free(mine);
  free(in);
}

/* ---------------- entry point ---------------- */

static int complete_vcalendar(const char *s, size_t len) {
  size_t i = 0;
  if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) i = 3;
  while (i < len && isspace((unsigned char)s[i])) i++;
  if (len - i < 15 || strncasecmp(s + i, "BEGIN:VCALENDAR", 15) != 0) return 0;
  size_t e = len;
  while (e > i && isspace((unsigned char)s[e - 1])) e--;
  return e - i >= 28 && strncasecmp(s + e - 13, "END:VCALENDAR", 13) == 0;
}

int ics_expand(const char *text, size_t len, const ics_opts_t *opts,
               ics_result_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!text || !opts) {
    seterr(err, errlen, "no input");
    return -1;
  }
  if (memchr(text, '\0', len)) {
    seterr(err, errlen, "not an iCalendar text (contains NUL bytes)");
    return -1;
  }
  if (!complete_vcalendar(text, len)) {
    seterr(err, errlen,
           "not a complete iCalendar text (expected BEGIN:VCALENDAR ... "
           "END:VCALENDAR; truncated download?)");
    return -1;
  }
  char *buf = xrealloc_or_die(NULL, len + 1);
  memcpy(buf, text, len);
  buf[len] = '\0';
  pthread_mutex_lock(&g_lock);
  icalcomponent *root = icalparser_parse_string(buf);
  free(buf);
  if (!root || icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT) {
    seterr(err, errlen, "%s",
           root ? "expected exactly one VCALENDAR"
                : "libical could not parse the calendar");
    if (root) icalcomponent_free(root);
    pthread_mutex_unlock(&g_lock);
    return -1;
  }

  ctx_t c = {.root = root, .o = opts, .r = out};
  c.utc = icaltimezone_get_utc_timezone();
  c.from = (time_t)(opts->from_ms / 1000);
  c.to = (time_t)(opts->to_ms / 1000);
  c.max_series = opts->max_per_series ? opts->max_per_series : 2000;
  c.max_events = opts->max_events ? opts->max_events : 20000;
  /* the zone of floating times and dates */
  char *want_copy = NULL;
  icalproperty *wr = icalcomponent_get_first_property(root, ICAL_X_PROPERTY);
  for (; wr; wr = icalcomponent_get_next_property(root, ICAL_X_PROPERTY)) {
    const char *xn = icalproperty_get_x_name(wr);
    if (xn && strcasecmp(xn, "X-WR-CALNAME") == 0 && !out->calname)
      out->calname = dup_or_null(icalproperty_get_value_as_string(wr));
    if (xn && strcasecmp(xn, "X-WR-TIMEZONE") == 0 && !want_copy) {
      /* copied at once: the value lives in libical's scratch ring */
      char *v = dup_or_null(icalproperty_get_value_as_string(wr));
      if (v && icaltimezone_get_builtin_timezone(v))
        want_copy = v;
      else
        free(v);
    }
  }
  icaltimezone *dz = NULL;
  if (want_copy) {
    dz = icaltimezone_get_builtin_timezone(want_copy);
  } else if (opts->default_tz && *opts->default_tz &&
             strcmp(opts->default_tz, "UTC") != 0) {
    dz = icaltimezone_get_builtin_timezone(opts->default_tz);
    if (dz) want_copy = dup_or_null(opts->default_tz);
  }
  c.deftz = dz ? dz : c.utc;
  c.deftz_name = dz ? want_copy : "UTC";

  /* pass 1: overrides */
  size_t cap = 0;
  for (icalcomponent *ev =
           icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
       ev; ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
    icalproperty *p =
        icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    if (!p) continue;
    const char *uid = icalcomponent_get_uid(ev);
    struct icaltimetype rid = resolve(&c, p, icalproperty_get_recurrenceid(p));
    if (!uid || !*uid || !time_ok(rid)) {
      out->skipped++;
      continue;
    }
    if (c.novr == cap) {
      cap = cap ? cap * 2 : 8;
      c.ovr = xrealloc_or_die(c.ovr, cap * sizeof *c.ovr);
    }
    c.ovr[c.novr++] = (override_t){.uid = uid, .comp = ev, .rid = rid};
  }
  /* pass 2: masters */
  for (icalcomponent *ev =
           icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
       ev; ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
    if (icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY))
      continue;
    expand_master(&c, ev);
  }
  /* overrides of instances no master produced (or without a master) */
  for (size_t i = 0; i < c.novr; i++)
    if (!c.ovr[i].used) {
      c.ovr[i].used = 1;
      emit_override(&c, &c.ovr[i], c.ovr[i].rid.is_date, 0);
    }
  free(c.ovr);
  icalcomponent_free(root);
  pthread_mutex_unlock(&g_lock);
  free(want_copy);
  return 0;
}

void ics_result_free(ics_result_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) event_free(&r->events[i]);
  free(r->events);
  free(r->calname);
  memset(r, 0, sizeof *r);
}
