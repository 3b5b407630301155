/* csrf.c: synchronizer tokens. Each session stores a random token; a
 * cookie-authenticated state change must echo it in X-CSRF-Token, which a
 * cross-site page cannot read or set. */
#include "auth_int.h"

#include "../secrets/secrets.h"

#include <stdlib.h>
#include <string.h>

void auth_csrf_new(char out[64]) {
  char *t = secrets_random_token(32); /* 43 characters */
  memcpy(out, t, strlen(t) + 1);
  free(t);
}

int auth_csrf_needed(const char *method) {
  return !(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0);
}

int auth_csrf_check(http_request_t *req, const char *expected) {
  const char *got = http_req_header(req, "X-CSRF-Token");
  if (!got || !expected || !*expected) return 0;
  /* Lengths are not secret (all tokens are 43 characters). */
  return secrets_equal_str(got, expected);
}
