/*
 * api.h: the daemon's REST API for jobs, schedules and the audit log.
 *
 *   GET    /api/jobs                         ?state=&kind=&after_id=&limit=
 *   GET    /api/jobs/{id}
 *   POST   /api/jobs/{id}/cancel             audited (job.cancel)
 *   POST   /api/jobs/{id}/retry              audited (job.retry)
 *   GET    /api/schedules
 *   PUT    /api/schedules/{name}             audited (schedule.put)
 *   DELETE /api/schedules/{name}             audited (schedule.delete)
 *   GET    /api/audit ?subject=&action=&actor=&after=&limit= GET
 * /api/audit/subjects/{id}/export   audited (audit.export_subject) POST
 * /api/audit/subjects/{id}/erase    audited (audit.erase_subject)
 *
 * Bodies are JSON; errors are http_respond_error's JSON. Every handler
 * runs behind auth_gate() (api.c): these routes are for admins (admin
 * scope, plus read for GET or write for changes); the audit log records
 * the caller as "user:<id>". Without an auth service every route answers
 * 503.
 *
 * Threading: loop thread; jobs calls are asynchronous on core/store, audit
 * calls run on the audit thread (audit_svc.h).
 */
#ifndef ASSIST_API_H
#define ASSIST_API_H

#include "audit/audit_svc.h"
#include "auth/auth.h"
#include "http/http.h"
#include "jobs/jobs.h"

/** What the handlers reach. Owned by the daemon; must outlive every
 * router the routes are added to. Fields may be NULL (then 503). */
typedef struct api_ctx {
  jobs_t *jobs;
  audit_svc_t *audit;
  auth_t *auth; /* the gate; NULL: 503 */
} api_ctx_t;

/** Adds every route above to r. Returns 0 or -1 (a clash). */
int api_add_routes(router_t *r, api_ctx_t *ctx);
/** Frees the route records (at exit, once no router uses them). */
void api_reset(void);

#endif
