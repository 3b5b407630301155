/*
 * audit_svc.h: the audit log as a daemon service, off the loop.
 *
 * The audit library is synchronous (audit.h: every call may block on disk
 * or network). This service owns one dedicated thread with its own
 * database connection (for SQLite a second connection to the same WAL
 * database, for PostgreSQL a libpq connection using audit_pg.h) and an
 * audit_log_t; the loop submits work to it and gets the result back on the
 * loop through a uv_async_t. The loop never waits for the database.
 *
 * The connection is opened by the thread on first use and opened again
 * after it broke; work submitted while the database is unreachable fails
 * with -ENOTCONN (the loop is never held up by it).
 *
 * Threading: audit_svc_* are called on the loop thread; work functions
 * run on the audit thread, one at a time, in submission order; done
 * callbacks run on the loop thread.
 */
#ifndef ASSIST_AUDIT_SVC_H
#define ASSIST_AUDIT_SVC_H

#include "audit.h"

#include <uv.h>

typedef struct audit_svc audit_svc_t;

/**
 * Starts the service for storage uri ("sqlite:PATH[?...]" or a libpq URI;
 * copied). ring: borrowed, must outlive the service. The audit tables must
 * exist (migration 0002). Returns 0 or a negative code.
 */
int audit_svc_start(uv_loop_t *loop, const char *uri, secrets_keyring_t *ring,
                    audit_svc_t **out);
/** Runs the work already submitted, then stops the thread, closes the
 * connection and frees the service; then cb (may be NULL) on the loop.
 * Work submitted afterwards is not allowed. */
void audit_svc_close(audit_svc_t *s, void (*cb)(void *arg), void *arg);

/** Runs on the audit thread with the open log; returns a status. */
typedef int (*audit_svc_work_fn)(audit_log_t *log, void *arg);
/** Runs on the loop with the work's status (-ENOTCONN when the database
 * could not be reached, -ECANCELED when the service closed first). */
typedef void (*audit_svc_done_fn)(int status, void *arg);
/** Queues work; done is always called exactly once, never from inside
 * this function. */
void audit_svc_submit(audit_svc_t *s, audit_svc_work_fn work,
                      audit_svc_done_fn done, void *arg);

/** cb (may be NULL) gets the status and the new entry's seq. */
typedef void (*audit_svc_append_cb)(int status, int64_t seq, void *arg);
/** Appends rec (strings copied) on the audit thread. Failures are also
 * logged, since an audit entry that could not be written matters. */
void audit_svc_append(audit_svc_t *s, const audit_record_t *rec,
                      audit_svc_append_cb cb, void *arg);

/* ---- a synchronous connection, for the thread and command-line tools ---- */

typedef struct audit_conn audit_conn_t;
/** Opens a connection and a sink on uri (see audit_svc_start). Blocks.
 * err receives the reason on failure (-ENOTCONN, -EIO). */
int audit_conn_open(const char *uri, audit_conn_t **out, char *err,
                    size_t errlen);
/** The sink (valid until audit_conn_close). */
audit_sink_t audit_conn_sink(const audit_conn_t *c);
void audit_conn_close(audit_conn_t *c);

#endif
