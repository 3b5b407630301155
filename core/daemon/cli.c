/*
 * cli.c: maintenance commands that run next to (or instead of) the daemon.
 *
 *   assistd audit verify --config FILE [--anchor A]
 *       Walks the audit chain and checks the signed head. Prints
 *       "audit log OK: N entries (last seq S)" and exits 0, or
 *       "audit log BROKEN at seq N: <problem>: <message>" and exits 1.
 *       Exit 2 when it cannot run (configuration, keys, database).
 *   assistd audit anchor --config FILE
 *       Prints the current head ("a1:<seq>:<hash>") to keep outside the
 *       database; pass it to verify --anchor later.
 *   assistd secrets rotate --config FILE
 *       With a new key active (secrets.key_file) and the old one listed in
 *       secrets.previous_key_files: re-encrypts every plugin value stored
 *       through the SDK's secret_encrypt (kv values "ps1:...") and re-wraps
 *       every audit subject key under the active key, then re-signs the
 *       audit head. Afterwards the old key can be dropped from the
 *       configuration. Safe to run while daemons are up (each value is
 *       replaced only if unchanged meanwhile) and to run twice.
 *
 * These are command-line tools: they block (their own loop for the
 * store, synchronous audit calls). Output on stdout, errors on stderr.
 */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ASSISTD_SQL_DIR
#define ASSISTD_SQL_DIR "/usr/share/assistd/sql"
#endif

typedef struct cli {
  const char *config_path, *anchor;
  config_t *cfg;
  secrets_keyring_t *ring;
} cli_t;

static int cli_setup(cli_t *c) {
  cfg_errors_t errs = {0};
  log_setup(LOG_FORMAT_TEXT, LOG_WARN, 2);
  c->cfg = config_load(c->config_path, &errs);
  if (!c->cfg) {
    for (size_t i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.items[i]);
    cfg_errors_free(&errs);
    return 2;
  }
  cfg_errors_free(&errs);
  char err[512] = "";
  if (keys_load(c->cfg, 0, &c->ring, err, sizeof err) != 0) {
    fprintf(stderr, "assistd: %s\n", err);
    return 2;
  }
  return 0;
}

static void cli_free(cli_t *c) {
  secrets_keyring_free(c->ring);
  config_free(c->cfg);
}

/* ---------------- audit ---------------- */

static int open_log(cli_t *c, audit_conn_t **conn, audit_log_t **log) {
  char err[512] = "";
  int rc = audit_conn_open(c->cfg->storage, conn, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot open the audit log: %s\n", err);
    return 2;
  }
  if (audit_log_new(c->ring, audit_conn_sink(*conn), log) != 0) {
    audit_conn_close(*conn);
    return 2;
  }
  return 0;
}

static int audit_verify_cmd(cli_t *c) {
  audit_conn_t *conn;
  audit_log_t *log;
  int rc = open_log(c, &conn, &log);
  if (rc) return rc;
  audit_verify_result_t res;
  memset(&res, 0, sizeof res);
  int vrc = audit_verify(log, c->anchor, &res);
  if (vrc < 0) {
    fprintf(stderr, "assistd: cannot read the audit log: %s\n",
            secrets_strerror(vrc));
    rc = 2;
  } else if (res.problem == AUDIT_OK) {
    printf("audit log OK: %lld entries (last seq %lld)\n", (long long)res.rows,
           (long long)res.last_seq);
    rc = 0;
  } else {
    printf("audit log BROKEN at seq %lld: %s: %s\n", (long long)res.seq,
           audit_problem_name(res.problem), res.message);
    rc = 1;
  }
  audit_log_free(log);
  audit_conn_close(conn);
  return rc;
}

static int audit_anchor_cmd(cli_t *c) {
  audit_conn_t *conn;
  audit_log_t *log;
  int rc = open_log(c, &conn, &log);
  if (rc) return rc;
  char *anchor = NULL;
  int arc = audit_anchor(log, &anchor);
  if (arc < 0) {
    fprintf(stderr, "assistd: cannot make an anchor: %s\n",
            secrets_strerror(arc));
    rc = 1;
  } else {
    printf("%s\n", anchor);
  }
  free(anchor);
  audit_log_free(log);
  audit_conn_close(conn);
  return rc;
}

/* ---------------- secrets rotate: plugin values in kv ---------------- */

static const store_stmt_t st_scan = {
    "kv_scan_secrets",
    "SELECT plugin, key, value FROM kv WHERE "
    "CAST(substr(value, 1, 4) AS TEXT) = 'ps1:' ORDER BY plugin, key",
    "SELECT plugin, key, value FROM kv WHERE "
    "substring(value from 1 for 4) = 'ps1:'::bytea ORDER BY plugin, key"};
static const store_stmt_t st_swap = {
    "kv_swap_secret",
    "UPDATE kv SET value = $1, updated_at = $2 WHERE plugin = $3 AND key = $4 "
    "AND value = $5",
    NULL};

typedef struct rot {
  cli_t *c;
  uv_loop_t loop;
  store_t *store;
  int failed;
  size_t pending, reencrypted, current, unreadable, raced;
} rot_t;

static void rot_closed(void *arg) {
  (void)arg;
}

static void rot_finish(rot_t *r) {
  store_t *s = r->store;
  r->store = NULL;
  store_close(s, rot_closed, r);
}

static void swapped(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  (void)s;
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot update a value: %s\n", errmsg);
    r->failed = 1;
  } else if (store_res_changes(res, 0) == 0) {
    r->raced++; /* changed meanwhile: the new value is the plugin's */
  } else {
    r->reencrypted++;
  }
  if (--r->pending == 0) rot_finish(r);
}

static void scanned(store_t *s, int status, const char *errmsg,
                    store_res_t *res, void *arg) {
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot read the key-value area: %s\n", errmsg);
    r->failed = 1;
    rot_finish(r);
    return;
  }
  int n = store_res_rows(res, 0);
  r->pending = 1;
  for (int i = 0; i < n; i++) {
    const char *scope = store_res_text(res, 0, i, 0);
    const char *key = store_res_text(res, 0, i, 1);
    size_t len = 0;
    const void *v = store_res_blob(res, 0, i, 2, &len);
    const char *inst = strchr(scope, '/');
    inst = inst ? inst + 1 : scope;
    char *ct = xstrndup(v, len);
    char *fresh = NULL;
    int rc = secrets_plugin_reencrypt(r->c->ring, inst, ct, &fresh);
    if (rc == 1) {
      r->current++;
    } else if (rc < 0) {
      /* Never log values: the scope and key say which one. */
      fprintf(stderr, "assistd: %s / %s: %s\n", scope, key,
              secrets_strerror(rc));
      r->unreadable++;
    } else {
      store_req_t *q = store_req_new(s, 0);
      store_req_stmt(q, &st_swap);
      store_req_bind_blob(q, fresh, strlen(fresh));
      store_req_bind_int(q, store_now_ms());
      store_req_bind_text(q, scope);
      store_req_bind_text(q, key);
      store_req_bind_blob(q, v, len);
      r->pending++;
      store_req_submit(q, swapped, r);
      free(fresh);
    }
    free(ct);
  }
  if (--r->pending == 0) rot_finish(r);
}

static void rot_opened(store_t *s, int status, const char *errmsg, void *arg) {
  rot_t *r = arg;
  if (status < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", errmsg);
    r->failed = 1;
    return;
  }
  r->store = s;
  store_req_t *q = store_req_new(s, 0);
  store_req_stmt(q, &st_scan);
  store_req_submit(q, scanned, r);
}

static int secrets_rotate_cmd(cli_t *c) {
  char active[SECRETS_KEYID_MAX + 1] = "";
  secrets_keyring_active_id(c->ring, active);
  rot_t r = {.c = c};
  uv_loop_init(&r.loop);
  const char *sql_dir = getenv("ASSISTD_SQL_DIR");
  int rc = store_open(&r.loop, c->cfg->storage,
                      sql_dir ? sql_dir : ASSISTD_SQL_DIR, rot_opened, &r);
  if (rc < 0) {
    fprintf(stderr, "assistd: cannot open storage: %s\n", strerror(-rc));
    uv_loop_close(&r.loop);
    return 2;
  }
  uv_run(&r.loop, UV_RUN_DEFAULT);
  uv_loop_close(&r.loop);
  if (r.failed) return 2;
  printf("plugin values: %zu re-encrypted, %zu already under key %s, %zu "
         "changed meanwhile, %zu unreadable\n",
         r.reencrypted, r.current, active, r.raced, r.unreadable);

  /* Then the audit subject keys, which also re-signs the head. */
  audit_conn_t *conn;
  audit_log_t *log;
  if ((rc = open_log(c, &conn, &log)) != 0) return rc;
  size_t rewrapped = 0;
  int arc = audit_rewrap_keys(log, &rewrapped);
  if (arc == 0) {
    char details[160];
    snprintf(details, sizeof details,
             "{\"active_key\":\"%s\",\"kv_reencrypted\":%zu,"
             "\"kv_unreadable\":%zu,\"audit_keys_rewrapped\":%zu}",
             active, r.reencrypted, r.unreadable, rewrapped);
    audit_record_t rec = {.actor = "system:cli",
                          .action = "secrets.rotate",
                          .target = active,
                          .outcome = r.unreadable ? "partial" : "ok",
                          .details = details};
    arc = audit_append(log, &rec, NULL);
  }
  audit_log_free(log);
  audit_conn_close(conn);
  if (arc < 0) {
    fprintf(stderr, "assistd: cannot re-wrap the audit keys: %s\n",
            secrets_strerror(arc));
    return 2;
  }
  printf("audit subject keys: %zu re-wrapped; audit head signed with key %s\n",
         rewrapped, active);
  if (r.unreadable) {
    printf("some values could not be decrypted with the configured keys: "
           "keep the old key until they are dealt with\n");
    return 1;
  }
  printf("rotation complete: the previous keys can be removed from the "
         "configuration\n");
  return 0;
}

/* ---------------- dispatch ---------------- */

static void cli_usage(FILE *f) {
  fprintf(f, "usage: assistd audit verify --config FILE [--anchor A]\n"
             "       assistd audit anchor --config FILE\n"
             "       assistd secrets rotate --config FILE\n");
}

int cli_main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, 0, 'c'},
      {"anchor", required_argument, 0, 'a'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  if (argc < 3) {
    cli_usage(stderr);
    return 2;
  }
  const char *group = argv[1], *cmd = argv[2];
  cli_t c = {0};
  int o;
  optind = 3;
  while ((o = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
    switch (o) {
    case 'c':
      c.config_path = optarg;
      break;
    case 'a':
      c.anchor = optarg;
      break;
    case 'h':
      cli_usage(stdout);
      return 0;
    default:
      cli_usage(stderr);
      return 2;
    }
  }
  int (*fn)(cli_t *) = NULL;
  if (strcmp(group, "audit") == 0 && strcmp(cmd, "verify") == 0)
    fn = audit_verify_cmd;
  else if (strcmp(group, "audit") == 0 && strcmp(cmd, "anchor") == 0)
    fn = audit_anchor_cmd;
  else if (strcmp(group, "secrets") == 0 && strcmp(cmd, "rotate") == 0)
    fn = secrets_rotate_cmd;
  if (!fn || !c.config_path || optind < argc ||
      (c.anchor && fn != audit_verify_cmd)) {
    cli_usage(stderr);
    return 2;
  }
  int rc = cli_setup(&c);
  if (rc == 0) rc = fn(&c);
  cli_free(&c);
  return rc;
}
