/* keys.c: the master keyring from the `secrets:` configuration. Blocking
 * (key files): runs at start-up before the loop serves anything, and in
 * the command-line tools. */
#include "daemon/assistd.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int keys_load(const config_t *cfg, int allow_create, secrets_keyring_t **out,
              char *err, size_t errlen) {
  const cfg_secrets_t *s = &cfg->secrets;
  if (secrets_global_init() < 0) {
    snprintf(err, errlen, "libsodium cannot start");
    return -EIO;
  }
  secrets_keyring_t *ring = secrets_keyring_new();
  char id[SECRETS_KEYID_MAX + 1] = "";
  int rc = 0;
  if (s->key_file && s->create && allow_create) {
    bool created = false;
    rc = secrets_keyring_add_file_or_create(ring, s->key_file, true, &created,
                                            id, err, errlen);
    if (rc == 0 && created)
      log_kv(LOG_WARN, "secrets",
             "created a new master key file (mode 0600): back it up, without "
             "it encrypted data cannot be read",
             "file", s->key_file, "key_id", id, NULL);
  } else if (s->key_file) {
    rc = secrets_keyring_add_file(ring, s->key_file, NULL, true, id, err,
                                  errlen);
  } else if (s->key_env) {
    rc = secrets_keyring_add_env(ring, s->key_env, NULL, true, id, err, errlen);
    if (rc == -ENOENT)
      snprintf(err, errlen, "secrets.key_env: %s is not set", s->key_env);
  } else if (strncmp(cfg->storage, "sqlite:", 7) == 0) {
    rc = secrets_keyring_generate(ring, true, id);
    log_kv(LOG_WARN, "secrets",
           "no master key configured: using an ephemeral key (data encrypted "
           "now cannot be read after a restart)",
           NULL);
  } else {
    snprintf(err, errlen,
             "secrets: set secrets.key_file or secrets.key_env (required "
             "with PostgreSQL: every daemon on the database must share the "
             "master key)");
    rc = -EINVAL;
  }
  if (rc < 0) goto fail;
  /* Older keys decrypt and verify only. The same key listed twice is
   * harmless (-EEXIST). */
  for (size_t i = 0; i < s->nprevious; i++) {
    char pid[SECRETS_KEYID_MAX + 1];
    rc = secrets_keyring_add_file(ring, s->previous_key_files[i], NULL, false,
                                  pid, err, errlen);
    if (rc == -EEXIST) rc = 0;
    if (rc < 0) goto fail;
  }
  for (size_t i = 0; i < s->nprevious_env; i++) {
    char pid[SECRETS_KEYID_MAX + 1];
    rc = secrets_keyring_add_env(ring, s->previous_key_envs[i], NULL, false,
                                 pid, err, errlen);
    if (rc == -EEXIST) rc = 0;
    if (rc == -ENOENT)
      snprintf(err, errlen, "secrets.previous_key_envs: %s is not set",
               s->previous_key_envs[i]);
    if (rc < 0) goto fail;
  }
  char n[24];
  snprintf(n, sizeof n, "%zu", secrets_keyring_count(ring));
  log_kv(LOG_INFO, "secrets", "master keys loaded", "active_key_id", id,
         "#keys", n, NULL);
  *out = ring;
  return 0;
fail:
  if (!err[0]) snprintf(err, errlen, "%s", secrets_strerror(rc));
  secrets_keyring_free(ring);
  return rc;
}
