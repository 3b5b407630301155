/*
 * audit_pg.h: the audit sink on PostgreSQL (libpq, synchronous).
 *
 * BLOCKING: every function here, and every sink operation it provides,
 * runs synchronous libpq calls on the calling thread. Use it only on a
 * worker thread (the daemon's audit thread, see audit_svc.h) or in
 * command-line tools, never on the loop.
 *
 * Tables: schemas/sql/postgres/0002_audit.sql. The head row (id 1) always
 * exists (seq 0 and an empty MAC mean "no entries yet"), so appends
 * serialise on SELECT ... FOR UPDATE of that row: several daemons on one
 * database append to one chain without gaps or forks.
 *
 * The connection is re-established on the next operation after it broke;
 * an operation that finds the server unreachable returns -ENOTCONN.
 */
#ifndef ASSIST_AUDIT_PG_H
#define ASSIST_AUDIT_PG_H

#include "audit.h"

#include <stddef.h>

/**
 * A sink over a new connection to uri (a libpq URI or conninfo; copied).
 * Connects now (10 s timeout). *out's ctx is owned: audit_pg_sink_free().
 * Returns 0, or -ENOTCONN with the reason in err (passwords not shown).
 */
int audit_pg_sink_new(const char *uri, audit_sink_t *out, char *err,
                      size_t errlen);
void audit_pg_sink_free(audit_sink_t *sink);

#endif
