/*
 * smtp: an e-mail notifier over any SMTP server through libcurl (smtp:// or
 * smtps://, STARTTLS, AUTH), for people without SendGrid.
 *
 * send() builds the MIME message (smtp_mime.c) and hands the transfer to
 * the host's thread pool (queue_work): a blocking libcurl easy transfer
 * there, never on the loop. Results:
 *   250 after the data              ASSIST_OK, provider id = the Message-ID
 *   no connection / 4xx before DATA ASSIST_EIO (retry later; nothing sent)
 *   5xx (any stage)                 ASSIST_EINVAL (permanent; 530/535 and
 *                                   refused logins ASSIST_EACCES)
 *   4xx after the data              ASSIST_EIO (the server declined it)
 *   lost after the data started     ASSIST_EAMBIGUOUS (may have been
 *                                   accepted: never sent again)
 * The Message-ID is derived from the delivery's idempotency key, so a
 * message that is sent again carries the same Message-ID and receiving
 * systems can drop the duplicate.
 *
 * The password is never logged and never part of an error text.
 * Threading: everything but the transfer runs on the loop thread.
 */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assist/plugin.h"
#ifdef ASSIST_MAIL_TEST_ROUTE
#include "mail_test_route.h"
#endif
#include "smtp_mime.h"

typedef struct smtp {
  const assist_host_api_t *host; /* host */
  assist_instance_t *inst;       /* host */
  /* Immutable after init; read by pool threads. All owned. */
  char *url, *username, *password, *from, *domain, *ca_file;
  int starttls;
  long timeout_ms;
  int inflight; /* loop thread only */
  int stopping;
  assist_done_cb stop_done;
  void *stop_arg;
  assist_metric_t *m_sends;
} smtp_t;

static void wipe_free(char *p) {
  if (!p) return;
  volatile char *v = p;
  while (*v) *v++ = 0;
  free(p);
}

static void smtp_free(smtp_t *s) {
  if (!s) return;
  free(s->url);
  free(s->username);
  wipe_free(s->password);
  free(s->from);
  free(s->domain);
  free(s->ca_file);
  free(s);
}

/* One send: built on the loop, transferred on a pool thread. */
typedef struct job {
  smtp_t *s;
  assist_send_done_cb done;
  void *arg;
  int64_t delivery_id;
  smtp_mail_t mail;
  size_t off; /* bytes of mail.data handed to libcurl */
  atomic_int data_started;
  int ran;    /* the worker ran */
  int status; /* ASSIST_* */
  char error[CURL_ERROR_SIZE + 96];
} job_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud) {
  job_t *j = ud;
  /* libcurl asks for the message only after the server's 354 to DATA. */
  atomic_store(&j->data_started, 1);
  size_t room = size * nitems, left = j->mail.len - j->off;
  size_t n = left < room ? left : room;
  memcpy(buf, j->mail.data + j->off, n);
  j->off += n;
  return n;
}

static void classify(job_t *j, CURLcode rc, long code, const char *cerr) {
  int after_data = atomic_load(&j->data_started);
  const char *what = cerr && *cerr ? cerr : curl_easy_strerror(rc);
  if (rc == CURLE_OK) {
    j->status = ASSIST_OK;
    return;
  }
  if (rc == CURLE_LOGIN_DENIED || code == 530 || code == 535) {
    j->status = ASSIST_EACCES;
    snprintf(j->error, sizeof j->error, "SMTP login refused (%ld): %s", code,
             what);
  } else if (code >= 500 && code < 600) {
    j->status = ASSIST_EINVAL;
    snprintf(j->error, sizeof j->error,
             "SMTP server refused the message "
             "(%ld): %s",
             code, what);
  } else if (code >= 400 && code < 500) {
    j->status = ASSIST_EIO;
    snprintf(j->error, sizeof j->error,
             "SMTP server asked to try later "
             "(%ld): %s",
             code, what);
  } else if (after_data) {
    j->status = ASSIST_EAMBIGUOUS;
    snprintf(j->error, sizeof j->error,
             "SMTP transfer broke off after the "
             "message data started (the server may have accepted it): %s",
             what);
  } else {
    j->status = ASSIST_EIO;
    snprintf(j->error, sizeof j->error, "SMTP: %s", what);
  }
}

/* Pool thread: the blocking transfer. Touches only the job and the
 * instance's immutable settings. */
static void send_work(void *ud) {
  job_t *j = ud;
  smtp_t *s = j->s;
  j->ran = 1;
  char cerr[CURL_ERROR_SIZE] = "";
  CURL *c = curl_easy_init();
  if (!c) {
    j->status = ASSIST_EIO;
    snprintf(j->error, sizeof j->error, "SMTP: cannot start libcurl");
    return;
  }
  struct curl_slist *rcpt = curl_slist_append(NULL, j->mail.envelope_to);
  curl_easy_setopt(c, CURLOPT_URL, s->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, j->mail.envelope_from);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, j);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->mail.len);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (s->starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (s->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
  if (s->username) {
    curl_easy_setopt(c, CURLOPT_USERNAME, s->username);
    curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
  }
  CURLcode rc = rcpt ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  classify(j, rc, code, cerr);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
}

static void maybe_stopped(smtp_t *s) {
  if (s->stopping && s->inflight == 0 && s->stop_done) {
    assist_done_cb d = s->stop_done;
    s->stop_done = NULL;
    d(s->stop_arg);
  }
}

static void report(job_t *j) {
  smtp_t *s = j->s;
  static const char *names[] = {"ok", "ambiguous", "transient", "rejected"};
  const char *what = j->status == ASSIST_OK           ? names[0]
                     : j->status == ASSIST_EAMBIGUOUS ? names[1]
                     : j->status == ASSIST_EIO        ? names[2]
                                                      : names[3];
  if (s->m_sends) {
    char labels[64];
    snprintf(labels, sizeof labels, "result=\"%s\"", what);
    s->host->metric_add(s->m_sends, labels, 1);
  }
  s->host->log(s->inst,
               j->status == ASSIST_OK ? ASSIST_LOG_INFO : ASSIST_LOG_WARN,
               "delivery %lld: %s%s%s", (long long)j->delivery_id, what,
               j->error[0] ? ": " : "", j->error);
  assist_send_result_t res = {
      .struct_size = sizeof res,
      .status = j->status,
      .provider_message_id = j->status == ASSIST_OK ? j->mail.message_id : NULL,
      .retry_after_s = 0,
      .error = j->error[0] ? j->error : NULL,
  };
  j->done(j->arg, &res);
  smtp_mail_free(&j->mail);
  free(j);
  s->inflight--;
  maybe_stopped(s);
}

static void send_done(void *ud, int status) {
  job_t *j = ud;
  if (status != ASSIST_OK && !j->ran) {
    j->status = ASSIST_EIO; /* never started: nothing went out */
    snprintf(j->error, sizeof j->error,
             "SMTP: send cancelled before it "
             "started");
  }
  report(j);
}

static void refused_later(void *ud) {
  report(ud);
}

static int smtp_send(void *ud, const assist_message_t *msg,
                     assist_send_done_cb done, void *arg) {
  smtp_t *s = ud;
  if (!msg || !done) return ASSIST_EINVAL;
  if (s->stopping) return ASSIST_ECANCELED;
  job_t *j = calloc(1, sizeof *j);
  if (!j) return ASSIST_ENOMEM;
  j->s = s;
  j->done = done;
  j->arg = arg;
  j->delivery_id = msg->delivery_id;
  const char *err = NULL;
  s->inflight++;
  if (smtp_mail_build(msg, s->from, s->domain, (int64_t)time(NULL), &j->mail,
                      &err) != 0) {
    /* Can never be sent: a permanent failure, reported from the loop
     * after send() returned, so the delivery records why. */
    j->status = ASSIST_EINVAL;
    snprintf(j->error, sizeof j->error, "%s", err ? err : "malformed");
    int rc = s->host->post_to_loop(s->inst, refused_later, j);
    if (rc != ASSIST_OK) {
      s->inflight--;
      free(j);
    }
    return rc;
  }
  if (!s->host->queue_work(s->inst, send_work, send_done, j)) {
    s->inflight--;
    smtp_mail_free(&j->mail);
    free(j);
    return ASSIST_ENOMEM;
  }
  return ASSIST_OK;
}

/* ------------------------------------------------------------------ */

static char *opt_dup(const assist_host_api_t *h, assist_instance_t *inst,
                     const char *name, int *oom) {
  const char *v = h->opt_string(inst, name);
  if (!v || !*v) return NULL;
  char *d = strdup(v);
  if (!d) *oom = 1;
  return d;
}

static int smtp_init(const assist_host_api_t *host, assist_instance_t *inst,
                     void **state) {
  if (!ASSIST_HOST_HAS(host, provider_register)) {
    host->log(inst, ASSIST_LOG_ERROR,
              "smtp needs a host with ABI 1.2 (providers)");
    return ASSIST_ENOTSUP;
  }
  smtp_t *s = calloc(1, sizeof *s);
  if (!s) return ASSIST_ENOMEM;
  s->host = host;
  s->inst = inst;
  int oom = 0, rc = ASSIST_EINVAL;
  s->url = opt_dup(host, inst, "url", &oom);
  s->username = opt_dup(host, inst, "username", &oom);
  s->password = opt_dup(host, inst, "password", &oom);
  s->from = opt_dup(host, inst, "from", &oom);
  s->domain = opt_dup(host, inst, "message_id_domain", &oom);
  s->ca_file = opt_dup(host, inst, "ca_file", &oom);
  s->starttls = host->opt_bool(inst, "starttls");
  s->timeout_ms = (long)host->opt_int(inst, "timeout");
  if (oom) {
    rc = ASSIST_ENOMEM;
    goto fail;
  }
  if (!s->url ||
      (strncmp(s->url, "smtp://", 7) != 0 &&
       strncmp(s->url, "smtps://", 8) != 0) ||
      strpbrk(s->url, "\r\n")) {
    host->log(inst, ASSIST_LOG_ERROR,
              "url must be smtp://host[:port] or smtps://host[:port]");
    goto fail;
  }
  if (strchr(s->url + 7, '@')) {
    host->log(inst, ASSIST_LOG_ERROR,
              "url must not carry credentials: use username and password");
    goto fail;
  }
  if (s->from && (strpbrk(s->from, "\r\n <>,") || !strchr(s->from, '@'))) {
    host->log(inst, ASSIST_LOG_ERROR, "from is not an e-mail address");
    goto fail;
  }
  if (s->password && !s->username) {
    host->log(inst, ASSIST_LOG_ERROR, "password set without username");
    goto fail;
  }
  if (s->username && !s->starttls && strncmp(s->url, "smtps://", 8) != 0)
    host->log(inst, ASSIST_LOG_WARN,
              "credentials over plain smtp:// without starttls are sent "
              "unencrypted");
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    host->log(inst, ASSIST_LOG_ERROR, "cannot initialise libcurl");
    rc = ASSIST_EIO;
    goto fail;
  }
  assist_provider_t p = {
      .struct_size = sizeof p,
      .kind = ASSIST_PROVIDER_NOTIFIER,
      .channel = "email",
      .send = smtp_send,
      .ud = s,
  };
  if ((rc = host->provider_register(inst, &p)) != ASSIST_OK) {
    host->log(inst, ASSIST_LOG_ERROR, "cannot register the notifier: %s",
              host->strerror(rc));
    curl_global_cleanup();
    goto fail;
  }
#ifdef ASSIST_MAIL_TEST_ROUTE
  if ((rc = mail_test_route_add(host, inst, smtp_send, s)) != ASSIST_OK) {
    curl_global_cleanup();
    goto fail;
  }
#endif
  s->m_sends =
      host->metric_register(inst, ASSIST_METRIC_COUNTER, "smtp_sends_total",
                            "SMTP sends by result.", NULL, 0);
  host->log(inst, ASSIST_LOG_INFO, "smtp ready: %s%s%s", s->url,
            s->starttls ? " (STARTTLS required)" : "",
            s->username ? " with login" : "");
  *state = s;
  return ASSIST_OK;
fail:
  smtp_free(s);
  return rc;
}

static void smtp_stop(void *state, assist_done_cb done, void *arg) {
  smtp_t *s = state;
  s->stopping = 1;
  s->stop_done = done;
  s->stop_arg = arg;
  maybe_stopped(s);
}

static void smtp_destroy(void *state) {
  smtp_free(state);
  curl_global_cleanup();
}

static const assist_option_t smtp_options[] = {
    {.name = "url",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_REQUIRED,
     .description = "The server: smtp://host:587 (with starttls: true) or "
                    "smtps://host:465 (TLS from the start)."},
    {.name = "starttls",
     .type = ASSIST_OPT_BOOL,
     .default_value = "false",
     .description = "Require STARTTLS on smtp:// (the send fails when the "
                    "server does not offer it)."},
    {.name = "username",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "SMTP AUTH login; empty: no AUTH."},
    {.name = "password",
     .type = ASSIST_OPT_STRING,
     .flags = ASSIST_OPT_SECRET,
     .default_value = "",
     .description = "SMTP AUTH password; write it as ${ENV_VAR} or "
                    "${file:PATH}."},
    {.name = "from",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "Sender address used instead of the message's own; "
                    "replies still go to the message's."},
    {.name = "message_id_domain",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "Right-hand side of Message-IDs; empty: the sender's "
                    "domain."},
    {.name = "ca_file",
     .type = ASSIST_OPT_STRING,
     .default_value = "",
     .description = "PEM file of CAs to trust for the server's certificate "
                    "instead of the system's (certificates are always "
                    "verified)."},
    {.name = "timeout",
     .type = ASSIST_OPT_DURATION,
     .default_value = "60s",
     .min = 1000,
     .max = 600000,
     .description = "How long one send may take (connection up to 10 s of "
                    "it)."},
    {.name = NULL},
};

ASSIST_PLUGIN_EXPORT const assist_plugin_t assist_plugin_v1 = {
    ASSIST_PLUGIN_HEADER,
    .name = "smtp",
    .version = "1.0.0",
    .description = "E-mail notifier over any SMTP server (libcurl; STARTTLS, "
                   "AUTH) with an iMIP invitation.",
    .flags = ASSIST_PLUGIN_MULTI_INSTANCE,
    .options = smtp_options,
    .init = smtp_init,
    .stop = smtp_stop,
    .destroy = smtp_destroy,
};
