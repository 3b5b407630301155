/*
 * lib.h: plugin shared objects: loading, identity checks, sharing.
 *
 * A plugin_lib_t is one dlopen()ed image plus its checked descriptor. Libs
 * are shared by path and file identity (device, inode, size, mtime): every
 * instance and generation that uses the same unchanged file holds a
 * reference; a file replaced on disk (new inode or mtime) is loaded afresh
 * beside the old image, which stays mapped until its last user is gone.
 *
 * The loader opens the file itself, checks it (regular file, not writable
 * by group or others, owned by root or the daemon's user), and dlopen()s
 * "/proc/self/fd/N" so that what is checked is what is loaded. Nothing of
 * the plugin runs before the descriptor has passed every check (ELF
 * constructors aside: plugins must not have any).
 */
#ifndef ASSIST_PLUGIN_LIB_H
#define ASSIST_PLUGIN_LIB_H

#include <assist/plugin.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct plugin_lib {
  struct plugin_lib *next; /* registry link */
  char *path;              /* as configured */
  dev_t dev;
  ino_t ino;
  off_t size;
  long long mtime_ns;
  int fd;       /* held open while mapped: keeps the name unique */
  void *handle; /* dlopen handle */
  const assist_plugin_t *desc; /* inside the image; valid while mapped */
  size_t option_stride;
  unsigned refs;
} plugin_lib_t;

/**
 * Returns a referenced lib for path, loading it if needed. On refusal
 * returns NULL and writes a one-line reason (naming path) into err.
 * Refusals: missing/unreadable file, unsafe permissions, not a shared
 * object, no descriptor (other ABI major), bad magic, other major, newer
 * minor, descriptor too short, bad name/version, missing init, bad option
 * table.
 */
plugin_lib_t *plugin_lib_get(const char *path, char *err, size_t errlen);
/** Drops a reference; dlclose()s the image after the last one. */
void plugin_lib_put(plugin_lib_t *lib);
/** 1 if path's file still has the identity lib was loaded from. */
int plugin_lib_is_current(const plugin_lib_t *lib);
/** Number of images currently loaded (for tests). */
size_t plugin_lib_count(void);

#endif
