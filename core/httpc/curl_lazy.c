/* curl_lazy.c: the libcurl table of curl_lazy.h. */
#include "curl_lazy.h"

LAZYLIB_DEFINE(curl_lazy, "libcurl.so.4", "outbound HTTP", CURL_LAZY_FUNCS)
