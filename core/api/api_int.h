/* api_int.h: what the files of core/api share. */
#ifndef ASSIST_API_INT_H
#define ASSIST_API_INT_H

#include "api/api.h"

#include "common/buf.h"

#include <stdint.h>

#define API_ACTOR_MAX 32

/** A request admitted by the auth gate: who it acts as. A plain value
 * (handlers copy it to keep it across asynchronous steps). */
typedef struct api_call {
  http_request_t *req;
  api_ctx_t *ctx;
  auth_principal_t principal;
  char actor[API_ACTOR_MAX]; /* "user:<id>" for the audit log */
} api_call_t;

typedef void (*api_handler_fn)(api_call_t *call);

/** Registers a handler behind the auth gate. perm names what the route
 * needs ("jobs.read", "jobs.write", "audit.read", "audit.erase"...); every
 * such route is for admins: the gate requires the admin scope plus read
 * (GET) or write (other methods). */
int api_route(router_t *r, api_ctx_t *ctx, const char *method,
              const char *pattern, uint64_t max_body, const char *perm,
              api_handler_fn fn);

int api_jobs_routes(router_t *r, api_ctx_t *ctx);
int api_audit_routes(router_t *r, api_ctx_t *ctx);

/* helpers */
/** Percent-decoded path parameter (owned by the caller) or NULL. */
char *api_param(http_request_t *req, const char *name);
/** Parses a non-negative decimal integer; -1 when absent, -2 when bad. */
int64_t api_int(const char *s);
/** Appends an audit entry for an API action (fire and forget; a failure
 * is logged by the audit service). subject may be NULL. */
void api_audit(api_call_t *c, const char *action, const char *target,
               const char *outcome, const char *details);
/** Responds with buf b as JSON and frees it. */
void api_respond_buf(http_request_t *req, int status, buf_t *b);

#endif
