/*
 * store.h: the storage service. One asynchronous interface, two backends.
 *
 *   sqlite:PATH            one dedicated worker thread owns the connection
 *                          (WAL, busy_timeout, synchronous=NORMAL, prepared
 *                          statements); completions come back through a
 *                          uv_async_t.
 *   postgresql://...       libpq in non-blocking mode driven by uv_poll_t:
 *   postgres://...         a small pool with a FIFO queue, prepared
 *                          statements per connection, reconnect with
 *                          backoff, LISTEN on a dedicated connection.
 *
 * Threading: every function here is called on the loop thread, and every
 * callback runs on the loop thread. Nothing blocks the loop.
 *
 * Durability (SQLite): WAL with synchronous=NORMAL. A committed transaction
 * survives the process being killed (kill -9): the WAL is written before
 * COMMIT returns. An OS crash or power loss may lose the last transactions
 * (never corrupt the database). Open with "sqlite:PATH?sync=full" for
 * synchronous=FULL, which also survives power loss at the cost of an fsync
 * per commit. PostgreSQL's durability is the server's (synchronous_commit).
 *
 * Requests: a request is a list of statements run in order, optionally in
 * one transaction (STORE_TXN). Statements are either static descriptors
 * (store_stmt_t, prepared once per connection and cached) or one-off SQL
 * text. Placeholders are $1..$N in both dialects. All values travel as
 * text, integer or blob; times are integer milliseconds since the epoch.
 *
 * Errors: 0 or a negative code. -ENOTCONN: the database is unreachable
 * (store_ready() is false); -EEXIST: a constraint was violated; -ECANCELED:
 * the store is closing; -EIO: anything else (the message says what).
 */
#ifndef ASSIST_STORE_H
#define ASSIST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct store store_t;
typedef struct store_req store_req_t;
typedef struct store_res store_res_t;

typedef enum { STORE_SQLITE = 1, STORE_PG = 2 } store_backend_t;

/**
 * A statement in both dialects. Must outlive the store (use static
 * storage): backends key their prepared-statement caches by its address.
 * pg may be NULL when the SQLite text is also valid PostgreSQL.
 */
typedef struct store_stmt {
  const char *name; /* for logs and errors */
  const char *sqlite;
  const char *pg;
} store_stmt_t;

/** Request flags. */
enum {
  STORE_TXN = 1, /* all statements in one transaction (atomic) */
  /* Only reads, and need not see writes submitted before it that have not
   * completed: SQLite runs it on a second connection beside the writer,
   * its statements seeing one snapshot (the last commit), and a write in
   * it fails. */
  STORE_READ = 2,
};

/* ---- opening and closing ---- */

/** Called once when store_open finishes. On failure s is NULL and errmsg
 * says why (borrowed for the call). */
typedef void (*store_open_cb)(store_t *s, int status, const char *errmsg,
                              void *arg);
typedef void (*store_close_cb)(void *arg);

/**
 * Opens uri ("sqlite:PATH[?sync=full]" or a libpq URI), applies the
 * migrations found in migrations_dir/sqlite or migrations_dir/postgres
 * (files NNNN_name.sql, in order, each at most once, inside one
 * transaction, recorded in schema_migrations) and then calls cb.
 * uri and migrations_dir are copied. migrations_dir may be NULL (no
 * migrations). Returns 0 (cb will be called) or a negative code (cb will
 * not be called).
 */
int store_open(uv_loop_t *loop, const char *uri, const char *migrations_dir,
               store_open_cb cb, void *arg);

/**
 * Fails every queued request with -ECANCELED, waits for in-flight work,
 * releases connections and threads, closes handles and then calls cb.
 * The store is freed before cb runs.
 */
void store_close(store_t *s, store_close_cb cb, void *arg);

store_backend_t store_backend(const store_t *s);
uv_loop_t *store_loop(const store_t *s);
/** True when the database is reachable (for /ready). */
int store_ready(const store_t *s);
/** Last error text when not ready (borrowed, may be ""). */
const char *store_last_error(const store_t *s);

/* ---- requests ---- */

/** Called once per request. res holds one result set per statement and is
 * valid only during the call. On error res is NULL. */
typedef void (*store_done_cb)(store_t *s, int status, const char *errmsg,
                              store_res_t *res, void *arg);

/** A new request (owned by the caller until submitted or freed). */
store_req_t *store_req_new(store_t *s, int flags);
/** Appends a statement; following binds belong to it. stmt: borrowed,
 * static. */
void store_req_stmt(store_req_t *r, const store_stmt_t *stmt);
/** Appends one-off SQL (copied). With no binds it may hold several
 * statements separated by ';' (e.g. migrations); the result set is the
 * last one that returned rows. */
void store_req_sql(store_req_t *r, const char *sql);
void store_req_bind_int(store_req_t *r, int64_t v);
/** s: copied. NULL binds SQL NULL. */
void store_req_bind_text(store_req_t *r, const char *s);
/** s (n bytes, NUL-terminated: s[n] == '\0'): borrowed, NOT copied; it
 * must stay valid and unchanged until the request's callback has returned
 * (or store_req_free). For bulk writes whose texts the caller keeps anyway
 * (string literals, a batch's rows). NULL binds SQL NULL. */
void store_req_bind_text_ref(store_req_t *r, const char *s, size_t n);
void store_req_bind_textn(store_req_t *r, const char *s, size_t n);
/** p: copied. */
void store_req_bind_blob(store_req_t *r, const void *p, size_t n);
void store_req_bind_null(store_req_t *r);
size_t store_req_nstmts(const store_req_t *r);
/**
 * Queues the request; the store owns it from now on. cb is always called
 * (on the loop thread, never from within this function). Returns 0.
 */
int store_req_submit(store_req_t *r, store_done_cb cb, void *arg);
/** Frees an unsubmitted request. */
void store_req_free(store_req_t *r);

/* ---- results (valid during the store_done_cb call) ---- */

size_t store_res_count(const store_res_t *res); /* statements */
int store_res_rows(const store_res_t *res, size_t stmt);
int store_res_cols(const store_res_t *res, size_t stmt);
/** Rows changed by an INSERT/UPDATE/DELETE. */
int64_t store_res_changes(const store_res_t *res, size_t stmt);
int store_res_isnull(const store_res_t *res, size_t stmt, int row, int col);
/** NUL-terminated text; "" for NULL. Borrowed. */
const char *store_res_text(const store_res_t *res, size_t stmt, int row,
                           int col);
/** Bytes and length (blobs decoded from PostgreSQL bytea). Borrowed. */
const void *store_res_blob(const store_res_t *res, size_t stmt, int row,
                           int col, size_t *len);
int64_t store_res_int(const store_res_t *res, size_t stmt, int row, int col);
/** Moves the results out of res (which is left with no result sets) into
 * a new object the caller owns and frees with store_res_free: to use them
 * after the store_done_cb call returns. */
store_res_t *store_res_take(store_res_t *res);
void store_res_free(store_res_t *res);

/* ---- notifications (PostgreSQL LISTEN/NOTIFY) ---- */

/** channel, payload: borrowed. Also called with payload NULL after the
 * listening connection reconnected (notifications may have been missed). */
typedef void (*store_notify_cb)(store_t *s, const char *channel,
                                const char *payload, void *arg);
/** Listens on channel (a plain identifier) on a dedicated connection.
 * Returns -ENOTSUP on SQLite (one process per database file). */
int store_listen(store_t *s, const char *channel, store_notify_cb cb,
                 void *arg);
/** Stops delivering notifications (the connection stays; one channel per
 * store: a second store_listen returns -EALREADY). */
void store_unlisten(store_t *s);

/* ---- plugin-scoped key-value area (table kv) ---- */

/** For get: found=0 when absent; value borrowed during the call. */
typedef void (*store_kv_get_cb)(store_t *s, int status, int found,
                                const void *value, size_t len, void *arg);
/** For put/delete: status only (delete of a missing key is 0). */
typedef void (*store_kv_done_cb)(store_t *s, int status, void *arg);
/** For list: n entries, keys[i]/values[i]/lens[i] borrowed, sorted by key. */
typedef void (*store_kv_list_cb)(store_t *s, int status, size_t n,
                                 const char *const *keys,
                                 const void *const *values, const size_t *lens,
                                 void *arg);

/* scope and key are copied; value is copied. */
void store_kv_get(store_t *s, const char *scope, const char *key,
                  store_kv_get_cb cb, void *arg);
void store_kv_put(store_t *s, const char *scope, const char *key,
                  const void *value, size_t len, store_kv_done_cb cb,
                  void *arg);
void store_kv_delete(store_t *s, const char *scope, const char *key,
                     store_kv_done_cb cb, void *arg);
/** Up to limit entries (0 = 1000) whose key starts with prefix. */
void store_kv_list(store_t *s, const char *scope, const char *prefix,
                   size_t limit, store_kv_list_cb cb, void *arg);

/** Wall clock in milliseconds since the epoch. */
int64_t store_now_ms(void);

#endif
