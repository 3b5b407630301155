/*
 * config.h: the daemon's configuration, from YAML (libyaml) to a validated
 * struct, with every error reported as "file:line:column: message".
 *
 * Loading happens in three steps, all pure (no loop, no sockets):
 *   1. cfg_doc_load(): parse the main file into a node tree that keeps
 *      source marks; follow `include:` of files/directories (conf.d style,
 *      *.yaml and *.yml in name order); substitute ${ENV} and ${file:/path} in
 *      scalars (the mark of a substituted scalar stays where it was written;
 *      a substituted value is flagged so it is never echoed in errors).
 *   2. config_build(): validate the core sections (unknown keys, types,
 *      ranges) into a config_t.
 *   3. opts_validate(): per plugin instance, check its `options:` map
 *      against the plugin's option table, typed and defaulted.
 * The caller (the daemon) runs step 3 after it has read each plugin's
 * descriptor.
 */
#ifndef ASSIST_CONFIG_H
#define ASSIST_CONFIG_H

#include "../common/buf.h"

#include <assist/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------- errors ---------------- */

typedef struct cfg_mark {
  const char *file; /* owned by the cfg_doc_t (interned) */
  unsigned line;    /* 1-based */
  unsigned col;     /* 1-based */
} cfg_mark_t;

typedef struct cfg_errors {
  char **items; /* owned; each "file:line:col: message" */
  size_t n;
} cfg_errors_t;

/**
 * Appends "file:line:col: message" ("file: message" when m.line is 0, e.g.
 * for a file that cannot be opened). After 100 errors one last "too many
 * errors" entry is added and further errors are dropped.
 */
void cfg_error(cfg_errors_t *e, cfg_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_errors_free(cfg_errors_t *e);

/* ---------------- node tree ---------------- */

typedef enum { CFG_NULL = 0, CFG_SCALAR, CFG_MAP, CFG_SEQ } cfg_kind_t;

typedef struct cfg_node cfg_node_t;
struct cfg_node {
  cfg_kind_t kind;
  cfg_mark_t mark;
  char *str;         /* CFG_SCALAR: value after substitution (NUL-terminated) */
  size_t len;        /* CFG_SCALAR: length of str */
  int quoted;        /* CFG_SCALAR: written quoted, so never null/bool/number */
  int substituted;   /* CFG_SCALAR: came (partly) from ${...}: secret-ish */
  int invalid;       /* an error was already reported for this value (e.g. a
                        failed substitution): validators skip it silently */
  cfg_node_t **keys; /* CFG_MAP: key scalars */
  cfg_node_t **items; /* CFG_MAP: values; CFG_SEQ: items */
  size_t n;
};

typedef struct cfg_doc cfg_doc_t; /* owns every node and file name */

/**
 * Reads path, follows includes and substitutes. Returns NULL (errors
 * appended) when the main file cannot be read or has a YAML syntax error.
 * Otherwise returns the document, possibly with errors appended (from
 * includes, substitution, duplicate keys...): callers compare errs->n.
 * A missing main file is reported as "path: cannot open: <strerror>".
 */
cfg_doc_t *cfg_doc_load(const char *path, cfg_errors_t *errs);
/** Same, from memory; for tests and fuzzing. name is used in marks, and
 * relative include:/${file:} paths resolve against its directory. */
cfg_doc_t *cfg_doc_load_mem(const char *name, const char *data, size_t len,
                            cfg_errors_t *errs);
const cfg_node_t *cfg_doc_root(const cfg_doc_t *doc);
void cfg_doc_free(cfg_doc_t *doc);
/** Value for key in a map node, or NULL. */
const cfg_node_t *cfg_map_get(const cfg_node_t *map, const char *key);

/* ---------------- the validated core configuration ---------------- */

typedef struct cfg_listen {
  char *host; /* "127.0.0.1", "::1", "0.0.0.0" */
  int port;
  cfg_mark_t mark;
} cfg_listen_t;

typedef struct cfg_server {
  cfg_listen_t *listen; /* at least one */
  size_t nlisten;
  uint32_t max_connections;   /* default 10000 */
  uint64_t max_header_size;   /* bytes, default 16 KiB */
  uint32_t max_headers;       /* default 100 */
  uint64_t max_body_size;     /* bytes, default 1 MiB (routes may raise) */
  uint64_t header_timeout_ms; /* default 10 s */
  uint64_t body_timeout_ms;   /* default 30 s (between body bytes) */
  uint64_t idle_timeout_ms;   /* keep-alive idle, default 60 s */
  uint64_t drain_timeout_ms;  /* shutdown and reload drain, default 10 s */
  char *static_dir;           /* admin UI files; NULL for none */
  char *public_url;           /* e.g. "https://assist.example.com"; NULL */
} cfg_server_t;

typedef struct cfg_instance {
  char *name;   /* unique, [a-z0-9_-]+ */
  char *plugin; /* plugin name, e.g. "csv-analysis" */
  char *path;   /* resolved .so path: `path:` or <plugin_dir>/<plugin>.so */
  int enabled;  /* default 1 */
  const cfg_node_t *options; /* the `options:` map (borrowed from doc), or
                                NULL */
  cfg_mark_t mark;           /* where the instance was declared */
} cfg_instance_t;

/* secrets: the master key (core/secrets). */
typedef struct cfg_secrets {
  char *key_file; /* resolved path of the active key file, or NULL */
  char *key_env;  /* or: environment variable holding it (64 hex / base64) */
  int create;     /* create key_file (0600) when missing; default: 1 for the
                     default key file next to a SQLite database, else 0 */
  int defaulted;  /* key_file is the default <database>.key */
  char **previous_key_files; /* resolved; older keys, decrypt only */
  size_t nprevious;
  char **previous_key_envs; /* older keys from the environment */
  size_t nprevious_env;
} cfg_secrets_t;

/* jobs: engine settings (core/jobs). */
typedef struct cfg_jobs {
  uint64_t lease_ms; /* default 30 s; heartbeat every lease/3 */
  uint64_t poll_ms;  /* safety poll, default 5 s */
} cfg_jobs_t;

/* auth: accounts, sessions and sign-in limits (core/auth). Durations in
 * milliseconds; 0 means the service's default. */
typedef struct cfg_auth {
  int allow_registration;        /* POST /api/auth/register; default 0 */
  uint64_t session_idle_ms;      /* default 1 day */
  uint64_t session_lifetime_ms;  /* default 7 days */
  uint64_t max_failures_account; /* failed sign-ins per window; default 5 */
  uint64_t max_failures_addr;    /* default 20 */
  uint64_t lockout_ms;           /* default 15 min */
  char *client_addr_header;      /* trusted proxy's header, or NULL */
  char *bootstrap_admin;         /* email: created with a generated password
                                    (printed once) when no admin exists; NULL */
} cfg_auth_t;

/* oauth: OAuth2 connections (core/oauth). One entry per provider, in file
 * order; the map key is the name (URL segment). Strings NULL when not
 * given (the kind's default applies); revoke_url and extra_params may be
 * "" (none). client_secret is secret: never logged or echoed. */
typedef struct cfg_oauth_provider {
  char *name;          /* [a-z0-9_-], 1..32 characters */
  char *kind;          /* "google", "microsoft" or "generic" */
  char *client_id;     /* required */
  char *client_secret; /* NULL: public client (PKCE only) */
  char *authorize_url, *token_url, *revoke_url;
  char *tenant;       /* microsoft only */
  char *scopes;       /* space-separated (a YAML list is joined) */
  char *extra_params; /* URL-encoded "a=b&c=d"; replaces the defaults */
  cfg_mark_t mark;
} cfg_oauth_provider_t;

typedef struct cfg_oauth {
  char *redirect_base;   /* default: server.public_url */
  char *done_url;        /* where the callback sends the browser; NULL: JSON */
  uint64_t state_ttl_ms; /* default 10 min */
  uint64_t refresh_margin_ms; /* default 5 min */
  char *ca_file;              /* PEM bundle for provider TLS (tests); NULL */
  cfg_oauth_provider_t *providers;
  size_t nproviders;
  cfg_mark_t mark; /* where `oauth:` is */
} cfg_oauth_t;

/* reminders: the appointment-reminder service (core/assistant). Strings
 * are never NULL after config_build (defaults filled in). */
typedef struct cfg_reminders {
  char *public_url;              /* RSVP links; default server.public_url, else
                                    http://<first listen address> */
  char *email_notifier;          /* instance name or "dry-run" (default) */
  char *call_notifier;           /* instance name or "dry-run" (default) */
  char *from_email;              /* default "reminders@localhost" */
  char *from_name;               /* default "assistd" */
  uint64_t horizon_ms;           /* default 60 days (1d..366d) */
  uint64_t dispatch_interval_ms; /* default 30 s (1s..1h) */
  uint64_t rsvp_ttl_ms;          /* default 14 days (1s..365d) */
  cfg_mark_t mark;               /* where `reminders:` is (line 0: absent) */
} cfg_reminders_t;

typedef struct config {
  char *file;     /* main file path as given */
  cfg_doc_t *doc; /* owned: keeps nodes and marks alive */
  cfg_server_t server;
  char *plugin_dir; /* relative paths resolve against the main file dir */
  char *storage;    /* "sqlite:PATH" or "postgresql://..."; default
                       "sqlite:assistd.db" (later issues) */
  char *log_level;  /* "debug|info|warn|error", default "info" */
  char *log_format; /* "json|text", default "json" */
  cfg_secrets_t secrets;
  cfg_jobs_t jobs;
  cfg_auth_t auth;
  cfg_oauth_t oauth;
  cfg_reminders_t reminders;
  cfg_instance_t *instances;
  size_t ninstances;
} config_t;

/**
 * Step 2 alone: validates the core sections of doc (taking ownership of it,
 * even on failure). file is the main file's name (relative paths resolve
 * against its directory). Returns NULL on any error (appended to errs).
 */
config_t *config_build(cfg_doc_t *doc, const char *file, cfg_errors_t *errs);

/** Steps 1 and 2. Returns NULL and fills errs on any error. */
config_t *config_load(const char *path, cfg_errors_t *errs);
config_t *config_load_mem(const char *name, const char *data, size_t len,
                          cfg_errors_t *errs);
/**
 * For --check-config: like config_load(), but returns the configuration
 * even when errs has entries, so the caller can go on to validate every
 * instance's options and report all problems at once. Fields with errors
 * keep their defaults (server.nlisten may be 0); instances without a valid
 * name and plugin are left out. NULL only when the main file cannot be read
 * or has a YAML syntax error. Never run a daemon on a result that came with
 * errors.
 */
config_t *config_check(const char *path, cfg_errors_t *errs);
void config_free(config_t *cfg);

/* ---------------- plugin options ---------------- */

/** A typed, validated option value. */
typedef struct opt_value {
  const char *name; /* points into the plugin's table (stable while the
                       plugin is loaded) */
  assist_option_type_t type;
  uint32_t flags;
  int is_set;    /* 1 if given in YAML, 0 if defaulted/absent */
  int has_value; /* 0 if not set and no default */
  char *str;     /* STRING/ENUM: value; other types: canonical text
                    ("8080", "true", "16384" for 16KB, "a,b" for a list);
                    NULL when !has_value */
  int64_t i;     /* INT/SIZE/DURATION/BOOL */
  double d;      /* DOUBLE (and INT/SIZE/DURATION as double) */
  char **list;   /* STRING_LIST: NULL-terminated */
  size_t nlist;
} opt_value_t;

typedef struct opt_set {
  opt_value_t *v; /* owned, in table order */
  size_t n;
} opt_set_t;

/**
 * Checks a plugin's option table itself (names, types, defaults parse,
 * enum lists present). Returns 0, or -1 with a message in err.
 */
int opts_table_check(const assist_option_t *table, size_t stride, char *err,
                     size_t errlen);
/**
 * Validates `options` (a CFG_MAP node or NULL) against the table: unknown
 * keys, wrong types, out-of-range values, bad enum values and missing
 * REQUIRED options are errors at the offending node's mark (missing ones
 * at `where`). Returns 0 with *out filled (free with opts_free()), or -1
 * with errors appended and *out left empty (n == 0; opts_free() is a no-op).
 */
int opts_validate(const assist_option_t *table, size_t stride,
                  const cfg_node_t *options, cfg_mark_t where, opt_set_t *out,
                  cfg_errors_t *errs);
const opt_value_t *opts_find(const opt_set_t *set, const char *name);
/** 1 if both sets hold the same values. */
int opts_equal(const opt_set_t *a, const opt_set_t *b);
/** 1 if every differing option is flagged ASSIST_OPT_RELOADABLE. */
int opts_diff_reloadable(const opt_set_t *a, const opt_set_t *b);
/** JSON object of the values, secrets shown as "***". */
void opts_to_json(const opt_set_t *set, buf_t *out);
void opts_free(opt_set_t *set);

/** Parses "10MB", "512k", "1048576" into bytes (all units binary).
 * 0, -EINVAL (syntax) or -ERANGE (overflows 64 bits). */
int parse_size(const char *s, uint64_t *out);
/** Parses "250ms", "30s", "5m", "2h", "1d", "1500" (ms) into milliseconds.
 * 0, -EINVAL or -ERANGE. */
int parse_duration_ms(const char *s, uint64_t *out);

/* ---------------- JSON Schema ---------------- */

/**
 * Writes the JSON Schema (draft 2020-12) of the whole configuration: the
 * core sections plus, for each plugin descriptor given, an `options`
 * schema selected by `plugin: <name>`. Output is deterministic.
 */
void config_schema_json(const assist_plugin_t *const *plugins, size_t n,
                        buf_t *out);

#endif
