/*
 * assist/plugin.h: the assistd plugin SDK, ABI 1.
 *
 * This header is all a plugin author needs. It includes only standard C
 * headers; no libuv, json-c, llhttp or libcurl type crosses it.
 *
 * A plugin is a shared object that exports exactly one data symbol,
 * ASSIST_PLUGIN_SYMBOL ("assist_plugin_v1"), of type assist_plugin_t. The
 * host reads and checks that descriptor (magic, ABI major/minor,
 * struct_size, option table) before running any plugin code.
 *
 * Versioning. A plugin built against ABI major M, minor m loads into a host
 * of major M and minor >= m. Anything else is refused with a clear message.
 * Structures shared with the host only ever grow at the end; their first
 * member is a struct_size so either side can tell what the other knows.
 * Host API members added after 1.0 must be checked with ASSIST_HOST_HAS().
 *
 * Lifecycle, all on the host's loop thread:
 *   init(host, inst, &state)   read options, register routes, timers...
 *   start(state)               begin work (may be NULL)
 *   reconfigure(state)         options changed (may be NULL: restart instead)
 *   stop(state, done, arg)     quiesce; call done(arg) once drained
 *   destroy(state)             free everything (may be NULL)
 * Every resource an instance obtains through the host (routes, timers,
 * work, metrics) is recorded against the instance and released by the host
 * when the instance goes away, even if the plugin forgets.
 *
 * Threading. Every callback runs on the host loop thread and must not
 * block on disk, network or long computation: use queue_work() for that.
 * Host API functions may only be called from the loop thread, except
 * log() and the functions documented as thread-safe.
 *
 * Ownership words used on every pointer parameter:
 *   borrowed  valid only until the call (or the callback) returns;
 *   copied    the host copies it; the caller keeps ownership;
 *   transfer  the callee takes ownership (on error the caller keeps it);
 *   host      owned by the host; valid for the documented lifetime.
 *
 * Errors are 0 (ASSIST_OK) or a negative ASSIST_E* code; plugins never
 * abort() or exit().
 */
#ifndef ASSIST_PLUGIN_H
#define ASSIST_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASSIST_ABI_MAJOR 1
#define ASSIST_ABI_MINOR 2
#define ASSIST_ABI_VERSION_HEX ((ASSIST_ABI_MAJOR << 16) | ASSIST_ABI_MINOR)

/** "ASPL" read as a little-endian 32-bit word. */
#define ASSIST_PLUGIN_MAGIC 0x4C505341u
#define ASSIST_PLUGIN_SYMBOL "assist_plugin_v1"

#if defined(__GNUC__)
#define ASSIST_PLUGIN_EXPORT __attribute__((visibility("default")))
#define ASSIST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ASSIST_PLUGIN_EXPORT
#define ASSIST_PRINTF(a, b)
#endif

/* ------------------------------------------------------------------ */
/* Errors: equal to -errno where POSIX has one.                        */

enum {
  ASSIST_OK = 0,
  ASSIST_ENOMEM = -12,
  ASSIST_EACCES = -13,
  ASSIST_EBUSY = -16,
  ASSIST_EEXIST = -17,
  ASSIST_EINVAL = -22,
  ASSIST_ENOSPC = -28,
  ASSIST_ERANGE = -34,
  ASSIST_ENOENT = -2,
  ASSIST_EIO = -5,
  ASSIST_ENOTSUP = -95,
  ASSIST_ETIMEDOUT = -110,
  ASSIST_ECANCELED = -125,
  /** ABI 1.1: a ciphertext or token that does not authenticate (tampered,
   * another context, purpose or instance). */
  ASSIST_EBADMSG = -74,
  /** ABI 1.1: a valid token whose time has passed. */
  ASSIST_EEXPIRED = -127,
  /** ABI 1.1: an OAuth connection the provider no longer honours (revoked,
   * password changed, expired grant): the person must connect again;
   * asking again does not help. */
  ASSIST_EREAUTH = -128,
  /** ABI 1.2: a non-idempotent request (an e-mail send, a call) may or may
   * not have been carried out: reconcile, never resend blindly. */
  ASSIST_EAMBIGUOUS = -129,
  /** Returned by a route handler that will respond later. */
  ASSIST_ASYNC = -4096,
};

/* ------------------------------------------------------------------ */
/* Opaque handles. All are owned by the host.                          */

/** One running instance of a plugin (a plugin may run as several). */
typedef struct assist_instance assist_instance_t;
/** One inbound HTTP request and its pending response. */
typedef struct assist_request assist_request_t;
/** A timer started with timer_start(). */
typedef struct assist_timer assist_timer_t;
/** A unit of work queued with queue_work(). */
typedef struct assist_work assist_work_t;
/** A metric family registered with metric_register(). */
typedef struct assist_metric assist_metric_t;
/** A durable job being run by a handler (ABI 1.1). */
typedef struct assist_job assist_job_t;
struct assist_job_kind;       /* below */
struct assist_job_spec;       /* below */
struct assist_audit_record;   /* below */
struct assist_http_request;   /* below, ABI 1.2 */
struct assist_http_response;  /* below, ABI 1.2 */
struct assist_cal_event;      /* below, ABI 1.2 */
struct assist_provider;       /* below, ABI 1.2 */
struct assist_delivery_event; /* below, ABI 1.2 */
struct assist_oauth_conn;     /* below, ABI 1.2 */

/* ------------------------------------------------------------------ */
/* Options: declared once, validated and typed by the host.            */

typedef enum {
  ASSIST_OPT_STRING = 1,
  ASSIST_OPT_INT, /**< 64-bit signed integer */
  ASSIST_OPT_BOOL,
  ASSIST_OPT_DOUBLE,
  ASSIST_OPT_SIZE,     /**< bytes; accepts "10MB", "512k" */
  ASSIST_OPT_DURATION, /**< milliseconds; accepts "250ms", "30s", "5m", "2h" */
  ASSIST_OPT_ENUM,     /**< one of enum_values */
  ASSIST_OPT_STRING_LIST,
} assist_option_type_t;

enum {
  ASSIST_OPT_REQUIRED = 1u << 0,
  /** May change on reload without restarting the instance. */
  ASSIST_OPT_RELOADABLE = 1u << 1,
  /** A secret: never logged, never shown in the API or dumps. */
  ASSIST_OPT_SECRET = 1u << 2,
  ASSIST_OPT_DEPRECATED = 1u << 3,
};

/**
 * One option. Tables end with an entry whose name is NULL. The host walks
 * the table with the stride given by assist_plugin_t.option_size, so this
 * struct may grow in a later minor.
 */
typedef struct assist_option {
  const char *name; /**< [a-z0-9_]+ */
  assist_option_type_t type;
  uint32_t flags;                 /**< ASSIST_OPT_* */
  const char *default_value;      /**< as written in YAML; NULL for none */
  double min, max;                /**< numeric range; ignored when min > max */
  const char *const *enum_values; /**< NULL-terminated, for ENUM */
  const char *description;
} assist_option_t;

/* ------------------------------------------------------------------ */
/* Logging.                                                            */

typedef enum {
  ASSIST_LOG_DEBUG = 0,
  ASSIST_LOG_INFO = 1,
  ASSIST_LOG_WARN = 2,
  ASSIST_LOG_ERROR = 3,
} assist_log_level_t;

/* ------------------------------------------------------------------ */
/* HTTP routes.                                                        */

/**
 * A route handler. Runs on the loop thread. Return ASSIST_OK after calling
 * respond() (or respond_ex()), ASSIST_ASYNC to respond later from any loop
 * callback, or a negative error for a 500. The request stays valid until it
 * has been responded to, even if the client goes away.
 */
typedef int (*assist_route_cb)(assist_request_t *req, void *ud);

enum {
  /**
   * ABI 1.1. The request body is not kept in memory: the host streams it
   * to a temporary file as it arrives (pausing the client while the disk
   * catches up) and the handler runs once it is complete. req_body()
   * then returns NULL and req_body_path() the file, which the host
   * deletes after the response unless the plugin moved it away (rename()
   * it into the plugin's own directory on the same filesystem, on the
   * thread pool). max_body applies as usual (413).
   */
  ASSIST_ROUTE_SPOOL_BODY = 1u << 0,
};

typedef struct assist_route {
  size_t struct_size; /**< sizeof(assist_route_t) */
  const char *method; /**< "GET", "POST"...; copied */
  /** "/api/things/{id}" ; "{name}" matches one segment, a final "{rest*}"
   * matches the remainder; copied */
  const char *pattern;
  uint64_t max_body; /**< request body cap in bytes; 0: server default */
  assist_route_cb handler;
  void *ud;       /**< borrowed; passed back to handler */
  uint32_t flags; /**< ABI 1.1: ASSIST_ROUTE_* */
} assist_route_t;

/** A response header: name and value copied by respond_ex(). */
typedef struct assist_header {
  const char *name;
  const char *value;
} assist_header_t;

/* ------------------------------------------------------------------ */
/* Timers, work and metrics.                                           */

typedef void (*assist_timer_cb)(void *ud);
/** Runs on a pool thread: may block; must not call the host API but log(). */
typedef void (*assist_work_cb)(void *ud);
/** Runs on the loop thread; status is ASSIST_OK or ASSIST_ECANCELED. */
typedef void (*assist_work_done_cb)(void *ud, int status);
typedef void (*assist_done_cb)(void *arg);

typedef enum {
  ASSIST_METRIC_COUNTER = 1,
  ASSIST_METRIC_GAUGE,
  ASSIST_METRIC_HISTOGRAM,
} assist_metric_type_t;

/* ------------------------------------------------------------------ */
/* The host API table, handed to init(). Append-only.                  */

typedef struct assist_host_api {
  size_t struct_size; /**< sizeof the host's table */
  uint16_t abi_major;
  uint16_t abi_minor;
  const char *host_version; /**< host, e.g. "0.1.0" */

  /* -- Logging. Thread-safe. Component is the instance name. -- */
  void (*log)(assist_instance_t *inst, assist_log_level_t level,
              const char *fmt, ...) ASSIST_PRINTF(3, 4);
  /** Returns "invalid argument"-style text for an ASSIST_E* code (host). */
  const char *(*strerror)(int err);

  /* -- Instance identity and options. -- */
  /** The instance name from the configuration (host; instance lifetime). */
  const char *(*instance_name)(assist_instance_t *inst);
  /**
   * Option values, already validated and with defaults applied. Returned
   * strings are host-owned and valid until the instance is reconfigured or
   * destroyed. Asking for an undeclared option or with the wrong type
   * returns the zero value and logs an error.
   */
  const char *(*opt_string)(assist_instance_t *inst, const char *name);
  int64_t (*opt_int)(assist_instance_t *inst, const char *name);
  int (*opt_bool)(assist_instance_t *inst, const char *name);
  double (*opt_double)(assist_instance_t *inst, const char *name);
  /** Element i of a STRING_LIST option, or NULL past the end (host). */
  const char *(*opt_list)(assist_instance_t *inst, const char *name, size_t i);
  /** 1 if the option was set in the configuration, 0 if defaulted. */
  int (*opt_is_set)(assist_instance_t *inst, const char *name);

  /* -- HTTP routes. Removed with the instance. -- */
  /** route: borrowed; strings copied. Returns ASSIST_EEXIST on a clash. */
  int (*route_add)(assist_instance_t *inst, const assist_route_t *route);

  /* Request accessors: every returned pointer is host-owned and valid until
   * the response is sent. Strings are NUL-terminated; *len (if not NULL)
   * receives the length. Missing items return NULL. */
  const char *(*req_method)(assist_request_t *req);
  const char *(*req_path)(assist_request_t *req);
  const char *(*req_param)(assist_request_t *req, const char *name);
  /** First value of a query parameter, percent-decoded. */
  const char *(*req_query)(assist_request_t *req, const char *name);
  /** Header value by case-insensitive name (first occurrence). */
  const char *(*req_header)(assist_request_t *req, const char *name);
  /** Raw body bytes exactly as received (NUL-terminated for convenience). */
  const char *(*req_body)(assist_request_t *req, size_t *len);
  /** Request id (also sent as X-Request-Id). */
  const char *(*req_id)(assist_request_t *req);

  /**
   * Respond. body (may be NULL) and content_type are copied. Completes the
   * request; calling it twice returns ASSIST_EINVAL. May be called later
   * than the handler (after it returned ASSIST_ASYNC).
   */
  int (*respond)(assist_request_t *req, int status, const char *content_type,
                 const void *body, size_t len);
  /** As respond(), with extra headers (copied, n entries). */
  int (*respond_ex)(assist_request_t *req, int status,
                    const assist_header_t *headers, size_t n, const void *body,
                    size_t len);

  /* -- Timers. Stopped and freed with the instance. -- */
  /**
   * Fires after timeout_ms, then every repeat_ms if non-zero. Returns a
   * host-owned handle valid until timer_stop() or, for a one-shot timer,
   * until its callback returns. NULL on failure.
   */
  assist_timer_t *(*timer_start)(assist_instance_t *inst, uint64_t timeout_ms,
                                 uint64_t repeat_ms, assist_timer_cb cb,
                                 void *ud);
  void (*timer_stop)(assist_timer_t *timer);

  /* -- Work on the thread pool. -- */
  /**
   * Runs work(ud) on a pool thread, then done(ud, status) on the loop.
   * done always runs exactly once: ASSIST_ECANCELED if the work was
   * cancelled before it started or the instance was torn down first.
   * Returns NULL on failure (then neither callback runs).
   */
  assist_work_t *(*queue_work)(assist_instance_t *inst, assist_work_cb work,
                               assist_work_done_cb done, void *ud);
  /** Cancels work that has not started. Returns ASSIST_EBUSY if running. */
  int (*work_cancel)(assist_work_t *work);

  /* -- Metrics, exported at /metrics. -- */
  /**
   * Registers a metric family "assist_<name>" with the label
   * instance="<instance name>". buckets (copied) only for histograms.
   * Registering the same name twice returns the same family.
   */
  assist_metric_t *(*metric_register)(assist_instance_t *inst,
                                      assist_metric_type_t type,
                                      const char *name, const char *help,
                                      const double *buckets, size_t nbuckets);
  /** labels: borrowed, e.g. "kind=\"x\"" or NULL. Thread-safe. */
  void (*metric_add)(assist_metric_t *m, const char *labels, double v);
  void (*metric_set)(assist_metric_t *m, const char *labels, double v);
  void (*metric_observe)(assist_metric_t *m, const char *labels, double v);

  /**
   * Thread-safe: runs cb(ud) on the loop thread soon. For plugin threads
   * that need to hand results back. Returns ASSIST_OK or ASSIST_ENOMEM.
   */
  int (*post_to_loop)(assist_instance_t *inst, assist_done_cb cb, void *ud);

  /* ================= ABI 1.1 ================= */

  /* -- Requests. -- */
  /** ASSIST_ROUTE_SPOOL_BODY routes: the complete body's temporary file
   * (host-owned path, valid until the response), else NULL. */
  const char *(*req_body_path)(assist_request_t *req, uint64_t *len);
  /** The authenticated user's id, or NULL when the request carries no
   * authentication (host; valid until the response). */
  const char *(*req_user)(assist_request_t *req);

  /* -- Storage: a key-value area private to the instance's plugin and
   * name ("scope"), durable in the daemon's database. All operations are
   * asynchronous; callbacks run on the loop thread, exactly once, unless
   * the call returned an error. Keys are UTF-8 strings of at most 512
   * bytes; values are bytes (copied). -- */
  /** value: borrowed for the callback; status ASSIST_OK or ASSIST_ENOENT or
   * an error. */
  int (*kv_get)(assist_instance_t *inst, const char *key,
                void (*cb)(void *ud, int status, const void *value, size_t len),
                void *ud);
  int (*kv_put)(assist_instance_t *inst, const char *key, const void *value,
                size_t len, void (*cb)(void *ud, int status), void *ud);
  /** status ASSIST_ENOENT if there was no such key. */
  int (*kv_delete)(assist_instance_t *inst, const char *key,
                   void (*cb)(void *ud, int status), void *ud);
  /** Keys starting with prefix, in key order, at most limit (0: 1000).
   * Arrays borrowed for the callback. */
  int (*kv_list)(assist_instance_t *inst, const char *prefix, size_t limit,
                 void (*cb)(void *ud, int status, size_t n,
                            const char *const *keys, const void *const *values,
                            const size_t *lens),
                 void *ud);

  /* -- Durable jobs: survive restarts, run at least once (make side
   * effects idempotent, e.g. keyed by job_id), retried with exponential
   * backoff, dead-lettered after max_attempts. Kinds are namespaced by the
   * host as "<instance>.<kind>". -- */
  /** During init() only. kind: borrowed struct, strings copied. */
  int (*job_kind_register)(assist_instance_t *inst,
                           const struct assist_job_kind *kind);
  /** Queues a job (spec borrowed, strings copied). cb (may be NULL) gets
   * the job id; existed is 1 when the idempotency key matched a job. */
  int (*job_enqueue)(assist_instance_t *inst,
                     const struct assist_job_spec *spec,
                     void (*cb)(void *ud, int status, int64_t id, int existed),
                     void *ud);
  /** Cancels a queued or running job of this instance (a running handler
   * sees job_cancelled() become 1). */
  int (*job_cancel)(assist_instance_t *inst, int64_t id,
                    void (*cb)(void *ud, int status), void *ud);
  int64_t (*job_id)(assist_job_t *job);
  /** The payload JSON text (host; valid until job_complete()). */
  const char *(*job_payload)(assist_job_t *job);
  /** 1 for the first run. */
  int (*job_attempt)(assist_job_t *job);
  /** 1 once the job was cancelled while running: stop and complete. */
  int (*job_cancelled)(assist_job_t *job);
  /**
   * Finishes a run, exactly once per handler call: outcome
   * ASSIST_JOB_OK, ASSIST_JOB_FAIL (retry with backoff, error copied) or
   * ASSIST_JOB_RETRY_AFTER (run again after retry_after_s; not a failure).
   * Answer transient errors (storage or a provider unavailable) with
   * RETRY_AFTER: FAIL counts towards max_attempts and the dead letter.
   * The job handle is invalid afterwards.
   */
  int (*job_complete)(assist_job_t *job, int outcome, int retry_after_s,
                      const char *error);

  /* -- Secrets: encryption at rest and signed tokens under the daemon's
   * master key, which plugins never see. Synchronous (microseconds of
   * CPU: fine on the loop). Every context and purpose is prefixed by the
   * host with the instance name, so one instance can neither decrypt
   * another's data nor accept its tokens. Results are host-allocated:
   * release them with secret_free(). -- */
  /**
   * Encrypts len bytes (XChaCha20-Poly1305, key id inside) bound to
   * context (1..200 printable ASCII characters, e.g. "oauth:refresh:42";
   * borrowed): decrypting needs the same instance and context. *out: a
   * NUL-terminated text ciphertext, safe to store with kv_put. Values
   * stored through kv_put this way are re-encrypted by the host's key
   * rotation (assistd secrets rotate).
   */
  int (*secret_encrypt)(assist_instance_t *inst, const char *context,
                        const void *plain, size_t len, char **out);
  /** Decrypts; *out is the plaintext followed by a NUL, *len (may be NULL)
   * its length. ASSIST_EBADMSG when tampered or for another context or
   * instance, ASSIST_EINVAL when not a ciphertext. */
  int (*secret_decrypt)(assist_instance_t *inst, const char *context,
                        const char *ciphertext, char **out, size_t *len);
  /** A URL-safe token carrying payload (signed, NOT encrypted: put ids in
   * it, not secrets) for purpose (1..40 characters of [a-z0-9_.-]), valid
   * ttl_s > 0 seconds. */
  int (*token_sign)(assist_instance_t *inst, const char *purpose,
                    const char *payload, int64_t ttl_s, char **out);
  /** ASSIST_OK with *payload (may be NULL), ASSIST_EEXPIRED, or
   * ASSIST_EBADMSG (forged, another purpose or instance, malformed). */
  int (*token_verify)(assist_instance_t *inst, const char *purpose,
                      const char *token, char **payload);
  /** Zeroes and frees a result of the secret_ and token_ functions. */
  void (*secret_free)(void *p);

  /* -- Audit: appends to the daemon's tamper-evident audit log, with
   * actor = the instance name. Asynchronous; cb (may be NULL) runs on the
   * loop with the entry's sequence number once it is durable. -- */
  int (*audit_append)(assist_instance_t *inst,
                      const struct assist_audit_record *rec,
                      void (*cb)(void *ud, int status, int64_t seq), void *ud);

  /* -- OAuth2 connections (ABI 1.1, appended): a valid access token for
   * connection connection_id (an id from the daemon's connections API),
   * refreshed by the host when it is about to expire. Plugins never see
   * refresh tokens. Asynchronous: cb runs later on the loop thread, exactly
   * once, unless the call returned an error. token: borrowed for the
   * callback (copy it; never log it), NULL unless status is ASSIST_OK;
   * expires_at_ms: Unix ms. status: ASSIST_OK; ASSIST_ENOENT (no such
   * connection, or disconnected); ASSIST_EREAUTH (the person must connect
   * again); ASSIST_EIO (provider unreachable or erroring: try later);
   * ASSIST_ECANCELED (daemon shutting down). The call returns
   * ASSIST_ENOTSUP when no OAuth provider is configured. -- */
  int (*oauth_token)(assist_instance_t *inst, int64_t connection_id,
                     void (*cb)(void *ud, int status, const char *token,
                                int64_t expires_at_ms),
                     void *ud);

  /* ================= ABI 1.2 ================= */

  /* -- Outbound HTTP through the host's client (libcurl multi on the
   * loop): TLS verification always on, per-host concurrency limits,
   * retries of idempotent requests honouring Retry-After, never a blind
   * retry of a non-idempotent one. Asynchronous: cb runs on the loop
   * thread exactly once, unless the call returned an error; the response
   * is borrowed for the callback. Requests still running when the
   * instance goes away are cancelled (cb gets ASSIST_ECANCELED). -- */
  /** req: borrowed, everything copied. id (may be NULL): for http_cancel.
   * ASSIST_EINVAL for a malformed request (URL not http/https, bad header).
   */
  int (*http_request)(assist_instance_t *inst,
                      const struct assist_http_request *req,
                      void (*cb)(void *ud,
                                 const struct assist_http_response *resp),
                      void *ud, uint64_t *id);
  /** The request completes later with ASSIST_ECANCELED. ASSIST_ENOENT if
   * it already completed. */
  int (*http_cancel)(assist_instance_t *inst, uint64_t id);

  /* -- Providers: what a plugin offers the assistant (core/assistant).
   * During init() only; released with the instance. p: borrowed, strings
   * copied. ASSIST_EEXIST: the instance already registered that kind. -- */
  int (*provider_register)(assist_instance_t *inst,
                           const struct assist_provider *p);

  /* -- Calendar sources hand the assistant normalized events. Events are
   * keyed by (user_id, source, external_id); source is the instance name
   * plus ":" plus the plugin's calendar key (the host prefixes the
   * instance name, so the plugin passes only its key, e.g. "primary").
   * Asynchronous; cb (may be NULL) runs on the loop once the events are
   * durable and re-planned (status ASSIST_OK, or an error: nothing of the
   * batch was stored). -- */
  /** Inserts or updates n events (borrowed, copied) in one transaction.
   * An event whose etag and content are unchanged is left alone; a
   * changed one is re-planned; status "cancelled" removes its plan.
   * sync_id stamps every event of the batch (see calendar_prune). */
  int (*calendar_put)(assist_instance_t *inst,
                      const struct assist_cal_event *events, size_t n,
                      int64_t sync_id, void (*cb)(void *ud, int status),
                      void *ud);
  /** After a full sync stamped every current event with sync_id: removes
   * (as cancelled, with their plans) the events of (user_id, source) whose
   * sync_id differs. removed: how many. The person: user_id, or when 0
   * the account with e-mail user_email. */
  int (*calendar_prune)(assist_instance_t *inst, int64_t user_id,
                        const char *user_email, const char *source,
                        int64_t sync_id,
                        void (*cb)(void *ud, int status, int64_t removed),
                        void *ud);

  /* -- Notifiers report what happened to a delivery (webhooks). ev:
   * borrowed, copied. Duplicates (same provider_event_id) are ignored;
   * out-of-order events never move a delivery backwards (delivered does
   * not become sent). cb (may be NULL): status ASSIST_OK, ASSIST_ENOENT
   * (no such delivery) or an error. -- */
  int (*delivery_event)(assist_instance_t *inst,
                        const struct assist_delivery_event *ev,
                        void (*cb)(void *ud, int status), void *ud);

  /** The value of response header name (case-insensitive), or NULL.
   * Borrowed like the response. */
  const char *(*http_header)(const struct assist_http_response *resp,
                             const char *name);

  /** The active OAuth connections at provider (a configured provider
   * name, e.g. "google"), for a plugin that syncs every linked account.
   * conns: borrowed for the callback. ASSIST_ENOTSUP without OAuth. */
  int (*oauth_connections)(assist_instance_t *inst, const char *provider,
                           void (*cb)(void *ud, int status, size_t n,
                                      const struct assist_oauth_conn *conns),
                           void *ud);
} assist_host_api_t;

/** One linked account (ABI 1.2), for oauth_connections(). */
typedef struct assist_oauth_conn {
  int64_t connection_id; /**< for oauth_token() */
  int64_t user_id;       /**< the person who linked it */
  const char *email;     /**< the account's address at the provider */
  const char *state;     /**< "active" or "needs_reauth" */
} assist_oauth_conn_t;

/* ------------------------------------------------------------------ */
/* ABI 1.2: outbound HTTP.                                             */

enum {
  /** Retry like an idempotent request (the operation is safe to repeat). */
  ASSIST_HTTP_IDEMPOTENT = 1u << 0,
  /** Never retry. */
  ASSIST_HTTP_NO_RETRY = 1u << 1,
  /** Follow up to 5 redirects (http/https only). */
  ASSIST_HTTP_FOLLOW_REDIRECTS = 1u << 2,
};

/** A request; every pointer borrowed and copied by http_request(). */
typedef struct assist_http_request {
  size_t struct_size; /**< sizeof(assist_http_request_t) */
  const char *method; /**< "GET", "POST"...; NULL: GET, or POST with a body */
  const char *url;    /**< absolute http:// or https:// URL */
  const assist_header_t *headers; /**< request headers, or NULL */
  size_t nheaders;
  const void *body; /**< NULL: none */
  size_t body_len;
  uint32_t timeout_ms;         /**< per attempt; 0: 30 s */
  uint64_t max_response_bytes; /**< 0: 16 MiB */
  uint32_t flags;              /**< ASSIST_HTTP_* */
} assist_http_request_t;

/** A response (host; borrowed for the callback). */
typedef struct assist_http_response {
  size_t struct_size;
  /** ASSIST_OK: an HTTP status arrived (any status, see status);
   * ASSIST_ETIMEDOUT; ASSIST_EIO (DNS, connect, TLS, transfer);
   * ASSIST_ERANGE (body over max_response_bytes); ASSIST_ECANCELED;
   * ASSIST_EAMBIGUOUS (non-idempotent request that may have been
   * processed: reconcile, never resend blindly). */
  int result;
  int status;       /**< HTTP status, 0 when none arrived */
  const char *body; /**< NUL-terminated (not counted), never NULL */
  size_t body_len;
  const assist_header_t *headers; /**< in order as received */
  size_t nheaders;
  /** For ASSIST_OK with 429/503: seconds the server asked to wait
   * (Retry-After), else 0. */
  int retry_after_s;
  const char *error; /**< what went wrong, for logs; "" when none */
} assist_http_response_t;

/* ------------------------------------------------------------------ */
/* ABI 1.2: calendar events, providers, deliveries.                    */

/** One attendee of an event. */
typedef struct assist_cal_attendee {
  const char *email;
  const char *name; /**< may be NULL */
  /** "needsAction", "accepted", "declined" or "tentative". */
  const char *status;
  int self; /**< 1: this is the person the calendar belongs to */
} assist_cal_attendee_t;

/** A normalized calendar event (one instance of a recurring series). */
typedef struct assist_cal_event {
  size_t struct_size;     /**< sizeof(assist_cal_event_t) */
  int64_t user_id;        /**< the person whose calendar this is, or 0 ... */
  const char *user_email; /**< ... and the e-mail of an existing account */
  const char *source;     /**< the plugin's calendar key, e.g. "primary" */
  /** Unique within the source; for an instance of a recurring series,
   * the series id plus the instance's original start (Google's instance
   * id, or "<UID>/<RECURRENCE-ID as UTC>" for ICS). */
  const char *external_id;
  const char *etag;     /**< provider version; NULL: "" */
  const char *ical_uid; /**< iCalendar UID (series UID for instances) */
  const char *summary, *description, *location; /**< NULL: "" */
  int64_t start_ms; /**< UTC ms; all-day: local midnight in tz */
  int64_t end_ms;
  const char *tz;         /**< IANA zone of the event; NULL: "UTC" */
  int all_day;            /**< 1: a date, not a time */
  const char *start_date; /**< all-day: "YYYY-MM-DD"; else NULL */
  const char *organizer;  /**< e-mail or NULL */
  const assist_cal_attendee_t *attendees;
  size_t nattendees;
  /** "confirmed", "tentative" or "cancelled" (NULL: "confirmed"). */
  const char *status;
  int sequence; /**< iCalendar SEQUENCE */
} assist_cal_event_t;

typedef enum {
  /** A calendar source that can write an RSVP back to the provider. */
  ASSIST_PROVIDER_CALENDAR = 1,
  /** A notifier: delivers messages on a channel ("email", "call"). */
  ASSIST_PROVIDER_NOTIFIER = 2,
} assist_provider_kind_t;

/** The answer of a person to an invitation, for rsvp(). */
typedef struct assist_rsvp {
  size_t struct_size;
  int64_t user_id;
  const char *source; /**< the plugin's calendar key */
  const char *external_id;
  const char *attendee_email;
  const char *response; /**< "accepted", "declined" or "tentative" */
} assist_rsvp_t;

/** One message to deliver (host; borrowed for the send() call: copy
 * what is kept). Rendered by the host: the plugin only transports it. */
typedef struct assist_message {
  size_t struct_size;
  int64_t delivery_id; /**< unique; put it in provider metadata
                            (custom args) and dedupe on it */
  const char *channel; /**< "email" or "call" */
  const char *to;      /**< e-mail address or E.164 phone number */
  const char *to_name; /**< may be "" */
  const char *from;    /**< sender address ("" for calls) */
  const char *from_name;
  const char *subject;
  const char *text; /**< text/plain body; the call script for calls */
  const char *html; /**< text/html body; may be "" */
  /** An iCalendar object (CRLF lines) or "". Its METHOD (ics_method,
   * e.g. "REQUEST") must be repeated as the MIME method parameter. */
  const char *ics;
  const char *ics_method;
  const char *idempotency_key; /**< stable across retries of this delivery */
  int attempt;                 /**< 1 for the first */
} assist_message_t;

/** What send() reports through done(). */
typedef struct assist_send_result {
  size_t struct_size;
  /** ASSIST_OK (accepted by the provider), ASSIST_EAMBIGUOUS (may have
   * been sent: the host will not resend), ASSIST_EBUSY (rate limited:
   * retry after retry_after_s), ASSIST_EIO (transient: retry later),
   * ASSIST_EINVAL/ASSIST_EACCES (permanent: the delivery fails). */
  int status;
  const char *provider_message_id; /**< e.g. SendGrid's X-Message-Id */
  int retry_after_s;
  const char *error; /**< for the delivery record; no secrets */
} assist_send_result_t;

typedef void (*assist_send_done_cb)(void *arg, const assist_send_result_t *res);

/** A provider (registered with provider_register during init). */
typedef struct assist_provider {
  size_t struct_size; /**< sizeof(assist_provider_t) */
  assist_provider_kind_t kind;
  /** NOTIFIER: the channel served, "email" or "call". */
  const char *channel;
  /** NOTIFIER: sends msg; must call done(arg, res) exactly once, on the
   * loop thread, possibly later (res borrowed for that call). Returns
   * ASSIST_OK (done will run) or an error (done will not run). */
  int (*send)(void *ud, const assist_message_t *msg, assist_send_done_cb done,
              void *arg);
  /** CALENDAR: writes the person's answer back to the provider; done(arg,
   * status) once, on the loop thread. May be NULL (read-only source). */
  int (*rsvp)(void *ud, const assist_rsvp_t *r,
              void (*done)(void *arg, int status), void *arg);
  void *ud; /**< borrowed; passed back */
} assist_provider_t;

/** A delivery state reported by a notifier (webhook). */
typedef struct assist_delivery_event {
  size_t struct_size;
  int64_t delivery_id;             /**< 0: find it by provider_message_id */
  const char *provider_message_id; /**< may be NULL when delivery_id set */
  /** "sent", "delivered", "opened", "bounced" or "failed". */
  const char *state;
  const char *provider_event_id; /**< dedupe key, e.g. sg_event_id */
  int64_t at_ms;                 /**< when the provider saw it; 0: now */
  const char *detail; /**< short reason (bounce reason...); no bodies */
} assist_delivery_event_t;

/** An audit entry (ABI 1.1). Strings copied; NULL means "". */
typedef struct assist_audit_record {
  size_t struct_size;  /**< sizeof(assist_audit_record_t) */
  const char *action;  /**< required, e.g. "reminder.send" */
  const char *target;  /**< e.g. "event:42" */
  const char *outcome; /**< e.g. "ok", "denied", "error" */
  /** The person the entry is about (an id, never a name): details are
   * then encrypted under that person's key, readable through the audit
   * export and destroyed by an erasure. */
  const char *subject;
  const char *details; /**< free text or JSON; personal data goes here */
} assist_audit_record_t;

/** A job kind (ABI 1.1). Zero fields take the host's defaults. */
typedef struct assist_job_kind {
  size_t struct_size; /**< sizeof(assist_job_kind_t) */
  const char *kind;   /**< [a-z0-9_.-]+, unique within the instance */
  int concurrency;    /**< handlers at once (default 16) */
  int timeout_s;      /**< a run longer than this fails (default 300) */
  /** Runs on the loop thread; must eventually call job_complete(). */
  void (*handler)(assist_job_t *job, void *ud);
  void *ud;
} assist_job_kind_t;

/** A job to enqueue (ABI 1.1). */
typedef struct assist_job_spec {
  size_t struct_size;          /**< sizeof(assist_job_spec_t) */
  const char *kind;            /**< a kind this instance registered */
  const char *payload;         /**< JSON text, NULL for "{}" */
  int64_t run_at_ms;           /**< Unix ms; 0: now */
  int priority;                /**< higher runs first */
  int max_attempts;            /**< 0: 5 */
  const char *idempotency_key; /**< NULL: none */
} assist_job_spec_t;

enum {
  ASSIST_JOB_OK = 0,
  ASSIST_JOB_FAIL = 1,
  ASSIST_JOB_RETRY_AFTER = 2,
};

/** True if the host table has member `fn` and it is set. */
#define ASSIST_HOST_HAS(host, fn)                                              \
  ((host)->struct_size >=                                                      \
       offsetof(assist_host_api_t, fn) + sizeof((host)->fn) &&                 \
   (host)->fn != NULL)

/* ------------------------------------------------------------------ */
/* The descriptor a plugin exports.                                    */

enum {
  /** reconfigure() can apply changes to RELOADABLE options in place. */
  ASSIST_PLUGIN_RELOADABLE = 1u << 0,
  /** More than one instance may run at once. */
  ASSIST_PLUGIN_MULTI_INSTANCE = 1u << 1,
};

typedef struct assist_plugin {
  /* Frozen forever: the host checks these before reading anything else. */
  uint32_t magic;       /**< ASSIST_PLUGIN_MAGIC */
  uint16_t abi_major;   /**< ASSIST_ABI_MAJOR when built */
  uint16_t abi_minor;   /**< ASSIST_ABI_MINOR when built */
  uint32_t struct_size; /**< sizeof(assist_plugin_t) when built */

  const char *name;    /**< [a-z0-9_-]+, e.g. "csv-analysis" */
  const char *version; /**< semver of the plugin */
  const char *description;
  uint32_t flags; /**< ASSIST_PLUGIN_* */

  const assist_option_t *options; /**< NULL-name terminated, or NULL */
  uint32_t option_size;           /**< sizeof(assist_option_t) when built */

  /** Required. state: out, the plugin's own; passed to the others. */
  int (*init)(const assist_host_api_t *host, assist_instance_t *inst,
              void **state);
  int (*start)(void *state);
  /** Options changed (only RELOADABLE ones); read them again. */
  int (*reconfigure)(void *state);
  /** Quiesce; must call done(arg) exactly once, possibly later. */
  void (*stop)(void *state, assist_done_cb done, void *arg);
  void (*destroy)(void *state);
} assist_plugin_t;

/** The smallest descriptor the host accepts (through destroy). */
#define ASSIST_PLUGIN_MIN_SIZE                                                 \
  (offsetof(assist_plugin_t, destroy) + sizeof(void (*)(void *)))

/** Fills the frozen header; use as the first initializer. */
#define ASSIST_PLUGIN_HEADER                                                   \
  .magic = ASSIST_PLUGIN_MAGIC, .abi_major = ASSIST_ABI_MAJOR,                 \
  .abi_minor = ASSIST_ABI_MINOR, .struct_size = sizeof(assist_plugin_t),       \
  .option_size = sizeof(assist_option_t)

#ifdef __cplusplus
}
#endif
#endif /* ASSIST_PLUGIN_H */
