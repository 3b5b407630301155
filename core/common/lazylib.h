/*
 * lazylib.h: shared libraries opened on first use instead of at start-up.
 *
 * Why: every library the daemon links is mapped, relocated and partly
 * paged in when the process starts, used or not. libpq (with its
 * LDAP/Kerberos/GnuTLS tree) and libcurl (with OpenSSL, nghttp2, ssh2...)
 * cost several MB of resident memory together, yet most configurations
 * never call them: libpq only for postgresql:// storage, libcurl only for
 * OAuth providers and outbound HTTP. So the core compiles against their
 * headers but does not link them; the first call dlopen()s the library
 * and resolves a table of symbols.
 *
 * Each library has a small header (core/httpc/curl_lazy.h,
 * core/store/pq_lazy.h) that lists the functions
 * the core uses and redefines each name as a call through the table, so
 * call sites read as ordinary library calls. A function missing from a
 * list fails to link (the library is not on the link line), never at run
 * time.
 *
 * Code that starts using a library (opening PostgreSQL storage, creating
 * the HTTP client) calls lazylib_load() first and reports its
 * message ("postgresql storage needs libpq.so.5: <dlerror>"). A call
 * through the table that finds the library missing prints that message
 * and aborts: it means an entry point forgot the check.
 *
 * Thread-safe: loading is serialised; the outcome, success or failure, is
 * kept for the life of the process. The library is never closed.
 */
#ifndef ASSIST_LAZYLIB_H
#define ASSIST_LAZYLIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct lazylib {
  const char *soname;       /* e.g. "libpq.so.5" */
  const char *needed_by;    /* e.g. "postgresql storage", for the message */
  const char *const *names; /* n symbol names, in slot order */
  void **slots;             /* n addresses, filled by lazylib_load */
  size_t n;
  pthread_mutex_t mu;
  atomic_int state; /* 0 not tried, 1 loaded, -1 failed */
  char err[512];
} lazylib_t;

/* A static initialiser; names and slots are arrays of the same length. */
#define LAZYLIB_INIT(so, who, names_, slots_)                                  \
  {                                                                            \
    .soname = (so), .needed_by = (who), .names = (names_), .slots = (slots_),  \
    .n = sizeof(names_) / sizeof((names_)[0]), .mu = PTHREAD_MUTEX_INITIALIZER \
  }

/* A library header lists the functions the core calls as FUNCS(X), one
 * X(name) each, then declares its table with LAZYLIB_DECLARE(var, FUNCS):
 * slot indices LAZYLIB_<name>, `extern lazylib_t var` and
 * `int var_load(const char **err)` (lazylib_load on var). Its .c file has
 * LAZYLIB_DEFINE(var, soname, needed_by, FUNCS). LAZYLIB_CALL(var, name)
 * is the function, typed as the library header declares it. */
#define LAZYLIB_INDEX(f) LAZYLIB_##f,
#define LAZYLIB_NAME(f) #f,
#define LAZYLIB_DECLARE(var, FUNCS)                                            \
  enum { FUNCS(LAZYLIB_INDEX) };                                               \
  extern lazylib_t var;                                                        \
  int var##_load(const char **err)
#define LAZYLIB_DEFINE(var, so, who, FUNCS)                                    \
  static const char *const var##_names[] = {FUNCS(LAZYLIB_NAME)};              \
  static void *var##_slots[sizeof(var##_names) / sizeof(var##_names[0])];      \
  lazylib_t var = LAZYLIB_INIT(so, who, var##_names, var##_slots);             \
  int var##_load(const char **err) {                                           \
    return lazylib_load(&var, err);                                            \
  }
#define LAZYLIB_CALL(var, f) ((__typeof__(&f))lazylib_sym(&(var), LAZYLIB_##f))

/* Keeps libcurl, libpq and libical mapped for good if anything (a plugin
 * linking them) has loaded them. The core used to link all three, so they
 * were never unloaded; a plugin's dlclose() must not unload them now
 * either: libical (linked by the ics-feed and google-calendar plugins)
 * leaves a thread-specific destructor behind (its per-thread ring buffer),
 * and the next exit of a thread that used it would jump into unmapped
 * code. Never loads anything itself. The plugin loader calls it after each
 * dlopen(). */
void lazylib_pin_loaded(void);

/* Loads l once. Returns 0, or -ELIBACC with *err (if err) pointing at a
 * message owned by l that names the library, who needs it and why it
 * could not be loaded. */
int lazylib_load(lazylib_t *l, const char **err);

/* The address of symbol i, loading l if needed; aborts with the message
 * when l cannot be loaded. For the per-library call macros. */
void *lazylib_sym(lazylib_t *l, size_t i);

#endif
