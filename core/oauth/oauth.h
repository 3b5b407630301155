/*
 * oauth.h: OAuth2 connections. A person links an account at a provider
 * (Google, Microsoft, or any OAuth2/OIDC server) to assistd; connectors
 * then ask for "a valid access token for connection X" and never see the
 * refresh token.
 *
 * Flow. oauth_authorize() makes a PKCE (S256) verifier and a signed,
 * expiring `state` (a secrets token, purpose "oauth-state", whose payload
 * names the user and the provider and carries the verifier encrypted under
 * the master key, bound to that user and provider) and returns the
 * provider's authorization URL. The provider sends the browser back to
 * <redirect_base>/api/connections/<provider>/callback?code=..&state=..;
 * oauth_callback() checks the state, exchanges the code (form POST through
 * httpc, with the verifier), reads the account's subject and email from
 * the id_token when there is one, and stores the connection with its
 * tokens encrypted (secrets_encrypt, associated data
 * "oauth_connections.<column>:<id>", so a ciphertext copied to another row
 * or column does not decrypt).
 *
 * Tokens. oauth_access_token() answers from the stored access token while
 * it has more than refresh_margin_s left, else refreshes it. One refresh
 * at most is in flight per connection: callers arriving meanwhile wait for
 * it and get its result. A refresh response carrying a new refresh token
 * (Microsoft rotates them every time) replaces the stored one. A refresh
 * answered with `invalid_grant` (or Microsoft's `interaction_required`,
 * `consent_required`, `login_required`) marks the connection
 * needs_reauth, records last_error, calls the audit hook once, and fails
 * every waiter with OAUTH_EREAUTH; it is never retried until the person
 * connects again. Other failures (network, 5xx) record last_error, leave
 * the connection active and fail the waiters with -EAGAIN.
 *
 * Disconnect revokes the refresh token (or the access token when there is
 * none) at the provider's revocation endpoint when it has one (Google; a
 * generic server with RFC 7009; Microsoft has none), then deletes the
 * tokens; the row stays with state revoked so the list shows what
 * happened. Connecting the same account again makes it active again.
 *
 * Threading: everything runs on the loop thread; callbacks run on it,
 * never from within the call that started them. Errors: 0 or a negative
 * errno code.
 */
#ifndef ASSIST_OAUTH_H
#define ASSIST_OAUTH_H

#include "../http/http.h"
#include "../httpc/httpc.h"
#include "../secrets/secrets.h"
#include "../store/store.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct oauth oauth_t;

/** The connection needs the person to connect again (invalid_grant). */
#define OAUTH_EREAUTH (-EKEYREVOKED)

typedef enum {
  OAUTH_GOOGLE = 1,
  OAUTH_MICROSOFT = 2,
  OAUTH_GENERIC = 3, /**< any OAuth2 / OIDC server, endpoints configured */
} oauth_kind_t;

/**
 * One provider. Every string is copied by oauth_new(); NULL takes the
 * default for the kind:
 *
 *              google                                  microsoft
 * authorize    accounts.google.com/o/oauth2/v2/auth login.microsoftonline.com/
 *                                                      <tenant>/oauth2/v2.0/authorize
 * token        oauth2.googleapis.com/token .../<tenant>/oauth2/v2.0/token
 * revoke       oauth2.googleapis.com/revoke            (none)
 * scopes       openid email gmail.modify               openid profile email
 *              calendar.events                         offline_access User.Read
 *                                                      Mail.ReadWrite Mail.Send
 *                                                      Calendars.ReadWrite
 * extra        access_type=offline&prompt=consent&     response_mode=query
 *              include_granted_scopes=true
 *
 * A generic provider needs authorize_url and token_url; revoke_url is its
 * RFC 7009 endpoint (optional); default scopes "openid email".
 * Microsoft always gets offline_access added to its scopes (no refresh
 * token otherwise) and sends `scope` with every token request.
 */
typedef struct oauth_provider_cfg {
  const char *name; /**< URL segment: [a-z0-9_-], 1..32 chars, unique */
  oauth_kind_t kind;
  const char *client_id;     /**< required */
  const char *client_secret; /**< may be NULL (public client + PKCE) */
  const char *authorize_url;
  const char *token_url;
  const char *revoke_url; /**< "" disables revocation */
  const char *tenant;     /**< microsoft only; default "common" */
  const char *scopes;     /**< space-separated */
  /** Extra authorization parameters, already URL-encoded ("a=b&c=d"):
   * replaces the kind's defaults above ("" for none). */
  const char *extra_params;
} oauth_provider_cfg_t;

/** Audit hook: what happened to a connection. action is one of
 * "oauth.connected", "oauth.needs_reauth", "oauth.disconnected"; detail
 * is a short text without secrets (may be ""). All borrowed for the call. */
typedef void (*oauth_audit_fn)(const char *action, int64_t user_id,
                               int64_t connection_id, const char *provider,
                               const char *detail, void *ud);

typedef struct oauth_config {
  /** The public base URL the browser reaches assistd at
   * ("https://assist.example.org"); the redirect URI registered with each
   * provider is <redirect_base>/api/connections/<name>/callback. Copied. */
  const char *redirect_base;
  const oauth_provider_cfg_t *providers; /**< copied */
  size_t nproviders;
  int64_t state_ttl_s;      /**< lifetime of a `state` (0: 600) */
  int64_t refresh_margin_s; /**< refresh this long before expiry (0: 300) */
  /** Where the callback route sends the browser afterwards, with
   * "?connection=<id>" or "?error=<text>" appended (NULL or "": answer with
   * JSON instead). Copied. */
  const char *done_url;
  oauth_audit_fn audit; /**< may be NULL */
  void *audit_ud;
  /** Clock in milliseconds since the epoch (tests). NULL: store_now_ms. */
  int64_t (*now_ms)(void *ud);
  void *clock_ud;
} oauth_config_t;

/**
 * A new service. loop, store (migrations include 0004_oauth), http client
 * and keyring are borrowed and must outlive it (close it first). cfg is
 * copied. Returns NULL and a message in err (errlen bytes) for a bad
 * configuration (unknown kind, missing client_id, generic without URLs,
 * duplicate or malformed name, missing redirect_base).
 */
oauth_t *oauth_new(uv_loop_t *loop, store_t *store, httpc_t *httpc,
                   secrets_keyring_t *ring, const oauth_config_t *cfg,
                   char *err, size_t errlen);
/** Cancels its outbound requests, waits for its store requests, frees it
 * and calls cb(arg) from the loop. Calls arriving meanwhile fail with
 * -ECANCELED (REST: 503). */
void oauth_close(oauth_t *o, void (*cb)(void *arg), void *arg);

/** 1 if a provider of that name is configured. */
int oauth_has_provider(const oauth_t *o, const char *provider);
/** The redirect URI for provider (owned by o), or NULL if unknown. */
const char *oauth_redirect_uri(const oauth_t *o, const char *provider);

/* ---- the authorization-code flow ---- */

/**
 * The URL to send user_id's browser to. *url: new string owned by the
 * caller (free()). Returns 0, -ENOENT (unknown provider) or a secrets
 * error (no active key). Synchronous: nothing is stored until the
 * callback.
 */
int oauth_authorize(oauth_t *o, int64_t user_id, const char *provider,
                    char **url);

/** status 0: connection_id (of user_id) is active. Otherwise err says
 * why (borrowed for the call): -EINVAL bad or mismatched state,
 * SECRETS_EEXPIRED expired state, -EBADMSG/-EIO provider refused or
 * answered nonsense, store errors. */
typedef void (*oauth_callback_cb)(int status, int64_t connection_id,
                                  int64_t user_id, const char *err, void *arg);

/**
 * Completes the flow for the provider's redirect: checks state (for this
 * provider), exchanges code, stores the connection. provider, code, state
 * copied. cb always runs, later. Returns 0, or -ECANCELED when closing
 * (cb then never runs).
 */
int oauth_callback(oauth_t *o, const char *provider, const char *code,
                   const char *state, oauth_callback_cb cb, void *arg);

/**
 * The state's parts, for the callback and for tests: signs a state for
 * user_id and provider carrying verifier, at the service's clock.
 * *state owned by the caller (free()).
 */
int oauth_state_issue(oauth_t *o, int64_t user_id, const char *provider,
                      const char *verifier, char **state);
/**
 * Verifies state for provider at the service's clock: 0 with *user_id and
 * *verifier (owned by the caller, free()), or SECRETS_EBADSIG /
 * SECRETS_EMALFORMED (tampered), SECRETS_EEXPIRED, SECRETS_EPURPOSE, or
 * -EINVAL (made for another provider). verifier may be NULL.
 */
int oauth_state_check(oauth_t *o, const char *state, const char *provider,
                      int64_t *user_id, char **verifier);

/* ---- tokens (the SDK's "access token for connection X") ---- */

/** status 0: token (borrowed for the call; copy it, never log it) is valid
 * until expires_at_ms. Else token is NULL: -ENOENT (no such connection,
 * or revoked), OAUTH_EREAUTH, -EAGAIN (provider unreachable or erroring:
 * try later), -ECANCELED (closing), store or secrets errors. */
typedef void (*oauth_token_cb)(int status, const char *token,
                               int64_t expires_at_ms, void *arg);

/** A valid access token for connection_id, refreshing it if needed. cb
 * always runs, later. Returns 0 or -ECANCELED (closing; cb never runs). */
int oauth_access_token(oauth_t *o, int64_t connection_id, oauth_token_cb cb,
                       void *arg);
/** As oauth_access_token, but -ENOENT unless the connection belongs to
 * user_id (what the SDK call uses when a plugin acts for a person). */
int oauth_access_token_user(oauth_t *o, int64_t user_id, int64_t connection_id,
                            oauth_token_cb cb, void *arg);

/** Number of token-endpoint refresh requests started (metrics/tests). */
uint64_t oauth_refresh_count(const oauth_t *o);

/* ---- listing and disconnecting ---- */

/** One connection as shown to its owner; strings borrowed for the call. */
typedef struct oauth_conn_info {
  int64_t id, user_id;
  const char *provider, *subject, *email, *scopes;
  const char *state;      /**< "active", "needs_reauth", "revoked" */
  const char *last_error; /**< "" if none */
  int64_t access_expires_at, created_at, updated_at; /**< ms; 0 unknown */
} oauth_conn_info_t;

typedef void (*oauth_list_cb)(int status, const oauth_conn_info_t *conns,
                              size_t n, void *arg);
/** user_id's connections, oldest first. cb always runs, later. */
int oauth_list(oauth_t *o, int64_t user_id, oauth_list_cb cb, void *arg);

/** Every connection at provider that is not revoked (active and
 * needs_reauth), every user's, oldest first: for connectors that sync each
 * linked account. cb always runs, later. Returns 0, -ENOENT (no such
 * provider) or -ECANCELED (closing; cb never runs). */
int oauth_list_provider(oauth_t *o, const char *provider, oauth_list_cb cb,
                        void *arg);

/** status 0: revoked (revoked_at_provider 1 if the provider confirmed,
 * 0 if it has no endpoint or the call failed: last_error says so);
 * -ENOENT if user_id has no such connection. */
typedef void (*oauth_done_cb)(int status, int revoked_at_provider, void *arg);
/** Revokes at the provider where supported, then deletes the tokens. */
int oauth_disconnect(oauth_t *o, int64_t user_id, int64_t connection_id,
                     oauth_done_cb cb, void *arg);

/* ---- REST ---- */

/** Answer of a principal function: user_id >= 0 is the caller; < 0 means
 * the function has already answered req (401/403/503) and the handler
 * just drops it. */
typedef void (*oauth_principal_cb)(http_request_t *req, int64_t user_id,
                                   void *ctx);
/**
 * Supplied by the daemon: authenticate req (write: 1 for a state change)
 * and call cb(req, user_id, ctx) exactly once, now or later (e.g. from
 * auth_gate's callback).
 */
typedef void (*oauth_principal_fn)(http_request_t *req, int write,
                                   oauth_principal_cb cb, void *ctx, void *ud);

/**
 * Registers on r:
 *   GET    /api/connections                      (principal, read)
 *   POST   /api/connections/{provider}/authorize (principal, write) -> {url}
 *   GET    /api/connections/{provider}/callback  (public: the state decides)
 *   DELETE /api/connections/{id}                 (principal, write)
 * A person sees and deletes only their own connections (others: 404).
 * o and ud outlive r. Returns 0 or -1 (a route clash).
 */
int oauth_api_register(oauth_t *o, router_t *r, oauth_principal_fn principal,
                       void *ud);

#endif
