/*
 * audit.h: the append-only, hash-chained audit log with per-person
 * encrypted details (crypto-shredding).
 *
 * Entries. Each entry has a sequence number (1, 2, 3... without gaps), a
 * time (unix milliseconds), an actor, an action, a target, an outcome, a
 * subject (the id of the person the entry is about, or "") and details
 * (free text, typically JSON). Put personal data only in details: actor,
 * target and subject are stored in clear and should be identifiers.
 *
 * Encryption. When an entry has a subject and details, the details are
 * encrypted with XChaCha20-Poly1305 under that person's data key (32
 * random bytes), bound to the entry's seq and subject:
 *   stored details = "e1:" base64url(nonce[24] || ciphertext || tag[16])
 * The data key is stored wrapped by the master keyring (secrets_encrypt,
 * context "audit_subject_keys:<subject>") in an audit_subject_keys record.
 * Erasing a person deletes that record: their details can no longer be
 * decrypted by anyone, while the chain still verifies, because it covers
 * the stored (encrypted) form. Entries without a subject keep their
 * details in clear. Backups keep old key records: crypto-shredding is
 * complete once backups older than the erasure have expired.
 *
 * Hash chain. hash_0 is 32 zero bytes and
 *   hash_n = SHA-256(hash_{n-1} || canon(entry n))
 *   canon  = "assistd-audit-v1" || u64be(seq) || i64be(time_ms) ||
 *            for actor, action, target, outcome, subject, stored details:
 *              u32be(length) || bytes
 * Each row stores prev_hash and hash. Verification needs no key for the
 * chain itself, and decrypts nothing.
 *
 * Head. The latest (seq, hash) is also kept in a separate head record,
 * MACed with a key derived from the active master key (secrets_mac,
 * purpose "audit-head"), and updated in the same transaction as the row.
 *
 * What audit_verify() detects, reporting the first bad seq:
 *  - a changed field of a row (its hash no longer matches): MODIFIED;
 *  - a deleted row in the middle or at the start (a gap in seq): GAP;
 *  - two rows swapped (a row whose prev_hash is found further on): REORDERED;
 *  - a row that does not follow its predecessor although it is intact
 *    itself (predecessor rewritten with a recomputed hash, or rows removed
 *    and renumbered): LINK;
 *  - rows deleted from the end (the signed head is ahead of the last
 *    row): TRUNCATED;
 *  - a chain edited and then recomputed to the end by someone without the
 *    master key (the last hash differs from the signed head): REWRITTEN;
 *  - a head record that is missing, forged, or behind the last row (rows
 *    appended by someone without the master key): HEAD;
 *  - a mismatch with an anchor exported earlier (audit_anchor): ANCHOR.
 * What it cannot detect on its own: someone holding the database AND the
 * master key can rewrite everything; someone who saved an old head record
 * can truncate the log back to that point and restore it (rollback).
 * Against both, export anchors regularly (audit_anchor) to a place the
 * database's writers cannot change (a log shipper, a ticket, paper) and
 * pass the latest to audit_verify.
 *
 * Persistence goes through an audit_sink_t (below); audit_sqlite.h gives
 * the SQLite one. Blocking: every audit_* function calls the sink
 * synchronously and may block on disk or network. Never call them on the
 * loop thread: run them on the store's worker thread or the thread pool.
 * An audit_log_t is not thread-safe: use it from one thread at a time.
 *
 * Errors: 0 or a negative -errno code; AUDIT_EERASED and the SECRETS_E*
 * codes from secrets.h have their documented meaning.
 */
#ifndef ASSIST_AUDIT_H
#define ASSIST_AUDIT_H

#include "secrets/secrets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The subject's key record is gone: the details were erased. */
#define AUDIT_EERASED (-EKEYREVOKED)
/** The stored head record is missing or its MAC does not verify. */
#define AUDIT_EHEAD (-EBADMSG)

#define AUDIT_HASH_BYTES 32

/** One stored row. In callbacks every pointer is borrowed for the call. */
typedef struct audit_row {
  int64_t seq;
  int64_t time_ms;
  const char *actor;
  const char *action;
  const char *target;
  const char *outcome;
  const char *subject; /* "" when none */
  const char *details; /* the stored form: "e1:..." when encrypted */
  uint8_t prev_hash[AUDIT_HASH_BYTES];
  uint8_t hash[AUDIT_HASH_BYTES];
} audit_row_t;

/** The head record: last seq and hash, and their MAC ("m1.<keyid>.<b64>"). */
typedef struct audit_head {
  int64_t seq; /* 0 when the log is empty */
  uint8_t hash[AUDIT_HASH_BYTES];
  const char *mac; /* NULL when there is no head record */
} audit_head_t;

/* ------------------------------------------------------------------ */
/* The sink: how the audit log is stored                               */

/**
 * Called by sink->append inside its transaction with the current head
 * (seq 0, zero hash and mac NULL if there is none). Fills *row and *next
 * (next->seq == row->seq, next->hash == row->hash); the strings it sets
 * stay valid until append returns. May be called again if the sink retries.
 * A negative return makes append roll back and return that code.
 */
typedef int (*audit_seal_fn)(void *arg, const audit_head_t *cur,
                             audit_row_t *row, audit_head_t *next);
/** Return 0 to continue, anything else to stop (scan then returns it). */
typedef int (*audit_row_cb)(void *arg, const audit_row_t *row);
typedef int (*audit_key_cb)(void *arg, const char *subject,
                            const char *wrapped);

/**
 * A storage backend. All functions return 0 or a negative code, run
 * synchronously, and are never called re-entrantly (the audit library does
 * not call the sink from inside a scan callback).
 */
typedef struct audit_sink_ops {
  /** Atomically: read the head, seal(), insert the row (a row with that seq
   *  already present is -EEXIST), store the new head. All or nothing; with
   *  several writers it must serialize (e.g. lock the head record). */
  int (*append)(void *ctx, audit_seal_fn seal, void *seal_arg);
  /** Rows with seq >= from_seq in ascending seq order; only those of
   *  subject when subject is not NULL. */
  int (*scan)(void *ctx, int64_t from_seq, const char *subject, audit_row_cb cb,
              void *arg);
  /** The head; *mac (owned by the caller, free()) or -ENOENT if none. */
  int (*head_get)(void *ctx, int64_t *seq, uint8_t hash[AUDIT_HASH_BYTES],
                  char **mac);
  /** The wrapped data key of subject (*wrapped owned by the caller,
   *  free()), or -ENOENT. */
  int (*key_get)(void *ctx, const char *subject, char **wrapped);
  /** Inserts a key record; -EEXIST if subject already has one. */
  int (*key_insert)(void *ctx, const char *subject, const char *wrapped);
  /** Replaces the wrapped key of an existing record (rotation); -ENOENT. */
  int (*key_update)(void *ctx, const char *subject, const char *wrapped);
  /** Destroys the record for good (the backend should overwrite freed
   *  storage, e.g. SQLite secure_delete); -ENOENT if none. */
  int (*key_delete)(void *ctx, const char *subject);
  /** Every key record, in any order. */
  int (*key_scan)(void *ctx, audit_key_cb cb, void *arg);
} audit_sink_ops_t;

typedef struct audit_sink {
  const audit_sink_ops_t *ops; /* static */
  void *ctx;                   /* owned by whoever made the sink */
} audit_sink_t;

/* ------------------------------------------------------------------ */
/* The log                                                             */

typedef struct audit_log audit_log_t;

/** ring and sink: borrowed, must outlive the log. *out owned by the caller
 *  (audit_log_free). */
int audit_log_new(secrets_keyring_t *ring, audit_sink_t sink,
                  audit_log_t **out);
void audit_log_free(audit_log_t *log);

/** What to record. Strings borrowed; NULL means "". */
typedef struct audit_record {
  int64_t time_ms;     /* 0: now */
  const char *actor;   /* required, e.g. "user:3", "plugin:gmail/work" */
  const char *action;  /* required, e.g. "inbox.archive" */
  const char *target;  /* e.g. "message:1234" */
  const char *outcome; /* e.g. "ok", "denied", "error" */
  const char *subject; /* person id; enables encrypted details */
  const char *details; /* free text or JSON; encrypted when subject set */
} audit_record_t;

/**
 * Appends an entry; *seq_out (may be NULL) gets its seq. Creates the
 * subject's data key on first use. Returns 0, -EINVAL (missing actor or
 * action), AUDIT_EHEAD (the head record is forged or missing while rows
 * exist: the log refuses to chain onto it), secrets or sink errors.
 */
int audit_append(audit_log_t *log, const audit_record_t *rec, int64_t *seq_out);

/**
 * Decrypts a row's details. *out: new string owned by the caller (free()).
 * Rows without subject or details are copied as they are. Returns 0,
 * AUDIT_EERASED (the subject was erased), SECRETS_ENOKEY (the master key
 * that wrapped the data key was removed) or SECRETS_EBADSIG (tampered).
 */
int audit_details_decrypt(audit_log_t *log, const audit_row_t *row, char **out);

typedef enum {
  AUDIT_OK = 0,
  AUDIT_BAD_MODIFIED,
  AUDIT_BAD_GAP,
  AUDIT_BAD_REORDERED,
  AUDIT_BAD_LINK,
  AUDIT_BAD_TRUNCATED,
  AUDIT_BAD_REWRITTEN,
  AUDIT_BAD_HEAD,
  AUDIT_BAD_ANCHOR,
} audit_problem_t;

typedef struct audit_verify_result {
  audit_problem_t problem;
  int64_t seq;      /* first bad seq (0 when OK) */
  int64_t rows;     /* rows read */
  int64_t last_seq; /* seq of the last row read */
  char message[256];
} audit_verify_result_t;

/** "ok", "modified", "gap", ... */
const char *audit_problem_name(audit_problem_t p);

/**
 * Walks the whole chain and checks the head record. anchor: NULL, or a
 * string from audit_anchor() saved earlier. Returns 0 when the check ran
 * (then res->problem says whether the log is intact) or a sink error.
 */
int audit_verify(audit_log_t *log, const char *anchor,
                 audit_verify_result_t *res);

/** The current head as "a1:<seq>:<hex hash>", for safekeeping outside the
 *  database. *out owned by the caller (free()). AUDIT_EHEAD if the head
 *  record does not verify. */
int audit_anchor(audit_log_t *log, char **out);

/** Called by audit_list with each row and its decrypted details (NULL
 *  when unreadable; then err says why). Return nonzero to stop. */
typedef int (*audit_entry_cb)(void *arg, const audit_row_t *row,
                              const char *details, int err);

/** Up to max rows (0: no limit) with seq >= from_seq, of subject when not
 *  NULL, details decrypted. Sink errors are returned. */
int audit_list(audit_log_t *log, int64_t from_seq, const char *subject,
               size_t max, audit_entry_cb cb, void *arg);

/**
 * GDPR access: every entry about subject as JSON text, owned by the caller
 * (free()):
 *   {"subject":"p1","erased":false,"entries":[{"seq":1,
 *    "time":"2025-01-02T03:04:05.678Z","time_ms":...,"actor":"...",
 *    "action":"...","target":"...","outcome":"...","details":...}]}
 * details is the JSON value when the decrypted text is a JSON object or
 * array, else a string, and null when unreadable (erased).
 */
int audit_export_subject(audit_log_t *log, const char *subject, char **json);

/**
 * GDPR erasure: destroys subject's data key, then appends an entry
 * {actor, "audit.erase_subject", target subject, "ok"} (with no subject
 * of its own). Returns -ENOENT if subject has no key record.
 */
int audit_erase_subject(audit_log_t *log, const char *subject,
                        const char *actor);

/**
 * After a master key rotation: re-wraps every subject key that is not
 * under the active master key, then appends an "audit.rewrap_keys" entry,
 * which re-signs the head with the active key. Only then may the old
 * master key be removed (else the head no longer verifies: HEAD).
 * *count (may be NULL) gets how many keys were re-wrapped.
 */
int audit_rewrap_keys(audit_log_t *log, size_t *count);

/** The chain hash of a row (prev_hash and canonical fields), for sinks and
 *  tests. */
void audit_row_hash(const audit_row_t *row, uint8_t out[AUDIT_HASH_BYTES]);

#endif
