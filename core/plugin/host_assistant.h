/*
 * host_assistant.h: how the daemon hands the plugin host the assistant
 * service (core/assistant) that the SDK's calendar_put, calendar_prune and
 * delivery_event (ABI 1.2) forward to (host_assistant.c).
 */
#ifndef ASSIST_PLUGIN_HOST_ASSISTANT_H
#define ASSIST_PLUGIN_HOST_ASSISTANT_H

#include "assistant/assistant.h"

#include <assist/plugin.h>

/** a: borrowed; set once the service is open, NULL at shutdown (before the
 * service is closed). While unset, calendar_put, calendar_prune and
 * delivery_event return ASSIST_ENOTSUP (their callbacks do not run).
 * Each call counts against its instance until its callback ran, so no
 * instance is destroyed while the service owes it one. Loop thread. */
void host_assistant_set(assistant_t *a);

int host_calendar_put(assist_instance_t *inst,
                      const struct assist_cal_event *events, size_t n,
                      int64_t sync_id, void (*cb)(void *ud, int status),
                      void *ud);
int host_calendar_prune(assist_instance_t *inst, int64_t user_id,
                        const char *user_email, const char *source,
                        int64_t sync_id,
                        void (*cb)(void *ud, int status, int64_t removed),
                        void *ud);
int host_delivery_event(assist_instance_t *inst,
                        const struct assist_delivery_event *ev,
                        void (*cb)(void *ud, int status), void *ud);

#endif
