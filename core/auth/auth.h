/*
 * auth.h: accounts, sign-in, sessions, CSRF, API tokens and the gate that
 * guards /api routes.
 *
 * People. A user has an email (unique, stored lower-case), a name, a role
 * (admin or user), an Argon2id password hash (or none: cannot sign in with
 * a password), a preferences record (a JSON object, free-form) and a
 * disabled flag. There is no default account and no default password: the
 * first admin comes from auth_admin_create() (`assistd admin create`) or
 * from auth_bootstrap(), which generates a random password and hands it to
 * its callback once.
 *
 * Sessions. POST /api/auth/login checks the password on the thread pool
 * (unknown emails are checked against a dummy hash, so both cost one
 * Argon2id verification) and sets a cookie holding a random 256-bit
 * session id: HttpOnly, SameSite=Lax, Path=/, Secure (and the __Host-
 * name prefix) when the public URL is https. The database stores only
 * SHA-256 of the id, with an absolute expiry and a last-seen time for the
 * idle timeout. A login always creates a new session (the old one, if the
 * request carried one, is deleted). Each session has a CSRF token
 * (returned by login and GET /api/auth/me) that every cookie-authenticated
 * POST/PUT/PATCH/DELETE must send in X-CSRF-Token (compared in constant
 * time).
 *
 * API tokens. "asd_" + 43 base64url characters, shown once at creation,
 * stored as SHA-256, with scopes (read, write, admin), an optional expiry,
 * revocable; last_used_at is written at most once a minute per token.
 * Sent as `Authorization: Bearer <token>`.
 *
 * Failed sign-ins are counted in memory per account (normalised email,
 * known or not) and per client address in a sliding window; reaching the
 * limit locks the account or address out for a while, and the lockout is
 * stored in the database (auth_lockouts) so it survives a restart and is
 * shared by daemons on one PostgreSQL database.
 *
 * Threading: everything here runs on the loop thread; password hashing
 * runs on the libuv thread pool. Errors: 0 or a negative errno code.
 */
#ifndef ASSIST_AUTH_H
#define ASSIST_AUTH_H

#include "../http/http.h"
#include "../store/store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct auth auth_t;

/* ---- configuration ---- */

typedef struct auth_config {
  /** The externally visible base URL ("https://assist.example.org").
   * https makes cookies Secure with the __Host- prefix; it is also the
   * origin an Origin header must match on login and registration. NULL or
   * "": plain cookies, no Origin check. Copied. */
  const char *public_url;
  /** Enables POST /api/auth/register (new users get the role user). */
  int allow_registration;
  int64_t session_idle_s;        /* idle timeout (0: 86400 = 1 day) */
  int64_t session_lifetime_s;    /* absolute lifetime (0: 604800 = 7 days) */
  unsigned max_failures_account; /* failures per window (0: 5) */
  unsigned max_failures_addr;    /* failures per window (0: 20) */
  int64_t failure_window_s;      /* sliding window (0: 900) */
  int64_t lockout_s;             /* lockout length (0: 900) */
  size_t min_password_len;       /* (0: 12); at most 1024 */
  /** Header naming the client address when the daemon runs behind a
   * trusted reverse proxy ("X-Forwarded-For": its last entry is used;
   * any other header: its whole value). NULL: not used. Copied. */
  const char *client_addr_header;
  /** Optional: writes the client address (text) of req into out (cap
   * bytes) and returns 0, or a negative code when unknown. Consulted
   * before client_addr_header. With neither, failures are limited per
   * account only. */
  int (*client_addr)(http_request_t *req, char *out, size_t cap, void *ud);
  void *client_addr_ud;
  /** Clock in milliseconds since the epoch (tests). NULL: store_now_ms. */
  int64_t (*now_ms)(void *ud);
  void *clock_ud;
} auth_config_t;

/**
 * A new auth service over an open store whose migrations include
 * 0003_auth (loop and store borrowed: they outlive the service; cfg
 * copied). Never fails (allocation failure aborts).
 */
auth_t *auth_new(uv_loop_t *loop, store_t *store, const auth_config_t *cfg);
/** Waits for the service's in-flight store requests and thread-pool work
 * (close it before the store), frees it and calls cb(arg) from the loop.
 * Requests arriving meanwhile get 503. */
void auth_close(auth_t *a, void (*cb)(void *arg), void *arg);

/* ---- principals and scopes ---- */

typedef enum { AUTH_ROLE_USER = 0, AUTH_ROLE_ADMIN = 1 } auth_role_t;

/** Scope bits. A route requires a set of scopes; a session has read and
 * write, plus admin for admins; a token has the scopes it was created
 * with, restricted to its owner's current role. Scopes do not imply each
 * other. */
enum {
  AUTH_SCOPE_NONE = 0, /* any authenticated principal */
  AUTH_SCOPE_READ = 1u << 0,
  AUTH_SCOPE_WRITE = 1u << 1,
  AUTH_SCOPE_ADMIN = 1u << 2,
  AUTH_SCOPE_ALL = 7u,
};

typedef enum { AUTH_VIA_SESSION = 1, AUTH_VIA_TOKEN = 2 } auth_via_t;

/** Who is calling. A plain value: copy it to keep it. */
typedef struct auth_principal {
  int64_t user_id;
  auth_role_t role;
  unsigned scopes; /* AUTH_SCOPE_* bits held */
  auth_via_t via;
  int64_t token_id; /* the API token's id (via token), else 0 */
} auth_principal_t;

/** 1 if p may act as an admin: role admin and the admin scope. */
int auth_principal_is_admin(const auth_principal_t *p);
/** 1 if p may see records owned by user_id (its own, or any for admins):
 * handlers answer 404 when this is 0, as if the record did not exist. */
int auth_principal_owns(const auth_principal_t *p, int64_t user_id);

/* ---- the gate ---- */

/**
 * Called once by auth_gate. On success req is the request and p the
 * principal (borrowed for the call). On failure the gate has already
 * answered (401, 403, 429 or 503, JSON error body) and req and p are NULL:
 * only release arg.
 */
typedef void (*auth_gate_cb)(http_request_t *req, const auth_principal_t *p,
                             void *arg);

/**
 * Authenticates req for a route requiring the scopes in `scopes` (all of
 * them): `Authorization: Bearer <api token>` if present (a malformed,
 * unknown, expired or revoked token, or a disabled owner: 401; missing
 * scope: 403), else the session cookie (none, unknown, expired or idle:
 * 401; a POST/PUT/PATCH/DELETE without the right X-CSRF-Token: 403;
 * missing scope: 403). Reads the database, so cb runs later (never from
 * within this call). req must not be answered by anyone else meanwhile.
 */
void auth_gate(auth_t *a, http_request_t *req, unsigned scopes, auth_gate_cb cb,
               void *arg);

/** A handler behind the gate: p borrowed for the call (copy it to keep). */
typedef void (*auth_handler_fn)(http_request_t *req, const auth_principal_t *p,
                                void *ud);

/**
 * router_add for a gated route: the route runs auth_gate(scopes) and then
 * fn. a and ud are borrowed (they outlive r). Returns router_add's result.
 */
int auth_route_add(auth_t *a, router_t *r, const char *method,
                   const char *pattern, uint64_t max_body, unsigned scopes,
                   auth_handler_fn fn, void *ud);

/** The scopes a route requires unless it says otherwise: read for GET and
 * HEAD, write for every other method. */
unsigned auth_default_scopes(const char *method);

/**
 * 1 if a route pattern is public (served without the gate): everything
 * outside /api/, /api/auth/login, /api/auth/register, and the prefixes
 * /api/public/, /api/webhooks/, /api/rsvp/, /api/oauth/callback and any
 * /api/connections/{provider}/callback. A pattern as given to router_add.
 */
int auth_route_is_public(const char *pattern);

/* ---- REST API ---- */

/**
 * Registers on r: POST /api/auth/login, POST /api/auth/logout,
 * GET /api/auth/me, POST /api/auth/register (only if allow_registration),
 * GET/POST /api/users, GET/PATCH/DELETE /api/users/{id},
 * GET/POST /api/tokens, DELETE /api/tokens/{id}. Returns 0 or -1 (a route
 * clash). a outlives r.
 */
int auth_api_register(auth_t *a, router_t *r);

/* ---- accounts (for the command line and first-run bootstrap) ---- */

/** status 0: user_id created; password is the generated password
 * (borrowed for the call: show it once) or NULL if the caller gave one.
 * Errors: -EEXIST (email taken), -EINVAL (bad email or password too
 * short), store errors. */
typedef void (*auth_admin_cb)(int status, int64_t user_id, const char *password,
                              void *arg);

/**
 * Creates an admin. email copied; password copied, or NULL to generate a
 * random one (24 characters) that cb receives. Hashing runs on the thread
 * pool. cb is always called, later.
 */
void auth_admin_create(auth_t *a, const char *email, const char *password,
                       auth_admin_cb cb, void *arg);

/**
 * First run: if no admin exists, creates one for email with a generated
 * password (cb gets it once: print it to the operator, never to the log);
 * if an admin exists, cb(0, 0, NULL, arg).
 */
void auth_bootstrap(auth_t *a, const char *email, auth_admin_cb cb, void *arg);

/** status 0: the token id and its secret (borrowed for the call: show it
 * once, never log it); else a negative code and secret NULL. */
typedef void (*auth_token_created_cb)(int status, int64_t token_id,
                                      const char *secret, void *arg);

/**
 * Creates an API token for user_id (which must exist) without an expiry,
 * named name (copied; at most 100 bytes kept), with scopes (AUTH_SCOPE_*
 * bits; the gate still restricts them to the owner's role). For the
 * command line: no request, no principal. cb is always called, later.
 */
void auth_token_create(auth_t *a, int64_t user_id, const char *name,
                       unsigned scopes, auth_token_created_cb cb, void *arg);

/* ---- parsing helpers (cookies.c, form.c, scopes.c; pure functions) ---- */

/**
 * Finds cookie `name` in a Cookie header value ("a=1; b=2"); copies its
 * value (quotes removed) into out (cap bytes, NUL-terminated). Returns the
 * value's length, -ENOENT if absent, -EINVAL if malformed, -ENOSPC if it
 * does not fit.
 */
int auth_cookie_get(const char *header, const char *name, char *out,
                    size_t cap);
/** A Set-Cookie value: name=value; Path=/; Max-Age=N; HttpOnly;
 * SameSite=Lax[; Secure]. max_age_s 0 deletes the cookie. Caller frees.
 * NULL if name or value hold characters a cookie cannot carry. */
char *auth_cookie_build(const char *name, const char *value, int64_t max_age_s,
                        int secure);
/** The token of an `Authorization: Bearer <token>` value into out.
 * Returns its length, -ENOENT for another scheme, -EINVAL if malformed,
 * -ENOSPC if too long. */
int auth_bearer_parse(const char *header, char *out, size_t cap);

/** Parsed body fields (a JSON object or a urlencoded form). */
typedef enum { AUTH_F_STRING = 0, AUTH_F_JSON = 1 } auth_ftype_t;
typedef struct auth_field {
  char *name;  /* owned */
  char *value; /* owned: a string's text, or the JSON text of a non-string */
  auth_ftype_t type;
} auth_field_t;
typedef struct auth_fields {
  auth_field_t *f;
  size_t n;
} auth_fields_t;

/** application/x-www-form-urlencoded. -EINVAL on a bad escape or a NUL
 * byte. Fields with the same name: the first wins in auth_fields_get. */
int auth_form_parse(const char *body, size_t len, auth_fields_t *out);
/** A JSON object (at most 64 members, strings without NUL). -EINVAL if
 * not an object or malformed. */
int auth_json_parse(const char *body, size_t len, auth_fields_t *out);
/** By Content-Type (JSON or form; parameters ignored): -ENOTSUP for other
 * types, -EINVAL if malformed. An empty body is an empty field set. */
int auth_body_parse(const char *content_type, const char *body, size_t len,
                    auth_fields_t *out);
/** The field named name, or NULL. type_out (may be NULL) gets its type. */
const char *auth_fields_get(const auth_fields_t *f, const char *name,
                            auth_ftype_t *type_out);
void auth_fields_free(auth_fields_t *f);

/** Normalises an email (trims blanks, lower-cases ASCII) into out (cap
 * bytes). -EINVAL unless it looks like local@domain, 3..254 bytes, no
 * control characters or blanks inside. */
int auth_email_normalize(const char *in, char *out, size_t cap);

/** Parses scopes: a JSON array of strings or a space/comma separated
 * list of "read", "write", "admin". Returns the bits (at least one), or
 * -EINVAL. */
int auth_scopes_parse(const char *text, auth_ftype_t type);
/** Writes the scope names as a JSON array into out ("[\"read\"]"). */
void auth_scopes_json(unsigned scopes, buf_t *out);

#endif
