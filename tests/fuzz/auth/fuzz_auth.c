/*
 * fuzz_auth: libFuzzer harness for what core/auth parses from clients:
 * Cookie headers, Authorization headers, request bodies (JSON objects and
 * urlencoded forms, chosen by a Content-Type), emails and token scopes.
 *
 * The first byte picks the parser; the rest is its input. Beyond "no
 * crash, no leak, no overrun", each parser's promises are checked: values
 * are NUL-free and as long as reported, cookie values survive a
 * Set-Cookie round trip, bearer tokens re-parse to themselves, email
 * normalisation is idempotent, scopes stay within the known bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

static const char *const cookie_names[] = {
    "assistd_session", "__Host-assistd_session", "a", "sid"};

static void check_fields(const auth_fields_t *f) {
  for (size_t i = 0; i < f->n; i++) {
    if (!f->f[i].name || !f->f[i].value) abort();
    if (auth_fields_get(f, f->f[i].name, NULL) == NULL) abort();
    (void)strlen(f->f[i].value);
    if (f->f[i].type == AUTH_F_JSON) {
      int s = auth_scopes_parse(f->f[i].value, AUTH_F_JSON);
      if (s > (int)AUTH_SCOPE_ALL) abort();
    }
  }
}

static void fuzz_cookie(const char *s, unsigned sel) {
  const char *name = cookie_names[sel % 4];
  char out[256];
  int n = auth_cookie_get(s, name, out, sizeof out);
  if (n < 0) return;
  if ((size_t)n != strlen(out)) abort();
  if (n == 0) return;
  char *sc = auth_cookie_build(name, out, 60, (int)(sel & 1));
  if (!sc) abort(); /* a parsed value is always a valid cookie value */
  /* The browser sends back "name=value": it must parse to the same. */
  size_t k = strcspn(sc, ";");
  sc[k] = '\0';
  char back[256];
  if (auth_cookie_get(sc, name, back, sizeof back) != n) abort();
  if (strcmp(back, out) != 0) abort();
  free(sc);
}

static void fuzz_bearer(const char *s) {
  char out[256];
  int n = auth_bearer_parse(s, out, sizeof out);
  if (n < 0) return;
  if ((size_t)n != strlen(out) || n == 0) abort();
  char again[300], back[256];
  snprintf(again, sizeof again, "Bearer %s", out);
  if (auth_bearer_parse(again, back, sizeof back) != n) abort();
  if (strcmp(back, out) != 0) abort();
}

static void fuzz_body(const char *s, size_t len, unsigned sel) {
  auth_fields_t f;
  int rc;
  if (sel % 3 == 0) {
    rc = auth_json_parse(s, len, &f);
  } else if (sel % 3 == 1) {
    rc = auth_form_parse(s, len, &f);
  } else {
    /* "content-type\nbody" */
    const char *nl = memchr(s, '\n', len);
    size_t cl = nl ? (size_t)(nl - s) : 0;
    char ct[128];
    if (cl >= sizeof ct) cl = sizeof ct - 1;
    memcpy(ct, s, cl);
    ct[cl] = '\0';
    const char *body = nl ? nl + 1 : s;
    size_t bl = nl ? len - (size_t)(body - s) : len;
    rc = auth_body_parse(ct, body, bl, &f);
  }
  if (rc == 0) {
    check_fields(&f);
    auth_fields_free(&f);
  }
}

static void fuzz_email(const char *s) {
  char a[300], b[300];
  if (auth_email_normalize(s, a, sizeof a) < 0) return;
  if (auth_email_normalize(a, b, sizeof b) < 0) abort();
  if (strcmp(a, b) != 0) abort();
}

static void fuzz_scopes(const char *s) {
  int a = auth_scopes_parse(s, AUTH_F_STRING);
  int b = auth_scopes_parse(s, AUTH_F_JSON);
  if (a > (int)AUTH_SCOPE_ALL || b > (int)AUTH_SCOPE_ALL) abort();
  if (a == 0 || b == 0) abort(); /* at least one scope, or an error */
  if (a > 0) {
    buf_t j = {0};
    auth_scopes_json((unsigned)a, &j);
    if (auth_scopes_parse(j.data, AUTH_F_JSON) != a) abort();
    buf_free(&j);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned sel = data[0];
  size_t len = size - 1;
  char *s = malloc(len + 1);
  memcpy(s, data + 1, len);
  s[len] = '\0';
  switch (sel % 6) {
  case 0:
    fuzz_cookie(s, sel / 6);
    break;
  case 1:
    fuzz_bearer(s);
    break;
  case 2:
  case 3:
    fuzz_body(s, len, sel / 6 + (sel % 6 == 3));
    break;
  case 4:
    fuzz_email(s);
    break;
  case 5:
    fuzz_scopes(s);
    break;
  }
  free(s);
  return 0;
}
