#include "plugin/lib.h"

#include "common/alloc.h"
#include "common/lazylib.h"
#include "config/config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static plugin_lib_t *g_libs;

static long long mtime_ns(const struct stat *st) {
  return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static int same_identity(const plugin_lib_t *lib, const struct stat *st) {
  return lib->dev == st->st_dev && lib->ino == st->st_ino &&
         lib->size == st->st_size && lib->mtime_ns == mtime_ns(st);
}

static int valid_name(const char *s) {
  if (!s || !*s || strlen(s) > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
          *s == '_'))
      return 0;
  return 1;
}

/* Reads a field only if the plugin's descriptor is large enough to have it;
 * every ABI 1.0 field is covered by ASSIST_PLUGIN_MIN_SIZE. */
static int check_descriptor(const assist_plugin_t *d, const char *path,
                            char *err, size_t errlen) {
  if (d->magic != ASSIST_PLUGIN_MAGIC) {
    snprintf(err, errlen,
             "%s: not an assistd plugin: bad descriptor magic 0x%08x", path,
             (unsigned)d->magic);
    return -1;
  }
  if (d->abi_major != ASSIST_ABI_MAJOR) {
    snprintf(err, errlen,
             "%s: plugin built for ABI major %u, this assistd supports %u",
             path, (unsigned)d->abi_major, (unsigned)ASSIST_ABI_MAJOR);
    return -1;
  }
  if (d->abi_minor > ASSIST_ABI_MINOR) {
    snprintf(err, errlen,
             "%s: plugin built against ABI %u.%u, newer than this assistd's "
             "%u.%u: upgrade assistd",
             path, (unsigned)d->abi_major, (unsigned)d->abi_minor,
             (unsigned)ASSIST_ABI_MAJOR, (unsigned)ASSIST_ABI_MINOR);
    return -1;
  }
  if (d->struct_size < ASSIST_PLUGIN_MIN_SIZE) {
    snprintf(err, errlen,
             "%s: plugin descriptor too short: struct_size %u, need >= %zu",
             path, (unsigned)d->struct_size, (size_t)ASSIST_PLUGIN_MIN_SIZE);
    return -1;
  }
  if (!valid_name(d->name)) {
    snprintf(err, errlen,
             "%s: plugin name missing or invalid (want [a-z0-9_-]{1,64})",
             path);
    return -1;
  }
  if (!d->version || !*d->version) {
    snprintf(err, errlen, "%s: plugin '%s' has no version", path, d->name);
    return -1;
  }
  if (!d->init) {
    snprintf(err, errlen, "%s: plugin '%s' has no init entry point", path,
             d->name);
    return -1;
  }
  if (d->options) {
    if (d->option_size <
        offsetof(assist_option_t, description) + sizeof(const char *)) {
      snprintf(err, errlen, "%s: plugin '%s' option_size %u too small", path,
               d->name, (unsigned)d->option_size);
      return -1;
    }
    char why[256];
    if (opts_table_check(d->options, d->option_size, why, sizeof why) != 0) {
      snprintf(err, errlen, "%s: plugin '%s' has a bad option table: %s", path,
               d->name, why);
      return -1;
    }
  }
  return 0;
}

/* Names the other majors a plugin may have been built for. */
static int other_major(void *handle) {
  char sym[32];
  for (int m = 0; m <= 9; m++) {
    if (m == ASSIST_ABI_MAJOR) continue;
    snprintf(sym, sizeof sym, "assist_plugin_v%d", m);
    if (dlsym(handle, sym)) return m;
  }
  return -1;
}

static int open_checked(const char *path, struct stat *st, char *err,
                        size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot open plugin: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(err, errlen,
             "%s: refusing to load a plugin writable by group or others "
             "(mode %03o)",
             path, (unsigned)(st->st_mode & 0777));
    close(fd);
    return -1;
  }
  if (st->st_uid != 0 && st->st_uid != geteuid()) {
    snprintf(err, errlen,
             "%s: refusing to load a plugin owned by another user (uid %u)",
             path, (unsigned)st->st_uid);
    close(fd);
    return -1;
  }
  return fd;
}

plugin_lib_t *plugin_lib_get(const char *path, char *err, size_t errlen) {
  struct stat st;
  int fd = open_checked(path, &st, err, errlen);
  if (fd < 0) return NULL;
  for (plugin_lib_t *lib = g_libs; lib; lib = lib->next) {
    if (strcmp(lib->path, path) == 0 && same_identity(lib, &st)) {
      close(fd);
      lib->refs++;
      return lib;
    }
  }
  char name[64];
  snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    const char *colon = why ? strstr(why, ": ") : NULL;
    snprintf(err, errlen, "%s: not a loadable shared object: %s", path,
             colon ? colon + 2 : (why ? why : "unknown error"));
    close(fd);
    return NULL;
  }
  lazylib_pin_loaded(); /* libcurl, libpq, libical stay loaded */
  const assist_plugin_t *d = dlsym(h, ASSIST_PLUGIN_SYMBOL);
  if (!d) {
    int m = other_major(h);
    if (m >= 0)
      snprintf(err, errlen,
               "%s: plugin built for ABI major %d, this assistd supports %d",
               path, m, ASSIST_ABI_MAJOR);
    else
      snprintf(err, errlen, "%s: not an assistd plugin: no '%s' symbol", path,
               ASSIST_PLUGIN_SYMBOL);
    dlclose(h);
    close(fd);
    return NULL;
  }
  if (check_descriptor(d, path, err, errlen) != 0) {
    dlclose(h);
    close(fd);
    return NULL;
  }
  plugin_lib_t *lib = xcalloc(1, sizeof *lib);
  lib->path = xstrdup(path);
  lib->dev = st.st_dev;
  lib->ino = st.st_ino;
  lib->size = st.st_size;
  lib->mtime_ns = mtime_ns(&st);
  lib->fd = fd;
  lib->handle = h;
  lib->desc = d;
  lib->option_stride = d->option_size;
  lib->refs = 1;
  lib->next = g_libs;
  g_libs = lib;
  return lib;
}

void plugin_lib_put(plugin_lib_t *lib) {
  if (!lib || --lib->refs > 0) return;
  for (plugin_lib_t **p = &g_libs; *p; p = &(*p)->next) {
    if (*p == lib) {
      *p = lib->next;
      break;
    }
  }
  dlclose(lib->handle);
  close(lib->fd);
  free(lib->path);
  free(lib);
}

int plugin_lib_is_current(const plugin_lib_t *lib) {
  struct stat st;
  return stat(lib->path, &st) == 0 && same_identity(lib, &st);
}

size_t plugin_lib_count(void) {
  size_t n = 0;
  for (plugin_lib_t *lib = g_libs; lib; lib = lib->next) n++;
  return n;
}
