/* oauth_int.h: the service's private state, shared by its files. */
#ifndef ASSIST_OAUTH_INT_H
#define ASSIST_OAUTH_INT_H

#include "oauth.h"

#include "../common/buf.h"

#include <stdbool.h>

typedef struct oauth_provider {
  char *name;
  oauth_kind_t kind;
  char *client_id, *client_secret; /* secret may be NULL */
  char *authorize_url, *token_url;
  char *revoke_url; /* NULL: none */
  char *scopes;
  char *extra_params; /* "" for none */
  char *redirect_uri;
} oauth_provider_t;

typedef struct oauth_waiter {
  int64_t user_id; /* -1: any */
  oauth_token_cb cb;
  void *arg;
  struct oauth_waiter *next;
} oauth_waiter_t;

/* A refresh in flight for one connection, and who waits for it. */
typedef struct oauth_inflight {
  oauth_t *o;
  int64_t conn_id, user_id;
  const oauth_provider_t *prov;
  oauth_waiter_t *waiters, **tail;
  char *access; /* new plaintext access token (heap, zeroed on free) */
  int64_t expires_at;
  char *error; /* for last_error */
  struct oauth_inflight *next;
} oauth_inflight_t;

struct oauth {
  uv_loop_t *loop;
  store_t *store;
  httpc_t *httpc;
  secrets_keyring_t *ring;
  oauth_provider_t *provs;
  size_t nprovs;
  char *redirect_base, *done_url;
  int64_t state_ttl_s, margin_ms;
  oauth_audit_fn audit;
  void *audit_ud;
  int64_t (*now_ms)(void *ud);
  void *clock_ud;
  oauth_inflight_t *inflight;
  uint64_t refreshes;
  size_t pending; /* store and httpc operations not yet completed */
  bool closing;
  void *apis; /* api.c's registrations, freed with the service */
  void (*close_cb)(void *arg);
  void *close_arg;
};

/* oauth.c */
int64_t oauth_now(const oauth_t *o);
const oauth_provider_t *oauth_provider(const oauth_t *o, const char *name);
void oauth_op_begin(oauth_t *o);
/* Ends one operation; finishes a pending close. */
void oauth_op_end(oauth_t *o);
void oauth_audit(oauth_t *o, const char *action, int64_t user_id,
                 int64_t conn_id, const char *provider, const char *detail);
/* Appends name=pct(value) (with '&' if b is not empty). */
void oauth_form_add(buf_t *b, const char *name, const char *value);
void oauth_pct(buf_t *b, const char *s);
/* AAD for a token column of connection id. */
char *oauth_aad(const char *column, int64_t id);
/* Zeroes a string in place (NULL accepted). */
void oauth_wipe(char *s);
/* Zeroes and frees a heap string. */
void oauth_zfree(char *s);

/* A parsed token-endpoint answer (all heap or NULL). */
typedef struct oauth_tokresp {
  char *access_token, *refresh_token, *scope, *id_token;
  char *error, *error_description;
  int64_t expires_in;    /* -1 if absent */
  char *subject, *email; /* from the id_token's payload */
} oauth_tokresp_t;
/* Parses body; returns 0 when it is a JSON object. */
int oauth_tokresp_parse(const char *body, size_t len, oauth_tokresp_t *t);
void oauth_tokresp_free(oauth_tokresp_t *t);
/* POSTs form to url; done runs later (the op is counted). */
int oauth_post_form(oauth_t *o, const char *url, const char *form,
                    httpc_done_cb done, void *arg);
/* The scopes to send to the token endpoint (Microsoft) or NULL. */
bool oauth_reauth_error(const char *error);

/* api.c: frees the REST registrations. */
void oauth_api_free_all(oauth_t *o);

/* statements */
extern const store_stmt_t oauth_st_get, oauth_st_upsert, oauth_st_set_tokens,
    oauth_st_refreshed, oauth_st_reauth, oauth_st_error, oauth_st_list,
    oauth_st_revoked, oauth_st_list_provider;

#endif
