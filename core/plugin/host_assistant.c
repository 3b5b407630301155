/*
 * host_assistant.c: calendar_put, calendar_prune and delivery_event (SDK
 * ABI 1.2) forwarded to the assistant service (core/assistant). Each call
 * counts against its instance's pending I/O (nio) until its callback has
 * run, like the kv calls in host_services.c, so an instance is never
 * destroyed while the service still owes it a callback.
 */
#include "plugin/host_assistant.h"
#include "plugin/instance_priv.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

static assistant_t *g_assistant;

void host_assistant_set(assistant_t *a) {
  g_assistant = a;
}

typedef struct asst_call {
  instance_t *inst;
  void (*cb)(void *ud, int status);
  void (*prune_cb)(void *ud, int status, int64_t removed);
  void *ud;
} asst_call_t;

static asst_call_t *call_new(instance_t *inst, void *ud) {
  asst_call_t *c = xcalloc(1, sizeof *c);
  c->inst = inst;
  c->ud = ud;
  inst->nio++;
  return c;
}

static void status_done(void *arg, int status) {
  asst_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->cb) c->cb(c->ud, status);
  free(c);
  instance_io_finished(inst);
}

static void prune_done(void *arg, int status, int64_t removed) {
  asst_call_t *c = arg;
  instance_t *inst = c->inst;
  if (c->prune_cb) c->prune_cb(c->ud, status, removed);
  free(c);
  instance_io_finished(inst);
}

static int closing(const instance_t *inst) {
  return inst->stop_done || inst->st == INSTANCE_STOPPED;
}

/* An event struct from an older plugin build may be shorter; the first
 * ABI 1.2 layout (through sequence) is the least we accept. */
#define EV_MIN (offsetof(assist_cal_event_t, sequence) + sizeof(int))

int host_calendar_put(assist_instance_t *inst,
                      const struct assist_cal_event *events, size_t n,
                      int64_t sync_id, void (*cb)(void *ud, int status),
                      void *ud) {
  if (!inst || (n > 0 && !events) || n > 100000) return ASSIST_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (events[i].struct_size < EV_MIN ||
        events[i].struct_size > sizeof(assist_cal_event_t) ||
        !events[i].external_id || !*events[i].external_id)
      return ASSIST_EINVAL;
  if (!g_assistant) return ASSIST_ENOTSUP;
  if (closing(inst)) return ASSIST_ECANCELED;
  asst_call_t *c = call_new(inst, ud);
  c->cb = cb;
  assistant_calendar_put(g_assistant, inst->name, events, n, sync_id,
                         status_done, c);
  return ASSIST_OK;
}

int host_calendar_prune(assist_instance_t *inst, int64_t user_id,
                        const char *user_email, const char *source,
                        int64_t sync_id,
                        void (*cb)(void *ud, int status, int64_t removed),
                        void *ud) {
  if (!inst || !source || !*source || user_id < 0 ||
      (user_id == 0 && (!user_email || !*user_email)))
    return ASSIST_EINVAL;
  if (!g_assistant) return ASSIST_ENOTSUP;
  if (closing(inst)) return ASSIST_ECANCELED;
  asst_call_t *c = call_new(inst, ud);
  c->prune_cb = cb;
  assistant_calendar_prune(g_assistant, inst->name, user_id, user_email, source,
                           sync_id, prune_done, c);
  return ASSIST_OK;
}

int host_delivery_event(assist_instance_t *inst,
                        const struct assist_delivery_event *ev,
                        void (*cb)(void *ud, int status), void *ud) {
  if (!inst || !ev ||
      ev->struct_size <
          offsetof(assist_delivery_event_t, detail) + sizeof(const char *) ||
      !ev->state ||
      (ev->delivery_id <= 0 &&
       (!ev->provider_message_id || !*ev->provider_message_id)))
    return ASSIST_EINVAL;
  if (!g_assistant) return ASSIST_ENOTSUP;
  if (closing(inst)) return ASSIST_ECANCELED;
  asst_call_t *c = call_new(inst, ud);
  c->cb = cb;
  assistant_delivery_event(g_assistant, inst->name, ev, status_done, c);
  return ASSIST_OK;
}
