/*
 * curl_lazy.h: libcurl, opened on first use (see common/lazylib.h for why).
 *
 * Include this instead of <curl/curl.h> in core code. Every libcurl
 * function the core calls is listed in CURL_LAZY_FUNCS and redefined below
 * as a call through the table; the list and the redefinitions must agree.
 * libcurl is needed only with OAuth providers or outbound HTTP, so
 * httpc_new() and the daemon's glue that initialises libcurl
 * (oauth_glue.c, http_glue.c) call curl_lazy_load() first.
 *
 * The redefinitions replace curl's compile-time type checks of
 * curl_easy_setopt/getinfo (typecheck-gcc.h); the variadic calls still go
 * straight to libcurl's own variadic functions.
 */
#ifndef ASSIST_CURL_LAZY_H
#define ASSIST_CURL_LAZY_H

#include "../common/lazylib.h"

#include <curl/curl.h>

#define CURL_LAZY_FUNCS(X)                                                     \
  X(curl_easy_cleanup)                                                         \
  X(curl_easy_getinfo)                                                         \
  X(curl_easy_init)                                                            \
  X(curl_easy_setopt)                                                          \
  X(curl_easy_strerror)                                                        \
  X(curl_free)                                                                 \
  X(curl_getdate)                                                              \
  X(curl_global_cleanup)                                                       \
  X(curl_global_init)                                                          \
  X(curl_multi_add_handle)                                                     \
  X(curl_multi_cleanup)                                                        \
  X(curl_multi_info_read)                                                      \
  X(curl_multi_init)                                                           \
  X(curl_multi_remove_handle)                                                  \
  X(curl_multi_setopt)                                                         \
  X(curl_multi_socket_action)                                                  \
  X(curl_slist_append)                                                         \
  X(curl_slist_free_all)                                                       \
  X(curl_url)                                                                  \
  X(curl_url_cleanup)                                                          \
  X(curl_url_get)                                                              \
  X(curl_url_set)                                                              \
  X(curl_version_info)

/* curl_lazy_load(&err): 0, or -ELIBACC with err "outbound HTTP needs
 * libcurl.so.4: ...". */
LAZYLIB_DECLARE(curl_lazy, CURL_LAZY_FUNCS);
#define CURL_LAZY(f) LAZYLIB_CALL(curl_lazy, f)

#undef curl_easy_getinfo
#undef curl_easy_setopt
#undef curl_multi_setopt
#define curl_easy_cleanup(...) CURL_LAZY(curl_easy_cleanup)(__VA_ARGS__)
#define curl_easy_getinfo(...) CURL_LAZY(curl_easy_getinfo)(__VA_ARGS__)
#define curl_easy_init(...) CURL_LAZY(curl_easy_init)(__VA_ARGS__)
#define curl_easy_setopt(...) CURL_LAZY(curl_easy_setopt)(__VA_ARGS__)
#define curl_easy_strerror(...) CURL_LAZY(curl_easy_strerror)(__VA_ARGS__)
#define curl_free(...) CURL_LAZY(curl_free)(__VA_ARGS__)
#define curl_getdate(...) CURL_LAZY(curl_getdate)(__VA_ARGS__)
#define curl_global_cleanup(...) CURL_LAZY(curl_global_cleanup)(__VA_ARGS__)
#define curl_global_init(...) CURL_LAZY(curl_global_init)(__VA_ARGS__)
#define curl_multi_add_handle(...) CURL_LAZY(curl_multi_add_handle)(__VA_ARGS__)
#define curl_multi_cleanup(...) CURL_LAZY(curl_multi_cleanup)(__VA_ARGS__)
#define curl_multi_info_read(...) CURL_LAZY(curl_multi_info_read)(__VA_ARGS__)
#define curl_multi_init(...) CURL_LAZY(curl_multi_init)(__VA_ARGS__)
#define curl_multi_remove_handle(...)                                          \
  CURL_LAZY(curl_multi_remove_handle)(__VA_ARGS__)
#define curl_multi_setopt(...) CURL_LAZY(curl_multi_setopt)(__VA_ARGS__)
#define curl_multi_socket_action(...)                                          \
  CURL_LAZY(curl_multi_socket_action)(__VA_ARGS__)
#define curl_slist_append(...) CURL_LAZY(curl_slist_append)(__VA_ARGS__)
#define curl_slist_free_all(...) CURL_LAZY(curl_slist_free_all)(__VA_ARGS__)
#define curl_url(...) CURL_LAZY(curl_url)(__VA_ARGS__)
#define curl_url_cleanup(...) CURL_LAZY(curl_url_cleanup)(__VA_ARGS__)
#define curl_url_get(...) CURL_LAZY(curl_url_get)(__VA_ARGS__)
#define curl_url_set(...) CURL_LAZY(curl_url_set)(__VA_ARGS__)
#define curl_version_info(...) CURL_LAZY(curl_version_info)(__VA_ARGS__)

#endif
