/*
 * secrets.h: encryption at rest, signed expiring tokens, password hashes,
 * PKCE and constant-time helpers, all on libsodium.
 *
 * Keyring. A keyring holds 32-byte master keys, each named by a short key
 * id: 8 lowercase hex characters derived from the key (a keyed BLAKE2b of a
 * fixed label, so the id reveals nothing about the key) unless configured
 * (1..32 characters of [A-Za-z0-9_-]). One key is active: it encrypts and
 * signs. The others only decrypt and verify, so a key can be rotated
 * without losing anything: add the new key, make it active, re-encrypt the
 * stored ciphertexts (secrets_reencrypt), then remove the old key. A
 * master key is never used directly: each use derives its own subkey with
 * crypto_kdf (encryption: context "asdenc01"; MACs and tokens: context
 * "asdmac01" with a subkey id taken from a hash of the purpose string).
 * Key material lives in sodium_malloc() memory (guard pages, mlock where
 * allowed, read-only after load) and is zeroed when freed.
 *
 * Threading. A keyring is safe to use from several threads at once (a
 * read-write lock guards it); adding, activating and removing keys take
 * the write lock. secrets_global_init() must run once before anything else
 * (it is idempotent and thread-safe).
 *
 * Blocking. Encryption, decryption and tokens are microseconds of CPU and
 * may run on the loop. Loading or creating a key file does disk I/O: do it
 * at start-up or on the thread pool. Password hashing is deliberately slow
 * (tens of milliseconds, 64 MiB of memory): ALWAYS run secrets_pwhash*()
 * on the thread pool (uv_queue_work / assist queue_work), never on the
 * loop.
 *
 * Ciphertext format (text, fits a TEXT column):
 *   v1:<keyid>:<base64url-nopad(nonce[24] || ciphertext || tag[16])>
 * XChaCha20-Poly1305-IETF with a random nonce. The associated data is
 * "v1:<keyid>:" followed by the caller's context string (for example
 * "oauth_tokens.access_token:42"), so a ciphertext moved to another row,
 * column or table, or relabelled with another key id, does not decrypt.
 *
 * Token format (URL-safe, [A-Za-z0-9_.-] only):
 *   t1.<keyid>.<base64url(body)>.<base64url(mac[32])>
 *   body = expiry (unix seconds, u64 big-endian) || purpose length (u8) ||
 *          purpose || payload
 * The MAC is HMAC-SHA512-256 (crypto_auth) over the text before the last
 * '.', with a subkey derived for the token's purpose. Payloads are signed,
 * NOT encrypted: whoever holds the token can read it, so put identifiers
 * in it, never secrets.
 *
 * Errors: 0 or a negative -errno code. The codes below have a fixed
 * meaning here; secrets_strerror() names them.
 */
#ifndef ASSIST_SECRETS_H
#define ASSIST_SECRETS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Input is not in the expected format (bad prefix, base64, length...). */
#define SECRETS_EMALFORMED (-EINVAL)
/** Authentication failed: tampered data, wrong associated data, wrong key,
 *  bad token signature or wrong password. */
#define SECRETS_EBADSIG (-EBADMSG)
/** The key id named by a ciphertext or token is not in the keyring. */
#define SECRETS_ENOKEY (-ENOKEY)
/** A valid token whose expiry time has passed. */
#define SECRETS_EEXPIRED (-EKEYEXPIRED)
/** A valid token made for another purpose. */
#define SECRETS_EPURPOSE (-EKEYREJECTED)
/** A key file readable or writable by group or others. */
#define SECRETS_EPERM (-EACCES)
/** The keyring has no active key. */
#define SECRETS_ENOACTIVE (-ENOENT)

#define SECRETS_KEYBYTES 32
/** Longest key id, without the terminating NUL. */
#define SECRETS_KEYID_MAX 32
/** Size of a password hash string, NUL included (crypto_pwhash_STRBYTES). */
#define SECRETS_PWHASH_STRBYTES 128
/** A PKCE verifier made by secrets_pkce_verifier(): 43 chars + NUL. */
#define SECRETS_PKCE_VERIFIER_SIZE 44
/** An S256 challenge: 43 chars + NUL. */
#define SECRETS_PKCE_CHALLENGE_SIZE 44
/** Longest plaintext secrets_encrypt() accepts. */
#define SECRETS_MAX_PLAINTEXT (16u * 1024 * 1024)
/** Longest token payload and purpose. */
#define SECRETS_TOKEN_MAX_PAYLOAD 4096
#define SECRETS_TOKEN_MAX_PURPOSE 64

/** Calls sodium_init() once. 0, or -EIO if libsodium cannot start. */
int secrets_global_init(void);

/** Text for a code returned by this module (or strerror for others). */
const char *secrets_strerror(int code);

/* ------------------------------------------------------------------ */
/* Keyring                                                             */

typedef struct secrets_keyring secrets_keyring_t;

/** A new, empty keyring (owned by the caller: secrets_keyring_free). */
secrets_keyring_t *secrets_keyring_new(void);
/** Zeroes and frees every key. NULL is accepted. */
void secrets_keyring_free(secrets_keyring_t *ring);

/**
 * Adds a key. key: copied (the caller should zero its copy). id: NULL to
 * derive it from the key, else copied. activate: make it the active key
 * (the first key added is always made active). id_out: NULL or a buffer of
 * SECRETS_KEYID_MAX + 1 bytes receiving the id.
 * Returns 0, SECRETS_EMALFORMED (bad id) or -EEXIST (id already present).
 */
int secrets_keyring_add(secrets_keyring_t *ring,
                        const uint8_t key[SECRETS_KEYBYTES], const char *id,
                        bool activate, char *id_out);
/** Adds a fresh random key (tests, ephemeral rings); as keyring_add. */
int secrets_keyring_generate(secrets_keyring_t *ring, bool activate,
                             char *id_out);
/**
 * Loads a key file: exactly 32 raw bytes, or 64 hex characters, or base64
 * (standard or URL-safe, padded or not) of 32 bytes; surrounding
 * whitespace is ignored for the text forms. Refuses (SECRETS_EPERM) a file
 * with any group or other permission bit, and anything but a regular
 * file. On error, err (errlen bytes, may be NULL) receives a message
 * naming the file. Blocks on disk I/O. Other arguments as keyring_add.
 */
int secrets_keyring_add_file(secrets_keyring_t *ring, const char *path,
                             const char *id, bool activate, char *id_out,
                             char *err, size_t errlen);
/**
 * Loads a key from environment variable name (64 hex chars or base64).
 * Returns -ENOENT if unset. The caller may unsetenv() it afterwards.
 */
int secrets_keyring_add_env(secrets_keyring_t *ring, const char *name,
                            const char *id, bool activate, char *id_out,
                            char *err, size_t errlen);
/**
 * First-run helper: loads path, or creates it with secrets_keyfile_create()
 * if it does not exist and then loads it. *created (may be NULL) tells
 * which happened, so the caller can log "created key file PATH".
 */
int secrets_keyring_add_file_or_create(secrets_keyring_t *ring,
                                       const char *path, bool activate,
                                       bool *created, char *id_out, char *err,
                                       size_t errlen);
/** Makes key id active. -ENOENT if absent. */
int secrets_keyring_set_active(secrets_keyring_t *ring, const char *id);
/** Removes key id. -ENOENT if absent, -EBUSY if it is the active key. */
int secrets_keyring_remove(secrets_keyring_t *ring, const char *id);
/** Copies the active key id into id_out (SECRETS_KEYID_MAX + 1 bytes).
 *  SECRETS_ENOACTIVE if the ring is empty. */
int secrets_keyring_active_id(secrets_keyring_t *ring, char *id_out);
/** true if the ring holds key id. */
bool secrets_keyring_has(secrets_keyring_t *ring, const char *id);
size_t secrets_keyring_count(secrets_keyring_t *ring);

/**
 * Creates a key file holding a new random key as 64 hex characters and a
 * newline, mode 0600. Atomic and exclusive: the key is written and synced
 * to a temporary file in the same directory, which is then link()ed to
 * path, so path either does not exist or holds a complete key. Returns
 * -EEXIST if path exists (never overwrites). Blocks on disk I/O.
 */
int secrets_keyfile_create(const char *path, char *err, size_t errlen);

/**
 * Parses key text or bytes (the forms listed for keyring_add_file) into
 * key. Returns 0 or SECRETS_EMALFORMED. data: borrowed.
 */
int secrets_key_parse(const void *data, size_t len,
                      uint8_t key[SECRETS_KEYBYTES]);

/* ------------------------------------------------------------------ */
/* Encryption at rest                                                  */

/**
 * Encrypts len bytes of pt under the active key, bound to the context
 * string aad (NULL means ""). *out: a new NUL-terminated string owned by
 * the caller (free()). Returns 0, SECRETS_ENOACTIVE or SECRETS_EMALFORMED
 * (len above SECRETS_MAX_PLAINTEXT).
 */
int secrets_encrypt(secrets_keyring_t *ring, const void *pt, size_t len,
                    const char *aad, char **out);
/** secrets_encrypt of a NUL-terminated string. */
int secrets_encrypt_str(secrets_keyring_t *ring, const char *pt,
                        const char *aad, char **out);
/**
 * Decrypts ct made with the same aad. *out: the plaintext followed by a
 * NUL, in sodium_malloc() memory owned by the caller: release it with
 * secrets_plain_free(). *out_len (may be NULL) gets its length.
 * Returns 0, SECRETS_EMALFORMED, SECRETS_ENOKEY (key id not in the ring:
 * the message from secrets_strerror says so) or SECRETS_EBADSIG.
 */
int secrets_decrypt(secrets_keyring_t *ring, const char *ct, const char *aad,
                    char **out, size_t *out_len);
/** Zeroes and frees a plaintext from secrets_decrypt(). NULL accepted. */
void secrets_plain_free(char *p);
/**
 * Decrypts ct and encrypts it again under the active key (with a new
 * nonce), same aad. *out: new string owned by the caller (free()).
 */
int secrets_reencrypt(secrets_keyring_t *ring, const char *ct, const char *aad,
                      char **out);
/** Copies the key id named by ct into id_out (SECRETS_KEYID_MAX + 1). */
int secrets_ct_key_id(const char *ct, char *id_out);
/** 1 if ct is under a key other than the active one, 0 if not, <0 error. */
int secrets_ct_needs_reencrypt(secrets_keyring_t *ring, const char *ct);

/* ------------------------------------------------------------------ */
/* Plugin ciphertexts (plugin_ct.c): what the SDK's secret_encrypt makes */

/** Longest plugin context string. */
#define SECRETS_PLUGIN_CONTEXT_MAX 200
/** 1 if context is 1..SECRETS_PLUGIN_CONTEXT_MAX printable ASCII chars. */
int secrets_plugin_context_ok(const char *context);
/**
 * "ps1:<base64url(context)>:<secrets_encrypt ciphertext>", the inner one
 * bound to "plugin:<instance>:<context>": only that instance, with that
 * context, can decrypt it. The context is in clear in front so that key
 * rotation can re-encrypt without the plugin. *out owned by the caller.
 */
int secrets_plugin_encrypt(secrets_keyring_t *ring, const char *instance,
                           const char *context, const void *pt, size_t len,
                           char **out);
/** As secrets_decrypt (plaintext in sodium memory: secrets_plain_free). */
int secrets_plugin_decrypt(secrets_keyring_t *ring, const char *instance,
                           const char *context, const char *ct, char **out,
                           size_t *out_len);
/** 1 if value (len bytes, not NUL-terminated) looks like a plugin
 * ciphertext ("ps1:" prefix). */
int secrets_plugin_is_ct(const void *value, size_t len);
/**
 * Re-encrypts ct under the active key for instance. Returns 0 with *out
 * (owned by the caller), 1 when ct is already under the active key (no
 * *out), or an error (SECRETS_ENOKEY when its key is not in the ring).
 */
int secrets_plugin_reencrypt(secrets_keyring_t *ring, const char *instance,
                             const char *ct, char **out);

/* ------------------------------------------------------------------ */
/* MACs and signed expiring tokens                                     */

/**
 * Signs payload (NUL-terminated, at most SECRETS_TOKEN_MAX_PAYLOAD bytes)
 * for purpose (1..SECRETS_TOKEN_MAX_PURPOSE printable ASCII characters,
 * e.g. "rsvp" or "oauth-state"), valid for ttl_s > 0 seconds from now.
 * *out: new string owned by the caller (free()).
 */
int secrets_token_sign(secrets_keyring_t *ring, const char *purpose,
                       const char *payload, int64_t ttl_s, char **out);
/** As secrets_token_sign with an explicit current time (unix seconds). */
int secrets_token_sign_at(secrets_keyring_t *ring, const char *purpose,
                          const char *payload, int64_t now, int64_t ttl_s,
                          char **out);
/**
 * Verifies token for purpose at time now (unix seconds). On success
 * *payload (may be NULL) receives a new string owned by the caller
 * (free()). Checks, in this order: format (SECRETS_EMALFORMED), key id in
 * the ring (SECRETS_ENOKEY), MAC in constant time (SECRETS_EBADSIG),
 * purpose (SECRETS_EPURPOSE), expiry: now >= expiry is SECRETS_EEXPIRED.
 */
int secrets_token_verify(secrets_keyring_t *ring, const char *purpose,
                         const char *token, int64_t now, char **payload);

/**
 * A detached MAC of data for purpose under the active key:
 * "m1.<keyid>.<base64url(mac[32])>". *out owned by the caller (free()).
 */
int secrets_mac(secrets_keyring_t *ring, const char *purpose, const void *data,
                size_t len, char **out);
/** 0, SECRETS_EMALFORMED, SECRETS_ENOKEY or SECRETS_EBADSIG. */
int secrets_mac_verify(secrets_keyring_t *ring, const char *purpose,
                       const void *data, size_t len, const char *mac);

/* ------------------------------------------------------------------ */
/* Password hashing (Argon2id). CPU- and memory-heavy: thread pool only. */

/**
 * Sets the cost of new hashes (default crypto_pwhash_OPSLIMIT_INTERACTIVE
 * = 2 passes and crypto_pwhash_MEMLIMIT_INTERACTIVE = 64 MiB, libsodium's
 * recommendation for interactive logins on a server: about 50-100 ms).
 * Call before any thread hashes. Returns SECRETS_EMALFORMED below
 * libsodium's minimums.
 */
int secrets_pwhash_set_limits(unsigned long long opslimit, size_t memlimit);
/** Hashes password into out ("$argon2id$v=19$m=...,t=...,p=1$salt$hash").
 *  Returns 0, SECRETS_EMALFORMED (longer than 1024 bytes) or -ENOMEM. */
int secrets_pwhash(const char *password, char out[SECRETS_PWHASH_STRBYTES]);
/** 0 if password matches hash, SECRETS_EBADSIG if not, SECRETS_EMALFORMED
 *  if hash is not an Argon2id hash string. */
int secrets_pwhash_verify(const char *hash, const char *password);
/** 1 if hash was made with other parameters than the current ones (rehash
 *  it after the next successful login), 0 if not, SECRETS_EMALFORMED. */
int secrets_pwhash_needs_rehash(const char *hash);

/* ------------------------------------------------------------------ */
/* PKCE (RFC 7636), random tokens, constant-time comparison, base64url  */

/** A random code_verifier: 32 random bytes in base64url (43 chars). */
void secrets_pkce_verifier(char out[SECRETS_PKCE_VERIFIER_SIZE]);
/** S256 challenge: base64url(SHA-256(verifier)). verifier must be 43..128
 *  unreserved characters ([A-Za-z0-9-._~]); else SECRETS_EMALFORMED. */
int secrets_pkce_challenge_s256(const char *verifier,
                                char out[SECRETS_PKCE_CHALLENGE_SIZE]);
/** nbytes (1..1024) random bytes in base64url; owned by the caller. */
char *secrets_random_token(size_t nbytes);
/** Constant-time equality for equal lengths (the length is not secret). */
bool secrets_equal(const void *a, size_t alen, const void *b, size_t blen);
/** secrets_equal on two NUL-terminated strings. */
bool secrets_equal_str(const char *a, const char *b);
/** HMAC-SHA-256 with a key of any length (webhook signatures). */
void secrets_hmac_sha256(const void *key, size_t keylen, const void *msg,
                         size_t len, uint8_t out[32]);

/** base64url without padding; new string owned by the caller (free()). */
char *secrets_b64url_encode(const void *bin, size_t len);
/**
 * Strict decoding of base64url without padding: rejects any other
 * character and any non-canonical encoding, so one byte string has exactly
 * one text form. *out (owned by the caller, free()) gets len bytes plus a
 * NUL. Returns 0 or SECRETS_EMALFORMED.
 */
int secrets_b64url_decode(const char *s, size_t slen, uint8_t **out,
                          size_t *out_len);

#endif
