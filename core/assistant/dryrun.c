/* dryrun.c: the built-in "dry-run" notifier (assistant_int.h). The demo's
 * default: the outbox has already stored the rendered subject, bodies and
 * ICS on the delivery, so recording is done; nothing leaves the host. */
#include "assistant/assistant_int.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>

int dryrun_send(const assist_message_t *msg, assist_send_done_cb done,
                void *arg) {
  if (!msg || !done) return ASSIST_EINVAL;
  char id[48], did[24];
  snprintf(id, sizeof id, "dry-run-%" PRId64, msg->delivery_id);
  snprintf(did, sizeof did, "%" PRId64, msg->delivery_id);
  /* Identifiers only: no recipient, subject or body in the log. */
  log_kv(LOG_INFO, "outbox", "dry-run: recorded, not sent", "#delivery", did,
         "channel", msg->channel ? msg->channel : "", NULL);
  assist_send_result_t res = {.struct_size = sizeof res,
                              .status = ASSIST_OK,
                              .provider_message_id = id,
                              .error = ""};
  done(arg, &res);
  return ASSIST_OK;
}
