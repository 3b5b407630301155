/* users.c: people (admin and user roles, preferences), password hashes
 * on the thread pool, first-run admin creation, and /api/users. */
#include "auth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"
#include "../secrets/secrets.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define PREFS_MAX (64 * 1024)

static const store_stmt_t st_insert = {
    "auth.user_insert",
    "INSERT INTO users (email, name, role, password_hash, created_at,"
    " updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    NULL};
static const store_stmt_t st_count_admins = {
    "auth.user_count_admins", "SELECT count(*) FROM users WHERE role = 'admin'",
    NULL};
static const store_stmt_t st_list = {
    "auth.user_list", "SELECT " AUTH_USER_COLS " FROM users ORDER BY id", NULL};
static const store_stmt_t st_get = {"auth.user_get",
                                    "SELECT " AUTH_USER_COLS
                                    ", password_hash FROM users"
                                    " WHERE id = $1",
                                    NULL};
static const store_stmt_t st_update = {
    "auth.user_update",
    "UPDATE users SET email = COALESCE($2, email), name = COALESCE($3, name),"
    " role = COALESCE($4, role), disabled = COALESCE($5, disabled),"
    " preferences = COALESCE($6, preferences),"
    " password_hash = COALESCE($7, password_hash), updated_at = $8"
    " WHERE id = $1 RETURNING " AUTH_USER_COLS,
    NULL};
static const store_stmt_t st_drop_sessions = {
    "auth.user_drop_sessions",
    "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", NULL};
static const store_stmt_t st_delete = {"auth.user_delete",
                                       "DELETE FROM users WHERE id = $1", NULL};

/* ---- rows and JSON ---- */

auth_role_t auth_role_parse(const char *s) {
  return s && strcmp(s, "admin") == 0 ? AUTH_ROLE_ADMIN : AUTH_ROLE_USER;
}

const char *auth_role_name(auth_role_t r) {
  return r == AUTH_ROLE_ADMIN ? "admin" : "user";
}

void auth_user_read(store_res_t *res, size_t stmt, int row,
                    auth_user_row_t *u) {
  u->id = store_res_int(res, stmt, row, 0);
  u->email = store_res_text(res, stmt, row, 1);
  u->name = store_res_text(res, stmt, row, 2);
  u->role = store_res_text(res, stmt, row, 3);
  u->preferences = store_res_text(res, stmt, row, 4);
  u->disabled = store_res_int(res, stmt, row, 5) != 0;
  u->created_at = store_res_int(res, stmt, row, 6);
  u->updated_at = store_res_int(res, stmt, row, 7);
}

void auth_user_json(const auth_user_row_t *u, buf_t *b) {
  buf_printf(b, "{\"id\":%" PRId64 ",\"email\":", u->id);
  buf_json_str(b, u->email, strlen(u->email));
  buf_puts(b, ",\"name\":");
  buf_json_str(b, u->name, strlen(u->name));
  buf_printf(b, ",\"role\":\"%s\",\"disabled\":%s,\"preferences\":",
             auth_role_name(auth_role_parse(u->role)),
             u->disabled ? "true" : "false");
  /* Validated as a JSON object when written. */
  buf_puts(b, u->preferences[0] == '{' ? u->preferences : "{}");
  buf_printf(b, ",\"created_at\":%" PRId64 ",\"updated_at\":%" PRId64 "}",
             u->created_at, u->updated_at);
}

int auth_password_ok(const auth_t *a, const char *pw) {
  size_t n = pw ? strlen(pw) : 0;
  return pw && n >= a->min_password_len && n <= AUTH_PASSWORD_MAX;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[SECRETS_PWHASH_STRBYTES];

static void make_dummy(void) {
  char *pw = secrets_random_token(24);
  if (secrets_pwhash(pw, dummy_hash) < 0) dummy_hash[0] = '\0';
  free(pw);
}

const char *auth_dummy_hash(void) {
  pthread_once(&dummy_once, make_dummy);
  return dummy_hash;
}

static void respond_user(http_request_t *req, int status, store_res_t *res,
                         size_t stmt, const char *password) {
  auth_user_row_t u;
  auth_user_read(res, stmt, 0, &u);
  buf_t b = {0};
  buf_puts(&b, "{\"user\":");
  auth_user_json(&u, &b);
  if (password) {
    buf_puts(&b, ",\"password\":");
    buf_json_str(&b, password, strlen(password));
  }
  buf_puts(&b, "}");
  http_header_t h[2] = {{"Content-Type", "application/json"},
                        {"Cache-Control", "no-store"}};
  http_respond(req, status, h, 2, b.data, b.len);
  sodium_memzero(b.data, b.len);
  buf_free(&b);
}

/* ---- creating users ---- */

typedef struct create_op {
  auth_t *a;
  char *email, *name, *password;
  auth_role_t role;
  int generated;
  int hash_rc;
  char hash[SECRETS_PWHASH_STRBYTES];
  auth_user_created_cb cb;
  void *arg;
} create_op_t;

static void create_free(create_op_t *op) {
  if (op->password) {
    sodium_memzero(op->password, strlen(op->password));
    free(op->password);
  }
  free(op->email);
  free(op->name);
  free(op);
}

static void create_inserted(store_t *s, int status, const char *errmsg,
                            store_res_t *res, void *arg) {
  (void)s;
  create_op_t *op = arg;
  auth_t *a = op->a;
  int64_t id = 0;
  if (status == 0 && store_res_rows(res, 0) > 0)
    id = store_res_int(res, 0, 0, 0);
  else if (status == 0)
    status = -EIO;
  if (status < 0 && status != -EEXIST)
    log_kv(LOG_ERROR, "auth", "user insert failed", "error",
           errmsg ? errmsg : "", NULL);
  if (status == 0) {
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    log_kv(LOG_INFO, "auth", "user created", "#user_id", ids, "role",
           auth_role_name(op->role), NULL);
  }
  op->cb(a, status, id, op->generated && status == 0 ? op->password : NULL,
         op->arg);
  create_free(op);
  auth_db_done(a);
}

static void create_hash_work(void *arg) {
  create_op_t *op = arg;
  op->hash_rc = secrets_pwhash(op->password, op->hash);
}

static void create_hash_after(void *arg) {
  create_op_t *op = arg;
  auth_t *a = op->a;
  if (op->hash_rc < 0) {
    op->cb(a, op->hash_rc, 0, NULL, op->arg);
    create_free(op);
    return;
  }
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_insert);
  store_req_bind_text(r, op->email);
  store_req_bind_text(r, op->name);
  store_req_bind_text(r, auth_role_name(op->role));
  store_req_bind_text(r, op->hash);
  store_req_bind_int(r, auth_now(a));
  sodium_memzero(op->hash, sizeof op->hash);
  auth_db(a, r, create_inserted, op);
}

void auth_user_create(auth_t *a, const char *email, const char *name,
                      auth_role_t role, const char *password,
                      auth_user_created_cb cb, void *arg) {
  create_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->email = xstrdup(email);
  op->name = xstrdup(name ? name : "");
  op->role = role;
  op->cb = cb;
  op->arg = arg;
  if (password) {
    op->password = xstrdup(password);
  } else {
    op->password = secrets_random_token(18); /* 24 characters, 144 bits */
    op->generated = 1;
  }
  auth_work(a, create_hash_work, create_hash_after, op);
}

/* ---- admin creation and first-run bootstrap ---- */

typedef struct admin_op {
  auth_t *a;
  auth_admin_cb cb;
  void *arg;
  char *email;
} admin_op_t;

static void admin_created(auth_t *a, int status, int64_t id,
                          const char *generated, void *arg) {
  (void)a;
  admin_op_t *op = arg;
  op->cb(status, id, generated, op->arg);
  free(op->email);
  free(op);
}

/* Answers through an idle callback, so cb never runs inside the call. */
typedef struct later {
  uv_idle_t idle;
  admin_op_t *op;
  int status;
} later_t;

static void later_closed(uv_handle_t *h) {
  later_t *l = h->data;
  l->op->cb(l->status, 0, NULL, l->op->arg);
  free(l->op->email);
  free(l->op);
  free(l);
}

static void later_run(uv_idle_t *h) {
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, later_closed);
}

static void answer_later(auth_t *a, admin_op_t *op, int status) {
  later_t *l = xcalloc(1, sizeof *l);
  l->op = op;
  l->status = status;
  uv_idle_init(a->loop, &l->idle);
  l->idle.data = l;
  uv_idle_start(&l->idle, later_run);
}

void auth_admin_create(auth_t *a, const char *email, const char *password,
                       auth_admin_cb cb, void *arg) {
  admin_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  char norm[AUTH_EMAIL_MAX];
  if (auth_email_normalize(email, norm, sizeof norm) < 0 ||
      (password && !auth_password_ok(a, password))) {
    answer_later(a, op, -EINVAL);
    return;
  }
  auth_user_create(a, norm, "", AUTH_ROLE_ADMIN, password, admin_created, op);
}

static void bootstrap_counted(store_t *s, int status, const char *errmsg,
                              store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  admin_op_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    op->cb(status, 0, NULL, op->arg);
    free(op->email);
    free(op);
  } else if (store_res_int(res, 0, 0, 0) > 0) {
    op->cb(0, 0, NULL, op->arg);
    free(op->email);
    free(op);
  } else {
    auth_user_create(a, op->email, "", AUTH_ROLE_ADMIN, NULL, admin_created,
                     op);
  }
  auth_db_done(a);
}

void auth_bootstrap(auth_t *a, const char *email, auth_admin_cb cb, void *arg) {
  admin_op_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->cb = cb;
  op->arg = arg;
  char norm[AUTH_EMAIL_MAX];
  if (auth_email_normalize(email, norm, sizeof norm) < 0) {
    answer_later(a, op, -EINVAL);
    return;
  }
  op->email = xstrdup(norm);
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_count_admins);
  auth_db(a, r, bootstrap_counted, op);
}

/* ---- /api/users ---- */

typedef struct uop {
  auth_t *a;
  http_request_t *req;
  auth_principal_t p;
  int64_t id;
  /* PATCH: NULL/-1 means "unchanged" */
  char *email, *name, *role, *prefs, *password, *current;
  int disabled;
  int hash_rc;
  char stored[SECRETS_PWHASH_STRBYTES];
  char hash[SECRETS_PWHASH_STRBYTES];
  char *generated; /* POST without a password */
} uop_t;

static void zfree(char *s) {
  if (!s) return;
  sodium_memzero(s, strlen(s));
  free(s);
}

static void uop_free(uop_t *op) {
  free(op->email);
  free(op->name);
  free(op->role);
  free(op->prefs);
  zfree(op->password);
  zfree(op->current);
  zfree(op->generated);
  sodium_memzero(op->stored, sizeof op->stored);
  sodium_memzero(op->hash, sizeof op->hash);
  free(op);
}

static uop_t *uop_new(auth_t *a, http_request_t *req,
                      const auth_principal_t *p) {
  uop_t *op = xcalloc(1, sizeof *op);
  op->a = a;
  op->req = req;
  op->p = *p;
  op->disabled = -1;
  return op;
}

static void users_listed(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
  } else {
    buf_t b = {0};
    buf_puts(&b, "{\"users\":[");
    int n = store_res_rows(res, 0);
    for (int i = 0; i < n; i++) {
      auth_user_row_t u;
      auth_user_read(res, 0, i, &u);
      if (i) buf_puts(&b, ",");
      auth_user_json(&u, &b);
    }
    buf_puts(&b, "]}");
    http_respond_json(op->req, 200, b.data, b.len);
    buf_free(&b);
  }
  uop_free(op);
  auth_db_done(a);
}

static void users_list(http_request_t *req, const auth_principal_t *p,
                       void *ud) {
  auth_t *a = ud;
  if (!auth_principal_is_admin(p)) {
    http_respond_error(req, 403, "only admins list users");
    return;
  }
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_list);
  auth_db(a, r, users_listed, uop_new(a, req, p));
}

static void users_got(store_t *s, int status, const char *errmsg,
                      store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    auth_respond_store_error(op->req, status);
  else if (store_res_rows(res, 0) < 1)
    http_respond_error(op->req, 404, "no such user");
  else
    respond_user(op->req, 200, res, 0, NULL);
  uop_free(op);
  auth_db_done(a);
}

/* The {id} parameter, or 0 after answering 404 (also for a record the
 * principal may not see: it does not exist for them). */
static int64_t visible_id(http_request_t *req, const auth_principal_t *p) {
  int64_t id = auth_parse_id(http_req_param(req, "id"));
  if (!id || !auth_principal_owns(p, id)) {
    http_respond_error(req, 404, "no such user");
    return 0;
  }
  return id;
}

static void users_get(http_request_t *req, const auth_principal_t *p,
                      void *ud) {
  auth_t *a = ud;
  int64_t id = visible_id(req, p);
  if (!id) return;
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_get);
  store_req_bind_int(r, id);
  auth_db(a, r, users_got, uop_new(a, req, p));
}

static void users_created_row(store_t *s, int status, const char *errmsg,
                              store_res_t *res, void *arg);

static void users_created(auth_t *a, int status, int64_t id,
                          const char *generated, void *arg) {
  uop_t *op = arg;
  if (status == -EEXIST) {
    http_respond_error(op->req, 409, "a user with this email exists");
  } else if (status < 0) {
    auth_respond_store_error(op->req, status);
  } else {
    /* Answer with the stored row. */
    op->id = id;
    if (generated) op->generated = xstrdup(generated);
    store_req_t *r = store_req_new(a->store, 0);
    store_req_stmt(r, &st_get);
    store_req_bind_int(r, id);
    auth_db(a, r, users_created_row, op);
    return;
  }
  uop_free(op);
}

static void users_created_row(store_t *s, int status, const char *errmsg,
                              store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status < 0 || store_res_rows(res, 0) < 1)
    auth_respond_store_error(op->req, status < 0 ? status : -EIO);
  else
    respond_user(op->req, 201, res, 0, op->generated);
  uop_free(op);
  auth_db_done(a);
}

static int parse_role(const char *s, auth_role_t *out) {
  if (strcmp(s, "admin") == 0)
    *out = AUTH_ROLE_ADMIN;
  else if (strcmp(s, "user") == 0)
    *out = AUTH_ROLE_USER;
  else
    return -EINVAL;
  return 0;
}

/* Creates a user from body fields (POST /api/users and registration):
 * answers 400 itself and returns -1 on bad input. */
int auth_users_create_from(auth_t *a, http_request_t *req,
                           const auth_principal_t *p, const auth_fields_t *f,
                           auth_role_t role, int password_required) {
  char norm[AUTH_EMAIL_MAX];
  const char *email = auth_fields_get(f, "email", NULL);
  const char *name = auth_fields_get(f, "name", NULL);
  const char *password = auth_fields_get(f, "password", NULL);
  if (auth_email_normalize(email, norm, sizeof norm) < 0) {
    http_respond_error(req, 400, "email must look like name@domain");
    return -1;
  }
  if (name && strlen(name) > NAME_MAX_LEN) {
    http_respond_error(req, 400, "name is longer than 200 characters");
    return -1;
  }
  if ((password || password_required) && !auth_password_ok(a, password)) {
    char msg[96];
    snprintf(msg, sizeof msg, "password must be %zu to 1024 characters",
             a->min_password_len);
    http_respond_error(req, 400, msg);
    return -1;
  }
  static const auth_principal_t nobody = {0};
  uop_t *op = uop_new(a, req, p ? p : &nobody);
  auth_user_create(a, norm, name, role, password, users_created, op);
  return 0;
}

static void users_create(http_request_t *req, const auth_principal_t *p,
                         void *ud) {
  auth_t *a = ud;
  if (!auth_principal_is_admin(p)) {
    http_respond_error(req, 403, "only admins create users");
    return;
  }
  auth_fields_t f;
  if (auth_req_fields(req, &f) < 0) return;
  auth_role_t role = AUTH_ROLE_USER;
  const char *r = auth_fields_get(&f, "role", NULL);
  if (r && parse_role(r, &role) < 0)
    http_respond_error(req, 400, "role must be admin or user");
  else
    auth_users_create_from(a, req, p, &f, role, 0);
  auth_fields_free(&f);
}

/* PATCH: load -> (verify and hash on the pool) -> update. */

static void patch_updated(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status == -EEXIST)
    http_respond_error(op->req, 409, "a user with this email exists");
  else if (status < 0)
    auth_respond_store_error(op->req, status);
  else if (store_res_rows(res, 0) < 1)
    http_respond_error(op->req, 404, "no such user");
  else
    respond_user(op->req, 200, res, 0, NULL);
  uop_free(op);
  auth_db_done(a);
}

static void patch_write(uop_t *op) {
  auth_t *a = op->a;
  store_req_t *r = store_req_new(a->store, STORE_TXN);
  store_req_stmt(r, &st_update);
  store_req_bind_int(r, op->id);
  store_req_bind_text(r, op->email);
  store_req_bind_text(r, op->name);
  store_req_bind_text(r, op->role);
  if (op->disabled >= 0)
    store_req_bind_int(r, op->disabled);
  else
    store_req_bind_null(r);
  store_req_bind_text(r, op->prefs);
  store_req_bind_text(r, op->password ? op->hash : NULL);
  store_req_bind_int(r, auth_now(a));
  if (op->password || op->disabled == 1) {
    /* New password or disabled: sign the user out everywhere else. */
    char keep[AUTH_HASH_HEX] = "";
    char sid[AUTH_SECRET_MAX];
    if (op->disabled != 1 && op->p.user_id == op->id &&
        op->p.via == AUTH_VIA_SESSION &&
        auth_session_from_req(a, op->req, sid, sizeof sid) == 0)
      auth_sha256_hex(sid, strlen(sid), keep);
    store_req_stmt(r, &st_drop_sessions);
    store_req_bind_int(r, op->id);
    store_req_bind_text(r, keep);
  }
  auth_db(a, r, patch_updated, op);
}

static void patch_hash_work(void *arg) {
  uop_t *op = arg;
  if (op->current) {
    const char *h = op->stored[0] ? op->stored : auth_dummy_hash();
    int v = secrets_pwhash_verify(h, op->current);
    if (v < 0 || !op->stored[0]) {
      op->hash_rc = -EACCES;
      return;
    }
  }
  op->hash_rc = secrets_pwhash(op->password, op->hash);
}

static void patch_hash_after(void *arg) {
  uop_t *op = arg;
  if (op->hash_rc == -EACCES) {
    http_respond_error(op->req, 403, "current_password is wrong");
    uop_free(op);
  } else if (op->hash_rc < 0) {
    http_respond_error(op->req, 500, "password hashing failed");
    uop_free(op);
  } else {
    patch_write(op);
  }
}

static void patch_loaded(store_t *s, int status, const char *errmsg,
                         store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status < 0) {
    auth_respond_store_error(op->req, status);
    uop_free(op);
  } else if (store_res_rows(res, 0) < 1) {
    http_respond_error(op->req, 404, "no such user");
    uop_free(op);
  } else if (op->password) {
    snprintf(op->stored, sizeof op->stored, "%s", store_res_text(res, 0, 0, 8));
    auth_work(a, patch_hash_work, patch_hash_after, op);
  } else {
    patch_write(op);
  }
  auth_db_done(a);
}

static int parse_bool(const char *v, int *out) {
  if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
    *out = 1;
  else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    *out = 0;
  else
    return -EINVAL;
  return 0;
}

static void users_patch(http_request_t *req, const auth_principal_t *p,
                        void *ud) {
  auth_t *a = ud;
  int64_t id = visible_id(req, p);
  if (!id) return;
  auth_fields_t f;
  if (auth_req_fields(req, &f) < 0) return;
  uop_t *op = uop_new(a, req, p);
  op->id = id;
  int self = id == p->user_id, admin = auth_principal_is_admin(p);
  const char *v;
  auth_ftype_t t;
  const char *err = NULL;
  int code = 400;
  char norm[AUTH_EMAIL_MAX];
  if ((v = auth_fields_get(&f, "email", NULL))) {
    if (auth_email_normalize(v, norm, sizeof norm) < 0)
      err = "email must look like name@domain";
    else
      op->email = xstrdup(norm);
  }
  if (!err && (v = auth_fields_get(&f, "name", NULL))) {
    if (strlen(v) > NAME_MAX_LEN)
      err = "name is longer than 200 characters";
    else
      op->name = xstrdup(v);
  }
  if (!err && (v = auth_fields_get(&f, "role", NULL))) {
    auth_role_t role;
    if (parse_role(v, &role) < 0)
      err = "role must be admin or user";
    else if (self && role != p->role)
      err = "you cannot change your own role", code = 403;
    else if (!admin && role != p->role)
      err = "only admins change roles", code = 403;
    else
      op->role = xstrdup(auth_role_name(role));
  }
  if (!err && (v = auth_fields_get(&f, "disabled", NULL))) {
    if (parse_bool(v, &op->disabled) < 0)
      err = "disabled must be true or false";
    else if (!admin)
      err = "only admins disable users", code = 403;
    else if (self && op->disabled)
      err = "you cannot disable yourself", code = 403;
  }
  if (!err && (v = auth_fields_get(&f, "preferences", &t))) {
    if (t != AUTH_F_JSON || v[0] != '{')
      err = "preferences must be a JSON object";
    else if (strlen(v) > PREFS_MAX)
      err = "preferences are larger than 64 KiB";
    else
      op->prefs = xstrdup(v);
  }
  if (!err && (v = auth_fields_get(&f, "password", NULL))) {
    const char *cur = auth_fields_get(&f, "current_password", NULL);
    if (!auth_password_ok(a, v))
      err = "password is too short or too long";
    else if (self && !cur)
      err = "current_password is required to change your password";
    else {
      op->password = xstrdup(v);
      if (self) op->current = xstrdup(cur);
    }
  }
  auth_fields_free(&f);
  if (err) {
    http_respond_error(req, code, err);
    uop_free(op);
    return;
  }
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_get);
  store_req_bind_int(r, id);
  auth_db(a, r, patch_loaded, op);
}

static void users_deleted(store_t *s, int status, const char *errmsg,
                          store_res_t *res, void *arg) {
  (void)s;
  (void)errmsg;
  uop_t *op = arg;
  auth_t *a = op->a;
  if (status < 0)
    auth_respond_store_error(op->req, status);
  else if (store_res_changes(res, 0) < 1)
    http_respond_error(op->req, 404, "no such user");
  else
    http_respond(op->req, 204, NULL, 0, NULL, 0);
  uop_free(op);
  auth_db_done(a);
}

static void users_delete(http_request_t *req, const auth_principal_t *p,
                         void *ud) {
  auth_t *a = ud;
  int64_t id = visible_id(req, p);
  if (!id) return;
  if (id == p->user_id) {
    http_respond_error(req, 403, "you cannot delete yourself");
    return;
  }
  /* visible_id let a non-admin through only for themself. */
  store_req_t *r = store_req_new(a->store, 0);
  store_req_stmt(r, &st_delete);
  store_req_bind_int(r, id);
  auth_db(a, r, users_deleted, uop_new(a, req, p));
}

int auth_users_register_routes(auth_t *a, router_t *r) {
  int rc = 0;
  rc |= auth_route_add(a, r, "GET", "/api/users", 0, AUTH_SCOPE_READ,
                       users_list, a);
  rc |= auth_route_add(a, r, "POST", "/api/users", 16384, AUTH_SCOPE_WRITE,
                       users_create, a);
  rc |= auth_route_add(a, r, "GET", "/api/users/{id}", 0, AUTH_SCOPE_READ,
                       users_get, a);
  rc |= auth_route_add(a, r, "PATCH", "/api/users/{id}", PREFS_MAX + 16384,
                       AUTH_SCOPE_WRITE, users_patch, a);
  rc |= auth_route_add(a, r, "DELETE", "/api/users/{id}", 0, AUTH_SCOPE_WRITE,
                       users_delete, a);
  return rc ? -1 : 0;
}
