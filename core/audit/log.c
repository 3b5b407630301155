/* log.c: appending entries, subject data keys, erasure, re-wrapping. */
#include "audit_int.h"

#include "common/alloc.h"
#include "common/buf.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define DK_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(DK_BYTES == 32, "data keys are 32 bytes");

int audit_log_new(secrets_keyring_t *ring, audit_sink_t sink,
                  audit_log_t **out) {
  if (!ring || !sink.ops) return -EINVAL;
  if (secrets_global_init() < 0) return -EIO;
  audit_log_t *log = xcalloc(1, sizeof(*log));
  log->ring = ring;
  log->sink = sink;
  *out = log;
  return 0;
}

void audit_log_free(audit_log_t *log) {
  free(log);
}

static char *key_aad(const char *subject) {
  return xasprintf("audit_subject_keys:%s", subject);
}

static char *details_aad(int64_t seq, const char *subject) {
  return xasprintf("audit-details-v1:%" PRId64 ":%s", seq, subject);
}

/* The subject's data key (secrets_plain_free it), or AUDIT_EERASED. */
static int key_load(audit_log_t *log, const char *subject, char **dk) {
  char *wrapped = NULL;
  int rc = log->sink.ops->key_get(log->sink.ctx, subject, &wrapped);
  if (rc == -ENOENT) return AUDIT_EERASED;
  if (rc < 0) return rc;
  char *aad = key_aad(subject);
  size_t len = 0;
  rc = secrets_decrypt(log->ring, wrapped, aad, dk, &len);
  free(aad);
  free(wrapped);
  if (rc == 0 && len != DK_BYTES) {
    secrets_plain_free(*dk);
    *dk = NULL;
    rc = SECRETS_EMALFORMED;
  }
  return rc;
}

/* The data key, made and stored on first use. */
static int key_load_or_create(audit_log_t *log, const char *subject,
                              char **dk) {
  int rc = key_load(log, subject, dk);
  if (rc != AUDIT_EERASED) return rc;
  unsigned char *fresh = sodium_malloc(DK_BYTES);
  if (!fresh) return -ENOMEM;
  randombytes_buf(fresh, DK_BYTES);
  char *aad = key_aad(subject), *wrapped = NULL;
  rc = secrets_encrypt(log->ring, fresh, DK_BYTES, aad, &wrapped);
  sodium_free(fresh);
  free(aad);
  if (rc < 0) return rc;
  rc = log->sink.ops->key_insert(log->sink.ctx, subject, wrapped);
  free(wrapped);
  /* -EEXIST: another writer made it first; use theirs. */
  if (rc < 0 && rc != -EEXIST) return rc;
  return key_load(log, subject, dk);
}

static char *details_seal(const unsigned char *dk, int64_t seq,
                          const char *subject, const char *details) {
  size_t len = strlen(details);
  size_t blen = NONCE_LEN + len + TAG_LEN;
  unsigned char *bin = xmalloc(blen);
  char *aad = details_aad(seq, subject);
  randombytes_buf(bin, NONCE_LEN);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      bin + NONCE_LEN, NULL, (const unsigned char *)details, len,
      (const unsigned char *)aad, strlen(aad), NULL, bin, dk);
  char *enc = secrets_b64url_encode(bin, blen);
  char *out = xasprintf("e1:%s", enc);
  free(enc);
  free(aad);
  free(bin);
  return out;
}

struct seal_arg {
  audit_log_t *log;
  const audit_record_t *rec;
  int64_t time_ms;
  const char *dk; /* data key or NULL */
  char *details;  /* owned: stored form */
  char *mac;      /* owned: new head MAC */
  int64_t seq;
};

static const char *nz(const char *s) {
  return s ? s : "";
}

static int seal_cb(void *arg, const audit_head_t *cur, audit_row_t *row,
                   audit_head_t *next) {
  struct seal_arg *sa = arg;
  const audit_record_t *rec = sa->rec;
  int rc;

  free(sa->details);
  free(sa->mac);
  sa->details = sa->mac = NULL;
  if (cur->seq > 0) {
    /* Never chain onto a head we did not sign: that would launder it. */
    if ((rc = audit_head_check(sa->log, cur->seq, cur->hash, cur->mac)) < 0)
      return AUDIT_EHEAD;
  } else if (cur->mac) {
    return AUDIT_EHEAD;
  }
  memset(row, 0, sizeof(*row));
  row->seq = cur->seq + 1;
  row->time_ms = sa->time_ms;
  row->actor = rec->actor;
  row->action = rec->action;
  row->target = nz(rec->target);
  row->outcome = nz(rec->outcome);
  row->subject = nz(rec->subject);
  if (sa->dk)
    sa->details = details_seal((const unsigned char *)sa->dk, row->seq,
                               row->subject, rec->details);
  else
    sa->details = xstrdup(nz(rec->details));
  row->details = sa->details;
  if (cur->seq > 0) memcpy(row->prev_hash, cur->hash, AUDIT_HASH_BYTES);
  audit_row_hash(row, row->hash);

  char msg[HEAD_MSG_MAX];
  size_t n = audit_head_msg(row->seq, row->hash, msg);
  if ((rc = secrets_mac(sa->log->ring, HEAD_PURPOSE, msg, n, &sa->mac)) < 0)
    return rc;
  next->seq = row->seq;
  memcpy(next->hash, row->hash, AUDIT_HASH_BYTES);
  next->mac = sa->mac;
  sa->seq = row->seq;
  return 0;
}

static int64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int audit_append(audit_log_t *log, const audit_record_t *rec,
                 int64_t *seq_out) {
  if (!rec->actor || !*rec->actor || !rec->action || !*rec->action)
    return -EINVAL;
  struct seal_arg sa = {.log = log, .rec = rec};
  sa.time_ms = rec->time_ms ? rec->time_ms : now_ms();
  char *dk = NULL;
  int rc;
  if (rec->subject && *rec->subject && rec->details && *rec->details) {
    if ((rc = key_load_or_create(log, rec->subject, &dk)) < 0) return rc;
    sa.dk = dk;
  }
  rc = log->sink.ops->append(log->sink.ctx, seal_cb, &sa);
  /* seq = head + 1 already stored: the head is behind the rows. */
  if (rc == -EEXIST) rc = AUDIT_EHEAD;
  secrets_plain_free(dk);
  free(sa.details);
  free(sa.mac);
  if (rc == 0 && seq_out) *seq_out = sa.seq;
  return rc;
}

static int details_open(const char *dk, const audit_row_t *row, char **out) {
  const char *d = row->details;
  if (strncmp(d, "e1:", 3) != 0) return SECRETS_EMALFORMED;
  uint8_t *bin = NULL;
  size_t blen = 0;
  int rc = secrets_b64url_decode(d + 3, strlen(d + 3), &bin, &blen);
  if (rc < 0) return rc;
  if (blen < NONCE_LEN + TAG_LEN) {
    free(bin);
    return SECRETS_EMALFORMED;
  }
  size_t len = blen - NONCE_LEN - TAG_LEN;
  char *pt = xmalloc(len + 1);
  char *aad = details_aad(row->seq, row->subject);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          (unsigned char *)pt, NULL, NULL, bin + NONCE_LEN, blen - NONCE_LEN,
          (const unsigned char *)aad, strlen(aad), bin,
          (const unsigned char *)dk) != 0) {
    free(pt);
    rc = SECRETS_EBADSIG;
  } else {
    pt[len] = '\0';
    *out = pt;
  }
  free(aad);
  free(bin);
  return rc;
}

static bool is_encrypted(const audit_row_t *row) {
  return row->subject && *row->subject && row->details && *row->details;
}

int audit_details_decrypt(audit_log_t *log, const audit_row_t *row,
                          char **out) {
  if (!is_encrypted(row)) {
    *out = xstrdup(nz(row->details));
    return 0;
  }
  char *dk = NULL;
  int rc = key_load(log, row->subject, &dk);
  if (rc < 0) return rc;
  rc = details_open(dk, row, out);
  secrets_plain_free(dk);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Listing with decryption: rows are copied first, then decrypted, so the
 * sink is never called from inside its own scan. */

struct row_copy {
  audit_row_t row;
  char *strs; /* owned: every string of row, back to back */
};

struct collect {
  struct row_copy *v;
  size_t n, cap, max;
};

static int collect_cb(void *arg, const audit_row_t *row) {
  struct collect *c = arg;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
  }
  struct row_copy *rc = &c->v[c->n++];
  const char *src[6] = {row->actor,   row->action,  row->target,
                        row->outcome, row->subject, row->details};
  size_t total = 0;
  for (int i = 0; i < 6; i++) total += strlen(nz(src[i])) + 1;
  rc->row = *row;
  rc->strs = xmalloc(total);
  char *p = rc->strs;
  const char **dst[6] = {&rc->row.actor,   &rc->row.action,  &rc->row.target,
                         &rc->row.outcome, &rc->row.subject, &rc->row.details};
  for (int i = 0; i < 6; i++) {
    size_t n = strlen(nz(src[i])) + 1;
    memcpy(p, nz(src[i]), n);
    *dst[i] = p;
    p += n;
  }
  return c->max && c->n >= c->max ? 1 : 0;
}

int audit_list(audit_log_t *log, int64_t from_seq, const char *subject,
               size_t max, audit_entry_cb cb, void *arg) {
  struct collect c = {.max = max};
  int rc =
      log->sink.ops->scan(log->sink.ctx, from_seq, subject, collect_cb, &c);
  if (rc > 0) rc = 0;
  /* One cached data key: entries of one person tend to be listed together. */
  char *dk = NULL, *dk_subject = NULL;
  int dk_rc = 0;
  for (size_t i = 0; rc == 0 && i < c.n; i++) {
    const audit_row_t *row = &c.v[i].row;
    char *plain = NULL;
    int err = 0;
    if (!is_encrypted(row)) {
      plain = xstrdup(row->details);
    } else {
      if (!dk_subject || strcmp(dk_subject, row->subject) != 0) {
        secrets_plain_free(dk);
        dk = NULL;
        free(dk_subject);
        dk_subject = xstrdup(row->subject);
        dk_rc = key_load(log, row->subject, &dk);
      }
      err = dk_rc < 0 ? dk_rc : details_open(dk, row, &plain);
    }
    if (cb(arg, row, plain, err) != 0) i = c.n;
    free(plain);
  }
  secrets_plain_free(dk);
  free(dk_subject);
  for (size_t i = 0; i < c.n; i++) free(c.v[i].strs);
  free(c.v);
  return rc;
}

/* ------------------------------------------------------------------ */

int audit_erase_subject(audit_log_t *log, const char *subject,
                        const char *actor) {
  if (!subject || !*subject || !actor || !*actor) return -EINVAL;
  int rc = log->sink.ops->key_delete(log->sink.ctx, subject);
  if (rc < 0) return rc;
  audit_record_t rec = {.actor = actor,
                        .action = "audit.erase_subject",
                        .target = subject,
                        .outcome = "ok"};
  return audit_append(log, &rec, NULL);
}

struct key_list {
  char **subjects, **wrapped;
  size_t n, cap;
};

static int key_collect(void *arg, const char *subject, const char *wrapped) {
  struct key_list *kl = arg;
  if (kl->n == kl->cap) {
    kl->cap = kl->cap ? 2 * kl->cap : 16;
    kl->subjects = xrealloc(kl->subjects, kl->cap * sizeof(char *));
    kl->wrapped = xrealloc(kl->wrapped, kl->cap * sizeof(char *));
  }
  kl->subjects[kl->n] = xstrdup(subject);
  kl->wrapped[kl->n] = xstrdup(wrapped);
  kl->n++;
  return 0;
}

int audit_rewrap_keys(audit_log_t *log, size_t *count) {
  struct key_list kl = {0};
  size_t done = 0;
  int rc = log->sink.ops->key_scan(log->sink.ctx, key_collect, &kl);
  for (size_t i = 0; rc == 0 && i < kl.n; i++) {
    int need = secrets_ct_needs_reencrypt(log->ring, kl.wrapped[i]);
    if (need < 0) {
      rc = need;
      break;
    }
    if (!need) continue;
    char *aad = key_aad(kl.subjects[i]), *fresh = NULL;
    rc = secrets_reencrypt(log->ring, kl.wrapped[i], aad, &fresh);
    free(aad);
    if (rc < 0) break;
    rc = log->sink.ops->key_update(log->sink.ctx, kl.subjects[i], fresh);
    free(fresh);
    if (rc == -ENOENT)
      rc = 0; /* erased meanwhile: nothing to re-wrap */
    else if (rc == 0)
      done++;
  }
  for (size_t i = 0; i < kl.n; i++) {
    free(kl.subjects[i]);
    free(kl.wrapped[i]);
  }
  free(kl.subjects);
  free(kl.wrapped);
  if (count) *count = done;
  if (rc < 0) return rc;
  /* Recording it also re-signs the head under the active key, after which
   * the old master key can be removed. */
  char details[64];
  snprintf(details, sizeof(details), "{\"rewrapped\":%zu}", done);
  audit_record_t rec = {.actor = "system:secrets",
                        .action = "audit.rewrap_keys",
                        .outcome = "ok",
                        .details = details};
  return audit_append(log, &rec, NULL);
}
