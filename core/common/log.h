/*
 * log.h: structured logging, one event per line.
 *
 * JSON lines by default: {"time","level","component","msg", fields...};
 * "text" format for people. Thread-safe: a line is composed in memory and
 * written with one write(2) under a mutex. Never log secrets or message
 * bodies: pass identifiers, not contents.
 */
#ifndef ASSIST_LOG_H
#define ASSIST_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;
typedef enum { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT } log_format_t;

/** Defaults: JSON, INFO, stderr (fd 2). */
void log_setup(log_format_t fmt, log_level_t min_level, int fd);
log_level_t log_min_level(void);
int log_parse_level(const char *s, log_level_t *out);

void log_msg(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(log_level_t level, const char *component, const char *fmt,
              va_list ap);

/**
 * An event with fields: after msg come key/value string pairs ended by a
 * NULL key. A key starting with '#' marks a value written raw (a number).
 *   log_kv(LOG_INFO, "http", "request", "method", "GET", "#status", "200",
 *          NULL);
 */
void log_kv(log_level_t level, const char *component, const char *msg, ...);

#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)
#define log_info(c, ...) log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)

#endif
