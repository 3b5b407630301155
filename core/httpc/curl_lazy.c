/* curl_lazy.c: the libcurl table of curl_lazy.h. */
#include "curl_lazy.h"

#define CURL_LAZY_NAME(f) #f,
static const char *const names[] = {CURL_LAZY_FUNCS(CURL_LAZY_NAME)};
static void *slots[CURL_LAZY_N];
_Static_assert(sizeof(names) / sizeof(names[0]) == CURL_LAZY_N,
               "one name per slot");

lazylib_t curl_lazy =
    LAZYLIB_INIT("libcurl.so.4", "outbound HTTP", names, slots);

int curl_lazy_load(const char **err) {
  return lazylib_load(&curl_lazy, err);
}
