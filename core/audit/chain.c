/* chain.c: the hash chain, the signed head, and verification. */
#include "audit_int.h"

#include "common/alloc.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char canon_tag[] = "assistd-audit-v1";

static void put_u64(crypto_hash_sha256_state *st, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
  crypto_hash_sha256_update(st, b, 8);
}

static void put_str(crypto_hash_sha256_state *st, const char *s) {
  size_t n = s ? strlen(s) : 0;
  unsigned char b[4];
  for (int i = 0; i < 4; i++)
    b[i] = (unsigned char)((uint32_t)n >> (24 - 8 * i));
  crypto_hash_sha256_update(st, b, 4);
  if (n) crypto_hash_sha256_update(st, (const unsigned char *)s, n);
}

void audit_row_hash(const audit_row_t *row, uint8_t out[AUDIT_HASH_BYTES]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, row->prev_hash, AUDIT_HASH_BYTES);
  crypto_hash_sha256_update(&st, (const unsigned char *)canon_tag,
                            sizeof(canon_tag) - 1);
  put_u64(&st, (uint64_t)row->seq);
  put_u64(&st, (uint64_t)row->time_ms);
  put_str(&st, row->actor);
  put_str(&st, row->action);
  put_str(&st, row->target);
  put_str(&st, row->outcome);
  put_str(&st, row->subject);
  put_str(&st, row->details);
  crypto_hash_sha256_final(&st, out);
}

size_t audit_head_msg(int64_t seq, const uint8_t hash[AUDIT_HASH_BYTES],
                      char out[HEAD_MSG_MAX]) {
  char hex[2 * AUDIT_HASH_BYTES + 1];
  sodium_bin2hex(hex, sizeof(hex), hash, AUDIT_HASH_BYTES);
  return (size_t)snprintf(out, HEAD_MSG_MAX, "audit-head-v1:%" PRId64 ":%s",
                          seq, hex);
}

int audit_head_check(audit_log_t *log, int64_t seq,
                     const uint8_t hash[AUDIT_HASH_BYTES], const char *mac) {
  char msg[HEAD_MSG_MAX];
  size_t n = audit_head_msg(seq, hash, msg);
  if (!mac) return AUDIT_EHEAD;
  return secrets_mac_verify(log->ring, HEAD_PURPOSE, msg, n, mac);
}

const char *audit_problem_name(audit_problem_t p) {
  switch (p) {
  case AUDIT_OK:
    return "ok";
  case AUDIT_BAD_MODIFIED:
    return "modified";
  case AUDIT_BAD_GAP:
    return "gap";
  case AUDIT_BAD_REORDERED:
    return "reordered";
  case AUDIT_BAD_LINK:
    return "broken-link";
  case AUDIT_BAD_TRUNCATED:
    return "truncated";
  case AUDIT_BAD_REWRITTEN:
    return "rewritten";
  case AUDIT_BAD_HEAD:
    return "bad-head";
  case AUDIT_BAD_ANCHOR:
    return "anchor-mismatch";
  }
  return "unknown";
}

struct vstate {
  audit_verify_result_t *res;
  int64_t expect;
  uint8_t prev[AUDIT_HASH_BYTES];
  /* After a broken link: looking further on for the row that follows. */
  bool searching;
  uint8_t want_prev[AUDIT_HASH_BYTES];
  bool self_ok;
  /* Anchor, if any. */
  bool has_anchor, anchor_seen;
  int64_t anchor_seq;
  uint8_t anchor_hash[AUDIT_HASH_BYTES];
};

static int fail(struct vstate *vs, audit_problem_t p, int64_t seq,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct vstate *vs, audit_problem_t p, int64_t seq,
                const char *fmt, ...) {
  va_list ap;
  vs->res->problem = p;
  vs->res->seq = seq;
  va_start(ap, fmt);
  vsnprintf(vs->res->message, sizeof(vs->res->message), fmt, ap);
  va_end(ap);
  return 1; /* stop the scan */
}

static int verify_row(void *arg, const audit_row_t *row) {
  struct vstate *vs = arg;
  audit_verify_result_t *res = vs->res;

  if (vs->searching) {
    /* Is the row that belongs at res->seq somewhere further on? */
    if (sodium_memcmp(row->prev_hash, vs->want_prev, AUDIT_HASH_BYTES) == 0) {
      vs->searching = false;
      return fail(vs, AUDIT_BAD_REORDERED, res->seq,
                  "row %" PRId64 " is out of place: the entry that follows "
                  "row %" PRId64 " is stored at seq %" PRId64,
                  res->seq, res->seq - 1, row->seq);
    }
    return 0;
  }
  res->rows++;
  if (row->seq != vs->expect) {
    if (row->seq > vs->expect)
      return fail(vs, AUDIT_BAD_GAP, vs->expect,
                  "rows %" PRId64 "..%" PRId64 " are missing (deleted)",
                  vs->expect, row->seq - 1);
    return fail(vs, AUDIT_BAD_REORDERED, row->seq,
                "seq %" PRId64 " came after seq %" PRId64, row->seq,
                vs->expect - 1);
  }
  uint8_t h[AUDIT_HASH_BYTES];
  audit_row_hash(row, h);
  bool self_ok = sodium_memcmp(h, row->hash, AUDIT_HASH_BYTES) == 0;
  bool link_ok = sodium_memcmp(row->prev_hash, vs->prev, AUDIT_HASH_BYTES) == 0;
  if (link_ok && !self_ok)
    return fail(vs, AUDIT_BAD_MODIFIED, row->seq,
                "row %" PRId64 " was changed: its content does not match "
                "its hash",
                row->seq);
  if (!link_ok) {
    /* Record the failure, then look for the row that should be here. */
    vs->searching = true;
    vs->self_ok = self_ok;
    memcpy(vs->want_prev, vs->prev, AUDIT_HASH_BYTES);
    res->seq = row->seq;
    return 0;
  }
  if (vs->has_anchor && row->seq == vs->anchor_seq) {
    vs->anchor_seen = true;
    if (sodium_memcmp(row->hash, vs->anchor_hash, AUDIT_HASH_BYTES) != 0)
      return fail(vs, AUDIT_BAD_ANCHOR, row->seq,
                  "row %" PRId64 " does not match the anchor: the log was "
                  "rewritten up to here",
                  row->seq);
  }
  memcpy(vs->prev, row->hash, AUDIT_HASH_BYTES);
  res->last_seq = row->seq;
  vs->expect = row->seq + 1;
  return 0;
}

static int parse_anchor(const char *a, int64_t *seq,
                        uint8_t hash[AUDIT_HASH_BYTES]) {
  char *end = NULL;
  size_t n = 0;
  if (strncmp(a, "a1:", 3) != 0) return -EINVAL;
  long long v = strtoll(a + 3, &end, 10);
  if (end == a + 3 || *end != ':' || v <= 0) return -EINVAL;
  if (strlen(end + 1) != 2 * AUDIT_HASH_BYTES ||
      sodium_hex2bin(hash, AUDIT_HASH_BYTES, end + 1, 2 * AUDIT_HASH_BYTES,
                     NULL, &n, NULL) != 0 ||
      n != AUDIT_HASH_BYTES)
    return -EINVAL;
  *seq = v;
  return 0;
}

int audit_verify(audit_log_t *log, const char *anchor,
                 audit_verify_result_t *res) {
  struct vstate vs;
  memset(res, 0, sizeof(*res));
  memset(&vs, 0, sizeof(vs));
  vs.res = res;
  vs.expect = 1;
  if (anchor) {
    if (parse_anchor(anchor, &vs.anchor_seq, vs.anchor_hash) < 0)
      return -EINVAL;
    vs.has_anchor = true;
  }
  int rc = log->sink.ops->scan(log->sink.ctx, 1, NULL, verify_row, &vs);
  if (rc < 0) return rc;
  if (vs.searching) {
    /* A broken link whose missing successor was not found further on. */
    vs.searching = false;
    if (vs.self_ok)
      fail(&vs, AUDIT_BAD_LINK, res->seq,
           "row %" PRId64 " is intact but does not follow row %" PRId64
           " (that row was rewritten, or rows were removed and renumbered)",
           res->seq, res->seq - 1);
    else
      fail(&vs, AUDIT_BAD_MODIFIED, res->seq,
           "row %" PRId64 " was changed (content and chain link)", res->seq);
  }
  if (res->problem != AUDIT_OK) return 0;

  /* The chain is consistent; now compare its end with the signed head. */
  int64_t hseq = 0;
  uint8_t hhash[AUDIT_HASH_BYTES];
  char *mac = NULL;
  rc = log->sink.ops->head_get(log->sink.ctx, &hseq, hhash, &mac);
  if (rc == -ENOENT) {
    if (res->rows > 0)
      fail(&vs, AUDIT_BAD_HEAD, res->last_seq,
           "the head record is missing (%" PRId64 " rows)", res->rows);
  } else if (rc < 0) {
    return rc;
  } else {
    int mrc = audit_head_check(log, hseq, hhash, mac);
    if (mrc < 0)
      fail(&vs, AUDIT_BAD_HEAD, hseq, "the head record does not verify: %s",
           secrets_strerror(mrc));
    else if (hseq > res->last_seq)
      fail(&vs, AUDIT_BAD_TRUNCATED, res->last_seq + 1,
           "rows %" PRId64 "..%" PRId64 " were removed from the end",
           res->last_seq + 1, hseq);
    else if (hseq < res->last_seq)
      fail(&vs, AUDIT_BAD_HEAD, hseq + 1,
           "rows %" PRId64 "..%" PRId64 " are not covered by the signed "
           "head (appended without the master key?)",
           hseq + 1, res->last_seq);
    else if (sodium_memcmp(hhash, vs.prev, AUDIT_HASH_BYTES) != 0)
      fail(&vs, AUDIT_BAD_REWRITTEN, res->last_seq,
           "the chain does not end in the signed head: rows up to %" PRId64
           " were rewritten and their hashes recomputed",
           res->last_seq);
  }
  free(mac);
  if (res->problem == AUDIT_OK && vs.has_anchor && !vs.anchor_seen)
    fail(&vs, AUDIT_BAD_TRUNCATED, res->last_seq + 1,
         "the anchor names row %" PRId64 " but the log ends at %" PRId64,
         vs.anchor_seq, res->last_seq);
  return 0;
}

int audit_anchor(audit_log_t *log, char **out) {
  int64_t seq = 0;
  uint8_t hash[AUDIT_HASH_BYTES];
  char *mac = NULL, hex[2 * AUDIT_HASH_BYTES + 1];
  int rc = log->sink.ops->head_get(log->sink.ctx, &seq, hash, &mac);
  if (rc == -ENOENT) return AUDIT_EHEAD;
  if (rc < 0) return rc;
  rc = audit_head_check(log, seq, hash, mac);
  free(mac);
  if (rc < 0) return AUDIT_EHEAD;
  sodium_bin2hex(hex, sizeof(hex), hash, AUDIT_HASH_BYTES);
  *out = xasprintf("a1:%" PRId64 ":%s", seq, hex);
  return 0;
}
