#include "log.h"

#include "buf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static log_format_t g_format = LOG_FORMAT_JSON;
static log_level_t g_min = LOG_INFO;
static int g_fd = 2;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(log_format_t fmt, log_level_t min_level, int fd) {
  g_format = fmt;
  g_min = min_level;
  g_fd = fd;
}

log_level_t log_min_level(void) {
  return g_min;
}

int log_parse_level(const char *s, log_level_t *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (log_level_t)i;
      return 0;
    }
  }
  return -1;
}

static void begin(buf_t *b, log_level_t level, const char *component,
                  const char *msg) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[40];
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
  if (g_format == LOG_FORMAT_TEXT) {
    buf_printf(b, "%s %-5s [%s] %s", ts, level_names[level], component, msg);
    return;
  }
  buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", ts,
             level_names[level]);
  buf_json_str(b, component, strlen(component));
  buf_puts(b, ",\"msg\":");
  buf_json_str(b, msg, strlen(msg));
}

static void field(buf_t *b, const char *key, const char *value) {
  int raw = key[0] == '#';
  if (raw) key++;
  if (!value) value = "";
  if (g_format == LOG_FORMAT_TEXT) {
    buf_printf(b, " %s=%s", key, value);
    return;
  }
  buf_puts(b, ",");
  buf_json_str(b, key, strlen(key));
  buf_puts(b, ":");
  if (raw && value[0])
    buf_puts(b, value);
  else
    buf_json_str(b, value, strlen(value));
}

static void finish(buf_t *b) {
  buf_puts(b, g_format == LOG_FORMAT_TEXT ? "\n" : "}\n");
  pthread_mutex_lock(&g_lock);
  size_t off = 0;
  while (off < b->len) {
    ssize_t w = write(g_fd, b->data + off, b->len - off);
    if (w <= 0) break; /* a log that cannot be written is dropped */
    off += (size_t)w;
  }
  pthread_mutex_unlock(&g_lock);
  buf_free(b);
}

void log_vmsg(log_level_t level, const char *component, const char *fmt,
              va_list ap) {
  if (level < g_min) return;
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  buf_t b = {0};
  begin(&b, level, component, msg);
  finish(&b);
}

void log_msg(log_level_t level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, component, fmt, ap);
  va_end(ap);
}

void log_kv(log_level_t level, const char *component, const char *msg, ...) {
  if (level < g_min) return;
  buf_t b = {0};
  begin(&b, level, component, msg);
  va_list ap;
  va_start(ap, msg);
  for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
    field(&b, k, va_arg(ap, const char *));
  va_end(ap);
  finish(&b);
}
