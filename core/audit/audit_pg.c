/* audit_pg.c: the audit sink on PostgreSQL. Blocking: not for the loop. */
#include "audit_pg.h"

#include "common/alloc.h"
#include "store/pq_lazy.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 500

struct pg_sink {
  PGconn *pg;
  char *uri;
};

static int connect_now(struct pg_sink *s, char *err, size_t errlen) {
  if (s->pg && PQstatus(s->pg) == CONNECTION_OK) return 0;
  if (s->pg) {
    PQfinish(s->pg);
    s->pg = NULL;
  }
  const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
  const char *vals[] = {s->uri, "10", "assistd-audit", NULL};
  s->pg = PQconnectdbParams(keys, vals, 1);
  if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
    if (err && errlen)
      snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
               s->pg ? PQerrorMessage(s->pg) : "out of memory");
    if (err && errlen) {
      size_t n = strlen(err);
      while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
    }
    if (s->pg) PQfinish(s->pg);
    s->pg = NULL;
    return -ENOTCONN;
  }
  PQsetNoticeProcessor(s->pg, NULL, NULL);
  return 0;
}

/* Maps a failed result to an error code; frees nothing. */
static int res_err(struct pg_sink *s, const PGresult *r) {
  if (PQstatus(s->pg) != CONNECTION_OK) return -ENOTCONN;
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (state && strcmp(state, "23505") == 0) return -EEXIST;
  if (state && strcmp(state, "40001") == 0) return -EBUSY;
  return -EIO;
}

/* Runs sql with n text parameters; *out gets the result on success. */
static int exec(struct pg_sink *s, const char *sql, int n,
                const char *const *params, PGresult **out) {
  int rc = connect_now(s, NULL, 0);
  if (rc < 0) return rc;
  PGresult *r = PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    rc = res_err(s, r);
    PQclear(r);
    return rc;
  }
  if (out)
    *out = r;
  else
    PQclear(r);
  return 0;
}

static void hex_of(const uint8_t *bin, char out[2 * AUDIT_HASH_BYTES + 1]) {
  sodium_bin2hex(out, 2 * AUDIT_HASH_BYTES + 1, bin, AUDIT_HASH_BYTES);
}

/* A hash of the wrong size is kept as zeros: it will not verify. */
static void bin_of(const char *hex, uint8_t out[AUDIT_HASH_BYTES]) {
  size_t len = 0;
  memset(out, 0, AUDIT_HASH_BYTES);
  if (strlen(hex) != 2 * AUDIT_HASH_BYTES ||
      sodium_hex2bin(out, AUDIT_HASH_BYTES, hex, strlen(hex), NULL, &len,
                     NULL) != 0 ||
      len != AUDIT_HASH_BYTES)
    memset(out, 0, AUDIT_HASH_BYTES);
}

static int head_read(struct pg_sink *s, int lock, int64_t *seq,
                     uint8_t hash[AUDIT_HASH_BYTES], char **mac) {
  PGresult *r = NULL;
  int rc = exec(s,
                lock ? "SELECT seq, encode(hash, 'hex'), mac FROM audit_head "
                       "WHERE id = 1 FOR UPDATE"
                     : "SELECT seq, encode(hash, 'hex'), mac FROM audit_head "
                       "WHERE id = 1",
                0, NULL, &r);
  if (rc < 0) return rc;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return -ENOENT;
  }
  *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  bin_of(PQgetvalue(r, 0, 1), hash);
  const char *m = PQgetvalue(r, 0, 2);
  /* seq 0 with no MAC is the placeholder the migration inserted. */
  if (*seq == 0 && !*m) {
    PQclear(r);
    return -ENOENT;
  }
  *mac = xstrdup(m);
  PQclear(r);
  return 0;
}

static int pg_head_get(void *ctx, int64_t *seq, uint8_t hash[AUDIT_HASH_BYTES],
                       char **mac) {
  return head_read(ctx, 0, seq, hash, mac);
}

static int pg_append(void *ctx, audit_seal_fn seal, void *seal_arg) {
  struct pg_sink *s = ctx;
  int rc = exec(s, "BEGIN", 0, NULL, NULL);
  if (rc < 0) return rc;
  /* Someone removed the head row: put the placeholder back so that the
   * lock below has a row to hold (the chain check still fails). */
  audit_head_t cur = {0};
  char *mac = NULL;
  rc = head_read(s, 1, &cur.seq, cur.hash, &mac);
  if (rc == -ENOENT && cur.seq == 0 && !mac) {
    PGresult *r = NULL;
    rc = exec(s, "SELECT 1 FROM audit_head WHERE id = 1", 0, NULL, &r);
    if (rc == 0 && PQntuples(r) == 0) {
      PQclear(r);
      r = NULL;
      rc = exec(s,
                "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, "
                "decode(repeat('00', 32), 'hex'), '') ON CONFLICT DO NOTHING",
                0, NULL, NULL);
      if (rc == 0) rc = head_read(s, 1, &cur.seq, cur.hash, &mac);
    } else {
      PQclear(r);
      rc = rc < 0 ? rc : -ENOENT;
    }
    if (rc == -ENOENT) {
      cur.seq = 0;
      memset(cur.hash, 0, sizeof cur.hash);
      rc = 0;
    }
  }
  cur.mac = mac;
  audit_row_t row;
  audit_head_t next = {0};
  if (rc == 0) rc = seal(seal_arg, &cur, &row, &next);
  if (rc == 0) {
    char seq[24], ts[24], ph[2 * AUDIT_HASH_BYTES + 1],
        h[2 * AUDIT_HASH_BYTES + 1];
    snprintf(seq, sizeof seq, "%lld", (long long)row.seq);
    snprintf(ts, sizeof ts, "%lld", (long long)row.time_ms);
    hex_of(row.prev_hash, ph);
    hex_of(row.hash, h);
    const char *p[10] = {
        seq,         ts,          row.actor,   row.action, row.target,
        row.outcome, row.subject, row.details, ph,         h};
    rc = exec(s,
              "INSERT INTO audit_log (seq, ts_ms, actor, action, target, "
              "outcome, subject, details, prev_hash, hash) VALUES ($1, $2, "
              "$3, $4, $5, $6, $7, $8, decode($9, 'hex'), decode($10, 'hex'))",
              10, p, NULL);
  }
  if (rc == 0) {
    char seq[24], h[2 * AUDIT_HASH_BYTES + 1];
    snprintf(seq, sizeof seq, "%lld", (long long)next.seq);
    hex_of(next.hash, h);
    const char *p[3] = {seq, h, next.mac};
    rc = exec(s,
              "UPDATE audit_head SET seq = $1, hash = decode($2, 'hex'), "
              "mac = $3 WHERE id = 1",
              3, p, NULL);
  }
  free(mac);
  if (rc == 0) {
    rc = exec(s, "COMMIT", 0, NULL, NULL);
    if (rc == 0) return 0;
  }
  if (s->pg && PQstatus(s->pg) == CONNECTION_OK) {
    PGresult *r = PQexec(s->pg, "ROLLBACK");
    PQclear(r);
  }
  return rc;
}

static int pg_scan(void *ctx, int64_t from_seq, const char *subject,
                   audit_row_cb cb, void *arg) {
  struct pg_sink *s = ctx;
  int64_t from = from_seq;
  for (;;) {
    char fs[24], lim[16];
    snprintf(fs, sizeof fs, "%lld", (long long)from);
    snprintf(lim, sizeof lim, "%d", PAGE);
    const char *p[3] = {fs, lim, subject};
    PGresult *r = NULL;
    int rc =
        exec(s,
             subject ? "SELECT seq, ts_ms, actor, action, target, outcome, "
                       "subject, details, encode(prev_hash, 'hex'), "
                       "encode(hash, 'hex') FROM audit_log WHERE seq >= "
                       "$1 AND subject = $3 AND subject <> '' ORDER BY "
                       "seq LIMIT $2"
                     : "SELECT seq, ts_ms, actor, action, target, outcome, "
                       "subject, details, encode(prev_hash, 'hex'), "
                       "encode(hash, 'hex') FROM audit_log WHERE seq >= "
                       "$1 ORDER BY seq LIMIT $2",
             subject ? 3 : 2, p, &r);
    if (rc < 0) return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
      audit_row_t row;
      memset(&row, 0, sizeof row);
      row.seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
      row.time_ms = strtoll(PQgetvalue(r, i, 1), NULL, 10);
      row.actor = PQgetvalue(r, i, 2);
      row.action = PQgetvalue(r, i, 3);
      row.target = PQgetvalue(r, i, 4);
      row.outcome = PQgetvalue(r, i, 5);
      row.subject = PQgetvalue(r, i, 6);
      row.details = PQgetvalue(r, i, 7);
      bin_of(PQgetvalue(r, i, 8), row.prev_hash);
      bin_of(PQgetvalue(r, i, 9), row.hash);
      from = row.seq + 1;
      int out = cb(arg, &row);
      if (out != 0) {
        PQclear(r);
        return out;
      }
    }
    PQclear(r);
    if (n < PAGE) return 0;
  }
}

static int pg_key_get(void *ctx, const char *subject, char **wrapped) {
  PGresult *r = NULL;
  const char *p[1] = {subject};
  int rc =
      exec(ctx, "SELECT wrapped_key FROM audit_subject_keys WHERE subject = $1",
           1, p, &r);
  if (rc < 0) return rc;
  if (PQntuples(r) == 0)
    rc = -ENOENT;
  else
    *wrapped = xstrdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  return rc;
}

static int pg_key_insert(void *ctx, const char *subject, const char *wrapped) {
  const char *p[2] = {subject, wrapped};
  return exec(ctx,
              "INSERT INTO audit_subject_keys (subject, wrapped_key, "
              "created_ms) VALUES ($1, $2, (extract(epoch from "
              "clock_timestamp()) * 1000)::bigint)",
              2, p, NULL);
}

static int changed(struct pg_sink *s, const char *sql, int n,
                   const char *const *p) {
  PGresult *r = NULL;
  int rc = exec(s, sql, n, p, &r);
  if (rc < 0) return rc;
  rc = atoi(PQcmdTuples(r)) > 0 ? 0 : -ENOENT;
  PQclear(r);
  return rc;
}

static int pg_key_update(void *ctx, const char *subject, const char *wrapped) {
  const char *p[2] = {wrapped, subject};
  return changed(ctx,
                 "UPDATE audit_subject_keys SET wrapped_key = $1 WHERE "
                 "subject = $2",
                 2, p);
}

static int pg_key_delete(void *ctx, const char *subject) {
  struct pg_sink *s = ctx;
  const char *p[1] = {subject};
  int rc =
      changed(s, "DELETE FROM audit_subject_keys WHERE subject = $1", 1, p);
  /* Free the dead tuple's space now rather than at the next autovacuum
   * (the key is wrapped by the master key either way). Only outside a
   * transaction; failures do not matter. */
  if (rc == 0 && PQtransactionStatus(s->pg) == PQTRANS_IDLE) {
    PGresult *r = PQexec(s->pg, "VACUUM audit_subject_keys");
    PQclear(r);
  }
  return rc;
}

static int pg_key_scan(void *ctx, audit_key_cb cb, void *arg) {
  PGresult *r = NULL;
  int rc = exec(ctx, "SELECT subject, wrapped_key FROM audit_subject_keys", 0,
                NULL, &r);
  if (rc < 0) return rc;
  int n = PQntuples(r), out = 0;
  for (int i = 0; i < n && out == 0; i++)
    out = cb(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
  PQclear(r);
  return out;
}

static const audit_sink_ops_t pg_ops = {
    .append = pg_append,
    .scan = pg_scan,
    .head_get = pg_head_get,
    .key_get = pg_key_get,
    .key_insert = pg_key_insert,
    .key_update = pg_key_update,
    .key_delete = pg_key_delete,
    .key_scan = pg_key_scan,
};

int audit_pg_sink_new(const char *uri, audit_sink_t *out, char *err,
                      size_t errlen) {
  const char *why;
  if (pq_lazy_load(&why) < 0) { /* libpq is opened on first use */
    if (err && errlen) snprintf(err, errlen, "%s", why);
    return -ELIBACC;
  }
  struct pg_sink *s = xcalloc(1, sizeof *s);
  s->uri = xstrdup(uri);
  int rc = connect_now(s, err, errlen);
  if (rc < 0) {
    free(s->uri);
    free(s);
    return rc;
  }
  out->ops = &pg_ops;
  out->ctx = s;
  return 0;
}

void audit_pg_sink_free(audit_sink_t *sink) {
  struct pg_sink *s = sink->ctx;
  if (!s) return;
  if (s->pg) PQfinish(s->pg);
  free(s->uri);
  free(s);
  sink->ctx = NULL;
  sink->ops = NULL;
}
