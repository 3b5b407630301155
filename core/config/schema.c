/*
 * schema.c: the JSON Schema (draft 2020-12) of the configuration file, from
 * the core's own rules and every plugin's option table. Written with a small
 * pretty-printer (2-space indent, keys in a fixed order, plugins sorted by
 * name) so the output is byte-for-byte deterministic and diffs nicely.
 *
 * Scalars that may be written as ${...} (every non-string scalar) accept a
 * string matching #/$defs/substitution as well.
 */
#include "internal.h"

#include "../common/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- a tiny pretty JSON writer ---------------- */

#define JW_MAX_DEPTH 32

typedef struct jw {
  buf_t *b;
  int depth;
  int after_key;
  unsigned char first[JW_MAX_DEPTH + 1];
} jw_t;

static void jw_newline(jw_t *w) {
  buf_puts(w->b, "\n");
  for (int i = 0; i < w->depth; i++) buf_puts(w->b, "  ");
}

static void jw_pre(jw_t *w) {
  if (w->after_key) {
    w->after_key = 0;
    return;
  }
  if (w->depth == 0) return;
  if (!w->first[w->depth]) buf_puts(w->b, ",");
  w->first[w->depth] = 0;
  jw_newline(w);
}

static void jw_open(jw_t *w, const char *c) {
  jw_pre(w);
  buf_puts(w->b, c);
  if (w->depth < JW_MAX_DEPTH) w->depth++;
  w->first[w->depth] = 1;
}

static void jw_close(jw_t *w, const char *c) {
  int empty = w->first[w->depth];
  w->depth--;
  if (!empty) jw_newline(w);
  buf_puts(w->b, c);
}

static void jw_key(jw_t *w, const char *k) {
  jw_pre(w);
  buf_json_str(w->b, k, strlen(k));
  buf_puts(w->b, ": ");
  w->after_key = 1;
}

static void jw_str(jw_t *w, const char *s) {
  jw_pre(w);
  buf_json_str(w->b, s, strlen(s));
}

static void jw_raw(jw_t *w, const char *s) {
  jw_pre(w);
  buf_puts(w->b, s);
}

static void jw_kstr(jw_t *w, const char *k, const char *v) {
  jw_key(w, k);
  jw_str(w, v);
}

static void jw_kraw(jw_t *w, const char *k, const char *v) {
  jw_key(w, k);
  jw_raw(w, v);
}

static void jw_kint(jw_t *w, const char *k, int64_t v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%" PRId64, v);
  jw_kraw(w, k, tmp);
}

static void jw_knum(jw_t *w, const char *k, double v) {
  char tmp[40];
  if (v >= -9e15 && v <= 9e15 && v == (double)(int64_t)v)
    snprintf(tmp, sizeof tmp, "%" PRId64, (int64_t)v);
  else
    snprintf(tmp, sizeof tmp, "%.17g", v);
  jw_kraw(w, k, tmp);
}

/* ---------------- shared pieces ---------------- */

static void ref(jw_t *w, const char *def) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "#/$defs/%s", def);
  jw_kstr(w, "$ref", tmp);
}

/* {"anyOf": [{"type": T, min, max}, {"$ref": substitution}]} */
static void numeric(jw_t *w, const char *type, int has_range, double min,
                    double max) {
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", type);
  if (has_range) {
    jw_knum(w, "minimum", min);
    jw_knum(w, "maximum", max);
  }
  jw_close(w, "}");
  jw_open(w, "{");
  ref(w, "substitution");
  jw_close(w, "}");
  jw_close(w, "]");
}

static void defs(jw_t *w) {
  jw_key(w, "$defs");
  jw_open(w, "{");

  jw_key(w, "substitution");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "${NAME} (environment) or ${file:PATH}, coerced to the expected "
          "type after substitution");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "\\$\\{[^}]+\\}");
  jw_close(w, "}");

  jw_key(w, "size");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "bytes: an integer with an optional unit b, k/kb/kib, m/mb/mib, "
          "g/gb/gib, t/tb/tib (all binary)");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "integer");
  jw_kint(w, "minimum", 0);
  jw_close(w, "}");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^[0-9]+ *([bB]|[kKmMgGtT]([iI]?[bB])?)?$");
  jw_close(w, "}");
  jw_open(w, "{");
  ref(w, "substitution");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");

  jw_key(w, "duration");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "milliseconds: an integer with an optional unit ms, s, m, h, d; "
          "a bare number is ms");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "integer");
  jw_kint(w, "minimum", 0);
  jw_close(w, "}");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^[0-9]+ *(ms|s|m|h|d)?$");
  jw_close(w, "}");
  jw_open(w, "{");
  ref(w, "substitution");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");

  jw_key(w, "bool");
  jw_open(w, "{");
  jw_kstr(w, "description", "true/false, yes/no, on/off (any case)");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "boolean");
  jw_close(w, "}");
  jw_open(w, "{");
  jw_key(w, "enum");
  jw_open(w, "[");
  static const char *const words[] = {"yes", "Yes", "YES", "no",  "No",  "NO",
                                      "on",  "On",  "ON",  "off", "Off", "OFF"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    jw_str(w, words[i]);
  jw_close(w, "]");
  jw_close(w, "}");
  jw_open(w, "{");
  ref(w, "substitution");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");

  jw_key(w, "path_list");
  jw_open(w, "{");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_open(w, "{");
  jw_kstr(w, "type", "array");
  jw_key(w, "items");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");

  jw_close(w, "}");
}

/* ---------------- core sections ---------------- */

static void prop_int(jw_t *w, const char *name, const char *desc, int64_t def,
                     int64_t min, int64_t max) {
  jw_key(w, name);
  jw_open(w, "{");
  jw_kstr(w, "description", desc);
  jw_kint(w, "default", def);
  numeric(w, "integer", 1, (double)min, (double)max);
  jw_close(w, "}");
}

static void prop_ref(jw_t *w, const char *name, const char *desc,
                     const char *def, const char *type) {
  jw_key(w, name);
  jw_open(w, "{");
  jw_kstr(w, "description", desc);
  if (def) jw_kstr(w, "default", def);
  ref(w, type);
  jw_close(w, "}");
}

static void prop_str(jw_t *w, const char *name, const char *desc,
                     const char *def) {
  jw_key(w, name);
  jw_open(w, "{");
  jw_kstr(w, "description", desc);
  jw_kstr(w, "type", "string");
  if (def) jw_kstr(w, "default", def);
  jw_close(w, "}");
}

static void prop_enum(jw_t *w, const char *name, const char *desc,
                      const char *def, const char *const *vals, size_t n) {
  jw_key(w, name);
  jw_open(w, "{");
  jw_kstr(w, "description", desc);
  jw_kstr(w, "default", def);
  jw_key(w, "enum");
  jw_open(w, "[");
  for (size_t i = 0; i < n; i++) jw_str(w, vals[i]);
  jw_close(w, "]");
  jw_close(w, "}");
}

static void server_schema(jw_t *w) {
  jw_key(w, "server");
  jw_open(w, "{");
  jw_kstr(w, "description", "the HTTP server");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");

  jw_key(w, "listen");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "HOST:PORT or [IPV6]:PORT (numeric address or localhost), or a "
          "list of them");
  jw_kstr(w, "default", "127.0.0.1:8080");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_open(w, "{");
  jw_kstr(w, "type", "array");
  jw_kint(w, "minItems", 1);
  jw_key(w, "items");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");

  prop_int(w, "max_connections", "open connections at most", 10000, 1, 1000000);
  prop_ref(w, "max_header_size", "request head size limit (1KiB..16MiB)",
           "16KiB", "size");
  prop_int(w, "max_headers", "request header count limit", 100, 1, 10000);
  prop_ref(w, "max_body_size",
           "default request body limit (routes may raise it)", "1MiB", "size");
  prop_ref(w, "header_timeout", "time to receive the request head", "10s",
           "duration");
  prop_ref(w, "body_timeout", "time allowed between request body bytes", "30s",
           "duration");
  prop_ref(w, "idle_timeout", "keep-alive idle time", "60s", "duration");
  prop_ref(w, "drain_timeout", "shutdown and reload drain deadline", "10s",
           "duration");
  prop_str(w, "static_dir",
           "directory of the admin UI files, relative to this file", NULL);
  jw_key(w, "public_url");
  jw_open(w, "{");
  jw_kstr(w, "description", "external base URL (http:// or https://)");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^(https?://|\\$\\{)");
  jw_close(w, "}");

  jw_close(w, "}");
  jw_close(w, "}");
}

static void secrets_schema(jw_t *w) {
  jw_key(w, "secrets");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "the master key: encryption at rest, tokens, audit (core/secrets)");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  prop_str(w, "key_file",
           "file holding the active master key (64 hex characters, mode "
           "0600), relative to this file; default with SQLite: "
           "<database>.key, created on first run",
           NULL);
  prop_str(w, "key_env",
           "environment variable holding the active master key instead", NULL);
  prop_ref(w, "create", "create key_file (0600) when it does not exist", NULL,
           "bool");
  prop_ref(w, "previous_key_files",
           "older key files, used only to decrypt (key rotation)", NULL,
           "path_list");
  prop_ref(w, "previous_key_envs",
           "older keys from environment variables, used only to decrypt", NULL,
           "path_list");
  jw_close(w, "}");
  jw_close(w, "}");
}

static void jobs_schema(jw_t *w) {
  jw_key(w, "jobs");
  jw_open(w, "{");
  jw_kstr(w, "description", "the durable job engine (core/jobs)");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  prop_ref(w, "lease",
           "how long a claimed job stays leased without a heartbeat "
           "(1s..1h); a dead daemon's jobs run again after it",
           "30s", "duration");
  prop_ref(w, "poll", "safety poll for expired leases and queue depth", "5s",
           "duration");
  jw_close(w, "}");
  jw_close(w, "}");
}

static void auth_schema(jw_t *w) {
  jw_key(w, "auth");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "accounts, sessions, API tokens and sign-in limits (core/auth); "
          "server.public_url decides Secure cookies");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  prop_ref(w, "allow_registration",
           "enable self-registration (POST /api/auth/register)", NULL, "bool");
  prop_ref(w, "session_idle", "a session unused this long ends (1m..365d)",
           "1d", "duration");
  prop_ref(w, "session_lifetime",
           "a session ends this long after sign-in (1m..365d)", "7d",
           "duration");
  prop_int(w, "max_failures_account",
           "failed sign-ins per account within 15 minutes before a lockout", 5,
           1, 10000);
  prop_int(w, "max_failures_addr",
           "failed sign-ins per client address within 15 minutes before a "
           "lockout",
           20, 1, 100000);
  prop_ref(w, "lockout", "how long a lockout lasts (1s..30d)", "15m",
           "duration");
  prop_str(w, "client_addr_header",
           "header naming the client address, set by a trusted reverse proxy "
           "(X-Forwarded-For: its last entry)",
           NULL);
  prop_str(w, "bootstrap_admin",
           "email of the first admin: on a start with no admin, it is created "
           "with a generated password printed once on standard output",
           NULL);
  jw_close(w, "}");
  jw_close(w, "}");
}

static void reminders_schema(jw_t *w) {
  jw_key(w, "reminders");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "appointment reminders (core/assistant): notifiers, sender, "
          "planning horizon, outbox pace and RSVP links");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "public_url");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "base URL of the RSVP links in reminders; default "
          "server.public_url, else the first listen address");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^(https?://|\\$\\{)");
  jw_close(w, "}");
  prop_str(w, "email_notifier",
           "plugin instance that sends reminder e-mails, or dry-run (records "
           "the rendered message without sending)",
           "dry-run");
  prop_str(w, "call_notifier",
           "plugin instance that places reminder calls, or dry-run", "dry-run");
  prop_str(w, "from_email", "sender address of reminder e-mails",
           "reminders@localhost");
  prop_str(w, "from_name", "sender name of reminder e-mails", "assistd");
  prop_ref(w, "horizon", "plan events starting within this time (1d..366d)",
           "60d", "duration");
  prop_ref(w, "dispatch_interval",
           "how often the outbox looks for due reminders (1s..1h)", "30s",
           "duration");
  prop_ref(w, "rsvp_ttl", "lifetime of RSVP links (1s..365d)", "14d",
           "duration");
  jw_close(w, "}");
  jw_close(w, "}");
}

static void oauth_schema(jw_t *w) {
  static const char *const kinds[] = {"google", "microsoft", "generic"};
  jw_key(w, "oauth");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "OAuth2 connections (core/oauth): the providers people link "
          "accounts at; redirect URI <redirect_base>/api/connections/"
          "<provider>/callback");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "redirect_base");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "public base URL the browser reaches assistd at; default "
          "server.public_url");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^(https?://|\\$\\{)");
  jw_close(w, "}");
  prop_str(w, "done_url",
           "where the browser goes after the callback (?connection=<id> or "
           "?error=...); none: the callback answers JSON",
           NULL);
  prop_ref(w, "state_ttl", "how long an authorization may take (1m..1d)", "10m",
           "duration");
  prop_ref(w, "refresh_margin",
           "refresh access tokens this long before they expire (1s..1d)", "5m",
           "duration");
  prop_str(w, "ca_file",
           "PEM CA bundle for the providers' TLS instead of the system one "
           "(tests), relative to this file",
           NULL);
  jw_key(w, "providers");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "provider name ([a-z0-9_-], at most 32: the URL segment) to its "
          "settings");
  jw_kstr(w, "type", "object");
  jw_key(w, "propertyNames");
  jw_open(w, "{");
  jw_kstr(w, "pattern", "^[a-z0-9_-]{1,32}$");
  jw_close(w, "}");
  jw_key(w, "additionalProperties");
  jw_open(w, "{");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "required");
  jw_open(w, "[");
  jw_str(w, "client_id");
  jw_close(w, "]");
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "kind");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "provider kind; default: the provider's name when it is google or "
          "microsoft");
  jw_key(w, "enum");
  jw_open(w, "[");
  for (size_t i = 0; i < 3; i++) jw_str(w, kinds[i]);
  jw_close(w, "]");
  jw_close(w, "}");
  prop_str(w, "client_id", "the client id registered at the provider", NULL);
  prop_str(w, "client_secret",
           "the client secret (use ${ENV} or ${file:...}; never logged)", NULL);
  prop_str(w, "authorize_url",
           "authorization endpoint (default by kind; required for generic)",
           NULL);
  prop_str(w, "token_url",
           "token endpoint (default by kind; required for generic)", NULL);
  prop_str(w, "revoke_url",
           "RFC 7009 revocation endpoint (default by kind; \"\" for none)",
           NULL);
  prop_str(w, "tenant", "microsoft: common, organizations, consumers or an id",
           "common");
  jw_key(w, "scopes");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "scopes requested, space-separated or a list (default by kind)");
  jw_key(w, "anyOf");
  jw_open(w, "[");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_open(w, "{");
  jw_kstr(w, "type", "array");
  jw_key(w, "items");
  jw_open(w, "{");
  jw_kstr(w, "type", "string");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "]");
  jw_close(w, "}");
  prop_str(w, "extra_params",
           "extra authorization parameters, URL-encoded (a=b&c=d); replaces "
           "the kind's defaults, \"\" for none",
           NULL);
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "}");
}

static void log_schema(jw_t *w) {
  static const char *const levels[] = {"debug", "info", "warn", "error"};
  static const char *const formats[] = {"json", "text"};
  jw_key(w, "log");
  jw_open(w, "{");
  jw_kstr(w, "description", "logging");
  jw_kstr(w, "type", "object");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  prop_enum(w, "level", "lowest level logged", "info", levels, 4);
  prop_enum(w, "format", "json lines or text for people", "json", formats, 2);
  jw_close(w, "}");
  jw_close(w, "}");
}

/* ---------------- plugin options ---------------- */

static void opt_default(jw_t *w, const assist_option_t *o) {
  if (!o->default_value || (o->flags & ASSIST_OPT_SECRET)) return;
  opt_value_t v = {0};
  if (cfg_opt_parse_text(o, o->default_value, &v)) return;
  switch (o->type) {
  case ASSIST_OPT_INT:
    jw_kint(w, "default", v.i);
    break;
  case ASSIST_OPT_DOUBLE:
    jw_knum(w, "default", v.d);
    break;
  case ASSIST_OPT_BOOL:
    jw_kraw(w, "default", v.i ? "true" : "false");
    break;
  case ASSIST_OPT_STRING_LIST:
    jw_key(w, "default");
    jw_open(w, "[");
    for (size_t i = 0; i < v.nlist; i++) jw_str(w, v.list[i]);
    jw_close(w, "]");
    break;
  default:
    jw_kstr(w, "default", o->default_value);
    break;
  }
  cfg_opt_value_clear(&v);
}

static void opt_schema(jw_t *w, const assist_option_t *o) {
  jw_key(w, o->name);
  jw_open(w, "{");
  if (o->description) jw_kstr(w, "description", o->description);
  opt_default(w, o);
  if (o->flags & ASSIST_OPT_SECRET) jw_kraw(w, "writeOnly", "true");
  if (o->flags & ASSIST_OPT_DEPRECATED) jw_kraw(w, "deprecated", "true");
  int range = o->min <= o->max;
  switch (o->type) {
  case ASSIST_OPT_STRING:
    jw_kstr(w, "type", "string");
    break;
  case ASSIST_OPT_INT:
    numeric(w, "integer", range, o->min, o->max);
    break;
  case ASSIST_OPT_DOUBLE:
    numeric(w, "number", range, o->min, o->max);
    break;
  case ASSIST_OPT_BOOL:
    ref(w, "bool");
    break;
  case ASSIST_OPT_SIZE:
    ref(w, "size");
    break;
  case ASSIST_OPT_DURATION:
    ref(w, "duration");
    break;
  case ASSIST_OPT_STRING_LIST:
    ref(w, "path_list");
    break;
  case ASSIST_OPT_ENUM:
    jw_key(w, "anyOf");
    jw_open(w, "[");
    jw_open(w, "{");
    jw_key(w, "enum");
    jw_open(w, "[");
    for (size_t i = 0; o->enum_values && o->enum_values[i]; i++)
      jw_str(w, o->enum_values[i]);
    jw_close(w, "]");
    jw_close(w, "}");
    jw_open(w, "{");
    ref(w, "substitution");
    jw_close(w, "}");
    jw_close(w, "]");
    break;
  }
  jw_close(w, "}");
}

static void plugin_rule(jw_t *w, const assist_plugin_t *p) {
  const assist_option_t *t = p->options;
  size_t stride = p->option_size, n = 0;
  if (t && stride >= sizeof(assist_option_t)) {
    while (
        n < CFG_MAX_OPTIONS &&
        ((const assist_option_t *)(const void *)((const char *)t + n * stride))
            ->name)
      n++;
  }
#define OPT(i)                                                                 \
  ((const assist_option_t *)(const void *)((const char *)t + (i)*stride))
  size_t nreq = 0;
  for (size_t i = 0; i < n; i++)
    if (OPT(i)->flags & ASSIST_OPT_REQUIRED) nreq++;

  jw_open(w, "{");
  jw_key(w, "if");
  jw_open(w, "{");
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "plugin");
  jw_open(w, "{");
  jw_kstr(w, "const", p->name);
  jw_close(w, "}");
  jw_close(w, "}");
  jw_key(w, "required");
  jw_open(w, "[");
  jw_str(w, "plugin");
  jw_close(w, "]");
  jw_close(w, "}");

  jw_key(w, "then");
  jw_open(w, "{");
  if (nreq) {
    jw_key(w, "required");
    jw_open(w, "[");
    jw_str(w, "options");
    jw_close(w, "]");
  }
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "options");
  jw_open(w, "{");
  if (p->description) jw_kstr(w, "description", p->description);
  jw_kstr(w, "type", "object");
  jw_key(w, "properties");
  jw_open(w, "{");
  for (size_t i = 0; i < n; i++) opt_schema(w, OPT(i));
  jw_close(w, "}");
  if (nreq) {
    jw_key(w, "required");
    jw_open(w, "[");
    for (size_t i = 0; i < n; i++)
      if (OPT(i)->flags & ASSIST_OPT_REQUIRED) jw_str(w, OPT(i)->name);
    jw_close(w, "]");
  }
  jw_kraw(w, "additionalProperties", "false");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "}");
  jw_close(w, "}");
#undef OPT
}

static int plugin_cmp(const void *a, const void *b) {
  const assist_plugin_t *x = *(const assist_plugin_t *const *)a;
  const assist_plugin_t *y = *(const assist_plugin_t *const *)b;
  return strcmp(x->name, y->name);
}

static void plugins_schema(jw_t *w, const assist_plugin_t *const *plugins,
                           size_t n) {
  const assist_plugin_t **sorted = xcalloc(n + 1, sizeof *sorted);
  size_t ns = 0;
  for (size_t i = 0; i < n; i++)
    if (plugins[i] && plugins[i]->name) sorted[ns++] = plugins[i];
  qsort(sorted, ns, sizeof *sorted, plugin_cmp);

  jw_key(w, "plugins");
  jw_open(w, "{");
  jw_kstr(w, "description", "plugin instances");
  jw_kstr(w, "type", "array");
  jw_key(w, "items");
  jw_open(w, "{");
  jw_kstr(w, "type", "object");
  jw_key(w, "required");
  jw_open(w, "[");
  jw_str(w, "name");
  jw_str(w, "plugin");
  jw_close(w, "]");
  jw_kraw(w, "additionalProperties", "false");
  jw_key(w, "properties");
  jw_open(w, "{");
  jw_key(w, "name");
  jw_open(w, "{");
  jw_kstr(w, "description", "unique instance name");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^[a-z0-9_-]{1,64}$");
  jw_close(w, "}");
  jw_key(w, "plugin");
  jw_open(w, "{");
  jw_kstr(w, "description",
          "plugin name: loads <plugin_dir>/<plugin>.so or "
          "<plugin_dir>/<plugin>/<plugin>.so");
  jw_kstr(w, "type", "string");
  jw_kstr(w, "pattern", "^[a-z0-9_-]{1,64}$");
  jw_close(w, "}");
  prop_str(w, "path",
           "explicit shared object path, relative to the file it is written "
           "in",
           NULL);
  jw_key(w, "enabled");
  jw_open(w, "{");
  jw_kstr(w, "description", "start this instance");
  jw_kraw(w, "default", "true");
  ref(w, "bool");
  jw_close(w, "}");
  jw_key(w, "options");
  jw_open(w, "{");
  jw_kstr(w, "description", "checked against the plugin's option table");
  jw_key(w, "type");
  jw_open(w, "[");
  jw_str(w, "object");
  jw_str(w, "null");
  jw_close(w, "]");
  jw_close(w, "}");
  jw_close(w, "}");
  if (ns) {
    jw_key(w, "allOf");
    jw_open(w, "[");
    for (size_t i = 0; i < ns; i++) {
      if (i && strcmp(sorted[i]->name, sorted[i - 1]->name) == 0) continue;
      plugin_rule(w, sorted[i]);
    }
    jw_close(w, "]");
  }
  jw_close(w, "}");
  jw_close(w, "}");
  free(sorted);
}

void config_schema_json(const assist_plugin_t *const *plugins, size_t n,
                        buf_t *out) {
  jw_t w = {.b = out};
  jw_open(&w, "{");
  jw_kstr(&w, "$schema", "https://json-schema.org/draft/2020-12/schema");
  jw_kstr(&w, "title", "assistd configuration");
  jw_kstr(&w, "description",
          "Generated by assistd --dump-schema from the core and the installed "
          "plugins' option tables; do not edit.");
  jw_kstr(&w, "type", "object");
  jw_kraw(&w, "additionalProperties", "false");
  jw_key(&w, "properties");
  jw_open(&w, "{");
  server_schema(&w);
  log_schema(&w);
  jw_key(&w, "storage");
  jw_open(&w, "{");
  jw_kstr(&w, "description", "sqlite:PATH or postgresql://...");
  jw_kstr(&w, "type", "string");
  jw_kstr(&w, "default", "sqlite:assistd.db");
  jw_kstr(&w, "pattern", "^(sqlite:.+|postgres(ql)?://|\\$\\{)");
  jw_close(&w, "}");
  secrets_schema(&w);
  jobs_schema(&w);
  auth_schema(&w);
  oauth_schema(&w);
  reminders_schema(&w);
  prop_str(&w, "plugin_dir",
           "directory of plugin shared objects, relative to this file",
           "plugins");
  jw_key(&w, "include");
  jw_open(&w, "{");
  jw_kstr(&w, "description",
          "files or directories (*.yaml, *.yml in name order) holding more "
          "plugin instances; relative to the including file");
  ref(&w, "path_list");
  jw_close(&w, "}");
  plugins_schema(&w, plugins, n);
  jw_close(&w, "}");
  defs(&w);
  jw_close(&w, "}");
  buf_puts(out, "\n");
}
