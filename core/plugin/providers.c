/*
 * providers.c: the registry of plugin providers (providers.h). A short
 * list (a handful of instances register one or two providers each), so a
 * linear walk is all it needs. Entries are keyed by instance; lookups are
 * by instance name and only see instances that are not stopping, the
 * newest registration first (a reload creates the successor before the
 * predecessor stops).
 */
#include "plugin/providers.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct prov {
  struct prov *next;
  instance_t *inst; /* tag; never dereferenced after forget */
  assist_provider_kind_t kind;
  char *channel; /* NOTIFIER; owned */
  int (*send)(void *ud, const assist_message_t *msg, assist_send_done_cb done,
              void *arg);
  int (*rsvp)(void *ud, const assist_rsvp_t *r,
              void (*done)(void *arg, int status), void *arg);
  void *ud;
} prov_t;

static prov_t *g_provs;

/* A provider struct from an older plugin may be shorter than ours: read
 * only the members it has. */
#define HAS(p, m)                                                              \
  ((p)->struct_size >= offsetof(assist_provider_t, m) + sizeof((p)->m))

int providers_register(instance_t *inst, const assist_provider_t *p) {
  if (!inst || !p || !HAS(p, kind)) return -EINVAL;
  prov_t n = {.inst = inst, .kind = p->kind};
  if (HAS(p, ud)) n.ud = p->ud;
  if (p->kind == ASSIST_PROVIDER_NOTIFIER) {
    if (!HAS(p, send) || !p->send || !p->channel || !*p->channel ||
        strlen(p->channel) > 32)
      return -EINVAL;
    n.send = p->send;
  } else if (p->kind == ASSIST_PROVIDER_CALENDAR) {
    if (HAS(p, rsvp)) n.rsvp = p->rsvp;
  } else {
    return -EINVAL;
  }
  for (prov_t *q = g_provs; q; q = q->next)
    if (q->inst == inst && q->kind == p->kind &&
        (p->kind != ASSIST_PROVIDER_NOTIFIER ||
         strcmp(q->channel, p->channel) == 0))
      return -EEXIST;
  prov_t *e = xcalloc(1, sizeof *e);
  *e = n;
  if (p->kind == ASSIST_PROVIDER_NOTIFIER) e->channel = xstrdup(p->channel);
  e->next = g_provs;
  g_provs = e;
  return 0;
}

void providers_forget(instance_t *inst) {
  for (prov_t **pp = &g_provs; *pp;) {
    prov_t *e = *pp;
    if (e->inst == inst) {
      *pp = e->next;
      free(e->channel);
      free(e);
    } else {
      pp = &e->next;
    }
  }
}

void providers_reset(void) {
  while (g_provs) {
    prov_t *e = g_provs;
    g_provs = e->next;
    free(e->channel);
    free(e);
  }
}

static int live(const prov_t *e, const char *name) {
  instance_state_t st = instance_state(e->inst);
  return st != INSTANCE_STOPPING && st != INSTANCE_STOPPED &&
         strcmp(instance_name(e->inst), name) == 0;
}

static prov_t *find(const char *name, assist_provider_kind_t kind,
                    const char *channel) {
  if (!name) return NULL;
  for (prov_t *e = g_provs; e; e = e->next)
    if (e->kind == kind && live(e, name) &&
        (!channel || (e->channel && strcmp(e->channel, channel) == 0)))
      return e;
  return NULL;
}

int providers_send(const char *name, const assist_message_t *msg,
                   assist_send_done_cb done, void *arg) {
  if (!msg || !msg->channel || !done) return -EINVAL;
  prov_t *e = find(name, ASSIST_PROVIDER_NOTIFIER, msg->channel);
  if (!e) return -ENOENT;
  return e->send(e->ud, msg, done, arg);
}

int providers_rsvp(const char *name, const assist_rsvp_t *r,
                   void (*done)(void *arg, int status), void *arg) {
  if (!r || !done) return -EINVAL;
  prov_t *e = find(name, ASSIST_PROVIDER_CALENDAR, NULL);
  if (!e || !e->rsvp) return -ENOENT;
  return e->rsvp(e->ud, r, done, arg);
}

int providers_has_notifier(const char *name, const char *channel) {
  return channel && find(name, ASSIST_PROVIDER_NOTIFIER, channel) != NULL;
}
