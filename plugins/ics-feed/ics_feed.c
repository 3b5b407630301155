/*
 * ics_feed.c: the "ics-feed" plugin: one iCalendar feed (an http(s) URL or
 * a file) read every `refresh` into the assistant's calendar events for one
 * person (SDK ABI 1.2 calendar_put / calendar_prune).
 *
 * A sync: fetch (conditional GET with the previous response's ETag and
 * Last-Modified, kept in kv "state"; 304 means nothing changed) or, for a
 * file, stat and read on the thread pool; parse and expand on the thread
 * pool (ics_expand.c, libical); then calendar_put in batches, all stamped
 * with a new sync_id, and calendar_prune with that id so events that left
 * the feed lose their plans. The validators are saved only once the events
 * are stored, so a failed store is retried in full. A feed that cannot be
 * fetched or parsed changes nothing: the previous events stay, the error
 * is logged, and the sync is retried sooner (5 s doubling up to refresh).
 *
 * The window moves with time: an unchanged feed is expanded again from the
 * copy kept in memory (or fetched without validators after a restart) when
 * the last expansion is older than REEXPAND_MS.
 *
 * Threading: every callback on the loop; file I/O and parsing in
 * queue_work. The state outlives every callback: the host runs pending
 * callbacks (ECANCELED) before destroy().
 */
#include <assist/plugin.h>

#include "ics_expand.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define BATCH 200
#define REEXPAND_MS (6 * 3600 * 1000LL)
#define RETRY_FIRST_MS 5000
#define MAX_FILE_BYTES (16u << 20)

typedef struct sync sync_t;

typedef struct state {
  const assist_host_api_t *host;
  assist_instance_t *inst;
  char *url, *path, *calendar, *deftz;
  int64_t user_id;  /* > 0 when `user` is an id */
  char *user_email; /* else the account's e-mail */
  int64_t refresh_ms, horizon_ms, past_ms;
  assist_timer_t *timer, *retry;
  int failures;
  int stopping;
  int busy; /* a sync (or the state load before it) is in progress */
  uint64_t http_id;
  int64_t last_sync_id;
  /* what the last stored read was (kv "state") */
  int loaded;
  char *etag, *last_modified;
  int64_t expanded_ms, mtime_ns, size;
  char *body; /* the last feed body (URL mode), for re-expansion */
  size_t body_len;
  assist_metric_t *m_syncs, *m_events;
} state_t;

struct sync {
  state_t *s;
  /* input: a body (URL mode, owned) or a file to read */
  char *body;
  size_t len;
  int file;
  char *path;
  int64_t known_mtime_ns, known_size;
  int force;
  char *etag, *last_modified; /* validators of this response */
  /* pool results */
  int unchanged;
  int64_t mtime_ns, size;
  ics_opts_t opts;
  ics_result_t res;
  int rc;
  char err[300];
  /* storing */
  assist_cal_event_t *evs;
  assist_cal_attendee_t *atts;
  size_t next;
  int64_t sync_id;
};

#define H (s->host)

static const assist_option_t options[] = {
    {.name = "url",
     .type = ASSIST_OPT_STRING,
     .description = "http:// or https:// address of the iCalendar feed "
                    "(Google's secret address, Outlook, Nextcloud...); "
                    "set url or path"},
    {.name = "path",
     .type = ASSIST_OPT_STRING,
     .description = "an iCalendar file to read instead of a URL"},
    {.name = "user",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_REQUIRED,
     .description = "whose calendar this is: the account's e-mail or id"},
    {.name = "calendar",
     .type = ASSIST_OPT_STRING,
     .default_value = "default",
     .description = "calendar key; events are stored under the source "
                    "<instance>:<calendar>"},
    {.name = "refresh",
     .type = ASSIST_OPT_DURATION,
     .default_value = "15m",
     .min = 1000,
     .max = 7 * 86400000.0,
     .description = "how often the feed is read"},
    {.name = "horizon",
     .type = ASSIST_OPT_DURATION,
     .default_value = "60d",
     .min = 3600000,
     .max = 3660 * 86400000.0,
     .description = "recurring events are expanded this far ahead"},
    {.name = "past",
     .type = ASSIST_OPT_DURATION,
     .default_value = "1d",
     .min = 0,
     .max = 366 * 86400000.0,
     .description = "events that ended this long ago are still kept"},
    {.name = "timezone",
     .type = ASSIST_OPT_STRING,
     .default_value = "UTC",
     .description = "IANA zone for floating times and all-day dates when "
                    "the feed names none (X-WR-TIMEZONE)"},
    {0},
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup0(const char *v) {
  return v ? strdup(v) : NULL;
}

static void sync_start(state_t *s, int force);

/* ---------------- kv "state" ---------------- */

/* "v1\n<source>\n<etag>\n<last-modified>\n<expanded_ms>\n<mtime_ns>\n<size>" */
static void state_save(state_t *s) {
  const char *src = s->url ? s->url : s->path;
  size_t n = strlen(src) + (s->etag ? strlen(s->etag) : 0) +
             (s->last_modified ? strlen(s->last_modified) : 0) + 100;
  char *v = malloc(n);
  if (!v) return;
  int len =
      snprintf(v, n, "v1\n%s\n%s\n%s\n%" PRId64 "\n%" PRId64 "\n%" PRId64, src,
               s->etag ? s->etag : "", s->last_modified ? s->last_modified : "",
               s->expanded_ms, s->mtime_ns, s->size);
  if (len > 0) H->kv_put(s->inst, "state", v, (size_t)len, NULL, NULL);
  free(v);
}

static void state_parse(state_t *s, const char *v, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) return;
  memcpy(copy, v, len);
  copy[len] = '\0';
  char *f[7] = {0};
  size_t nf = 0;
  for (char *p = copy, *nl; nf < 7; p = nl + 1) {
    f[nf++] = p;
    nl = strchr(p, '\n');
    if (!nl) break;
    *nl = '\0';
  }
  const char *src = s->url ? s->url : s->path;
  if (nf == 7 && strcmp(f[0], "v1") == 0 && strcmp(f[1], src) == 0) {
    s->etag = *f[2] ? strdup(f[2]) : NULL;
    s->last_modified = *f[3] ? strdup(f[3]) : NULL;
    s->expanded_ms = strtoll(f[4], NULL, 10);
    s->mtime_ns = strtoll(f[5], NULL, 10);
    s->size = strtoll(f[6], NULL, 10);
  }
  free(copy);
}

/* ---------------- ending a sync ---------------- */

static void sync_free(sync_t *y) {
  free(y->body);
  free(y->path);
  free(y->etag);
  free(y->last_modified);
  ics_result_free(&y->res);
  free(y->evs);
  free(y->atts);
  free(y);
}

static void retry_fired(void *ud) {
  state_t *s = ud;
  s->retry = NULL; /* one-shot: gone once this returns */
  sync_start(s, 0);
}

/* ok: 1 stored or nothing to do, 0 failed (retry sooner). */
static void sync_end(state_t *s, sync_t *y, int ok, const char *outcome) {
  s->busy = 0;
  if (y) sync_free(y);
  if (s->m_syncs) {
    char l[48];
    snprintf(l, sizeof l, "outcome=\"%s\"", outcome);
    H->metric_add(s->m_syncs, l, 1);
  }
  if (s->stopping) return;
  if (ok) {
    s->failures = 0;
    return;
  }
  if (s->retry) return;
  int64_t d = RETRY_FIRST_MS;
  for (int i = 0; i < s->failures && d < s->refresh_ms; i++) d *= 2;
  if (d >= s->refresh_ms) return; /* the periodic timer comes first */
  s->failures++;
  s->retry = H->timer_start(s->inst, (uint64_t)d, 0, retry_fired, s);
}

/* ---------------- storing ---------------- */

static void stored(state_t *s, sync_t *y, int64_t removed) {
  free(s->etag);
  free(s->last_modified);
  s->etag = y->etag;
  s->last_modified = y->last_modified;
  y->etag = y->last_modified = NULL;
  s->expanded_ms = now_ms();
  if (y->file) {
    s->mtime_ns = y->mtime_ns;
    s->size = y->size;
  } else { /* y->body is always its own copy, even after a 304 */
    free(s->body);
    s->body = y->body;
    s->body_len = y->len;
    y->body = NULL;
  }
  state_save(s);
  if (s->m_events) H->metric_set(s->m_events, NULL, (double)y->res.n);
  H->log(s->inst, ASSIST_LOG_INFO,
         "calendar synced: %zu events in the window, %" PRId64
         " removed, %zu malformed skipped",
         y->res.n, removed, y->res.skipped);
}

static void pruned(void *ud, int status, int64_t removed) {
  sync_t *y = ud;
  state_t *s = y->s;
  if (status != ASSIST_OK) {
    if (status != ASSIST_ECANCELED)
      H->log(s->inst, ASSIST_LOG_ERROR,
             "removing events that left the feed failed: %s",
             H->strerror(status));
    sync_end(s, y, 0, "store_error");
    return;
  }
  stored(s, y, removed);
  sync_end(s, y, 1, "stored");
}

static void put_next(sync_t *y);

static void put_done(void *ud, int status) {
  sync_t *y = ud;
  state_t *s = y->s;
  if (status == ASSIST_ENOENT) {
    /* e.g. the demo's bootstrap admin, created moments after start-up */
    H->log(s->inst, ASSIST_LOG_WARN,
           "no account %s (yet): the events are not stored; trying again",
           s->user_email ? s->user_email : "with that id");
    sync_end(s, y, 0, "no_account");
    return;
  }
  if (status != ASSIST_OK) {
    if (status != ASSIST_ECANCELED)
      H->log(s->inst, ASSIST_LOG_ERROR,
             "storing calendar events failed: %s; the previous events stay",
             H->strerror(status));
    sync_end(s, y, 0, "store_error");
    return;
  }
  put_next(y);
}

static void put_next(sync_t *y) {
  state_t *s = y->s;
  if (s->stopping) {
    sync_end(s, y, 0, "cancelled");
    return;
  }
  int rc;
  if (y->next < y->res.n) {
    size_t k = y->res.n - y->next < BATCH ? y->res.n - y->next : BATCH;
    size_t at = y->next;
    y->next += k;
    rc = H->calendar_put(s->inst, y->evs + at, k, y->sync_id, put_done, y);
  } else {
    rc = H->calendar_prune(s->inst, s->user_id,
                           s->user_id > 0 ? NULL : s->user_email, s->calendar,
                           y->sync_id, pruned, y);
  }
  if (rc != ASSIST_OK) {
    H->log(s->inst, ASSIST_LOG_ERROR,
           "cannot hand events to the assistant: %s%s", H->strerror(rc),
           rc == ASSIST_ENOTSUP ? " (the reminders service is not running)"
                                : "");
    sync_end(s, y, 0, "store_error");
  }
}

static void store_events(sync_t *y) {
  state_t *s = y->s;
  ics_result_t *r = &y->res;
  size_t natt = 0;
  for (size_t i = 0; i < r->n; i++) natt += r->events[i].nattendees;
  y->evs = calloc(r->n ? r->n : 1, sizeof *y->evs);
  y->atts = calloc(natt ? natt : 1, sizeof *y->atts);
  if (!y->evs || !y->atts) {
    H->log(s->inst, ASSIST_LOG_ERROR, "out of memory converting events");
    sync_end(s, y, 0, "error");
    return;
  }
  size_t a = 0;
  for (size_t i = 0; i < r->n; i++) {
    const ics_event_t *e = &r->events[i];
    assist_cal_event_t *o = &y->evs[i];
    o->struct_size = sizeof *o;
    o->user_id = s->user_id;
    o->user_email = s->user_id > 0 ? NULL : s->user_email;
    o->source = s->calendar;
    o->external_id = e->external_id;
    o->etag = e->etag;
    o->ical_uid = e->uid;
    o->summary = e->summary;
    o->description = e->description;
    o->location = e->location;
    o->start_ms = e->start_ms;
    o->end_ms = e->end_ms;
    o->tz = e->tz;
    o->all_day = e->all_day;
    o->start_date = e->all_day ? e->start_date : NULL;
    o->organizer = e->organizer;
    o->attendees = y->atts + a;
    o->nattendees = e->nattendees;
    for (size_t j = 0; j < e->nattendees; j++, a++)
      y->atts[a] = (assist_cal_attendee_t){
          .email = e->attendees[j].email,
          .name = e->attendees[j].name,
          .status = e->attendees[j].status,
          .self = e->attendees[j].self,
      };
    o->status = e->status;
    o->sequence = e->sequence;
  }
  int64_t id = now_ms();
  y->sync_id = id > s->last_sync_id ? id : s->last_sync_id + 1;
  s->last_sync_id = y->sync_id;
  y->next = 0;
  put_next(y);
}

/* ---------------- parsing (pool) ---------------- */

static void parse_work(void *ud) {
  sync_t *y = ud;
  if (y->file) {
    struct stat st;
    if (stat(y->path, &st) != 0) {
      snprintf(y->err, sizeof y->err, "cannot read %s: %s", y->path,
               strerror(errno));
      y->rc = -1;
      return;
    }
    y->mtime_ns =
        (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    y->size = (int64_t)st.st_size;
    if (!y->force && y->mtime_ns == y->known_mtime_ns &&
        y->size == y->known_size) {
      y->unchanged = 1;
      return;
    }
    if (st.st_size > (off_t)MAX_FILE_BYTES) {
      snprintf(y->err, sizeof y->err, "%s is larger than %u MiB", y->path,
               MAX_FILE_BYTES >> 20);
      y->rc = -1;
      return;
    }
    FILE *f = fopen(y->path, "rb");
    if (!f) {
      snprintf(y->err, sizeof y->err, "cannot read %s: %s", y->path,
               strerror(errno));
      y->rc = -1;
      return;
    }
    size_t cap = (size_t)st.st_size + 1;
    y->body = malloc(cap);
    size_t n = y->body ? fread(y->body, 1, cap, f) : 0;
    int bad = !y->body || ferror(f) || n >= cap;
    fclose(f);
    if (bad) {
      snprintf(y->err, sizeof y->err, "cannot read %s: %s", y->path,
               n >= cap ? "the file changed while being read" : "I/O error");
      y->rc = -1;
      return;
    }
    y->len = n;
  }
  y->rc = ics_expand(y->body, y->len, &y->opts, &y->res, y->err, sizeof y->err);
}

static void parse_done(void *ud, int status) {
  sync_t *y = ud;
  state_t *s = y->s;
  if (status != ASSIST_OK || s->stopping) {
    sync_end(s, y, 0, "cancelled");
    return;
  }
  if (y->rc != 0) {
    H->log(s->inst, ASSIST_LOG_ERROR,
           "the calendar could not be read: %s; the previous events stay",
           y->err);
    sync_end(s, y, 0, y->file && !y->body ? "fetch_error" : "parse_error");
    return;
  }
  if (y->unchanged) {
    H->log(s->inst, ASSIST_LOG_DEBUG, "calendar file unchanged");
    sync_end(s, y, 1, "not_modified");
    return;
  }
  if (y->res.skipped)
    H->log(s->inst, ASSIST_LOG_WARN,
           "%zu malformed events (no UID or start, or an unreadable time) "
           "were left out",
           y->res.skipped);
  if (y->res.truncated)
    H->log(s->inst, ASSIST_LOG_WARN,
           "%zu event instances beyond the limits were left out",
           y->res.truncated);
  store_events(y);
}

static void parse(state_t *s, sync_t *y) {
  int64_t now = now_ms();
  y->opts = (ics_opts_t){
      .from_ms = now - s->past_ms,
      .to_ms = now + s->horizon_ms,
      .default_tz = s->deftz,
      .self_email = s->user_email,
  };
  if (!H->queue_work(s->inst, parse_work, parse_done, y)) {
    H->log(s->inst, ASSIST_LOG_ERROR, "cannot queue the calendar parse");
    sync_end(s, y, 0, "error");
  }
}

/* ---------------- fetching ---------------- */

static void fetched(void *ud, const assist_http_response_t *r) {
  sync_t *y = ud;
  state_t *s = y->s;
  s->http_id = 0;
  if (r->result == ASSIST_ECANCELED || s->stopping) {
    sync_end(s, y, 0, "cancelled");
    return;
  }
  if (r->result != ASSIST_OK) {
    H->log(s->inst, ASSIST_LOG_ERROR,
           "fetching the calendar failed: %s (%s); the previous events stay",
           H->strerror(r->result), r->error && *r->error ? r->error : "-");
    sync_end(s, y, 0, "fetch_error");
    return;
  }
  if (r->status == 304) {
    if (s->body && now_ms() - s->expanded_ms >= REEXPAND_MS) {
      /* unchanged, but the window moved: expand the kept copy again */
      y->body = malloc(s->body_len + 1);
      if (y->body) {
        memcpy(y->body, s->body, s->body_len);
        y->len = s->body_len;
        y->etag = dup0(s->etag);
        y->last_modified = dup0(s->last_modified);
        parse(s, y);
        return;
      }
    }
    H->log(s->inst, ASSIST_LOG_DEBUG, "calendar not modified (304)");
    sync_end(s, y, 1, "not_modified");
    return;
  }
  if (r->status != 200) {
    H->log(s->inst, ASSIST_LOG_ERROR,
           "the calendar feed answered HTTP %d; the previous events stay",
           r->status);
    sync_end(s, y, 0, "fetch_error");
    return;
  }
  y->body = malloc(r->body_len + 1);
  if (!y->body) {
    sync_end(s, y, 0, "error");
    return;
  }
  memcpy(y->body, r->body, r->body_len);
  y->body[r->body_len] = '\0';
  y->len = r->body_len;
  y->etag = dup0(H->http_header(r, "ETag"));
  y->last_modified = dup0(H->http_header(r, "Last-Modified"));
  parse(s, y);
}

static void fetch(state_t *s, sync_t *y, int force) {
  assist_header_t hs[3];
  size_t n = 0;
  hs[n++] = (assist_header_t){"Accept", "text/calendar, */*;q=0.5"};
  /* Validators only when an unchanged answer is enough: we still have the
   * body to expand again, or the last expansion is recent. */
  int conditional =
      !force && (s->body || now_ms() - s->expanded_ms < REEXPAND_MS);
  if (conditional && s->etag)
    hs[n++] = (assist_header_t){"If-None-Match", s->etag};
  if (conditional && s->last_modified)
    hs[n++] = (assist_header_t){"If-Modified-Since", s->last_modified};
  assist_http_request_t rq = {
      .struct_size = sizeof rq,
      .method = "GET",
      .url = s->url,
      .headers = hs,
      .nheaders = n,
      .timeout_ms = 30000,
      .flags = ASSIST_HTTP_IDEMPOTENT | ASSIST_HTTP_FOLLOW_REDIRECTS,
  };
  int rc = H->http_request(s->inst, &rq, fetched, y, &s->http_id);
  if (rc != ASSIST_OK) {
    H->log(s->inst, ASSIST_LOG_ERROR, "cannot fetch the calendar: %s",
           H->strerror(rc));
    sync_end(s, y, 0, "fetch_error");
  }
}

/* ---------------- a sync ---------------- */

static void go(state_t *s, int force) {
  sync_t *y = calloc(1, sizeof *y);
  if (!y) {
    s->busy = 0;
    return;
  }
  y->s = s;
  /* The window moved since the last expansion: read in full, unless a URL
   * feed's last body is still here (a 304 then expands that copy). */
  if (now_ms() - s->expanded_ms >= REEXPAND_MS && !(s->url && s->body))
    force = 1;
  if (s->url) {
    fetch(s, y, force);
    return;
  }
  y->file = 1;
  y->path = strdup(s->path);
  y->known_mtime_ns = s->mtime_ns;
  y->known_size = s->size;
  y->force = force;
  if (!y->path) {
    sync_end(s, y, 0, "error");
    return;
  }
  parse(s, y);
}

typedef struct load_call {
  state_t *s;
  int force;
} load_call_t;

static void state_loaded(void *ud, int status, const void *v, size_t len) {
  load_call_t *l = ud;
  state_t *s = l->s;
  int force = l->force;
  free(l);
  if (s->stopping) {
    s->busy = 0;
    return;
  }
  if (status == ASSIST_OK) state_parse(s, v, len);
  s->loaded = 1;
  go(s, force);
}

static void sync_start(state_t *s, int force) {
  if (s->stopping || s->busy) return; /* one at a time */
  s->busy = 1;
  if (!s->loaded) {
    load_call_t *l = calloc(1, sizeof *l);
    if (!l) {
      s->busy = 0;
      return;
    }
    l->s = s;
    l->force = force;
    if (H->kv_get(s->inst, "state", state_loaded, l) == ASSIST_OK) return;
    free(l); /* no storage: nothing remembered */
  }
  s->loaded = 1;
  go(s, force);
}

static void tick(void *ud) {
  sync_start(ud, 0);
}

/* ---------------- lifecycle ---------------- */

static void free_state(state_t *s) {
  free(s->url);
  free(s->path);
  free(s->calendar);
  free(s->deftz);
  free(s->user_email);
  free(s->etag);
  free(s->last_modified);
  free(s->body);
  free(s);
}

/* libical registers a thread-specific destructor for its scratch buffers
 * on the pool threads; it must stay mapped after this plugin is unloaded,
 * so pin it once (RTLD_NODELETE). */
static void pin_libical(void) {
  ics_expand_init();
  (void)dlopen("libical.so.3", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static int is_id(const char *v) {
  if (!*v) return 0;
  for (const char *p = v; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return strlen(v) < 18;
}

static int init(const assist_host_api_t *host, assist_instance_t *inst,
                void **out) {
  if (!ASSIST_HOST_HAS(host, calendar_prune) ||
      !ASSIST_HOST_HAS(host, http_header)) {
    host->log(inst, ASSIST_LOG_ERROR, "needs an assistd with SDK ABI 1.2");
    return ASSIST_ENOTSUP;
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, pin_libical);
  state_t *s = calloc(1, sizeof *s);
  if (!s) return ASSIST_ENOMEM;
  s->host = host;
  s->inst = inst;
  const char *url = host->opt_string(inst, "url");
  const char *path = host->opt_string(inst, "path");
  const char *user = host->opt_string(inst, "user");
  int has_url = url && *url, has_path = path && *path;
  if (has_url == has_path) {
    host->log(inst, ASSIST_LOG_ERROR,
              "set exactly one of the options url and path");
    free_state(s);
    return ASSIST_EINVAL;
  }
  if (has_url && strncasecmp(url, "http://", 7) != 0 &&
      strncasecmp(url, "https://", 8) != 0) {
    host->log(inst, ASSIST_LOG_ERROR,
              "url must start with http:// or https:// (use path for files)");
    free_state(s);
    return ASSIST_EINVAL;
  }
  if (!user || !*user) {
    host->log(inst, ASSIST_LOG_ERROR, "the option user is required");
    free_state(s);
    return ASSIST_EINVAL;
  }
  if (is_id(user))
    s->user_id = strtoll(user, NULL, 10);
  else
    s->user_email = strdup(user);
  s->url = has_url ? strdup(url) : NULL;
  s->path = has_path ? strdup(path) : NULL;
  const char *cal = host->opt_string(inst, "calendar");
  s->calendar = strdup(cal && *cal ? cal : "default");
  const char *tz = host->opt_string(inst, "timezone");
  s->deftz = strdup(tz && *tz ? tz : "UTC");
  s->refresh_ms = host->opt_int(inst, "refresh");
  s->horizon_ms = host->opt_int(inst, "horizon");
  s->past_ms = host->opt_int(inst, "past");
  if (s->refresh_ms < 1000) s->refresh_ms = 1000;
  s->m_syncs =
      host->metric_register(inst, ASSIST_METRIC_COUNTER, "ics_feed_syncs_total",
                            "ICS feed syncs by outcome", NULL, 0);
  s->m_events = host->metric_register(
      inst, ASSIST_METRIC_GAUGE, "ics_feed_events",
      "event instances in the window at the last stored sync", NULL, 0);
  *out = s;
  return ASSIST_OK;
}

static int start(void *state) {
  state_t *s = state;
  s->timer = H->timer_start(s->inst, 0, (uint64_t)s->refresh_ms, tick, s);
  return s->timer ? ASSIST_OK : ASSIST_ENOMEM;
}

static void stop(void *state, assist_done_cb done, void *arg) {
  state_t *s = state;
  s->stopping = 1;
  if (s->timer) H->timer_stop(s->timer);
  if (s->retry) H->timer_stop(s->retry);
  s->timer = s->retry = NULL;
  if (s->http_id) H->http_cancel(s->inst, s->http_id);
  /* a parse or a store in flight ends through its callback (the host
   * waits for it before destroy) */
  done(arg);
}

static void destroy(void *state) {
  free_state(state);
}

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "ics-feed",
    .version = "0.1.0",
    .description = "iCalendar feed (URL or file) into the assistant's "
                   "calendar events, with RRULE/EXDATE/RECURRENCE-ID "
                   "expansion",
    .flags = ASSIST_PLUGIN_MULTI_INSTANCE,
    .options = options,
    .init = init,
    .start = start,
    .stop = stop,
    .destroy = destroy,
};
