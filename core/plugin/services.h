/*
 * services.h: the daemon services plugins reach through the host API
 * (ABI 1.1): the key-value area (core/store) and durable jobs (core/jobs).
 *
 * The daemon sets the services once they are open. Job kinds are
 * registered with the engine once per full name ("<instance>.<kind>") and
 * dispatched through a table to whichever instance currently serves that
 * name, so an instance replaced by a reload hands its kinds to its
 * successor, and jobs of a removed instance wait (retried later) instead of
 * being lost.
 */
#ifndef ASSIST_PLUGIN_SERVICES_H
#define ASSIST_PLUGIN_SERVICES_H

#include "jobs/jobs.h"
#include "plugin/instance.h"
#include "store/store.h"

/** Borrowed; both may be NULL (then kv_* and job_* return ASSIST_ENOTSUP). */
void services_set(store_t *store, jobs_t *jobs);
/** Points the instance's job kinds at it (called when it starts). */
void services_bind(instance_t *inst);
/** Drops the instance's kinds from the table and completes its unfinished
 * jobs so that they run again later (called while it is torn down). */
void services_unbind(instance_t *inst);
/** Forgets every kind (at exit). */
void services_reset(void);

#endif
