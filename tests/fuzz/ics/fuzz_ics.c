/*
 * libFuzzer harness for the ics-feed expansion (plugins/ics-feed/
 * ics_expand.c): any bytes in, either a clean refusal or a bounded list of
 * instances out, never a crash, a leak or a hang. The first byte picks the
 * default zone and the window so that DST zones, floating times and long
 * windows are reached.
 */
#include "ics_expand.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ics_expand_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 256 * 1024) return 0;
  uint8_t ctl = data[0];
  data++;
  size--;
  static const char *zones[] = {"UTC", "Europe/Berlin", "America/New_York",
                                "Australia/Lord_Howe"};
  int64_t base = 1767225600000LL; /* 2026-01-01 */
  ics_opts_t o = {
      .from_ms = base - (int64_t)(ctl & 0x10 ? 3650 : 1) * 86400000LL,
      .to_ms = base + (int64_t)(ctl & 0x20 ? 3650 : 60) * 86400000LL,
      .default_tz = zones[ctl & 3],
      .self_email = "alice@example.org",
      .max_per_series = 500,
      .max_events = 5000,
  };
  ics_result_t r;
  char err[256];
  if (ics_expand((const char *)data, size, &o, &r, err, sizeof err) == 0) {
    for (size_t i = 0; i < r.n; i++) {
      const ics_event_t *e = &r.events[i];
      if (!e->external_id || !e->etag || !e->summary || !e->tz || !e->status ||
          e->end_ms < e->start_ms - 86400000LL * 3660)
        abort();
    }
    if (r.n > o.max_events) abort();
    ics_result_free(&r);
  } else if (r.n || r.events) {
    abort(); /* a refusal leaves nothing behind */
  }
  return 0;
}
