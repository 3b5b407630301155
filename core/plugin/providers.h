/*
 * providers.h: the registry of what plugin instances offer the assistant
 * (assist_provider_t, SDK ABI 1.2): notifiers per channel and calendar
 * sources that can write RSVPs back. Instances register during init();
 * the registry forgets an instance's providers when it is torn down.
 *
 * Calls go through the registry, never through a saved pointer, so a
 * provider whose instance was reloaded or removed is never called: the
 * call then fails with -ENOENT (the outbox retries later, when the
 * configuration may name a live instance again). A call that is in
 * flight while its instance stops completes normally: instances drain
 * (their stop() waits for their own sends) before they are destroyed.
 *
 * Threading: loop thread only.
 */
#ifndef ASSIST_PLUGIN_PROVIDERS_H
#define ASSIST_PLUGIN_PROVIDERS_H

#include "assist/plugin.h"
#include "plugin/instance.h"

/** Records p for inst (strings and struct copied). -EEXIST when the
 * instance already registered that kind (and channel), -EINVAL when
 * malformed (a notifier without send or channel). */
int providers_register(instance_t *inst, const assist_provider_t *p);
/** Forgets every provider of inst. */
void providers_forget(instance_t *inst);
void providers_reset(void);

/** Sends msg through the notifier of instance `name` for msg->channel.
 * -ENOENT when there is none; otherwise the provider's return value. done
 * runs once (when 0 was returned). */
int providers_send(const char *name, const assist_message_t *msg,
                   assist_send_done_cb done, void *arg);

/** Writes an RSVP back through the calendar provider of instance name.
 * -ENOENT when none (or it has no rsvp()), else the provider's return. */
int providers_rsvp(const char *name, const assist_rsvp_t *r,
                   void (*done)(void *arg, int status), void *arg);

/** 1 when instance `name` has a notifier for channel. */
int providers_has_notifier(const char *name, const char *channel);

#endif
