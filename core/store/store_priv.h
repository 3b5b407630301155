/*
 * store_priv.h: what the generic store and its backends share. Not for
 * other services.
 */
#ifndef ASSIST_STORE_PRIV_H
#define ASSIST_STORE_PRIV_H

#include "store.h"

#include "../common/buf.h"

typedef enum { SV_NULL = 0, SV_INT, SV_TEXT, SV_BLOB } store_vtype_t;

typedef struct {
  store_vtype_t type;
  int64_t i;
  char *p; /* owned unless borrowed (TEXT is NUL-terminated) */
  size_t len;
  int borrowed; /* store_req_bind_text_ref: p is the caller's */
} store_val_t;

typedef struct {
  const store_stmt_t *stmt; /* NULL for one-off SQL */
  char *sql;                /* owned one-off SQL */
  size_t first, n;          /* params[first .. first+n) */
} store_sreq_t;

typedef struct {
  size_t off; /* into data */
  size_t len;
  int null;
  int isint; /* i holds the value (SQLite INTEGER); the text is its decimal */
  int64_t i;
} store_cell_t;

/* One statement's result set. */
typedef struct {
  int rows, cols;
  int64_t changes;
  store_cell_t *cells; /* rows * cols */
  size_t ncells, capcells;
  buf_t data; /* cell bytes, each NUL-terminated */
} store_rs_t;

struct store_res {
  size_t n;
  store_rs_t *rs;
};

struct store_req {
  store_t *s;
  int flags;
  store_sreq_t *stmts;
  size_t nstmts, capstmts;
  store_val_t *params;
  size_t nparams, capparams;
  store_done_cb cb;
  void *arg;
  /* Filled by the backend. */
  int status;
  char *errmsg;
  store_res_t res;
  struct store_req *next;
};

typedef struct store_backend_ops {
  /* Begin connecting; call store__opened(s, status, msg) once. */
  int (*open)(store_t *s, const char *uri);
  /* After migrations: grow the pool etc. */
  void (*start)(store_t *s);
  /* Take ownership of a request; complete with store__complete. */
  void (*submit)(store_t *s, store_req_t *r);
  int (*listen)(store_t *s, const char *channel);
  /* Tear down; call store__closed(s) when every handle is closed. */
  void (*close)(store_t *s);
  int (*ready)(const store_t *s);
} store_backend_ops_t;

struct store {
  uv_loop_t *loop;
  store_backend_t kind;
  const store_backend_ops_t *ops;
  void *be; /* backend state */
  char *uri;
  char *migrations_dir;
  char last_error[256];
  int closing;
  store_open_cb open_cb;
  void *open_arg;
  store_close_cb close_cb;
  void *close_arg;
  store_notify_cb notify_cb;
  void *notify_arg;
  char *listen_channel;
};

extern const store_backend_ops_t store_sqlite_ops;
extern const store_backend_ops_t store_pg_ops;

/* Backend -> generic. All on the loop thread. */
void store__opened(store_t *s, int status, const char *msg);
/* Calls the request's callback and frees it. */
void store__complete(store_req_t *r);
void store__closed(store_t *s);
void store__set_error(store_t *s, const char *msg);

/* Results. */
store_rs_t *store__res_add(store_req_t *r); /* appends an empty set */
void store__rs_begin(store_rs_t *rs, int cols);
void store__rs_cell(store_rs_t *rs, const void *p, size_t len, int null);
/* An integer cell: store_res_int returns v without parsing; the text is
 * its decimal, as the database would have converted it. */
void store__rs_int(store_rs_t *rs, int64_t v);
void store__res_clear(store_res_t *res);
void store__req_fail(store_req_t *r, int status, const char *msg);

/* Migrations (store_migrate.c). */
void store__migrate(store_t *s,
                    void (*done)(store_t *s, int status, const char *msg));

#endif
