/*
 * hello.c: an out-of-tree assistd plugin, the smallest useful one.
 *
 * Build it against an installed SDK with nothing else:
 *   cc -shared -fPIC $(pkg-config --cflags assist-plugin) hello.c -o hello.so
 *
 * It registers GET <prefix>/{name}, reads its options and runs a timer:
 *   prefix    (string)              route prefix, default "/hello"
 *   greeting  (string, reloadable)  the word to greet with
 *   tick      (duration)            how often the tick counter advances
 *   delay     (duration, reloadable) answer after this long (shows async
 *                                    responses; 0 answers at once)
 */
#include <assist/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending pending_t;

typedef struct hello {
  const assist_host_api_t *host;
  pending_t *pending; /* delayed answers not yet sent */
  assist_instance_t *inst;
  assist_timer_t *tick;
  unsigned long ticks;
  unsigned long served;
} hello_t;

struct pending {
  pending_t *next;
  hello_t *h;
  assist_request_t *req;
};

static void answer(hello_t *h, assist_request_t *req) {
  const char *name = h->host->req_param(req, "name");
  const char *greeting = h->host->opt_string(h->inst, "greeting");
  char body[512];
  int n = snprintf(body, sizeof body,
                   "{\"greeting\":\"%s, %s\",\"instance\":\"%s\","
                   "\"ticks\":%lu,\"served\":%lu}",
                   greeting, name, h->host->instance_name(h->inst), h->ticks,
                   ++h->served);
  if (n < 0 || (size_t)n >= sizeof body) {
    static const char too_long[] = "{\"error\":\"name too long\"}";
    h->host->respond(req, 414, "application/json", too_long,
                     sizeof too_long - 1);
    return;
  }
  h->host->respond(req, 200, "application/json", body, (size_t)n);
}

static void answer_later(void *ud) {
  pending_t *p = ud;
  for (pending_t **pp = &p->h->pending; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  answer(p->h, p->req);
  free(p);
}

static int on_hello(assist_request_t *req, void *ud) {
  hello_t *h = ud;
  const char *name = h->host->req_param(req, "name");
  for (const char *c = name; *c; c++) {
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
      return h->host->respond(req, 400, "application/json",
                              "{\"error\":\"bad name\"}",
                              strlen("{\"error\":\"bad name\"}"));
  }
  int64_t delay = h->host->opt_int(h->inst, "delay");
  if (delay <= 0) {
    answer(h, req);
    return ASSIST_OK;
  }
  pending_t *p = malloc(sizeof *p);
  if (!p) return ASSIST_ENOMEM;
  p->h = h;
  p->req = req;
  if (!h->host->timer_start(h->inst, (uint64_t)delay, 0, answer_later, p)) {
    free(p);
    return ASSIST_ENOMEM;
  }
  p->next = h->pending;
  h->pending = p;
  return ASSIST_ASYNC;
}

static void on_tick(void *ud) {
  hello_t *h = ud;
  h->ticks++;
}

static int hello_init(const assist_host_api_t *host, assist_instance_t *inst,
                      void **state) {
  hello_t *h = calloc(1, sizeof *h);
  if (!h) return ASSIST_ENOMEM;
  h->host = host;
  h->inst = inst;
  char pattern[256];
  const char *prefix = host->opt_string(inst, "prefix");
  if (snprintf(pattern, sizeof pattern, "%s/{name}", prefix) >=
      (int)sizeof pattern) {
    free(h);
    return ASSIST_EINVAL;
  }
  assist_route_t route = {
      .struct_size = sizeof route,
      .method = "GET",
      .pattern = pattern,
      .handler = on_hello,
      .ud = h,
  };
  int rc = host->route_add(inst, &route);
  if (rc != ASSIST_OK) {
    free(h);
    return rc;
  }
  *state = h;
  return ASSIST_OK;
}

static int hello_start(void *state) {
  hello_t *h = state;
  int64_t every = h->host->opt_int(h->inst, "tick");
  h->tick = h->host->timer_start(h->inst, (uint64_t)every, (uint64_t)every,
                                 on_tick, h);
  h->host->log(h->inst, ASSIST_LOG_INFO, "hello started, greeting '%s'",
               h->host->opt_string(h->inst, "greeting"));
  return h->tick ? ASSIST_OK : ASSIST_ENOMEM;
}

static int hello_reconfigure(void *state) {
  hello_t *h = state;
  h->host->log(h->inst, ASSIST_LOG_INFO, "greeting is now '%s'",
               h->host->opt_string(h->inst, "greeting"));
  return ASSIST_OK;
}

static void hello_stop(void *state, assist_done_cb done, void *arg) {
  hello_t *h = state;
  if (h->tick) h->host->timer_stop(h->tick);
  h->tick = NULL;
  done(arg);
}

/* The host has stopped our timers and answered their requests with 503;
 * what is left is our own memory. */
static void hello_destroy(void *state) {
  hello_t *h = state;
  while (h->pending) {
    pending_t *p = h->pending;
    h->pending = p->next;
    free(p);
  }
  free(h);
}

static const assist_option_t hello_options[] = {
    {.name = "prefix",
     .type = ASSIST_OPT_STRING,
     .default_value = "/hello",
     .description = "Route prefix: GET <prefix>/{name}."},
    {.name = "greeting",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "hello",
     .description = "The word to greet with."},
    {.name = "tick",
     .type = ASSIST_OPT_DURATION,
     .default_value = "1s",
     .min = 10,
     .max = 3600000,
     .description = "How often the tick counter advances."},
    {.name = "delay",
     .type = ASSIST_OPT_DURATION,
     .flags = ASSIST_OPT_RELOADABLE,
     .default_value = "0ms",
     .min = 0,
     .max = 60000,
     .description = "Answer after this long (0: at once)."},
    {.name = NULL},
};

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .description = "Greets people over HTTP; the SDK's example plugin.",
    .flags = ASSIST_PLUGIN_RELOADABLE | ASSIST_PLUGIN_MULTI_INSTANCE,
    .options = hello_options,
    .init = hello_init,
    .start = hello_start,
    .reconfigure = hello_reconfigure,
    .stop = hello_stop,
    .destroy = hello_destroy,
};
