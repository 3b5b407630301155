/*
 * audit_sqlite.h: the audit sink on SQLite.
 *
 * BLOCKING: every function here, and every sink operation it provides,
 * runs synchronous sqlite3 calls on the calling thread. Use it only on the
 * store's dedicated SQLite thread (or in tests), never on the loop.
 *
 * Tables (see audit_sqlite_schema()):
 *   audit_log(seq INTEGER PRIMARY KEY, ts_ms, actor, action, target,
 *             outcome, subject, details, prev_hash BLOB, hash BLOB)
 *     with triggers refusing UPDATE and DELETE (append-only; an attacker
 *     can drop them, which is what the hash chain is for);
 *   audit_head(id = 1, seq, hash BLOB, mac)      the signed head;
 *   audit_subject_keys(subject PRIMARY KEY, wrapped_key, created_ms).
 * The sink turns on PRAGMA secure_delete for its connection so that a
 * deleted subject key is overwritten in the file, and checkpoints a WAL
 * after an erasure when no transaction is open.
 */
#ifndef ASSIST_AUDIT_SQLITE_H
#define ASSIST_AUDIT_SQLITE_H

#include "audit.h"

struct sqlite3;

/** The CREATE statements (IF NOT EXISTS), for a migration or tests. */
const char *audit_sqlite_schema(void);
/** Runs audit_sqlite_schema() on db. 0 or -EIO. */
int audit_sqlite_create_schema(struct sqlite3 *db);
/**
 * A sink over db (borrowed: it must outlive the sink). Appends run in
 * BEGIN IMMEDIATE ... COMMIT, or in a SAVEPOINT when the caller already
 * has a transaction open (so an audit entry can commit together with the
 * change it records). *out's ctx is owned: audit_sqlite_sink_free().
 * Returns 0 or -EIO (tables missing: create the schema first).
 */
int audit_sqlite_sink_new(struct sqlite3 *db, audit_sink_t *out);
void audit_sqlite_sink_free(audit_sink_t *sink);

#endif
