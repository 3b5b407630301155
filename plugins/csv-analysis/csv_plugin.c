/*
 * csv_plugin.c: the csv-analysis plugin. Datasets are uploaded (the host
 * spools the body to disk) or imported from allowed local directories,
 * hashed and moved into data_dir; analyses are durable jobs that run the
 * engine on the thread pool, one work item per chunk, and store report.json
 * and report.html under data_dir/analyses/<id>/.
 *
 * Routes (JSON; errors are {"error":{"status":N,"message":"..."}}):
 *   POST   /api/datasets?name=FILE.csv       body: the CSV; 201 + record
 *   POST   /api/datasets/import              {"path": "/abs/x.csv", "name"}
 *   GET    /api/datasets                     {"datasets":[...]}
 *   GET    /api/datasets/{id}
 *   DELETE /api/datasets/{id}                409 while an analysis of it is
 *                                            queued or running
 *   POST   /api/datasets/{id}/analyses       202 {"id","job","state"}
 *   GET    /api/analyses[?dataset=ID]        {"analyses":[...]}
 *   GET    /api/analyses/{id}                state, progress, error, links
 *   POST   /api/analyses/{id}/cancel
 *   GET    /api/analyses/{id}/report.json    404 until done
 *   GET    /api/analyses/{id}/report.html
 *
 * Ownership: every record names its owner (req_user, or "local" for a
 * request without authentication). Each route answers only the caller's own
 * records: lists leave the others out and another owner's id is a 404, as
 * if it did not exist. "local" records (made before authentication) are
 * visible only to requests without authentication.
 *
 * Storage: the instance's kv area holds "dataset:<id>" and "analysis:<id>"
 * records (flat JSON). Every callback runs on the loop; hashing, renames,
 * unlinks, parsing and report files go through host->queue_work. Logs name
 * ids and sizes, never dataset contents.
 */
#include "csv_engine.h"
#include "csvp_fs.h"
#include "csvp_json.h"
#include "csvp_summary.h"

#include <assist/plugin.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID_LEN 18 /* "ds" or "an" + 16 hex digits */
#define MAX_CHUNKS 64
#define MAX_ATTEMPTS 3
#define REPORT_MAX (256u << 20)
#define TICK_MS 250
#define NAME_MAX_LEN 255

typedef struct csvp csvp_t;
typedef struct an an_t;
typedef struct run run_t;

enum { AN_QUEUED, AN_RUNNING, AN_DONE, AN_FAILED, AN_CANCELLED };
static const char *const state_names[] = {"queued", "running", "done", "failed",
                                          "cancelled"};

/* An analysis. Active ones (queued or running) live in csvp_t.ans; the kv
 * record is the truth for finished ones. Reference counted: the list holds
 * one reference, every pending callback another. */
struct an {
  an_t *next;
  int refs;
  int listed;
  char id[ID_LEN + 1];
  char dataset[ID_LEN + 1];
  char *dataset_name;
  char *owner;
  int64_t job; /* 0 until enqueued */
  int state;
  char created_at[32], started_at[32], finished_at[32];
  uint64_t bytes_total, bytes_done, rows;
  double seconds;
  char *error;
  run_t *run; /* while a job handler runs it */
  int attempts;
};

typedef struct deleting {
  struct deleting *next;
  char id[ID_LEN + 1];
} deleting_t;

struct csvp {
  const assist_host_api_t *host;
  assist_instance_t *inst;
  char *data_dir;
  uint64_t max_upload;
  unsigned threads;
  const csvp_summary_provider_t *summary;
  an_t *ans;
  deleting_t *deleting;
  unsigned nrunning;
  assist_timer_t *tick;
  int stopping;
  assist_metric_t *m_running, *m_bytes_done, *m_bytes_total, *m_rows,
      *m_analyses, *m_uploads, *m_upload_bytes, *m_seconds;
};

typedef struct chunk_task {
  run_t *run;
  unsigned i;
} chunk_task_t;

/* One run of an analysis by a job handler. */
struct run {
  csvp_t *p;
  an_t *an;
  assist_job_t *job;
  char *csv_path, *out_dir;
  csv_doc *doc;
  csv_progress progress;
  atomic_int cancel;
  uint64_t from;
  unsigned k, pending;
  csv_chunk chunks[MAX_CHUNKS];
  csv_partial *parts[MAX_CHUNKS];
  int rcs[MAX_CHUNKS];
  chunk_task_t tasks[MAX_CHUNKS];
  csv_partial *acc;
  csv_result *result;
  char *summary; /* from the provider, or NULL */
  int rc;
  int more;
  int report_exists;
  double t0;
};

/* ---------------------------------------------------------------- */
/* Small helpers.                                                    */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void iso_now(char out[32]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
           tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
           (int)(ts.tv_nsec / 1000000) % 1000);
  memcpy(out, tmp, 31);
  out[31] = 0;
}

/* Ids sort by creation time: 11 hex digits of Unix ms, 5 random. */
static void new_id(const char *prefix, char out[ID_LEN + 1]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long ms = (unsigned long long)ts.tv_sec * 1000u +
                          (unsigned long long)ts.tv_nsec / 1000000u;
  static unsigned counter;
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    r = (uint32_t)ts.tv_nsec;
  r ^= ++counter;
  snprintf(out, ID_LEN + 1, "%s%011llx%05x", prefix, ms & 0xFFFFFFFFFFFull,
           (unsigned)(r & 0xFFFFF));
}

static int id_ok(const char *s, const char *prefix) {
  if (!s || strlen(s) != ID_LEN || strncmp(s, prefix, 2) != 0) return 0;
  for (size_t i = 2; i < ID_LEN; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static char *dupstr(const char *s) {
  return s ? strdup(s) : NULL;
}

static char *path_join(const char *a, const char *b, const char *c) {
  size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
  char *p = malloc(n);
  if (!p) return NULL;
  if (c)
    snprintf(p, n, "%s/%s/%s", a, b, c);
  else
    snprintf(p, n, "%s/%s", a, b);
  return p;
}

static char *dataset_path(csvp_t *p, const char *id) {
  char name[ID_LEN + 8];
  snprintf(name, sizeof name, "%s.csv", id);
  return path_join(p->data_dir, name, NULL);
}

static char *analysis_dir(csvp_t *p, const char *id) {
  return path_join(p->data_dir, "analyses", id);
}

/* Text for an error code: the engine's words for its own codes. */
static const char *err_text(int rc) {
  switch (rc) {
  case -ENOMEM:
  case -ECANCELED:
  case -EFBIG:
  case -EILSEQ:
  case -EIO:
    return csv_strerror(rc);
  default:
    return rc < 0 ? strerror(-rc) : "error";
  }
}

static int respond_buf(csvp_t *p, assist_request_t *req, int status, csv_buf *b,
                       const char *location) {
  if (b->oom) {
    csv_buf_free(b);
    static const char oom[] =
        "{\"error\":{\"status\":500,\"message\":\"out of memory\"}}";
    return p->host->respond(req, 500, "application/json", oom, sizeof oom - 1);
  }
  assist_header_t h[2] = {{"Content-Type", "application/json"},
                          {"Location", location}};
  int rc = p->host->respond_ex(req, status, h, location ? 2 : 1, b->p, b->len);
  csv_buf_free(b);
  return rc;
}

static int respond_error(csvp_t *p, assist_request_t *req, int status,
                         const char *msg) {
  csv_buf b = {0};
  csv_buf_printf(&b, "{\"error\":{\"status\":%d,\"message\":", status);
  csvp_buf_str(&b, msg);
  csv_buf_puts(&b, "}}");
  return respond_buf(p, req, status, &b, NULL);
}

static int name_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > NAME_MAX_LEN) return 0;
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    if (*c < 0x20 || *c == 0x7F || *c == '/' || *c == '\\') return 0;
  return 1;
}

/* ---------------------------------------------------------------- */
/* Ownership.                                                        */

/* The caller's user id, or NULL for a request without authentication
 * (host; valid until the response). */
static const char *req_owner(csvp_t *p, assist_request_t *req) {
  return ASSIST_HOST_HAS(p->host, req_user) ? p->host->req_user(req) : NULL;
}

/* Whether the caller of req may see a record owned by owner (NULL: a record
 * without one, taken as "local"). */
static int owner_visible(csvp_t *p, assist_request_t *req, const char *owner) {
  const char *user = req_owner(p, req);
  if (!owner || !*owner) owner = "local";
  return user ? strcmp(owner, user) == 0 : strcmp(owner, "local") == 0;
}

/* The same for a dataset's flat JSON record. */
static int dataset_visible(csvp_t *p, assist_request_t *req, const void *json,
                           size_t len) {
  char *owner = NULL;
  csvp_json_string(json, len, "owner", &owner);
  int ok = owner_visible(p, req, owner);
  free(owner);
  return ok;
}

/* ---------------------------------------------------------------- */
/* Metrics.                                                          */

static void metrics_update(csvp_t *p) {
  uint64_t done = 0, total = 0, rows = 0;
  for (an_t *a = p->ans; a; a = a->next) {
    if (!a->run) continue;
    done += atomic_load(&a->run->progress.bytes);
    rows += atomic_load(&a->run->progress.rows);
    total += a->bytes_total;
  }
  const assist_host_api_t *h = p->host;
  if (p->m_running) h->metric_set(p->m_running, NULL, (double)p->nrunning);
  if (p->m_bytes_done) h->metric_set(p->m_bytes_done, NULL, (double)done);
  if (p->m_bytes_total) h->metric_set(p->m_bytes_total, NULL, (double)total);
  if (p->m_rows) h->metric_set(p->m_rows, NULL, (double)rows);
}

/* ---------------------------------------------------------------- */
/* Analyses: records, rendering, the active list.                    */

static an_t *an_new(void) {
  an_t *a = calloc(1, sizeof *a);
  if (a) a->refs = 1;
  return a;
}

static an_t *an_ref(an_t *a) {
  a->refs++;
  return a;
}

static void an_unref(an_t *a) {
  if (!a || --a->refs > 0) return;
  free(a->dataset_name);
  free(a->owner);
  free(a->error);
  free(a);
}

static an_t *an_find(csvp_t *p, const char *id) {
  for (an_t *a = p->ans; a; a = a->next)
    if (strcmp(a->id, id) == 0) return a;
  return NULL;
}

/* Takes over the caller's reference. */
static void an_list_add(csvp_t *p, an_t *a) {
  a->listed = 1;
  a->next = p->ans;
  p->ans = a;
}

static void an_list_remove(csvp_t *p, an_t *a) {
  if (!a->listed) return;
  for (an_t **pp = &p->ans; *pp; pp = &(*pp)->next) {
    if (*pp == a) {
      *pp = a->next;
      a->next = NULL;
      a->listed = 0;
      an_unref(a);
      return;
    }
  }
}

static void an_set_error(an_t *a, const char *msg) {
  free(a->error);
  a->error = dupstr(msg);
}

static uint64_t an_bytes_done(const an_t *a) {
  return a->run ? atomic_load(&a->run->progress.bytes) : a->bytes_done;
}
static uint64_t an_rows(const an_t *a) {
  return a->run ? atomic_load(&a->run->progress.rows) : a->rows;
}

static void put_opt_str(csv_buf *b, const char *key, const char *v) {
  csv_buf_printf(b, ",\"%s\":", key);
  csvp_buf_str(b, v && *v ? v : NULL);
}

/* The kv record: flat, read back by an_parse. */
static void an_record(const an_t *a, csv_buf *b) {
  csv_buf_printf(b, "{\"id\":\"%s\",\"dataset\":\"%s\"", a->id, a->dataset);
  put_opt_str(b, "dataset_name", a->dataset_name);
  put_opt_str(b, "owner", a->owner);
  csv_buf_printf(b, ",\"job\":%lld,\"state\":\"%s\"", (long long)a->job,
                 state_names[a->state]);
  put_opt_str(b, "created_at", a->created_at);
  put_opt_str(b, "started_at", a->started_at);
  put_opt_str(b, "finished_at", a->finished_at);
  csv_buf_printf(b,
                 ",\"bytes_total\":%llu,\"bytes_done\":%llu,\"rows\":%llu,"
                 "\"seconds\":%.3f,\"attempts\":%d",
                 (unsigned long long)a->bytes_total,
                 (unsigned long long)an_bytes_done(a),
                 (unsigned long long)an_rows(a), a->seconds, a->attempts);
  put_opt_str(b, "error", a->error);
  csv_buf_puts(b, "}");
}

/* What the API shows. */
static void an_render(const an_t *a, csv_buf *b) {
  uint64_t done = an_bytes_done(a);
  csv_buf_printf(b, "{\"id\":\"%s\",\"dataset\":\"%s\"", a->id, a->dataset);
  put_opt_str(b, "dataset_name", a->dataset_name);
  put_opt_str(b, "owner", a->owner);
  csv_buf_printf(b, ",\"job\":%lld,\"state\":\"%s\"", (long long)a->job,
                 state_names[a->state]);
  put_opt_str(b, "created_at", a->created_at);
  put_opt_str(b, "started_at", a->started_at);
  put_opt_str(b, "finished_at", a->finished_at);
  double frac = a->state == AN_DONE ? 1.0
                : a->bytes_total    ? (double)done / (double)a->bytes_total
                                    : 0.0;
  if (frac > 1.0) frac = 1.0;
  csv_buf_printf(b,
                 ",\"progress\":{\"bytes_done\":%llu,\"bytes_total\":%llu,"
                 "\"rows\":%llu,\"fraction\":%.4f}",
                 (unsigned long long)done, (unsigned long long)a->bytes_total,
                 (unsigned long long)an_rows(a), frac);
  if (a->state >= AN_DONE)
    csv_buf_printf(b, ",\"seconds\":%.3f", a->seconds);
  else
    csv_buf_puts(b, ",\"seconds\":null");
  put_opt_str(b, "error", a->error);
  csv_buf_printf(b,
                 ",\"links\":{\"self\":\"/api/analyses/%s\",\"dataset\":"
                 "\"/api/datasets/%s\"",
                 a->id, a->dataset);
  if (a->state < AN_DONE)
    csv_buf_printf(b, ",\"cancel\":\"/api/analyses/%s/cancel\"", a->id);
  if (a->state == AN_DONE)
    csv_buf_printf(b,
                   ",\"report_json\":\"/api/analyses/%s/report.json\","
                   "\"report_html\":\"/api/analyses/%s/report.html\"",
                   a->id, a->id);
  csv_buf_puts(b, "}}");
}

static void copy_field(const char *json, size_t len, const char *key,
                       char out[32]) {
  char *s = NULL;
  out[0] = 0;
  if (csvp_json_string(json, len, key, &s) == 0 && strlen(s) < 32)
    strcpy(out, s);
  free(s);
}

static uint64_t num_field(const char *json, size_t len, const char *key) {
  double d = 0;
  if (csvp_json_number(json, len, key, &d) != 0 || !(d >= 0)) return 0;
  return d < 1.8e19 ? (uint64_t)d : 0;
}

/* A new an_t (one reference) from a kv record, or NULL. */
static an_t *an_parse(const void *value, size_t len) {
  const char *j = value;
  char *id = NULL, *ds = NULL, *state = NULL;
  an_t *a = NULL;
  if (csvp_json_string(j, len, "id", &id) || !id_ok(id, "an") ||
      csvp_json_string(j, len, "dataset", &ds) || !id_ok(ds, "ds") ||
      csvp_json_string(j, len, "state", &state))
    goto out;
  int st = -1;
  for (int i = 0; i <= AN_CANCELLED; i++)
    if (strcmp(state, state_names[i]) == 0) st = i;
  if (st < 0 || !(a = an_new())) goto out;
  strcpy(a->id, id);
  strcpy(a->dataset, ds);
  a->state = st;
  csvp_json_string(j, len, "dataset_name", &a->dataset_name);
  csvp_json_string(j, len, "owner", &a->owner);
  csvp_json_string(j, len, "error", &a->error);
  double d = 0;
  if (csvp_json_number(j, len, "job", &d) == 0) a->job = (int64_t)d;
  if (csvp_json_number(j, len, "seconds", &d) == 0) a->seconds = d;
  if (csvp_json_number(j, len, "attempts", &d) == 0) a->attempts = (int)d;
  copy_field(j, len, "created_at", a->created_at);
  copy_field(j, len, "started_at", a->started_at);
  copy_field(j, len, "finished_at", a->finished_at);
  a->bytes_total = num_field(j, len, "bytes_total");
  a->bytes_done = num_field(j, len, "bytes_done");
  a->rows = num_field(j, len, "rows");
out:
  free(id);
  free(ds);
  free(state);
  return a;
}

static void an_saved(void *ud, int status) {
  an_t *a = ud;
  (void)status; /* logged by an_save's caller context below */
  an_unref(a);
}

typedef struct save_log {
  csvp_t *p;
  an_t *a;
} save_log_t;

static void an_saved_logged(void *ud, int status) {
  save_log_t *s = ud;
  if (status != ASSIST_OK)
    s->p->host->log(s->p->inst, ASSIST_LOG_ERROR,
                    "cannot store analysis %s: %s", s->a->id,
                    s->p->host->strerror(status));
  an_saved(s->a, status);
  free(s);
}

/* Writes the record; cb (may be NULL) runs after the write. */
static void an_save(csvp_t *p, an_t *a, void (*cb)(void *, int), void *ud) {
  csv_buf b = {0};
  an_record(a, &b);
  char key[32];
  snprintf(key, sizeof key, "analysis:%s", a->id);
  int rc = ASSIST_ENOMEM;
  if (!b.oom) {
    if (cb) {
      rc = p->host->kv_put(p->inst, key, b.p, b.len, cb, ud);
    } else {
      save_log_t *s = malloc(sizeof *s);
      if (s) {
        s->p = p;
        s->a = an_ref(a);
        rc = p->host->kv_put(p->inst, key, b.p, b.len, an_saved_logged, s);
        if (rc != ASSIST_OK) {
          an_unref(a);
          free(s);
        }
      }
    }
  }
  csv_buf_free(&b);
  if (rc != ASSIST_OK) {
    p->host->log(p->inst, ASSIST_LOG_ERROR, "cannot store analysis %s: %s",
                 a->id, p->host->strerror(rc));
    if (cb) cb(ud, rc);
  }
}

/* Finds an analysis in memory, else loads its record: cb(ud, a) with a
 * borrowed an_t (NULL when unknown). Active loaded records join the list. */
typedef struct an_load {
  csvp_t *p;
  char id[ID_LEN + 1];
  void (*cb)(csvp_t *, an_t *, int status, void *);
  void *ud;
} an_load_t;

static void an_loaded(void *ud, int status, const void *value, size_t len) {
  an_load_t *l = ud;
  csvp_t *p = l->p;
  an_t *a = NULL;
  if (status == ASSIST_OK) {
    an_t *mem = an_find(p, l->id);
    if (mem) {
      a = an_ref(mem);
    } else if ((a = an_parse(value, len)) != NULL) {
      if (a->state == AN_RUNNING) a->state = AN_QUEUED; /* not running here */
      if (a->state < AN_DONE) an_list_add(p, an_ref(a));
    } else {
      status = ASSIST_EIO;
    }
  }
  l->cb(p, a, status, l->ud);
  an_unref(a);
  free(l);
}

static int an_lookup(csvp_t *p, const char *id,
                     void (*cb)(csvp_t *, an_t *, int, void *), void *ud) {
  an_t *a = an_find(p, id);
  if (a) {
    an_ref(a);
    cb(p, a, ASSIST_OK, ud);
    an_unref(a);
    return ASSIST_OK;
  }
  an_load_t *l = calloc(1, sizeof *l);
  if (!l) return ASSIST_ENOMEM;
  l->p = p;
  snprintf(l->id, sizeof l->id, "%s", id);
  l->cb = cb;
  l->ud = ud;
  char key[32];
  snprintf(key, sizeof key, "analysis:%s", id);
  int rc = p->host->kv_get(p->inst, key, an_loaded, l);
  if (rc != ASSIST_OK) free(l);
  return rc;
}

/* ---------------------------------------------------------------- */
/* Datasets: upload and import.                                      */

typedef struct ingest {
  csvp_t *p;
  assist_request_t *req;
  char id[ID_LEN + 1];
  char *name;
  char *owner;
  const char *source; /* "upload" or "import" */
  char *src;          /* spooled file or the import path */
  char *mem;          /* body held in memory (host without spooling) */
  size_t mem_len;
  char **import_dirs; /* import: allowed directories (copies) */
  size_t nimport;
  char *dst;
  char sha[65];
  uint64_t size;
  int rc;
  int status; /* HTTP status for rc != 0 */
  char *msg;
  char created_at[32];
} ingest_t;

static void ingest_free(ingest_t *g) {
  free(g->name);
  free(g->owner);
  free(g->src);
  free(g->mem);
  for (size_t i = 0; i < g->nimport; i++) free(g->import_dirs[i]);
  free(g->import_dirs);
  free(g->dst);
  free(g->msg);
  free(g);
}

static void ingest_fail(ingest_t *g, int rc, int status, const char *msg) {
  g->rc = rc;
  g->status = status;
  free(g->msg);
  g->msg = dupstr(msg);
}

static int status_of_io(int rc) {
  return rc == -ENOSPC || rc == -EDQUOT ? 507 : 500;
}

/* Pool: moves the spooled body (or writes the in-memory one) into place and
 * hashes it. */
static void upload_work(void *ud) {
  ingest_t *g = ud;
  int rc = csvp_mkdirs(g->p->data_dir);
  if (rc) {
    ingest_fail(g, rc, status_of_io(rc), "cannot create the data directory");
    return;
  }
  if (g->src) {
    rc = csvp_move(g->src, g->dst);
  } else {
    const char *slash = strrchr(g->dst, '/');
    rc = csvp_write_atomic(g->p->data_dir, slash ? slash + 1 : g->dst,
                           g->mem ? g->mem : "", g->mem_len);
  }
  if (!rc) rc = csvp_hash_file(g->dst, g->sha, &g->size);
  if (rc) {
    unlink(g->dst);
    ingest_fail(g, rc, status_of_io(rc), "cannot store the dataset");
  }
}

static int under_dir(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (n == 1 && dir[0] == '/') return path[0] == '/';
  return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Pool: checks the path against import_dirs (after resolving symlinks) and
 * copies it into place while hashing. */
static void import_work(void *ud) {
  ingest_t *g = ud;
  char *real = realpath(g->src, NULL);
  int e = real ? 0 : errno;
  int allowed = 0, lexical = 0;
  for (size_t i = 0; i < g->nimport; i++) {
    char *dir = realpath(g->import_dirs[i], NULL);
    if (under_dir(g->src, g->import_dirs[i]) || (dir && under_dir(g->src, dir)))
      lexical = 1;
    if (real && dir && under_dir(real, dir)) allowed = 1;
    free(dir);
  }
  if (!real) {
    if (lexical && (e == ENOENT || e == ENOTDIR))
      ingest_fail(g, -e, 404, "no such file");
    else
      ingest_fail(g, -EACCES, 403,
                  "path is not in an allowed import directory");
    return;
  }
  if (!allowed) {
    free(real);
    ingest_fail(g, -EACCES, 403, "path is not in an allowed import directory");
    return;
  }
  struct stat st;
  int rc = stat(real, &st) == 0 ? 0 : -errno;
  if (rc || !S_ISREG(st.st_mode)) {
    free(real);
    ingest_fail(g, rc ? rc : -EINVAL, 400, "path is not a regular file");
    return;
  }
  if ((uint64_t)st.st_size > g->p->max_upload) {
    free(real);
    ingest_fail(g, -EFBIG, 413, "file is larger than max_upload");
    return;
  }
  rc = csvp_mkdirs(g->p->data_dir);
  if (!rc) {
    char *tmp = malloc(strlen(g->dst) + 6);
    if (!tmp) {
      rc = -ENOMEM;
    } else {
      sprintf(tmp, "%s.part", g->dst);
      unlink(tmp);
      rc = csvp_copy_hash(real, tmp, g->p->max_upload, g->sha, &g->size);
      if (!rc && rename(tmp, g->dst) != 0) {
        rc = -errno;
        unlink(tmp);
      }
      free(tmp);
    }
  }
  free(real);
  if (rc == -EFBIG)
    ingest_fail(g, rc, 413, "file is larger than max_upload");
  else if (rc)
    ingest_fail(g, rc, status_of_io(rc), "cannot copy the file");
}

static void dataset_record(const ingest_t *g, csv_buf *b) {
  csv_buf_printf(b, "{\"id\":\"%s\",\"name\":", g->id);
  csvp_buf_str(b, g->name);
  csv_buf_printf(b, ",\"size\":%llu,\"sha256\":\"%s\",\"owner\":",
                 (unsigned long long)g->size, g->sha);
  csvp_buf_str(b, g->owner);
  csv_buf_printf(b,
                 ",\"created_at\":\"%s\",\"source\":\"%s\",\"links\":{"
                 "\"self\":\"/api/datasets/%s\",\"analyses\":"
                 "\"/api/datasets/%s/analyses\"}}",
                 g->created_at, g->source, g->id, g->id);
}

static void unlink_work(void *ud) {
  unlink((const char *)ud);
}
static void unlink_done(void *ud, int status) {
  (void)status;
  free(ud);
}

/* Removes a file from the pool; path is taken over. */
static void remove_later(csvp_t *p, char *path) {
  if (!path) return;
  if (!p->host->queue_work(p->inst, unlink_work, unlink_done, path)) free(path);
}

static void ingest_stored(void *ud, int status) {
  ingest_t *g = ud;
  csvp_t *p = g->p;
  if (status != ASSIST_OK) {
    p->host->log(p->inst, ASSIST_LOG_ERROR, "cannot record dataset %s: %s",
                 g->id, p->host->strerror(status));
    remove_later(p, g->dst);
    g->dst = NULL;
    respond_error(p, g->req, 500, "cannot record the dataset");
    ingest_free(g);
    return;
  }
  p->host->log(p->inst, ASSIST_LOG_INFO, "dataset %s stored (%s, %llu bytes)",
               g->id, g->source, (unsigned long long)g->size);
  if (p->m_uploads) p->host->metric_add(p->m_uploads, NULL, 1);
  if (p->m_upload_bytes)
    p->host->metric_add(p->m_upload_bytes, NULL, (double)g->size);
  csv_buf b = {0};
  dataset_record(g, &b);
  char loc[64];
  snprintf(loc, sizeof loc, "/api/datasets/%s", g->id);
  respond_buf(p, g->req, 201, &b, loc);
  ingest_free(g);
}

static void ingest_done(void *ud, int status) {
  ingest_t *g = ud;
  csvp_t *p = g->p;
  if (status != ASSIST_OK && !g->rc)
    ingest_fail(g, -ECANCELED, 503, "the plugin is stopping");
  if (g->rc) {
    p->host->log(p->inst, ASSIST_LOG_WARN, "dataset %s not stored: %s (%s)",
                 g->id, g->msg ? g->msg : "error", err_text(g->rc));
    respond_error(p, g->req, g->status ? g->status : 500,
                  g->msg ? g->msg : "cannot store the dataset");
    ingest_free(g);
    return;
  }
  iso_now(g->created_at);
  csv_buf b = {0};
  dataset_record(g, &b);
  char key[32];
  snprintf(key, sizeof key, "dataset:%s", g->id);
  int rc = b.oom ? ASSIST_ENOMEM
                 : p->host->kv_put(p->inst, key, b.p, b.len, ingest_stored, g);
  csv_buf_free(&b);
  if (rc != ASSIST_OK) ingest_stored(g, rc);
}

static ingest_t *ingest_new(csvp_t *p, assist_request_t *req,
                            const char *source, const char *name) {
  ingest_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->p = p;
  g->req = req;
  g->source = source;
  new_id("ds", g->id);
  const char *user = req_owner(p, req);
  g->name = dupstr(name);
  g->owner = dupstr(user ? user : "local");
  g->dst = dataset_path(p, g->id);
  if (!g->name || !g->owner || !g->dst) {
    ingest_free(g);
    return NULL;
  }
  return g;
}

static int on_upload(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *name = p->host->req_query(req, "name");
  if (!name)
    return respond_error(p, req, 400, "query parameter 'name' is required");
  if (!name_ok(name))
    return respond_error(p, req, 400,
                         "bad name: 1 to 255 characters, no '/', '\\' or "
                         "control characters");
  ingest_t *g = ingest_new(p, req, "upload", name);
  if (!g) return ASSIST_ENOMEM;
  uint64_t len = 0;
  const char *path = ASSIST_HOST_HAS(p->host, req_body_path)
                         ? p->host->req_body_path(req, &len)
                         : NULL;
  if (path) {
    g->src = strdup(path);
    if (!g->src) {
      ingest_free(g);
      return ASSIST_ENOMEM;
    }
  } else {
    size_t n = 0;
    const char *body = p->host->req_body(req, &n);
    if (n) {
      g->mem = malloc(n);
      if (!g->mem) {
        ingest_free(g);
        return ASSIST_ENOMEM;
      }
      memcpy(g->mem, body, n);
      g->mem_len = n;
    }
  }
  if (!p->host->queue_work(p->inst, upload_work, ingest_done, g)) {
    ingest_free(g);
    return respond_error(p, req, 503, "cannot queue the upload");
  }
  return ASSIST_ASYNC;
}

static char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return strdup(s ? s + 1 : path);
}

static int on_import(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  size_t n = 0;
  const char *body = p->host->req_body(req, &n);
  char *path = NULL, *name = NULL;
  int rc = body ? csvp_json_string(body, n, "path", &path) : -EINVAL;
  if (rc == -ENOENT) return respond_error(p, req, 400, "'path' is required");
  if (rc)
    return respond_error(p, req, 400,
                         "body must be a JSON object with a string 'path'");
  if (path[0] != '/') {
    free(path);
    return respond_error(p, req, 400, "'path' must be absolute");
  }
  rc = csvp_json_string(body, n, "name", &name);
  if (rc && rc != -ENOENT) {
    free(path);
    return respond_error(p, req, 400, "'name' must be a string");
  }
  if (!name) name = basename_of(path);
  if (!name_ok(name)) {
    free(path);
    free(name);
    return respond_error(p, req, 400, "bad name");
  }
  size_t ndirs = 0;
  while (p->host->opt_list(p->inst, "import_dirs", ndirs)) ndirs++;
  if (ndirs == 0) {
    free(path);
    free(name);
    return respond_error(p, req, 403,
                         "imports from local paths are disabled (set the "
                         "import_dirs option)");
  }
  ingest_t *g = ingest_new(p, req, "import", name);
  free(name);
  if (!g) {
    free(path);
    return ASSIST_ENOMEM;
  }
  g->src = path;
  g->import_dirs = calloc(ndirs, sizeof *g->import_dirs);
  if (!g->import_dirs) {
    ingest_free(g);
    return ASSIST_ENOMEM;
  }
  for (size_t i = 0; i < ndirs; i++) {
    g->import_dirs[i] = dupstr(p->host->opt_list(p->inst, "import_dirs", i));
    g->nimport++;
    if (!g->import_dirs[i]) {
      ingest_free(g);
      return ASSIST_ENOMEM;
    }
  }
  if (!p->host->queue_work(p->inst, import_work, ingest_done, g)) {
    ingest_free(g);
    return respond_error(p, req, 503, "cannot queue the import");
  }
  return ASSIST_ASYNC;
}

/* ---------------------------------------------------------------- */
/* Datasets: list, get, delete.                                      */

typedef struct rq {
  csvp_t *p;
  assist_request_t *req;
  char id[ID_LEN + 1];
  char *path;
  char *filter;
  const char *content_type;
  char *data;
  size_t len;
  int rc;
} rq_t;

static rq_t *rq_new(csvp_t *p, assist_request_t *req, const char *id) {
  rq_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->p = p;
  r->req = req;
  if (id) snprintf(r->id, sizeof r->id, "%s", id);
  return r;
}

static void rq_free(rq_t *r) {
  free(r->path);
  free(r->filter);
  free(r->data);
  free(r);
}

static void datasets_listed(void *ud, int status, size_t n,
                            const char *const *keys, const void *const *values,
                            const size_t *lens) {
  (void)keys;
  rq_t *r = ud;
  if (status != ASSIST_OK) {
    respond_error(r->p, r->req, 500, "cannot list datasets");
  } else {
    csv_buf b = {0};
    csv_buf_puts(&b, "{\"datasets\":[");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
      if (!dataset_visible(r->p, r->req, values[i], lens[i])) continue;
      if (shown++) csv_buf_puts(&b, ",");
      csv_buf_put(&b, values[i], lens[i]);
    }
    csv_buf_puts(&b, "]}");
    respond_buf(r->p, r->req, 200, &b, NULL);
  }
  rq_free(r);
}

static int on_list_datasets(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  rq_t *r = rq_new(p, req, NULL);
  if (!r) return ASSIST_ENOMEM;
  int rc = p->host->kv_list(p->inst, "dataset:", 0, datasets_listed, r);
  if (rc != ASSIST_OK) {
    rq_free(r);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

static void dataset_got(void *ud, int status, const void *value, size_t len) {
  rq_t *r = ud;
  if (status == ASSIST_ENOENT ||
      (status == ASSIST_OK && !dataset_visible(r->p, r->req, value, len)))
    respond_error(r->p, r->req, 404, "no such dataset");
  else if (status != ASSIST_OK)
    respond_error(r->p, r->req, 500, "cannot read the dataset record");
  else
    r->p->host->respond(r->req, 200, "application/json", value, len);
  rq_free(r);
}

static int dataset_id_param(csvp_t *p, assist_request_t *req, const char **id) {
  *id = p->host->req_param(req, "id");
  if (!id_ok(*id, "ds")) {
    respond_error(p, req, 404, "no such dataset");
    return 0;
  }
  return 1;
}

static int on_get_dataset(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *id;
  if (!dataset_id_param(p, req, &id)) return ASSIST_OK;
  rq_t *r = rq_new(p, req, id);
  if (!r) return ASSIST_ENOMEM;
  char key[32];
  snprintf(key, sizeof key, "dataset:%s", id);
  if (p->host->kv_get(p->inst, key, dataset_got, r) != ASSIST_OK) {
    rq_free(r);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

static int is_deleting(csvp_t *p, const char *id) {
  for (deleting_t *d = p->deleting; d; d = d->next)
    if (strcmp(d->id, id) == 0) return 1;
  return 0;
}

static void deleting_remove(csvp_t *p, const char *id) {
  for (deleting_t **pp = &p->deleting; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->id, id) == 0) {
      deleting_t *d = *pp;
      *pp = d->next;
      free(d);
      return;
    }
  }
}

static void delete_recorded(void *ud, int status) {
  rq_t *r = ud;
  csvp_t *p = r->p;
  deleting_remove(p, r->id);
  if (status != ASSIST_OK && status != ASSIST_ENOENT) {
    respond_error(p, r->req, 500, "cannot delete the dataset record");
  } else {
    p->host->log(p->inst, ASSIST_LOG_INFO, "dataset %s deleted", r->id);
    char body[80];
    int n =
        snprintf(body, sizeof body, "{\"id\":\"%s\",\"deleted\":true}", r->id);
    p->host->respond(r->req, 200, "application/json", body, (size_t)n);
  }
  rq_free(r);
}

static void delete_file_work(void *ud) {
  rq_t *r = ud;
  r->rc = unlink(r->path) == 0 || errno == ENOENT ? 0 : -errno;
}

static void delete_file_done(void *ud, int status) {
  rq_t *r = ud;
  csvp_t *p = r->p;
  if (status != ASSIST_OK || r->rc) {
    deleting_remove(p, r->id);
    respond_error(p, r->req, 500, "cannot remove the dataset file");
    rq_free(r);
    return;
  }
  char key[32];
  snprintf(key, sizeof key, "dataset:%s", r->id);
  if (p->host->kv_delete(p->inst, key, delete_recorded, r) != ASSIST_OK)
    delete_recorded(r, ASSIST_EIO);
}

/* The record is read first, so that another owner's dataset is a 404
 * whatever its state; the checks and the mark below run in one loop
 * callback, so no analysis of it can start once it is marked. */
static void delete_checked(void *ud, int status, const void *value,
                           size_t len) {
  rq_t *r = ud;
  csvp_t *p = r->p;
  const char *conflict = NULL;
  if (status == ASSIST_OK && !dataset_visible(p, r->req, value, len))
    status = ASSIST_ENOENT;
  if (status != ASSIST_OK) {
    respond_error(p, r->req, status == ASSIST_ENOENT ? 404 : 500,
                  status == ASSIST_ENOENT ? "no such dataset"
                                          : "cannot read the dataset record");
    rq_free(r);
    return;
  }
  for (an_t *a = p->ans; a && !conflict; a = a->next)
    if (strcmp(a->dataset, r->id) == 0 && a->state < AN_DONE)
      conflict = "an analysis of this dataset is queued or running; cancel it "
                 "first";
  if (!conflict && is_deleting(p, r->id))
    conflict = "the dataset is being deleted";
  deleting_t *d = conflict ? NULL : calloc(1, sizeof *d);
  if (conflict || !d) {
    respond_error(p, r->req, conflict ? 409 : 500,
                  conflict ? conflict : "out of memory");
    rq_free(r);
    return;
  }
  snprintf(d->id, sizeof d->id, "%s", r->id);
  d->next = p->deleting;
  p->deleting = d;
  r->path = dataset_path(p, r->id);
  if (!r->path ||
      !p->host->queue_work(p->inst, delete_file_work, delete_file_done, r)) {
    deleting_remove(p, r->id);
    respond_error(p, r->req, 503, "cannot queue the removal");
    rq_free(r);
  }
}

static int on_delete_dataset(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *id;
  if (!dataset_id_param(p, req, &id)) return ASSIST_OK;
  rq_t *r = rq_new(p, req, id);
  if (!r) return ASSIST_ENOMEM;
  char key[32];
  snprintf(key, sizeof key, "dataset:%s", id);
  if (p->host->kv_get(p->inst, key, delete_checked, r) != ASSIST_OK) {
    rq_free(r);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

/* ---------------------------------------------------------------- */
/* Analyses: start, list, get, cancel, reports.                      */

typedef struct start_ctx {
  csvp_t *p;
  assist_request_t *req;
  an_t *a;
} start_ctx_t;

static void start_respond(start_ctx_t *s, int status) {
  csv_buf b = {0};
  an_render(s->a, &b);
  char loc[64];
  snprintf(loc, sizeof loc, "/api/analyses/%s", s->a->id);
  respond_buf(s->p, s->req, status, &b, loc);
}

static void start_enqueued(void *ud, int status, int64_t id, int existed) {
  (void)existed;
  start_ctx_t *s = ud;
  csvp_t *p = s->p;
  an_t *a = s->a;
  if (status != ASSIST_OK) {
    a->state = AN_FAILED;
    an_set_error(a, "cannot queue the analysis job");
    iso_now(a->finished_at);
    an_save(p, a, NULL, NULL);
    an_list_remove(p, a);
    respond_error(p, s->req, 500, "cannot queue the analysis job");
  } else {
    if (!a->job) a->job = id;
    if (a->state == AN_CANCELLED) /* cancelled before the job existed */
      p->host->job_cancel(p->inst, id, NULL, NULL);
    an_save(p, a, NULL, NULL);
    p->host->log(p->inst, ASSIST_LOG_INFO,
                 "analysis %s of dataset %s queued as job %lld", a->id,
                 a->dataset, (long long)id);
    start_respond(s, 202);
  }
  an_unref(a);
  free(s);
}

static void start_saved(void *ud, int status) {
  start_ctx_t *s = ud;
  csvp_t *p = s->p;
  if (status != ASSIST_OK) {
    an_list_remove(p, s->a);
    respond_error(p, s->req, 500, "cannot record the analysis");
    an_unref(s->a);
    free(s);
    return;
  }
  char payload[64], key[64];
  snprintf(payload, sizeof payload, "{\"analysis\":\"%s\"}", s->a->id);
  snprintf(key, sizeof key, "analysis:%s", s->a->id);
  assist_job_spec_t spec = {
      .struct_size = sizeof spec,
      .kind = "analyze",
      .payload = payload,
      .max_attempts = MAX_ATTEMPTS,
      .idempotency_key = key,
  };
  int rc = p->host->job_enqueue(p->inst, &spec, start_enqueued, s);
  if (rc != ASSIST_OK) start_enqueued(s, rc, 0, 0);
}

static void start_dataset_got(void *ud, int status, const void *value,
                              size_t len) {
  start_ctx_t *s = ud;
  csvp_t *p = s->p;
  an_t *a = s->a;
  if (status == ASSIST_OK && !dataset_visible(p, s->req, value, len))
    status = ASSIST_ENOENT;
  if (status != ASSIST_OK || is_deleting(p, a->dataset)) {
    respond_error(p, s->req,
                  status == ASSIST_OK || status == ASSIST_ENOENT ? 404 : 500,
                  status == ASSIST_OK || status == ASSIST_ENOENT
                      ? "no such dataset"
                      : "cannot read the dataset record");
    an_unref(a);
    free(s);
    return;
  }
  csvp_json_string(value, len, "name", &a->dataset_name);
  a->bytes_total = num_field(value, len, "size");
  an_list_add(p, an_ref(a));
  an_save(p, a, start_saved, s);
}

static int on_start_analysis(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *id;
  if (!dataset_id_param(p, req, &id)) return ASSIST_OK;
  if (is_deleting(p, id)) return respond_error(p, req, 404, "no such dataset");
  start_ctx_t *s = calloc(1, sizeof *s);
  an_t *a = an_new();
  const char *user = req_owner(p, req);
  if (!s || !a || !(a->owner = strdup(user ? user : "local"))) {
    free(s);
    an_unref(a);
    return ASSIST_ENOMEM;
  }
  new_id("an", a->id);
  snprintf(a->dataset, sizeof a->dataset, "%s", id);
  a->state = AN_QUEUED;
  iso_now(a->created_at);
  s->p = p;
  s->req = req;
  s->a = a;
  char key[32];
  snprintf(key, sizeof key, "dataset:%s", id);
  if (p->host->kv_get(p->inst, key, start_dataset_got, s) != ASSIST_OK) {
    an_unref(a);
    free(s);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

static void analyses_listed(void *ud, int status, size_t n,
                            const char *const *keys, const void *const *values,
                            const size_t *lens) {
  (void)keys;
  rq_t *r = ud;
  csvp_t *p = r->p;
  if (status != ASSIST_OK) {
    respond_error(p, r->req, 500, "cannot list analyses");
    rq_free(r);
    return;
  }
  csv_buf b = {0};
  csv_buf_puts(&b, "{\"analyses\":[");
  size_t shown = 0;
  for (size_t i = 0; i < n; i++) {
    an_t *a = an_parse(values[i], lens[i]);
    if (!a) continue;
    an_t *mem = an_find(p, a->id);
    const an_t *show = mem ? mem : a;
    if (owner_visible(p, r->req, show->owner) &&
        (!r->filter || strcmp(show->dataset, r->filter) == 0)) {
      if (shown++) csv_buf_puts(&b, ",");
      an_render(show, &b);
    }
    an_unref(a);
  }
  csv_buf_puts(&b, "]}");
  respond_buf(p, r->req, 200, &b, NULL);
  rq_free(r);
}

static int on_list_analyses(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  rq_t *r = rq_new(p, req, NULL);
  if (!r) return ASSIST_ENOMEM;
  const char *ds = p->host->req_query(req, "dataset");
  if (ds && !(r->filter = strdup(ds))) {
    rq_free(r);
    return ASSIST_ENOMEM;
  }
  if (p->host->kv_list(p->inst, "analysis:", 0, analyses_listed, r) !=
      ASSIST_OK) {
    rq_free(r);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

/* An analysis the caller may not see is "unknown" (ASSIST_ENOENT). */
static int an_status_for(csvp_t *p, assist_request_t *req, const an_t *a,
                         int status) {
  if (status == ASSIST_OK && (!a || !owner_visible(p, req, a->owner)))
    return ASSIST_ENOENT;
  return status;
}

static void analysis_shown(csvp_t *p, an_t *a, int status, void *ud) {
  assist_request_t *req = ud;
  status = an_status_for(p, req, a, status);
  if (status == ASSIST_ENOENT) {
    respond_error(p, req, 404, "no such analysis");
  } else if (status != ASSIST_OK) {
    respond_error(p, req, 500, "cannot read the analysis record");
  } else {
    csv_buf b = {0};
    an_render(a, &b);
    respond_buf(p, req, 200, &b, NULL);
  }
}

static int analysis_id_param(csvp_t *p, assist_request_t *req,
                             const char **id) {
  *id = p->host->req_param(req, "id");
  if (!id_ok(*id, "an")) {
    respond_error(p, req, 404, "no such analysis");
    return 0;
  }
  return 1;
}

static int on_get_analysis(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *id;
  if (!analysis_id_param(p, req, &id)) return ASSIST_OK;
  an_t *a = an_find(p, id);
  if (a) {
    analysis_shown(p, a, ASSIST_OK, req);
    return ASSIST_OK;
  }
  if (an_lookup(p, id, analysis_shown, req) != ASSIST_OK)
    return respond_error(p, req, 503, "storage unavailable");
  return ASSIST_ASYNC;
}

static void cancel_found(csvp_t *p, an_t *a, int status, void *ud) {
  assist_request_t *req = ud;
  status = an_status_for(p, req, a, status);
  if (status == ASSIST_ENOENT) {
    respond_error(p, req, 404, "no such analysis");
    return;
  }
  if (status != ASSIST_OK) {
    respond_error(p, req, 500, "cannot read the analysis record");
    return;
  }
  if (a->state >= AN_DONE) {
    char msg[64];
    snprintf(msg, sizeof msg, "the analysis is already %s",
             state_names[a->state]);
    respond_error(p, req, 409, msg);
    return;
  }
  if (a->run) {
    /* Running: the chunks see the flag within a few thousand rows; the run
     * then records the cancellation and completes its job. */
    atomic_store(&a->run->cancel, 1);
    p->host->log(p->inst, ASSIST_LOG_INFO, "analysis %s: cancelling", a->id);
  } else {
    a->state = AN_CANCELLED;
    an_set_error(a, "cancelled by request");
    iso_now(a->finished_at);
    if (a->job) p->host->job_cancel(p->inst, a->job, NULL, NULL);
    an_save(p, a, NULL, NULL);
    an_list_remove(p, a); /* the caller of this callback holds a reference */
    p->host->log(p->inst, ASSIST_LOG_INFO, "analysis %s cancelled (queued)",
                 a->id);
    if (p->m_analyses)
      p->host->metric_add(p->m_analyses, "state=\"cancelled\"", 1);
  }
  csv_buf b = {0};
  an_render(a, &b);
  respond_buf(p, req, 202, &b, NULL);
}

static int on_cancel_analysis(assist_request_t *req, void *ud) {
  csvp_t *p = ud;
  const char *id;
  if (!analysis_id_param(p, req, &id)) return ASSIST_OK;
  if (an_lookup(p, id, cancel_found, req) != ASSIST_OK)
    return respond_error(p, req, 503, "storage unavailable");
  return ASSIST_ASYNC;
}

static void report_read_work(void *ud) {
  rq_t *r = ud;
  r->rc = csvp_read_file(r->path, REPORT_MAX, &r->data, &r->len);
}

static void report_read_done(void *ud, int status) {
  rq_t *r = ud;
  if (status != ASSIST_OK)
    respond_error(r->p, r->req, 503, "the plugin is stopping");
  else if (r->rc == -ENOENT || r->rc == -ENOTDIR)
    respond_error(r->p, r->req, 404,
                  "no report for this analysis (it is not done)");
  else if (r->rc)
    respond_error(r->p, r->req, 500, "cannot read the report");
  else
    r->p->host->respond(r->req, 200, r->content_type, r->data, r->len);
  rq_free(r);
}

/* The report is read only once the analysis record says the caller owns
 * it. */
static void report_found(csvp_t *p, an_t *a, int status, void *ud) {
  rq_t *r = ud;
  status = an_status_for(p, r->req, a, status);
  if (status != ASSIST_OK) {
    respond_error(p, r->req, status == ASSIST_ENOENT ? 404 : 500,
                  status == ASSIST_ENOENT ? "no such analysis"
                                          : "cannot read the analysis record");
    rq_free(r);
    return;
  }
  if (!p->host->queue_work(p->inst, report_read_work, report_read_done, r)) {
    respond_error(p, r->req, 503, "cannot queue the read");
    rq_free(r);
  }
}

static int serve_report(assist_request_t *req, csvp_t *p, const char *file,
                        const char *content_type) {
  const char *id;
  if (!analysis_id_param(p, req, &id)) return ASSIST_OK;
  rq_t *r = rq_new(p, req, id);
  if (!r) return ASSIST_ENOMEM;
  char *dir = analysis_dir(p, id);
  r->path = dir ? path_join(dir, file, NULL) : NULL;
  free(dir);
  r->content_type = content_type;
  if (!r->path) {
    rq_free(r);
    return ASSIST_ENOMEM;
  }
  if (an_lookup(p, id, report_found, r) != ASSIST_OK) {
    rq_free(r);
    return respond_error(p, req, 503, "storage unavailable");
  }
  return ASSIST_ASYNC;
}

static int on_report_json(assist_request_t *req, void *ud) {
  return serve_report(req, ud, "report.json", "application/json");
}
static int on_report_html(assist_request_t *req, void *ud) {
  return serve_report(req, ud, "report.html", "text/html; charset=utf-8");
}

/* ---------------------------------------------------------------- */
/* The analysis job: plan, one work item per chunk, merge, finish,   */
/* summary, render, store.                                           */

static void tick_cb(void *ud);

static void tick_update(csvp_t *p) {
  if (p->nrunning && !p->tick && !p->stopping)
    p->tick = p->host->timer_start(p->inst, TICK_MS, TICK_MS, tick_cb, p);
  if (!p->nrunning && p->tick) {
    p->host->timer_stop(p->tick);
    p->tick = NULL;
  }
  metrics_update(p);
}

static void tick_cb(void *ud) {
  csvp_t *p = ud;
  for (an_t *a = p->ans; a; a = a->next)
    if (a->run && a->run->job && p->host->job_cancelled(a->run->job))
      atomic_store(&a->run->cancel, 1);
  metrics_update(p);
}

static void run_free(run_t *r) {
  for (unsigned i = 0; i < MAX_CHUNKS; i++) csv_partial_free(r->parts[i]);
  csv_partial_free(r->acc);
  csv_result_free(r->result);
  csv_doc_free(r->doc);
  free(r->csv_path);
  free(r->out_dir);
  free(r->summary);
  free(r);
}

static int transient(int rc) {
  return rc == -EIO || rc == -ENOSPC || rc == -EDQUOT || rc == -ENOMEM ||
         rc == -EMFILE || rc == -ENFILE;
}

/* The end of a run, whatever happened. */
static void run_end(run_t *r, int rc) {
  csvp_t *p = r->p;
  an_t *a = r->an;
  assist_job_t *job = r->job;
  uint64_t bytes = atomic_load(&r->progress.bytes);
  uint64_t rows = atomic_load(&r->progress.rows);
  if (r->result) rows = csv_result_rows(r->result);
  int cancelled = atomic_load(&r->cancel);
  int outcome = ASSIST_JOB_OK, retry_after = 0;
  const char *job_error = NULL;
  a->run = NULL;
  p->nrunning--;
  a->bytes_done = bytes;
  a->rows = rows;
  a->seconds = now_s() - r->t0;
  if (rc == 0) {
    a->state = AN_DONE;
    an_set_error(a, NULL);
    if (r->report_exists) {
      a->bytes_done = a->bytes_total;
      p->host->log(p->inst, ASSIST_LOG_INFO,
                   "analysis %s: report already stored", a->id);
    } else {
      p->host->log(p->inst, ASSIST_LOG_INFO,
                   "analysis %s done: %llu rows, %llu bytes in %.3f s", a->id,
                   (unsigned long long)rows, (unsigned long long)bytes,
                   a->seconds);
    }
  } else if (p->stopping && (rc == -ECANCELED || cancelled)) {
    /* Interrupted by a stop: run again by the next process. */
    a->state = AN_QUEUED;
    a->bytes_done = 0;
    a->rows = 0;
    outcome = ASSIST_JOB_RETRY_AFTER;
    retry_after = 1;
    job_error = "instance stopping";
    p->host->log(p->inst, ASSIST_LOG_INFO,
                 "analysis %s interrupted by a stop; it will run again", a->id);
  } else if (rc == -ECANCELED || cancelled) {
    a->state = AN_CANCELLED;
    an_set_error(a, "cancelled by request");
    p->host->log(p->inst, ASSIST_LOG_INFO, "analysis %s cancelled", a->id);
  } else {
    char msg[256];
    if (rc == -ENOENT)
      snprintf(msg, sizeof msg, "the dataset file is missing");
    else
      snprintf(msg, sizeof msg, "cannot analyse the dataset: %s", err_text(rc));
    an_set_error(a, msg);
    if (transient(rc)) {
      outcome = ASSIST_JOB_FAIL;
      job_error = msg;
    }
    if (transient(rc) && a->attempts < MAX_ATTEMPTS) {
      a->state = AN_QUEUED;
      a->bytes_done = 0;
      a->rows = 0;
    } else {
      a->state = AN_FAILED;
    }
    p->host->log(p->inst, ASSIST_LOG_WARN, "analysis %s: %s", a->id, msg);
  }
  if (a->state >= AN_DONE) {
    iso_now(a->finished_at);
    if (p->m_analyses) {
      char labels[32];
      snprintf(labels, sizeof labels, "state=\"%s\"", state_names[a->state]);
      p->host->metric_add(p->m_analyses, labels, 1);
    }
    if (a->state == AN_DONE && p->m_seconds && !r->report_exists)
      p->host->metric_observe(p->m_seconds, NULL, a->seconds);
  }
  an_save(p, a, NULL, NULL);
  if (a->state >= AN_DONE) an_list_remove(p, a);
  if (job) p->host->job_complete(job, outcome, retry_after, job_error);
  an_unref(a); /* the run's reference */
  run_free(r);
  tick_update(p);
}

static void render_work(void *ud) {
  run_t *r = ud;
  if (r->summary) {
    r->rc = csv_result_set_summary(r->result, r->summary);
    if (r->rc) return;
  }
  char *json = NULL, *html = NULL;
  size_t jl = 0, hl = 0;
  r->rc = csv_render_json(r->result, &json, &jl);
  if (!r->rc) r->rc = csv_render_html(r->result, &html, &hl);
  if (!r->rc) r->rc = csvp_mkdirs(r->out_dir);
  /* html first: report.json is the marker that the report is complete. */
  const char *const names[2] = {"report.html", "report.json"};
  const void *const data[2] = {html, json};
  const size_t lens[2] = {hl, jl};
  if (!r->rc) r->rc = csvp_write_atomic_n(r->out_dir, names, data, lens, 2);
  free(json);
  free(html);
}

static void render_done(void *ud, int status) {
  run_t *r = ud;
  run_end(r, status != ASSIST_OK ? -ECANCELED : r->rc);
}

static void summary_done(void *ctx, int status, const char *text) {
  run_t *r = ctx;
  csvp_t *p = r->p;
  if (status == 0 && text) {
    r->summary = strdup(text);
  } else if (status != 0) {
    p->host->log(p->inst, ASSIST_LOG_WARN,
                 "analysis %s: summary provider failed (%s); keeping the "
                 "builtin summary",
                 r->an->id, p->host->strerror(status));
  }
  if (atomic_load(&r->cancel)) {
    run_end(r, -ECANCELED);
    return;
  }
  if (!p->host->queue_work(p->inst, render_work, render_done, r))
    run_end(r, -ECANCELED);
}

static void chunk_work(void *ud);
static void chunk_done(void *ud, int status);

static void launch_chunks(run_t *r) {
  csvp_t *p = r->p;
  r->pending = r->k;
  unsigned queued = 0;
  for (unsigned i = 0; i < r->k; i++) {
    r->parts[i] = NULL;
    r->rcs[i] = -ECANCELED;
    r->tasks[i] = (chunk_task_t){r, i};
  }
  unsigned n = r->k;
  for (unsigned i = 0; i < n; i++) {
    if (p->host->queue_work(p->inst, chunk_work, chunk_done, &r->tasks[i])) {
      queued++;
    } else {
      r->pending--;
    }
  }
  if (queued == 0) run_end(r, -ECANCELED);
}

static void merge_work(void *ud) {
  run_t *r = ud;
  uint64_t resume = 0;
  unsigned good = csv_plan_verify(r->chunks, r->parts, r->k, &resume);
  int rc = 0;
  for (unsigned i = 0; i < r->k; i++) {
    if (!rc && i < good) {
      if (!r->acc) {
        r->acc = r->parts[i];
        r->parts[i] = NULL;
      } else {
        rc = csv_merge(r->acc, r->parts[i]);
      }
    } else {
      uint64_t b = 0, n = 0;
      csv_partial_counts(r->parts[i], &b, &n);
      atomic_fetch_sub(&r->progress.bytes, b);
      atomic_fetch_sub(&r->progress.rows, n);
    }
    csv_partial_free(r->parts[i]);
    r->parts[i] = NULL;
  }
  r->more = 0;
  if (!rc && good < r->k) {
    /* A quoted newline fooled the planner: re-plan the rest. */
    if (resume <= r->from) {
      rc = -EIO;
    } else {
      unsigned n = r->p->threads > MAX_CHUNKS ? MAX_CHUNKS : r->p->threads;
      r->from = resume;
      rc = csv_plan(r->doc, r->from, n, 0, r->chunks, &r->k);
      r->more = 1;
    }
  }
  if (!rc && !r->more) rc = csv_finish(r->doc, r->acc, &r->result);
  r->rc = rc;
}

static void merge_done(void *ud, int status) {
  run_t *r = ud;
  csvp_t *p = r->p;
  if (status != ASSIST_OK || r->rc || atomic_load(&r->cancel)) {
    run_end(r, status != ASSIST_OK ? -ECANCELED : r->rc ? r->rc : -ECANCELED);
    return;
  }
  if (r->more) {
    launch_chunks(r);
    return;
  }
  int rc = p->summary->summarize(p->host, p->inst, r->result, summary_done, r);
  if (rc) summary_done(r, rc, NULL);
}

static void chunk_work(void *ud) {
  chunk_task_t *t = ud;
  run_t *r = t->run;
  r->rcs[t->i] = csv_profile_chunk(r->doc, &r->chunks[t->i], &r->progress,
                                   &r->cancel, &r->parts[t->i]);
}

static void chunk_done(void *ud, int status) {
  chunk_task_t *t = ud;
  run_t *r = t->run;
  csvp_t *p = r->p;
  if (status != ASSIST_OK) r->rcs[t->i] = -ECANCELED;
  if (--r->pending > 0) return;
  int rc = 0;
  for (unsigned i = 0; i < r->k && !rc; i++) rc = r->rcs[i];
  if (!rc && atomic_load(&r->cancel)) rc = -ECANCELED;
  if (rc) {
    run_end(r, rc);
    return;
  }
  if (!p->host->queue_work(p->inst, merge_work, merge_done, r))
    run_end(r, -ECANCELED);
}

static void prepare_work(void *ud) {
  run_t *r = ud;
  char *json = path_join(r->out_dir, "report.json", NULL);
  char *html = path_join(r->out_dir, "report.html", NULL);
  struct stat st;
  if (json && html && stat(json, &st) == 0 && stat(html, &st) == 0) {
    r->report_exists = 1;
    free(json);
    free(html);
    return;
  }
  free(json);
  free(html);
  csv_options o;
  csv_options_init(&o);
  r->rc = csv_doc_open_file(r->csv_path, &o, &r->doc);
  if (r->rc) return;
  if (r->an->dataset_name) csv_doc_set_name(r->doc, r->an->dataset_name);
  r->from = csv_doc_data_start(r->doc);
  unsigned n = r->p->threads;
  if (n > MAX_CHUNKS) n = MAX_CHUNKS;
  r->rc = csv_plan(r->doc, r->from, n, 0, r->chunks, &r->k);
}

static void prepare_done(void *ud, int status) {
  run_t *r = ud;
  if (status != ASSIST_OK) {
    run_end(r, -ECANCELED);
    return;
  }
  if (r->report_exists) {
    run_end(r, 0);
    return;
  }
  if (r->rc || atomic_load(&r->cancel)) {
    run_end(r, r->rc ? r->rc : -ECANCELED);
    return;
  }
  uint64_t size = csv_doc_size(r->doc), start = csv_doc_data_start(r->doc);
  r->an->bytes_total = size > start ? size - start : 0;
  if (r->k == 0) {
    /* No data records (empty file or a header only): finish as is. */
    if (!r->p->host->queue_work(r->p->inst, merge_work, merge_done, r))
      run_end(r, -ECANCELED);
    return;
  }
  launch_chunks(r);
}

/* Starts a run of analysis a for job. */
static void run_start(csvp_t *p, an_t *a, assist_job_t *job) {
  run_t *r = calloc(1, sizeof *r);
  if (r) {
    r->csv_path = dataset_path(p, a->dataset);
    r->out_dir = analysis_dir(p, a->id);
  }
  if (!r || !r->csv_path || !r->out_dir) {
    if (r) run_free(r);
    p->host->job_complete(job, ASSIST_JOB_FAIL, 0, "out of memory");
    return;
  }
  r->p = p;
  r->an = an_ref(a);
  r->job = job;
  atomic_init(&r->progress.bytes, 0);
  atomic_init(&r->progress.rows, 0);
  atomic_init(&r->cancel, 0);
  r->t0 = now_s();
  a->run = r;
  a->state = AN_RUNNING;
  a->job = p->host->job_id(job);
  a->attempts++;
  an_set_error(a, NULL);
  a->finished_at[0] = 0;
  iso_now(a->started_at);
  p->nrunning++;
  tick_update(p);
  an_save(p, a, NULL, NULL);
  p->host->log(p->inst, ASSIST_LOG_INFO,
               "analysis %s: started (job %lld, attempt %d, %u threads)", a->id,
               (long long)a->job, p->host->job_attempt(job), p->threads);
  if (!p->host->queue_work(p->inst, prepare_work, prepare_done, r))
    run_end(r, -ECANCELED);
}

static void job_found(csvp_t *p, an_t *a, int status, void *ud) {
  assist_job_t *job = ud;
  if (status == ASSIST_ENOENT || (status == ASSIST_OK && !a)) {
    p->host->log(p->inst, ASSIST_LOG_WARN,
                 "job %lld: its analysis no longer exists",
                 (long long)p->host->job_id(job));
    p->host->job_complete(job, ASSIST_JOB_OK, 0, NULL);
    return;
  }
  if (status != ASSIST_OK) {
    p->host->job_complete(job, ASSIST_JOB_RETRY_AFTER, 5,
                          "cannot read the analysis record");
    return;
  }
  if (p->stopping) {
    p->host->job_complete(job, ASSIST_JOB_RETRY_AFTER, 1, "instance stopping");
    return;
  }
  if (a->state >= AN_DONE) {
    p->host->job_complete(job, ASSIST_JOB_OK, 0, NULL);
    return;
  }
  if (a->run) {
    p->host->job_complete(job, ASSIST_JOB_RETRY_AFTER, 5,
                          "the analysis is already running");
    return;
  }
  run_start(p, a, job);
}

static void analyze_handler(assist_job_t *job, void *ud) {
  csvp_t *p = ud;
  const char *payload = p->host->job_payload(job);
  char *id = NULL;
  if (!payload ||
      csvp_json_string(payload, strlen(payload), "analysis", &id) != 0 ||
      !id_ok(id, "an")) {
    free(id);
    p->host->log(p->inst, ASSIST_LOG_ERROR, "job %lld: bad payload",
                 (long long)p->host->job_id(job));
    p->host->job_complete(job, ASSIST_JOB_OK, 0, NULL);
    return;
  }
  int rc = an_lookup(p, id, job_found, job);
  free(id);
  if (rc != ASSIST_OK)
    p->host->job_complete(job, ASSIST_JOB_RETRY_AFTER, 5,
                          "storage unavailable");
}

/* ---------------------------------------------------------------- */
/* Lifecycle.                                                        */

static int add_route(csvp_t *p, const char *method, const char *pattern,
                     assist_route_cb cb, uint64_t max_body, uint32_t flags) {
  assist_route_t r = {
      .struct_size = sizeof r,
      .method = method,
      .pattern = pattern,
      .max_body = max_body,
      .handler = cb,
      .ud = p,
      .flags = flags,
  };
  int rc = p->host->route_add(p->inst, &r);
  if (rc != ASSIST_OK)
    p->host->log(p->inst, ASSIST_LOG_ERROR, "cannot add route %s %s: %s",
                 method, pattern, p->host->strerror(rc));
  return rc;
}

static void csvp_free(csvp_t *p) {
  while (p->ans) {
    an_t *a = p->ans;
    p->ans = a->next;
    a->listed = 0;
    an_unref(a);
  }
  while (p->deleting) {
    deleting_t *d = p->deleting;
    p->deleting = d->next;
    free(d);
  }
  free(p->data_dir);
  free(p);
}

static int csvp_init(const assist_host_api_t *host, assist_instance_t *inst,
                     void **state) {
  if (!ASSIST_HOST_HAS(host, job_complete) ||
      !ASSIST_HOST_HAS(host, req_body_path)) {
    host->log(inst, ASSIST_LOG_ERROR,
              "csv-analysis needs a host with ABI 1.1 (storage and jobs)");
    return ASSIST_ENOTSUP;
  }
  csvp_t *p = calloc(1, sizeof *p);
  if (!p) return ASSIST_ENOMEM;
  p->host = host;
  p->inst = inst;
  const char *dir = host->opt_string(inst, "data_dir");
  size_t dl = dir ? strlen(dir) : 0;
  while (dl > 1 && dir[dl - 1] == '/') dl--;
  p->data_dir = dl ? strndup(dir, dl) : NULL;
  if (!p->data_dir) {
    host->log(inst, ASSIST_LOG_ERROR, "data_dir must not be empty");
    csvp_free(p);
    return ASSIST_EINVAL;
  }
  p->max_upload = (uint64_t)host->opt_int(inst, "max_upload");
  int64_t t = host->opt_int(inst, "threads");
  if (t <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    t = n > 0 ? n : 1;
  }
  p->threads = (unsigned)(t > MAX_CHUNKS ? MAX_CHUNKS : t);
  p->summary =
      csvp_summary_provider_find(host->opt_string(inst, "summary_provider"));
  if (!p->summary) {
    csvp_free(p);
    return ASSIST_EINVAL;
  }
  int rc = ASSIST_OK;
  if (!rc)
    rc = add_route(p, "POST", "/api/datasets", on_upload,
                   p->max_upload ? p->max_upload : 1, ASSIST_ROUTE_SPOOL_BODY);
  if (!rc)
    rc = add_route(p, "POST", "/api/datasets/import", on_import, 64u << 10, 0);
  if (!rc) rc = add_route(p, "GET", "/api/datasets", on_list_datasets, 0, 0);
  if (!rc) rc = add_route(p, "GET", "/api/datasets/{id}", on_get_dataset, 0, 0);
  if (!rc)
    rc = add_route(p, "DELETE", "/api/datasets/{id}", on_delete_dataset, 0, 0);
  if (!rc)
    rc = add_route(p, "POST", "/api/datasets/{id}/analyses", on_start_analysis,
                   0, 0);
  if (!rc) rc = add_route(p, "GET", "/api/analyses", on_list_analyses, 0, 0);
  if (!rc)
    rc = add_route(p, "GET", "/api/analyses/{id}", on_get_analysis, 0, 0);
  if (!rc)
    rc = add_route(p, "POST", "/api/analyses/{id}/cancel", on_cancel_analysis,
                   0, 0);
  if (!rc)
    rc = add_route(p, "GET", "/api/analyses/{id}/report.json", on_report_json,
                   0, 0);
  if (!rc)
    rc = add_route(p, "GET", "/api/analyses/{id}/report.html", on_report_html,
                   0, 0);
  if (!rc) {
    assist_job_kind_t kind = {
        .struct_size = sizeof kind,
        .kind = "analyze",
        .concurrency = 1,
        .timeout_s = 86400,
        .handler = analyze_handler,
        .ud = p,
    };
    rc = host->job_kind_register(inst, &kind);
    if (rc)
      host->log(inst, ASSIST_LOG_ERROR, "cannot register the job kind: %s",
                host->strerror(rc));
  }
  if (rc) {
    csvp_free(p);
    return rc;
  }
  p->m_running =
      host->metric_register(inst, ASSIST_METRIC_GAUGE, "csv_analyses_running",
                            "Analyses running now.", NULL, 0);
  p->m_bytes_done = host->metric_register(
      inst, ASSIST_METRIC_GAUGE, "csv_analysis_bytes_done",
      "Bytes profiled so far by the running analyses.", NULL, 0);
  p->m_bytes_total = host->metric_register(
      inst, ASSIST_METRIC_GAUGE, "csv_analysis_bytes_total",
      "Bytes to profile in the running analyses.", NULL, 0);
  p->m_rows = host->metric_register(
      inst, ASSIST_METRIC_GAUGE, "csv_analysis_rows_done",
      "Rows profiled so far by the running analyses.", NULL, 0);
  p->m_analyses =
      host->metric_register(inst, ASSIST_METRIC_COUNTER, "csv_analyses_total",
                            "Finished analyses by final state.", NULL, 0);
  p->m_uploads = host->metric_register(
      inst, ASSIST_METRIC_COUNTER, "csv_datasets_stored_total",
      "Datasets uploaded or imported.", NULL, 0);
  p->m_upload_bytes = host->metric_register(
      inst, ASSIST_METRIC_COUNTER, "csv_dataset_bytes_total",
      "Bytes of datasets uploaded or imported.", NULL, 0);
  static const double buckets[] = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800};
  p->m_seconds = host->metric_register(
      inst, ASSIST_METRIC_HISTOGRAM, "csv_analysis_seconds",
      "Wall time of completed analyses.", buckets,
      sizeof buckets / sizeof buckets[0]);
  metrics_update(p);
  *state = p;
  return ASSIST_OK;
}

/* Loads the analyses a previous process left queued or running, so that
 * DELETE sees them and GET shows them before their jobs run again. */
static void active_listed(void *ud, int status, size_t n,
                          const char *const *keys, const void *const *values,
                          const size_t *lens) {
  (void)keys;
  csvp_t *p = ud;
  if (status != ASSIST_OK) return;
  for (size_t i = 0; i < n; i++) {
    an_t *a = an_parse(values[i], lens[i]);
    if (!a) continue;
    if (a->state < AN_DONE && !an_find(p, a->id)) {
      if (a->state == AN_RUNNING) a->state = AN_QUEUED;
      an_list_add(p, a);
    } else {
      an_unref(a);
    }
  }
}

static int csvp_start(void *state) {
  csvp_t *p = state;
  int rc = p->host->kv_list(p->inst, "analysis:", 0, active_listed, p);
  if (rc != ASSIST_OK)
    p->host->log(p->inst, ASSIST_LOG_WARN, "cannot list analyses: %s",
                 p->host->strerror(rc));
  p->host->log(p->inst, ASSIST_LOG_INFO,
               "csv-analysis ready: data_dir %s, %u threads, max_upload %llu",
               p->data_dir, p->threads, (unsigned long long)p->max_upload);
  return ASSIST_OK;
}

/* Running analyses see the cancel flag; their runs end with "interrupted"
 * (state queued, job retried by the next process) as their work returns.
 * The host keeps this state until every work item and storage call is done,
 * so nothing has to be waited for here. */
static void csvp_stop(void *state, assist_done_cb done, void *arg) {
  csvp_t *p = state;
  p->stopping = 1;
  for (an_t *a = p->ans; a; a = a->next)
    if (a->run) atomic_store(&a->run->cancel, 1);
  if (p->tick) {
    p->host->timer_stop(p->tick);
    p->tick = NULL;
  }
  done(arg);
}

static void csvp_destroy(void *state) {
  csvp_free(state);
}

static const char *const summary_values[] = {"builtin", NULL};

static const assist_option_t csvp_options[] = {
    {.name = "data_dir",
     .type = ASSIST_OPT_STRING,
     .default_value = "var/datasets",
     .description = "Where datasets (<id>.csv) and reports (analyses/<id>/) "
                    "are stored; relative to the daemon's working directory."},
    {.name = "max_upload",
     .type = ASSIST_OPT_SIZE,
     .default_value = "1GB",
     .min = 1,
     .max = 1099511627776.0,
     .description = "Largest dataset accepted (upload or import); 413 beyond."},
    {.name = "threads",
     .type = ASSIST_OPT_INT,
     .default_value = "0",
     .min = 0,
     .max = 64,
     .description = "Chunks profiled at once per analysis (0: online CPUs)."},
    {.name = "import_dirs",
     .type = ASSIST_OPT_STRING_LIST,
     .default_value = NULL,
     .description = "Directories from which POST /api/datasets/import may "
                    "read files (symlinks resolved); empty: imports disabled."},
    {.name = "summary_provider",
     .type = ASSIST_OPT_ENUM,
     .default_value = "builtin",
     .enum_values = summary_values,
     .description = "Who writes the report's plain-language summary: "
                    "\"builtin\" (from the statistics alone)."},
    {.name = NULL},
};

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "csv-analysis",
    .version = "1.0.0",
    .description = "Upload CSV datasets, profile them on the thread pool as "
                   "durable jobs, download JSON and HTML reports.",
    .flags = 0,
    .options = csvp_options,
    .init = csvp_init,
    .start = csvp_start,
    .stop = csvp_stop,
    .destroy = csvp_destroy,
};
