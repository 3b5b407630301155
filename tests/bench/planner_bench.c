/*
 * planner_bench.c: planning throughput from the database, through the
 * service's own code path (core/assistant/plans.c: read events in
 * batches and each person's preferences once, planner_plan, write every
 * decision).
 *
 *   planner_bench DB_PATH MIGRATIONS USERS EVENTS [BATCH]
 *
 * 1. Creates a fresh SQLite database (migrations through core/store), then
 *    bulk-inserts USERS people with varied preferences and EVENTS events
 *    over the next 55 days with sqlite3 directly (one transaction,
 *    prepared statements; not measured).
 * 2. Measured: plans_plan_unplanned() over all of them, as the service's
 *    start-up sweep does (BATCH 0: its batch size), until the last
 *    decisions are committed. Prints the CPU time of each thread (the
 *    loop plans, the store's worker runs SQLite).
 *    BENCH_SNAPSHOT=FILE reuses generated data between runs (copied from
 *    FILE when it exists, else saved there; delete it after a schema
 *    change).
 * 3. Checks the stored decisions (every event has one row per offset).
 * Prints a table and a last line
 *   RESULT planner_events_per_s=N peak_rss_kb=N
 */
#include "assistant/plans.h"
#include "common/log.h"
#include "store/store.h"

#include <dirent.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uv_loop_t loop;
static store_t *st;
static assistant_t *asst;
static const char *db_path, *mig;
static long n_users, n_events;
static size_t batch;
static double t_gen0, t_gen1, t0, t1, cpu0, cpu1;
static plans_stats_t result;
static int exit_rc = 1;
static int64_t rows_total, rows_planned, rows_skipped;

/* Per-thread CPU (user, system) from /proc/self/task, for the breakdown:
 * the loop thread plans, the store's worker thread runs SQLite. */
#define MAX_TASKS 32
typedef struct task_cpu {
  int tid;
  char comm[32];
  double user, sys;
} task_cpu_t;
static task_cpu_t tasks0[MAX_TASKS], tasks1[MAX_TASKS];
static int ntasks0, ntasks1;

static int read_tasks(task_cpu_t *out) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  int n = 0;
  double hz = (double)sysconf(_SC_CLK_TCK);
  struct dirent *de;
  while ((de = readdir(d)) && n < MAX_TASKS) {
    if (de->d_name[0] == '.') continue;
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    char *l = strchr(buf, '('), *r = strrchr(buf, ')');
    if (!l || !r) continue;
    task_cpu_t *t = &out[n];
    t->tid = atoi(de->d_name);
    snprintf(t->comm, sizeof t->comm, "%.*s", (int)(r - l - 1), l + 1);
    unsigned long ut = 0, stt = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &stt) != 2)
      continue;
    t->user = (double)ut / hz;
    t->sys = (double)stt / hz;
    n++;
  }
  closedir(d);
  return n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (every thread). */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void die_sql(sqlite3 *db, const char *what) {
  fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
  exit(1);
}

/* Varied preferences: zones, channels, offsets, quiet hours, weekend
 * policies, VIPs, internal domains, travel buffers. */
static void prefs_json(long i, char *out, size_t cap) {
  static const char *const zones[] = {"UTC",
                                      "Europe/Berlin",
                                      "America/New_York",
                                      "Asia/Tokyo",
                                      "Europe/London",
                                      "Australia/Sydney",
                                      "America/Los_Angeles",
                                      "Asia/Kolkata"};
  static const char *const channels[] = {"email", "email", "call", "both"};
  static const char *const offsets[] = {
      "[\"24h\",\"2h\",\"30m\",\"5m\"]", "[\"24h\",\"1h\"]",
      "[\"48h\",\"24h\",\"2h\",\"30m\",\"10m\"]", "[\"30m\"]",
      "[\"3d\",\"24h\",\"15m\"]"};
  static const char *const weekends[] = {"normal", "email_only", "none"};
  const char *ch = channels[i % 4];
  int quiet = (int)(i % 5);
  char quiet_s[80];
  if (quiet == 0)
    snprintf(quiet_s, sizeof quiet_s, "null");
  else
    snprintf(quiet_s, sizeof quiet_s,
             "{\"start\":\"%02d:00\",\"end\":\"0%d:00\"}", 19 + quiet,
             5 + quiet % 3);
  snprintf(out, cap,
           "{\"timezone\":\"%s\",\"channel\":\"%s\",%s\"offsets\":%s,"
           "\"quiet_hours\":%s,\"weekend\":\"%s\",\"escalation_threshold\":"
           "\"%s\",\"max_call_attempts\":%ld,\"vip_organizers\":[\"boss%ld@"
           "corp.example\"],\"internal_domains\":[\"%s\"],"
           "\"travel_buffer\":\"%s\",\"all_day_time\":\"%02ld:00\"}",
           zones[i % 8], ch,
           strcmp(ch, "email") ? "\"phone\":\"+4930123456\"," : "",
           offsets[i % 5], quiet_s, weekends[(i / 3) % 3], i % 2 ? "30m" : "1h",
           1 + i % 5, i % 7, i % 3 ? "corp.example" : "team.example",
           i % 4 == 0 ? "15m" : "0m", 17 + i % 4);
}

static void generate(void) {
  sqlite3 *db;
  if (sqlite3_open(db_path, &db) != SQLITE_OK) die_sql(db, "open");
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;", NULL,
               NULL, NULL);
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    die_sql(db, "begin");
  sqlite3_stmt *u, *e;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO users (id, email, name, role, "
                         "preferences, created_at, updated_at) VALUES "
                         "(?1, ?2, '', 'user', ?3, 0, 0)",
                         -1, &u, NULL) != SQLITE_OK)
    die_sql(db, "prepare users");
  char email[64], prefs[1024];
  for (long i = 1; i <= n_users; i++) {
    snprintf(email, sizeof email, "person%ld@bench.example", i);
    prefs_json(i, prefs, sizeof prefs);
    sqlite3_bind_int64(u, 1, i);
    sqlite3_bind_text(u, 2, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(u, 3, prefs, -1, SQLITE_STATIC);
    if (sqlite3_step(u) != SQLITE_DONE) die_sql(db, "insert user");
    sqlite3_reset(u);
  }
  if (sqlite3_prepare_v2(
          db,
          "INSERT INTO calendar_events (user_id, source, external_id, etag, "
          "summary, location, start_at, end_at, tz, all_day, start_date, "
          "organizer, attendees, status, response, created_at, updated_at) "
          "VALUES (?1, 'bench:primary', ?2, '1', ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
          "?10, ?11, ?12, ?13, 0, 0)",
          -1, &e, NULL) != SQLITE_OK)
    die_sql(db, "prepare events");
  int64_t now = store_now_ms();
  int64_t day0 = now - now % 86400000 + 86400000; /* tomorrow 00:00 UTC */
  static const char *const summaries[] = {
      "Dentist",          "Team sync",        "1:1 with Sam",
      "Flight to Lisbon", "Parents' evening", "Review"};
  char ext[32], date[16];
  for (long i = 0; i < n_events; i++) {
    long uid = 1 + (long)(rnd() % (uint64_t)n_users);
    int64_t day = (int64_t)(rnd() % 55);
    int all_day = rnd() % 20 == 0;
    int64_t start, end;
    if (all_day) {
      start = day0 + day * 86400000;
      end = start + 86400000;
      time_t t = (time_t)(start / 1000);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(date, sizeof date, "%Y-%m-%d", &tm);
    } else {
      start = day0 + day * 86400000 + (int64_t)(rnd() % 96) * 900000;
      end = start + (int64_t)(1 + rnd() % 4) * 1800000;
    }
    snprintf(ext, sizeof ext, "ev%ld", i);
    uint64_t r = rnd();
    const char *org = r % 10 == 0  ? "boss1@corp.example"
                      : r % 10 < 4 ? "colleague@corp.example"
                                   : "someone@else.example";
    const char *att =
        r % 3 == 0
            ? "[{\"email\":\"a@corp.example\",\"name\":\"A\",\"status\":"
              "\"accepted\",\"self\":false},{\"email\":\"b@corp.example\","
              "\"name\":\"B\",\"status\":\"needsAction\",\"self\":true}]"
            : "[]";
    sqlite3_bind_int64(e, 1, uid);
    sqlite3_bind_text(e, 2, ext, -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 3, summaries[r % 6], -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 4, r % 4 == 0 ? "Main St 1, Berlin" : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(e, 5, start);
    sqlite3_bind_int64(e, 6, end);
    sqlite3_bind_text(e, 7, "UTC", -1, SQLITE_STATIC);
    sqlite3_bind_int(e, 8, all_day);
    if (all_day)
      sqlite3_bind_text(e, 9, date, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(e, 9);
    sqlite3_bind_text(e, 10, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 11, att, -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 12, r % 100 == 7 ? "cancelled" : "confirmed", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(e, 13, r % 50 == 3 ? "declined" : "needsAction", -1,
                      SQLITE_STATIC);
    if (sqlite3_step(e) != SQLITE_DONE) die_sql(db, "insert event");
    sqlite3_reset(e);
  }
  sqlite3_finalize(u);
  sqlite3_finalize(e);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    die_sql(db, "commit");
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(db);
}

/* Copies a file (the BENCH_SNAPSHOT of generated data). */
static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (!in) return -1;
  FILE *out = fopen(to, "wb");
  if (!out) {
    fclose(in);
    return -1;
  }
  static char buf[1 << 16];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  fclose(in);
  if (fclose(out) != 0) rc = -1;
  return rc;
}

static void store_closed(void *arg) {
  (void)arg;
}

static void asst_closed(void *arg) {
  (void)arg;
  store_close(st, store_closed, NULL);
}

static void counted(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  (void)arg;
  if (status != 0) {
    fprintf(stderr, "count: %s\n", errmsg);
  } else {
    rows_total = store_res_int(res, 0, 0, 0);
    rows_planned = store_res_int(res, 1, 0, 0);
    rows_skipped = store_res_int(res, 2, 0, 0);
    exit_rc = rows_total == result.planned + result.skipped ? 0 : 1;
    if (exit_rc)
      fprintf(stderr, "stored %" PRId64 " decisions, planned %" PRId64 "\n",
              rows_total, result.planned + result.skipped);
  }
  assistant_close(asst, asst_closed, NULL);
}

static void planned(void *ud, int status, const plans_stats_t *s) {
  (void)ud;
  t1 = now_s();
  cpu1 = cpu_s();
  ntasks1 = read_tasks(tasks1);
  result = *s;
  if (status != 0) {
    fprintf(stderr, "planning failed: %d\n", status);
    assistant_close(asst, asst_closed, NULL);
    return;
  }
  static const store_stmt_t c_all = {
      "bench.count", "SELECT count(*) FROM notifications", NULL};
  static const store_stmt_t c_planned = {
      "bench.count_planned",
      "SELECT count(*) FROM notifications WHERE state = 'planned'", NULL};
  static const store_stmt_t c_skipped = {
      "bench.count_skipped",
      "SELECT count(*) FROM notifications WHERE state = 'skipped'", NULL};
  store_req_t *q = store_req_new(st, 0);
  store_req_stmt(q, &c_all);
  store_req_stmt(q, &c_planned);
  store_req_stmt(q, &c_skipped);
  store_req_submit(q, counted, NULL);
}

static void pragma_done(store_t *s, int status, const char *errmsg,
                        store_res_t *res, void *arg) {
  (void)s;
  (void)res;
  (void)arg;
  if (status != 0) fprintf(stderr, "pragma: %s\n", errmsg);
}

static void reopened(store_t *s, int status, const char *errmsg, void *arg) {
  (void)arg;
  if (status != 0) {
    fprintf(stderr, "open: %s\n", errmsg);
    exit(1);
  }
  st = s;
  /* BENCH_CACHE_MB: a bigger page cache for the store's connection, for
   * experiments only (the daemon keeps SQLite's default, and so does
   * planner.sh: 64 or 256 MB did not make planning cheaper). */
  const char *mb = getenv("BENCH_CACHE_MB");
  if (mb && atoi(mb) > 0) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", atoi(mb) * 1024);
    store_req_t *q = store_req_new(st, 0);
    store_req_sql(q, sql);
    store_req_submit(q, pragma_done, NULL);
  }
  assistant_opts_t o = {.horizon_days = 60};
  asst = assistant_new(&loop, st, NULL, NULL, NULL, &o);
  ntasks0 = read_tasks(tasks0);
  t0 = now_s();
  cpu0 = cpu_s();
  plans_plan_unplanned(asst, batch, planned, NULL);
}

static void migrated_closed(void *arg) {
  (void)arg;
  t_gen0 = now_s();
  /* BENCH_SNAPSHOT=FILE: reuse generated data (same schema, people and
   * events): copied from FILE when it exists, else saved there. */
  const char *snap = getenv("BENCH_SNAPSHOT");
  if (!snap || !*snap || copy_file(snap, db_path) != 0) {
    generate();
    if (snap && *snap && copy_file(db_path, snap) != 0)
      fprintf(stderr, "cannot save %s\n", snap);
  }
  t_gen1 = now_s();
  char uri[1024];
  snprintf(uri, sizeof uri, "sqlite:%s", db_path);
  if (store_open(&loop, uri, NULL, reopened, NULL) != 0) exit(1);
}

static void migrated(store_t *s, int status, const char *errmsg, void *arg) {
  (void)arg;
  if (status != 0) {
    fprintf(stderr, "migrate: %s\n", errmsg);
    exit(1);
  }
  store_close(s, migrated_closed, NULL);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr,
            "usage: planner_bench DB_PATH MIGRATIONS USERS EVENTS [BATCH]\n");
    return 2;
  }
  db_path = argv[1];
  mig = argv[2];
  n_users = atol(argv[3]);
  n_events = atol(argv[4]);
  batch = argc > 5 ? (size_t)atol(argv[5]) : 0;
  if (n_users < 1 || n_events < 0) return 2;
  log_setup(LOG_FORMAT_TEXT, LOG_WARN, 2);
  uv_loop_init(&loop);
  char uri[1024];
  snprintf(uri, sizeof uri, "sqlite:%s", db_path);
  if (store_open(&loop, uri, mig, migrated, NULL) != 0) return 1;
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double secs = t1 - t0;
  printf("%-34s %12ld\n", "people", n_users);
  printf("%-34s %12ld\n", "events", n_events);
  printf("%-34s %12.2f\n", "generate (s, not measured)", t_gen1 - t_gen0);
  printf("%-34s %12" PRId64 "\n", "events planned", result.events);
  printf("%-34s %12" PRId64 "\n", "decisions planned", result.planned);
  printf("%-34s %12" PRId64 "\n", "decisions skipped", result.skipped);
  printf("%-34s %12" PRId64 "\n", "rows stored", rows_total);
  printf("%-34s %12" PRId64 "\n", "  of which planned", rows_planned);
  printf("%-34s %12" PRId64 "\n", "  of which skipped", rows_skipped);
  printf("%-34s %12" PRId64 "\n", "batches", result.batches);
  printf("%-34s %12.2f\n", "plan from the database (s)", secs);
  printf("%-34s %12.2f\n", "CPU, all threads (s)", cpu1 - cpu0);
  for (int i = 0; i < ntasks1; i++) {
    double u = tasks1[i].user, sy = tasks1[i].sys;
    for (int k = 0; k < ntasks0; k++)
      if (tasks0[k].tid == tasks1[i].tid) {
        u -= tasks0[k].user;
        sy -= tasks0[k].sys;
      }
    if (u + sy < 0.005) continue;
    char label[64];
    snprintf(label, sizeof label, "  thread %s%s (user/sys s)", tasks1[i].comm,
             tasks1[i].tid == getpid() ? " [loop]" : "");
    printf("%-34s %6.2f/%5.2f\n", label, u, sy);
  }
  printf("%-34s %12.2f\n", "CPU per event (us)",
         result.events ? (cpu1 - cpu0) * 1e6 / (double)result.events : 0);
  printf("%-34s %12.0f\n", "events/s",
         secs > 0 ? (double)result.events / secs : 0);
  printf("RESULT planner_events_per_s=%.0f peak_rss_kb=%ld\n",
         secs > 0 ? (double)result.events / secs : 0, ru.ru_maxrss);
  return exit_rc;
}
