/*
 * assistant_glue.c: the daemon's side of the appointment reminders
 * (core/assistant). The service is created after the store, the job
 * engine, the keyring and the audit log, and started (its job kind
 * registered) before jobs_start; the plugin host learns about it before
 * any instance starts, so a calendar source's first sync finds it. Its
 * routes go into every generation's router; a reload applies the
 * reminders: section in place; shutdown closes it after the plugin
 * instances and before the job engine.
 */
#include "daemon/assistd.h"

#include "common/log.h"
#include "plugin/host_assistant.h"

#include <stdio.h>
#include <string.h>

void daemon_assistant_opts(const config_t *cfg, assistant_opts_t *out) {
  const cfg_reminders_t *r = &cfg->reminders;
  *out = (assistant_opts_t){
      .public_url = r->public_url,
      .email_notifier = r->email_notifier,
      .call_notifier = r->call_notifier,
      .from_email = r->from_email,
      .from_name = r->from_name,
      .horizon_days = (int64_t)(r->horizon_ms / 86400000),
      .dispatch_interval_ms = (int64_t)r->dispatch_interval_ms,
      .rsvp_ttl_s = (int64_t)(r->rsvp_ttl_ms / 1000),
  };
}

int daemon_assistant_start(assistd_t *d, const config_t *cfg) {
  assistant_opts_t o;
  daemon_assistant_opts(cfg, &o);
  d->assistant =
      assistant_new(d->loop, d->store, d->jobs, d->audit, d->ring, &o);
  int rc = assistant_start(d->assistant);
  if (rc != 0) {
    fprintf(stderr, "assistd: cannot start the reminders service: %s\n",
            strerror(rc < 0 ? -rc : rc));
    return -1;
  }
  host_assistant_set(d->assistant);
  return 0;
}

void daemon_assistant_reconfigure(assistd_t *d, const config_t *cfg) {
  if (!d->assistant) return;
  assistant_opts_t o;
  daemon_assistant_opts(cfg, &o);
  assistant_reconfigure(d->assistant, &o);
}

int daemon_assistant_routes(assistd_t *d, router_t *r) {
  if (!d->assistant) return 0;
  return assistant_add_routes(d->assistant, r, d->auth);
}
