/*
 * auth_int.h: private structures shared by the files of core/auth.
 *
 * Every asynchronous step (a store request, thread-pool work) counts in
 * a->pending while in flight, so auth_close can wait for all of them.
 */
#ifndef ASSIST_AUTH_INT_H
#define ASSIST_AUTH_INT_H

#include "auth.h"

#include "../common/buf.h"
#include "../metrics/metrics.h"

#include <stdbool.h>

/* Session ids and API token secrets are hashed to 64 hex characters. */
#define AUTH_HASH_HEX 65
/* Longest session cookie / bearer token we accept. */
#define AUTH_SECRET_MAX 128
/* API token text: prefix + 43 base64url characters. */
#define AUTH_TOKEN_PREFIX "asd_"
/* Writes of last_used_at / last_seen_at: at most once per this. */
#define AUTH_TOUCH_MS 60000
/* Slots of the in-memory "recently touched" table. */
#define AUTH_TOUCH_SLOTS 512
#define AUTH_EMAIL_MAX 256
#define AUTH_ADDR_MAX 64
#define AUTH_PASSWORD_MAX 1024

typedef struct auth_limiter auth_limiter_t;

typedef struct auth_touch {
  uint64_t key; /* hash of the session hash or token id; 0 = empty */
  int64_t at;
} auth_touch_t;

struct auth {
  uv_loop_t *loop;
  store_t *store;

  /* configuration, defaults applied */
  char *public_url;
  char *origin; /* scheme://host[:port] of public_url, or NULL */
  int secure;
  int allow_registration;
  int64_t idle_ms, lifetime_ms, window_ms, lockout_ms;
  unsigned max_fail_account, max_fail_addr;
  size_t min_password_len;
  char *client_addr_header;
  int (*client_addr)(http_request_t *req, char *out, size_t cap, void *ud);
  void *client_addr_ud;
  int64_t (*now_ms)(void *ud);
  void *clock_ud;
  const char *cookie_name;

  auth_limiter_t *lim_account, *lim_addr;
  struct auth_route *routes; /* auth_route_add trampolines, owned */
  auth_touch_t touched[AUTH_TOUCH_SLOTS];

  size_t pending;
  int closing;
  void (*close_cb)(void *arg);
  void *close_arg;

  metric_t *m_logins, *m_gate;
};

/* auth_gate.c */
void auth_routes_free(auth_t *a);

/* auth.c */
int64_t auth_now(const auth_t *a);
/** A request counted in pending; cb gets the result as usual. */
void auth_db(auth_t *a, store_req_t *r, store_done_cb cb, void *arg);
/** Must be called at the end of every auth_db callback. */
void auth_db_done(auth_t *a);
/** uv_queue_work counted in pending. after(arg) runs on the loop. */
void auth_work(auth_t *a, void (*work)(void *arg), void (*after)(void *arg),
               void *arg);
/** hex(SHA-256(s)) into out. */
void auth_sha256_hex(const char *s, size_t len, char out[AUTH_HASH_HEX]);
/** 1 if the value was written less than AUTH_TOUCH_MS ago; else records
 * now and returns 0 (the caller writes it). */
int auth_touch_recent(auth_t *a, uint64_t key, int64_t now);
uint64_t auth_hash64(const char *s);
/** The client's address, or "" when unknown. */
void auth_client_addr(auth_t *a, http_request_t *req, char *out, size_t cap);

/* responses (auth_api.c) */
/** JSON error in the server's format, with extra headers. */
void auth_respond_error(http_request_t *req, int status, const char *message,
                        const http_header_t *extra, size_t nextra);
/** Maps a store error to 503 (unreachable, closing) or 500. */
void auth_respond_store_error(http_request_t *req, int status);

/* users.c */
typedef struct auth_user_row {
  int64_t id;
  const char *email, *name, *role, *preferences;
  int disabled;
  int64_t created_at, updated_at;
} auth_user_row_t;
/* The column list auth_user_read expects, in this order. */
#define AUTH_USER_COLS                                                         \
  "id, email, name, role, preferences, disabled, created_at, updated_at"
void auth_user_read(store_res_t *res, size_t stmt, int row, auth_user_row_t *u);
void auth_user_json(const auth_user_row_t *u, buf_t *b);
auth_role_t auth_role_parse(const char *s);
const char *auth_role_name(auth_role_t r);
/** A password acceptable for a new hash: min length..1024, no NUL. */
int auth_password_ok(const auth_t *a, const char *pw);
/** The dummy hash for unknown users (made once, on a worker thread). */
const char *auth_dummy_hash(void);
/** Inserts a user: hashes password (NULL: generate one, then *generated is
 * set) on the thread pool, then INSERT. cb(status, id, generated). */
typedef void (*auth_user_created_cb)(auth_t *a, int status, int64_t id,
                                     const char *generated, void *arg);
void auth_user_create(auth_t *a, const char *email, const char *name,
                      auth_role_t role, const char *password,
                      auth_user_created_cb cb, void *arg);
/** Creates a user from body fields (email, name, password) and answers
 * 201 {user[, password]} (a generated password when none was given and
 * !password_required), 400 or 409. p may be NULL (registration). */
int auth_users_create_from(auth_t *a, http_request_t *req,
                           const auth_principal_t *p, const auth_fields_t *f,
                           auth_role_t role, int password_required);
/** GET/POST /api/users, GET/PATCH/DELETE /api/users/{id}. */
int auth_users_register_routes(auth_t *a, router_t *r);

/* sessions.c */
typedef struct auth_session_info {
  int64_t user_id;
  auth_role_t role;
  char csrf[64];
} auth_session_info_t;
const char *auth_cookie_name(const auth_t *a);
/** Creates a session for user_id (deleting the session whose raw id is
 * old_sid, if not NULL). cb gets the raw id and csrf token (borrowed). */
typedef void (*auth_session_created_cb)(auth_t *a, int status, const char *sid,
                                        const char *csrf, void *arg);
void auth_session_create(auth_t *a, int64_t user_id, const char *old_sid,
                         auth_session_created_cb cb, void *arg);
/** Looks the raw session id up: status 0 and info, or -ENOENT (unknown,
 * expired, idle, disabled user). Refreshes last_seen_at when due. */
typedef void (*auth_session_cb)(auth_t *a, int status,
                                const auth_session_info_t *info, void *arg);
void auth_session_lookup(auth_t *a, const char *sid, auth_session_cb cb,
                         void *arg);
/** Deletes the session with raw id sid. */
void auth_session_delete(auth_t *a, const char *sid,
                         void (*cb)(auth_t *a, int status, void *arg),
                         void *arg);
/** Set-Cookie value for a new session / for deleting it. Caller frees. */
char *auth_session_cookie(const auth_t *a, const char *sid);
char *auth_session_cookie_clear(const auth_t *a);
/** The raw session id from req's Cookie header into out; 0 or <0. */
int auth_session_from_req(const auth_t *a, http_request_t *req, char *out,
                          size_t cap);

/* csrf.c */
/** A new CSRF token (43 characters) into out (64 bytes). */
void auth_csrf_new(char out[64]);
/** 1 for POST, PUT, PATCH, DELETE (and anything not GET/HEAD/OPTIONS). */
int auth_csrf_needed(const char *method);
/** 1 if req carries X-CSRF-Token equal to expected (constant time). */
int auth_csrf_check(http_request_t *req, const char *expected);

/* tokens.c */
typedef struct auth_token_info {
  int64_t id, user_id;
  auth_role_t role;
  unsigned scopes;
} auth_token_info_t;
typedef void (*auth_token_cb)(auth_t *a, int status,
                              const auth_token_info_t *info, void *arg);
/** Looks a bearer token up: 0, or -ENOENT (unknown, revoked, expired,
 * disabled owner). Updates last_used_at when due. */
void auth_token_lookup(auth_t *a, const char *token, auth_token_cb cb,
                       void *arg);
/** Token handlers for auth_api_register. */
void auth_tokens_list(http_request_t *req, const auth_principal_t *p, void *ud);
void auth_tokens_create(http_request_t *req, const auth_principal_t *p,
                        void *ud);
void auth_tokens_revoke(http_request_t *req, const auth_principal_t *p,
                        void *ud);

/* ratelimit.c */
auth_limiter_t *auth_limiter_new(unsigned max_failures, int64_t window_ms,
                                 size_t max_keys);
void auth_limiter_free(auth_limiter_t *l);
/** Records a failure; returns 1 when key reached max_failures within the
 * window (its history is then cleared and it is locked until
 * locked_until), else 0. */
int auth_limiter_fail(auth_limiter_t *l, const char *key, int64_t now,
                      int64_t locked_until);
/** locked_until if key is locked at now, else 0. */
int64_t auth_limiter_locked(auth_limiter_t *l, const char *key, int64_t now);
void auth_limiter_reset(auth_limiter_t *l, const char *key);
size_t auth_limiter_size(const auth_limiter_t *l);

/* form.c */
/** Parses a positive decimal id (a path parameter); 0 if invalid. */
int64_t auth_parse_id(const char *s);

/* auth_api.c */
/** Parses the request body by its Content-Type; answers 400/415 itself
 * and returns <0 on failure. */
int auth_req_fields(http_request_t *req, auth_fields_t *out);

#endif
