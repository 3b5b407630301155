/* audit_int.h: what the files of core/audit share. */
#ifndef ASSIST_AUDIT_INT_H
#define ASSIST_AUDIT_INT_H

#include "audit.h"

struct audit_log {
  secrets_keyring_t *ring; /* borrowed */
  audit_sink_t sink;       /* borrowed */
};

#define HEAD_PURPOSE "audit-head"
#define HEAD_MSG_MAX 128

/** The text the head MAC covers: "audit-head-v1:<seq>:<hex hash>". */
size_t audit_head_msg(int64_t seq, const uint8_t hash[AUDIT_HASH_BYTES],
                      char out[HEAD_MSG_MAX]);
/** 0 if mac is a valid head MAC for (seq, hash), else a secrets code. */
int audit_head_check(audit_log_t *log, int64_t seq,
                     const uint8_t hash[AUDIT_HASH_BYTES], const char *mac);

#endif
