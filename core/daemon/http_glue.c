/*
 * http_glue.c: the daemon's outbound HTTP client for plugins (the SDK's
 * http_request, core/plugin/host_http.c). One client serves the whole
 * daemon: OAuth creates it at start-up when providers are configured
 * (oauth_glue.c); otherwise the first plugin request creates it here, so a
 * daemon whose plugins never go out on the network never loads libcurl.
 * The shutdown closes it after every instance has stopped (main.c), and
 * from then on nothing creates it again.
 */
#include "daemon/assistd.h"

#include "common/log.h"
#include "httpc/curl_lazy.h"
#include "plugin/host_http.h"

#include <string.h>

int daemon_curl_init(assistd_t *d, const char **why) {
  if (d->curl_on) return 0;
  if (curl_lazy_load(why) < 0) return -1;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    *why = "cannot initialise libcurl";
    return -1;
  }
  d->curl_on = 1;
  return 0;
}

static httpc_t *plugin_httpc(void *ud, int create) {
  assistd_t *d = ud;
  if (d->httpc || !create || d->stopping) return d->httpc;
  const char *why;
  if (daemon_curl_init(d, &why) < 0) {
    log_kv(LOG_ERROR, "httpc", "outbound HTTP unavailable", "error", why, NULL);
    return NULL;
  }
  int rc = httpc_new(d->loop, NULL, &d->httpc);
  if (rc < 0) {
    log_kv(LOG_ERROR, "httpc", "cannot start the HTTP client", "error",
           strerror(-rc), NULL);
    d->httpc = NULL;
    return NULL;
  }
  log_kv(LOG_INFO, "httpc", "outbound HTTP client started for plugins", NULL);
  return d->httpc;
}

void daemon_http_start(assistd_t *d) {
  host_http_set_source(plugin_httpc, d);
}

void daemon_http_stop(void) {
  host_http_set_source(NULL, NULL);
}
