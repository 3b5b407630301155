/*
 * oauth.c: the service object, provider definitions, and the helpers the
 * flow, token and REST files share (forms, token answers, statements).
 */
#include "oauth_int.h"

#include "../common/alloc.h"
#include "../common/log.h"

#include <ctype.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements (placeholders $1..$N in both dialects) ---- */

#define CONN_COLS                                                              \
  "id, user_id, provider, state, access_token, refresh_token, "                \
  "access_expires_at, scopes"

const store_stmt_t oauth_st_get = {
    "oauth_get", "SELECT " CONN_COLS " FROM oauth_connections WHERE id = $1",
    NULL};

/* A new row starts as needs_reauth until its tokens are stored; a known
 * account keeps its row (and old tokens) until the new ones replace them. */
const store_stmt_t oauth_st_upsert = {
    "oauth_upsert",
    "INSERT INTO oauth_connections (user_id, provider, subject, email, "
    "scopes, state, last_error, created_at, updated_at) VALUES ($1, $2, $3, "
    "$4, $5, 'needs_reauth', 'connecting', $6, $6) ON CONFLICT (user_id, "
    "provider, subject) DO UPDATE SET email = excluded.email, updated_at = "
    "excluded.updated_at RETURNING id",
    NULL};

const store_stmt_t oauth_st_set_tokens = {
    "oauth_set_tokens",
    "UPDATE oauth_connections SET access_token = $2, refresh_token = $3, "
    "access_expires_at = $4, scopes = $5, state = 'active', last_error = "
    "NULL, updated_at = $6, last_refresh_at = $6 WHERE id = $1",
    NULL};

const store_stmt_t oauth_st_refreshed = {
    "oauth_refreshed",
    "UPDATE oauth_connections SET access_token = $2, refresh_token = "
    "COALESCE($3, refresh_token), access_expires_at = $4, scopes = "
    "COALESCE($5, scopes), last_error = NULL, updated_at = $6, "
    "last_refresh_at = $6 WHERE id = $1 AND state = 'active'",
    NULL};

const store_stmt_t oauth_st_reauth = {
    "oauth_reauth",
    "UPDATE oauth_connections SET state = 'needs_reauth', last_error = $2, "
    "access_token = NULL, access_expires_at = NULL, updated_at = $3 WHERE "
    "id = $1 AND state = 'active'",
    NULL};

const store_stmt_t oauth_st_error = {
    "oauth_error",
    "UPDATE oauth_connections SET last_error = $2, updated_at = $3 WHERE id "
    "= $1",
    NULL};

const store_stmt_t oauth_st_list = {
    "oauth_list",
    "SELECT id, user_id, provider, subject, email, scopes, state, "
    "last_error, access_expires_at, created_at, updated_at FROM "
    "oauth_connections WHERE user_id = $1 ORDER BY id",
    NULL};

const store_stmt_t oauth_st_list_provider = {
    "oauth_list_provider",
    "SELECT id, user_id, provider, subject, email, scopes, state, "
    "last_error, access_expires_at, created_at, updated_at FROM "
    "oauth_connections WHERE provider = $1 AND state <> 'revoked' ORDER BY "
    "id",
    NULL};

const store_stmt_t oauth_st_revoked = {
    "oauth_revoked",
    "UPDATE oauth_connections SET state = 'revoked', access_token = NULL, "
    "refresh_token = NULL, access_expires_at = NULL, last_error = $2, "
    "updated_at = $3 WHERE id = $1",
    NULL};

/* ---- providers ---- */

static char *dup_or(const char *v, const char *def) {
  if (v) return xstrdup(v);
  return def ? xstrdup(def) : NULL;
}

static int name_ok(const char *n) {
  size_t len = n ? strlen(n) : 0;
  if (len == 0 || len > 32) return 0;
  for (size_t i = 0; i < len; i++)
    if (!(islower((unsigned char)n[i]) || isdigit((unsigned char)n[i]) ||
          n[i] == '_' || n[i] == '-'))
      return 0;
  return 1;
}

static int has_word(const char *list, const char *w) {
  size_t wl = strlen(w);
  for (const char *p = list; (p = strstr(p, w)) != NULL; p += wl)
    if ((p == list || p[-1] == ' ') && (p[wl] == 0 || p[wl] == ' ')) return 1;
  return 0;
}

static void prov_free(oauth_provider_t *p) {
  free(p->name);
  free(p->client_id);
  oauth_zfree(p->client_secret);
  free(p->authorize_url);
  free(p->token_url);
  free(p->revoke_url);
  free(p->scopes);
  free(p->extra_params);
  free(p->redirect_uri);
}

static int prov_init(oauth_provider_t *p, const oauth_provider_cfg_t *c,
                     const char *base, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  if (!name_ok(c->name)) {
    snprintf(err, errlen,
             "oauth provider name '%s' must be 1..32 of [a-z0-9_-]",
             c->name ? c->name : "");
    return -EINVAL;
  }
  if (!c->client_id || !*c->client_id) {
    snprintf(err, errlen, "oauth provider %s: client_id is required", c->name);
    return -EINVAL;
  }
  p->name = xstrdup(c->name);
  p->kind = c->kind;
  p->client_id = xstrdup(c->client_id);
  p->client_secret =
      c->client_secret && *c->client_secret ? xstrdup(c->client_secret) : NULL;
  switch (c->kind) {
  case OAUTH_GOOGLE:
    p->authorize_url = dup_or(c->authorize_url,
                              "https://accounts.google.com/o/oauth2/v2/auth");
    p->token_url = dup_or(c->token_url, "https://oauth2.googleapis.com/token");
    p->revoke_url =
        dup_or(c->revoke_url, "https://oauth2.googleapis.com/revoke");
    p->scopes =
        dup_or(c->scopes, "openid email "
                          "https://www.googleapis.com/auth/gmail.modify "
                          "https://www.googleapis.com/auth/calendar.events");
    p->extra_params = dup_or(
        c->extra_params,
        "access_type=offline&prompt=consent&include_granted_scopes=true");
    break;
  case OAUTH_MICROSOFT: {
    const char *t = c->tenant && *c->tenant ? c->tenant : "common";
    if (!name_ok(t) && !strchr(t, '.')) {
      /* tenant GUIDs have dashes and digits; domains have dots */
      for (const char *q = t; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '.')) {
          snprintf(err, errlen, "oauth provider %s: bad tenant", c->name);
          prov_free(p);
          return -EINVAL;
        }
    }
    char *a = xasprintf(
        "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize", t);
    char *tk =
        xasprintf("https://login.microsoftonline.com/%s/oauth2/v2.0/token", t);
    p->authorize_url = dup_or(c->authorize_url, a);
    p->token_url = dup_or(c->token_url, tk);
    free(a);
    free(tk);
    p->revoke_url = dup_or(c->revoke_url, NULL);
    p->scopes = dup_or(c->scopes, "openid profile email offline_access "
                                  "User.Read Mail.ReadWrite Mail.Send "
                                  "Calendars.ReadWrite");
    if (!has_word(p->scopes, "offline_access")) {
      char *s = xasprintf("%s offline_access", p->scopes);
      free(p->scopes);
      p->scopes = s;
    }
    p->extra_params = dup_or(c->extra_params, "response_mode=query");
    break;
  }
  case OAUTH_GENERIC:
    if (!c->authorize_url || !*c->authorize_url || !c->token_url ||
        !*c->token_url) {
      snprintf(err, errlen,
               "oauth provider %s: authorize_url and token_url are required",
               c->name);
      prov_free(p);
      return -EINVAL;
    }
    p->authorize_url = xstrdup(c->authorize_url);
    p->token_url = xstrdup(c->token_url);
    p->revoke_url = dup_or(c->revoke_url, NULL);
    p->scopes = dup_or(c->scopes, "openid email");
    p->extra_params = dup_or(c->extra_params, "");
    break;
  default:
    snprintf(err, errlen, "oauth provider %s: unknown kind", c->name);
    prov_free(p);
    return -EINVAL;
  }
  if (p->revoke_url && !*p->revoke_url) {
    free(p->revoke_url);
    p->revoke_url = NULL;
  }
  const char *urls[] = {p->authorize_url, p->token_url, p->revoke_url};
  for (size_t i = 0; i < 3; i++)
    if (urls[i] && strncmp(urls[i], "https://", 8) != 0 &&
        strncmp(urls[i], "http://", 7) != 0) {
      snprintf(err, errlen, "oauth provider %s: URLs must be http(s)", c->name);
      prov_free(p);
      return -EINVAL;
    }
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/') bl--;
  p->redirect_uri =
      xasprintf("%.*s/api/connections/%s/callback", (int)bl, base, p->name);
  return 0;
}

const oauth_provider_t *oauth_provider(const oauth_t *o, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < o->nprovs; i++)
    if (strcmp(o->provs[i].name, name) == 0) return &o->provs[i];
  return NULL;
}

int oauth_has_provider(const oauth_t *o, const char *provider) {
  return oauth_provider(o, provider) != NULL;
}

const char *oauth_redirect_uri(const oauth_t *o, const char *provider) {
  const oauth_provider_t *p = oauth_provider(o, provider);
  return p ? p->redirect_uri : NULL;
}

/* ---- the service ---- */

oauth_t *oauth_new(uv_loop_t *loop, store_t *store, httpc_t *httpc,
                   secrets_keyring_t *ring, const oauth_config_t *cfg,
                   char *err, size_t errlen) {
  char dummy[8];
  if (!err || errlen == 0) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = 0;
  if (!cfg || !cfg->redirect_base ||
      (strncmp(cfg->redirect_base, "http://", 7) &&
       strncmp(cfg->redirect_base, "https://", 8))) {
    snprintf(err, errlen, "oauth: redirect_base must be an http(s) URL");
    return NULL;
  }
  oauth_t *o = xcalloc(1, sizeof *o);
  o->loop = loop;
  o->store = store;
  o->httpc = httpc;
  o->ring = ring;
  o->provs = xcalloc(cfg->nproviders ? cfg->nproviders : 1, sizeof *o->provs);
  for (size_t i = 0; i < cfg->nproviders; i++) {
    if (oauth_provider(o, cfg->providers[i].name)) {
      snprintf(err, errlen, "oauth provider %s: defined twice",
               cfg->providers[i].name);
      goto fail;
    }
    if (prov_init(&o->provs[i], &cfg->providers[i], cfg->redirect_base, err,
                  errlen) < 0)
      goto fail;
    o->nprovs++;
  }
  o->redirect_base = xstrdup(cfg->redirect_base);
  o->done_url = cfg->done_url && *cfg->done_url ? xstrdup(cfg->done_url) : NULL;
  o->state_ttl_s = cfg->state_ttl_s > 0 ? cfg->state_ttl_s : 600;
  o->margin_ms =
      (cfg->refresh_margin_s > 0 ? cfg->refresh_margin_s : 300) * 1000;
  o->audit = cfg->audit;
  o->audit_ud = cfg->audit_ud;
  o->now_ms = cfg->now_ms;
  o->clock_ud = cfg->clock_ud;
  return o;
fail:
  for (size_t i = 0; i < o->nprovs; i++) prov_free(&o->provs[i]);
  free(o->provs);
  free(o);
  return NULL;
}

static void oauth_free(oauth_t *o) {
  oauth_api_free_all(o);
  for (size_t i = 0; i < o->nprovs; i++) prov_free(&o->provs[i]);
  free(o->provs);
  free(o->redirect_base);
  free(o->done_url);
  free(o);
}

static void close_now(uv_idle_t *h) {
  oauth_t *o = h->data;
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, (uv_close_cb)free);
  void (*cb)(void *) = o->close_cb;
  void *arg = o->close_arg;
  oauth_free(o);
  if (cb) cb(arg);
}

static void schedule_close(oauth_t *o) {
  uv_idle_t *h = xmalloc(sizeof *h);
  uv_idle_init(o->loop, h);
  h->data = o;
  uv_idle_start(h, close_now);
}

void oauth_close(oauth_t *o, void (*cb)(void *arg), void *arg) {
  o->closing = true;
  o->close_cb = cb;
  o->close_arg = arg;
  if (o->httpc) httpc_cancel_owner(o->httpc, o);
  if (o->pending == 0) schedule_close(o);
}

void oauth_op_begin(oauth_t *o) {
  o->pending++;
}

void oauth_op_end(oauth_t *o) {
  if (--o->pending == 0 && o->closing) schedule_close(o);
}

int64_t oauth_now(const oauth_t *o) {
  return o->now_ms ? o->now_ms(o->clock_ud) : store_now_ms();
}

uint64_t oauth_refresh_count(const oauth_t *o) {
  return o->refreshes;
}

void oauth_audit(oauth_t *o, const char *action, int64_t user_id,
                 int64_t conn_id, const char *provider, const char *detail) {
  char uid[24], cid[24];
  snprintf(uid, sizeof uid, "%lld", (long long)user_id);
  snprintf(cid, sizeof cid, "%lld", (long long)conn_id);
  log_kv(LOG_INFO, "oauth", action, "user_id", uid, "connection_id", cid,
         "provider", provider, NULL);
  if (o->audit)
    o->audit(action, user_id, conn_id, provider, detail ? detail : "",
             o->audit_ud);
}

/* ---- small helpers ---- */

void oauth_zfree(char *s) {
  if (!s) return;
  sodium_memzero(s, strlen(s));
  free(s);
}

void oauth_pct(buf_t *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
      buf_append(b, p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      buf_append(b, e, 3);
    }
  }
}

void oauth_form_add(buf_t *b, const char *name, const char *value) {
  if (b->len) buf_puts(b, "&");
  buf_puts(b, name);
  buf_puts(b, "=");
  oauth_pct(b, value ? value : "");
}

char *oauth_aad(const char *column, int64_t id) {
  return xasprintf("oauth_connections.%s:%lld", column, (long long)id);
}

bool oauth_reauth_error(const char *error) {
  return error && (strcmp(error, "invalid_grant") == 0 ||
                   strcmp(error, "interaction_required") == 0 ||
                   strcmp(error, "consent_required") == 0 ||
                   strcmp(error, "login_required") == 0);
}

static char *jstr(json_object *obj, const char *key) {
  json_object *v;
  if (!json_object_object_get_ex(obj, key, &v)) return NULL;
  if (json_object_is_type(v, json_type_string))
    return xstrdup(json_object_get_string(v));
  return NULL;
}

/* The id_token's claims, read without checking its signature: it came
 * straight from the token endpoint over the connection httpc verified
 * (OpenID Connect Core 3.1.3.7), and only names the account for display
 * and de-duplication. */
static void idtoken_claims(oauth_tokresp_t *t) {
  const char *a = strchr(t->id_token, '.');
  const char *b = a ? strchr(a + 1, '.') : NULL;
  if (!b) return;
  uint8_t *raw = NULL;
  size_t rl = 0;
  if (secrets_b64url_decode(a + 1, (size_t)(b - a - 1), &raw, &rl) < 0) return;
  json_object *c = json_tokener_parse((const char *)raw);
  free(raw);
  if (!c) return;
  if (json_object_is_type(c, json_type_object)) {
    t->subject = jstr(c, "sub");
    t->email = jstr(c, "email");
    if (!t->email) t->email = jstr(c, "preferred_username");
  }
  json_object_put(c);
}

int oauth_tokresp_parse(const char *body, size_t len, oauth_tokresp_t *t) {
  memset(t, 0, sizeof *t);
  t->expires_in = -1;
  json_tokener *tok = json_tokener_new();
  json_object *j = json_tokener_parse_ex(tok, body, (int)len);
  json_tokener_free(tok);
  if (!j) return -EBADMSG;
  if (!json_object_is_type(j, json_type_object)) {
    json_object_put(j);
    return -EBADMSG;
  }
  t->access_token = jstr(j, "access_token");
  t->refresh_token = jstr(j, "refresh_token");
  t->scope = jstr(j, "scope");
  t->id_token = jstr(j, "id_token");
  t->error = jstr(j, "error");
  t->error_description = jstr(j, "error_description");
  json_object *v;
  if (json_object_object_get_ex(j, "expires_in", &v)) {
    if (json_object_is_type(v, json_type_int))
      t->expires_in = json_object_get_int64(v);
    else if (json_object_is_type(v, json_type_string))
      t->expires_in = strtoll(json_object_get_string(v), NULL, 10);
  }
  json_object_put(j);
  if (t->id_token) idtoken_claims(t);
  return 0;
}

void oauth_tokresp_free(oauth_tokresp_t *t) {
  oauth_zfree(t->access_token);
  oauth_zfree(t->refresh_token);
  oauth_zfree(t->id_token);
  free(t->scope);
  free(t->error);
  free(t->error_description);
  free(t->subject);
  free(t->email);
  memset(t, 0, sizeof *t);
}

int oauth_post_form(oauth_t *o, const char *url, const char *form,
                    httpc_done_cb done, void *arg) {
  static const char *const hdrs[] = {
      "Content-Type: application/x-www-form-urlencoded",
      "Accept: application/json", NULL};
  httpc_request_t rq = {
      .method = "POST",
      .url = url,
      .headers = hdrs,
      .body = form,
      .body_len = strlen(form),
      .max_response_bytes = 1 << 20,
      .owner = o,
  };
  int rc = httpc_request(o->httpc, &rq, done, arg, NULL);
  if (rc == 0) oauth_op_begin(o);
  return rc;
}

void oauth_wipe(char *s) {
  if (s) sodium_memzero(s, strlen(s));
}
