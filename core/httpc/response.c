/* response.c: the response object handed to completion callbacks. */
#include "httpc_int.h"

#include <stdlib.h>
#include <strings.h>

const char *httpc_response_header(const httpc_response_t *resp,
                                  const char *name) {
  if (!resp || !name) return NULL;
  for (size_t i = 0; i < resp->nheaders; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}

void httpc_response_free(httpc_response_t *resp) {
  if (!resp) return;
  httpc_resp_impl_t *ri = (httpc_resp_impl_t *)resp;
  for (size_t i = 0; i < resp->nheaders; i++) {
    free((char *)ri->hdrs[i].name);
    free((char *)ri->hdrs[i].value);
  }
  free(ri->hdrs);
  free(ri->body);
  free(ri->error);
  free(ri);
}

const char *httpc_result_str(httpc_result_t r) {
  switch (r) {
  case HTTPC_OK:
    return "ok";
  case HTTPC_HTTP_ERROR:
    return "http_error";
  case HTTPC_TIMEOUT:
    return "timeout";
  case HTTPC_AMBIGUOUS:
    return "ambiguous";
  case HTTPC_CANCELLED:
    return "cancelled";
  case HTTPC_TOO_LARGE:
    return "too_large";
  case HTTPC_NETWORK:
    return "network";
  }
  return "unknown";
}

int64_t httpc_retry_after_ms(const httpc_response_t *resp, int64_t now) {
  return httpc__parse_retry_after(httpc_response_header(resp, "Retry-After"),
                                  httpc_response_header(resp, "retry-after-ms"),
                                  now);
}
