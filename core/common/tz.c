/*
 * tz.c: IANA zones from compiled TZif files (RFC 8536, versions 1 to 4)
 * plus the POSIX TZ footer rule for instants after the last transition.
 *
 * A zone is loaded once per process and never changes: its transitions
 * (64-bit seconds from the v2+ block, or the v1 block for version 1
 * files), the UTC offset after each, and the footer rule. Lookups are a
 * binary search, or a little calendar arithmetic past the table. The
 * cache is a mutex-guarded list plus a per-thread "last zone" shortcut,
 * so a planner loop over a million events takes no lock in the common
 * case. Leap-second records ("right/" zones) are ignored: times are POSIX.
 */
#include "common/tz.h"

#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_FILE_MAX (1 << 20)
#define TZ_NAME_MAX 64

/* One POSIX rule date: Jn (1..365, Feb 29 never counted), n (0..365,
 * counting Feb 29), or Mm.w.d; time: local seconds, may be negative or
 * beyond 24h (RFC 8536 extension). */
typedef struct tz_rule {
  char kind; /* 'J', 'N' or 'M' */
  int a, b, c;
  int32_t time_s;
} tz_rule_t;

typedef struct tz_footer {
  int present;
  int has_dst;
  int32_t std_off, dst_off; /* local = UTC + off */
  tz_rule_t start, end;     /* into DST (std local time), out (dst) */
} tz_footer_t;

struct tz {
  char name[TZ_NAME_MAX];
  size_t ntrans;
  int64_t *trans;     /* ascending UTC seconds */
  int32_t *trans_off; /* offset in effect from trans[i] */
  int32_t first_off;  /* before the first transition */
  tz_footer_t footer;
  struct tz *next; /* cache list */
};

/* ---- calendar arithmetic (proleptic Gregorian, H. Hinnant) ---- */

int64_t tz_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t tz_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds (as if UTC) at which rule r fires in year y. */
static int64_t rule_local(const tz_rule_t *r, int64_t y) {
  int64_t day; /* days since epoch */
  int64_t jan1 = tz_days_from_civil(y, 1, 1);
  if (r->kind == 'J') {
    int n = r->a; /* 1..365, Feb 29 not counted */
    day = jan1 + n - 1;
    if (is_leap(y) && n >= 60) day++;
  } else if (r->kind == 'N') {
    day = jan1 + r->a;
  } else { /* Mm.w.d */
    int m = r->a, w = r->b, wd = r->c;
    int64_t first = tz_days_from_civil(y, m, 1);
    /* 1970-01-01 was a Thursday (4). */
    int wd1 = (int)(((first % 7) + 11) % 7);
    int64_t d = first + ((wd - wd1 + 7) % 7) + 7 * (w - 1);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = mdays[m - 1] + (m == 2 && is_leap(y));
    while (d >= first + dim) d -= 7;
    day = d;
  }
  return day * 86400 + r->time_s;
}

/* The offset at t by the footer rule; [*lo, *hi) is an interval around
 * t with that same offset (not necessarily the largest one). */
static int32_t footer_offset(const tz_footer_t *f, int64_t t, int64_t *lo,
                             int64_t *hi) {
  if (!f->has_dst) {
    *lo = INT64_MIN, *hi = INT64_MAX;
    return f->std_off;
  }
  int64_t y;
  int m, d;
  tz_civil_from_days(tz_floor_div(t + f->std_off, 86400), &y, &m, &d);
  int64_t s = rule_local(&f->start, y) - f->std_off;
  int64_t e = rule_local(&f->end, y) - f->dst_off;
  int in_dst;
  int64_t a = s < e ? s : e, b = s < e ? e : s; /* a <= b */
  if (t < a)
    *lo = t, *hi = a;
  else if (t < b)
    *lo = a, *hi = b;
  else
    *lo = b, *hi = t + 1;
  if (s < e)
    in_dst = t >= s && t < e;
  else /* southern hemisphere: DST spans the new year */
    in_dst = !(t >= e && t < s);
  return in_dst ? f->dst_off : f->std_off;
}

static int32_t offset_lookup(const tz_t *z, int64_t t, int64_t *ilo,
                             int64_t *ihi) {
  if (z->ntrans == 0) {
    if (z->footer.present) return footer_offset(&z->footer, t, ilo, ihi);
    *ilo = INT64_MIN, *ihi = INT64_MAX;
    return z->first_off;
  }
  if (t < z->trans[0]) {
    *ilo = INT64_MIN, *ihi = z->trans[0];
    return z->first_off;
  }
  int64_t last = z->trans[z->ntrans - 1];
  if (t >= last && z->footer.present) {
    int32_t off = footer_offset(&z->footer, t, ilo, ihi);
    if (*ilo < last) *ilo = last;
    return off;
  }
  size_t lo = 0, hi = z->ntrans; /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->trans[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  *ilo = z->trans[lo];
  *ihi = hi < z->ntrans ? z->trans[hi] : INT64_MAX;
  return z->trans_off[lo];
}

/* Per-thread: the last interval looked up. Plans convert many nearby
 * instants of one zone, so most lookups end here. */
static _Thread_local struct {
  const tz_t *z;
  int64_t lo, hi;
  int32_t off;
} last_iv;

static int32_t offset_at(const tz_t *z, int64_t t) {
  if (last_iv.z == z && t >= last_iv.lo && t < last_iv.hi) return last_iv.off;
  int64_t lo, hi;
  int32_t off = offset_lookup(z, t, &lo, &hi);
  last_iv.z = z, last_iv.lo = lo, last_iv.hi = hi, last_iv.off = off;
  return off;
}

/* ---- POSIX TZ string ---- */

static const char *p_name(const char *s) {
  if (*s == '<') {
    s++;
    while (*s && *s != '>') s++;
    return *s == '>' ? s + 1 : NULL;
  }
  const char *b = s;
  while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++;
  return s - b >= 3 ? s : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] -> seconds; maxh bounds the hours. */
static const char *p_hms(const char *s, int maxh, int32_t *out) {
  int sign = 1;
  if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
  if (*s < '0' || *s > '9') return NULL;
  int h = 0, n = 0;
  while (*s >= '0' && *s <= '9' && n < 3) h = h * 10 + (*s++ - '0'), n++;
  if (h > maxh) return NULL;
  int mm = 0, ss = 0;
  if (*s == ':') {
    s++;
    if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9') return NULL;
    mm = (s[0] - '0') * 10 + (s[1] - '0');
    s += 2;
    if (*s == ':') {
      s++;
      if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9') return NULL;
      ss = (s[0] - '0') * 10 + (s[1] - '0');
      s += 2;
    }
  }
  *out = sign * (h * 3600 + mm * 60 + ss);
  return s;
}

static const char *p_num(const char *s, int lo, int hi, int *out) {
  if (*s < '0' || *s > '9') return NULL;
  int v = 0;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s++ - '0');
    if (v > hi) return NULL;
  }
  if (v < lo) return NULL;
  *out = v;
  return s;
}

static const char *p_rule(const char *s, tz_rule_t *r) {
  r->time_s = 7200;
  if (*s == 'J') {
    r->kind = 'J';
    s = p_num(s + 1, 1, 365, &r->a);
  } else if (*s == 'M') {
    r->kind = 'M';
    s = p_num(s + 1, 1, 12, &r->a);
    if (!s || *s++ != '.') return NULL;
    s = p_num(s, 1, 5, &r->b);
    if (!s || *s++ != '.') return NULL;
    s = p_num(s, 0, 6, &r->c);
  } else {
    r->kind = 'N';
    s = p_num(s, 0, 365, &r->a);
  }
  if (!s) return NULL;
  if (*s == '/') s = p_hms(s + 1, 167, &r->time_s);
  return s;
}

/* Parses a POSIX TZ string (e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or
 * "<+0330>-3:30"). Returns 0 or -1. */
static int parse_posix(const char *s, tz_footer_t *f) {
  memset(f, 0, sizeof *f);
  int32_t off;
  if (!(s = p_name(s)) || !(s = p_hms(s, 24, &off))) return -1;
  f->std_off = -off;
  f->dst_off = f->std_off;
  if (*s == '\0') {
    f->present = 1;
    return 0;
  }
  if (!(s = p_name(s))) return -1;
  f->has_dst = 1;
  f->dst_off = f->std_off + 3600;
  if (*s && *s != ',') {
    if (!(s = p_hms(s, 24, &off))) return -1;
    f->dst_off = -off;
  }
  if (*s == '\0') { /* POSIX default: US rules */
    f->start = (tz_rule_t){'M', 3, 2, 0, 7200};
    f->end = (tz_rule_t){'M', 11, 1, 0, 7200};
  } else {
    if (*s++ != ',' || !(s = p_rule(s, &f->start))) return -1;
    if (*s++ != ',' || !(s = p_rule(s, &f->end))) return -1;
    if (*s) return -1;
  }
  /* "Always DST" encodings ("EST5EDT,0/0,J365/25") need no special case:
   * the year's DST interval then covers the whole year. */
  f->present = 1;
  return 0;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_hdr {
  uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_hdr_t;

static int read_hdr(const unsigned char *p, size_t len, tzif_hdr_t *h) {
  if (len < 44 || memcmp(p, "TZif", 4) != 0) return -1;
  h->isutcnt = be32(p + 20);
  h->isstdcnt = be32(p + 24);
  h->leapcnt = be32(p + 28);
  h->timecnt = be32(p + 32);
  h->typecnt = be32(p + 36);
  h->charcnt = be32(p + 40);
  if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000 ||
      h->leapcnt > 100000 || h->charcnt > 100000 ||
      (h->isutcnt && h->isutcnt != h->typecnt) ||
      (h->isstdcnt && h->isstdcnt != h->typecnt))
    return -1;
  return 0;
}

static size_t block_len(const tzif_hdr_t *h, int tsz) {
  return (size_t)h->timecnt * tsz + h->timecnt + (size_t)h->typecnt * 6 +
         h->charcnt + (size_t)h->leapcnt * (tsz + 4) + h->isstdcnt + h->isutcnt;
}

static tz_t *parse_tzif(const unsigned char *p, size_t len) {
  tzif_hdr_t h;
  if (read_hdr(p, len, &h) != 0) return NULL;
  char ver = (char)p[4];
  int tsz = 4;
  const unsigned char *d = p + 44;
  size_t rest = len - 44;
  size_t bl = block_len(&h, 4);
  if (bl > rest) return NULL;
  const unsigned char *footer = NULL;
  size_t footer_len = 0;
  if (ver >= '2') {
    const unsigned char *h2 = d + bl;
    size_t r2 = rest - bl;
    if (read_hdr(h2, r2, &h) != 0) return NULL;
    d = h2 + 44;
    rest = r2 - 44;
    tsz = 8;
    bl = block_len(&h, 8);
    if (bl > rest) return NULL;
    footer = d + bl;
    footer_len = rest - bl;
  }
  const unsigned char *tt = d;
  const unsigned char *ti = tt + (size_t)h.timecnt * tsz;
  const unsigned char *ty = ti + h.timecnt;

  tz_t *z = xcalloc(1, sizeof *z);
  z->ntrans = h.timecnt;
  z->trans = xmalloc((h.timecnt ? h.timecnt : 1) * sizeof *z->trans);
  z->trans_off = xmalloc((h.timecnt ? h.timecnt : 1) * sizeof *z->trans_off);
  for (uint32_t i = 0; i < h.timecnt; i++) {
    z->trans[i] = tsz == 8 ? be64(tt + 8 * i) : (int32_t)be32(tt + 4 * i);
    if (i && z->trans[i] <= z->trans[i - 1]) goto fail;
    if (ti[i] >= h.typecnt) goto fail;
    int32_t off = (int32_t)be32(ty + 6 * (size_t)ti[i]);
    if (off < -25 * 3600 || off > 26 * 3600) goto fail;
    z->trans_off[i] = off;
  }
  z->first_off = (int32_t)be32(ty); /* local time type 0 */

  if (footer && footer_len >= 2 && footer[0] == '\n') {
    const unsigned char *nl = memchr(footer + 1, '\n', footer_len - 1);
    size_t n = nl ? (size_t)(nl - footer - 1) : 0;
    if (nl && n > 0 && n < 128) {
      char s[128];
      memcpy(s, footer + 1, n);
      s[n] = '\0';
      if (parse_posix(s, &z->footer) != 0) goto fail;
    }
  }
  if (z->ntrans == 0 && !z->footer.present) {
    z->footer.present = 1;
    z->footer.std_off = z->footer.dst_off = z->first_off;
  }
  return z;
fail:
  free(z->trans);
  free(z->trans_off);
  free(z);
  return NULL;
}

static int name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
             c == '/' || c == '.';
    if (!ok) return 0;
    if (c == '/' && name[i + 1] == '/') return 0;
    /* no "." or ".." components, no hidden files */
    if (c == '.' && (i == 0 || name[i - 1] == '/')) return 0;
  }
  return 1;
}

static tz_t *load_zone(const char *name) {
  const char *dir = getenv("TZDIR");
  if (!dir || !*dir) dir = "/usr/share/zoneinfo";
  char *path = xasprintf("%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  tz_t *z = NULL;
  if (fd < 0) goto builtin;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 44 ||
      st.st_size > TZ_FILE_MAX) {
    close(fd);
    return NULL;
  }
  size_t len = (size_t)st.st_size, got = 0;
  unsigned char *buf = xmalloc(len);
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got == len) z = parse_tzif(buf, len);
  free(buf);
  if (z) return z;
builtin:
  /* No zone files (a minimal container): UTC still works. */
  if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
    z = xcalloc(1, sizeof *z);
    z->footer.present = 1;
    return z;
  }
  return NULL;
}

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static tz_t *cache_head;
static _Thread_local const tz_t *last_zone;

const tz_t *tz_get(const char *name) {
  if (!name) return NULL;
  const tz_t *l = last_zone;
  if (l && strcmp(l->name, name) == 0) return l;
  if (!name_ok(name)) return NULL;
  pthread_mutex_lock(&cache_mu);
  tz_t *z = cache_head;
  while (z && strcmp(z->name, name) != 0) z = z->next;
  if (!z) {
    /* Loaded under the lock: a zone is read once per process; unknown
     * names are not cached (they cost a failed open each time). */
    z = load_zone(name);
    if (z) {
      memcpy(z->name, name, strlen(name) + 1);
      z->next = cache_head;
      cache_head = z;
    }
  }
  pthread_mutex_unlock(&cache_mu);
  if (z) last_zone = z;
  return z;
}

/* Per-thread: the last day converted to a date. */
static _Thread_local struct {
  int64_t days;
  int year, month, day, valid;
} last_day;

void tz_to_local(const tz_t *z, int64_t utc_ms, tz_local_t *out) {
  int64_t t = tz_floor_div(utc_ms, 1000);
  int32_t off = offset_at(z, t);
  int64_t l = t + off;
  int64_t days = tz_floor_div(l, 86400);
  int64_t sod = l - days * 86400;
  if (!last_day.valid || last_day.days != days) {
    int64_t y;
    tz_civil_from_days(days, &y, &last_day.month, &last_day.day);
    last_day.year = (int)y;
    last_day.days = days;
    last_day.valid = 1;
  }
  out->year = last_day.year;
  out->month = last_day.month;
  out->day = last_day.day;
  out->hour = (int)(sod / 3600);
  out->minute = (int)(sod / 60 % 60);
  out->second = (int)(sod % 60);
  out->wday = (int)(((days % 7) + 11) % 7);
  out->utc_offset_s = off;
}

int64_t tz_from_local(const tz_t *z, int year, int month, int day, int hour,
                      int minute, int second, int *adjusted) {
  /* Out-of-range fields are normalized (day 0 = last of the previous
   * month, hour 24 = next midnight...). */
  int64_t y = year, m0 = (int64_t)month - 1;
  y += tz_floor_div(m0, 12);
  m0 -= tz_floor_div(m0, 12) * 12;
  int64_t local = tz_days_from_civil(y, (int)m0 + 1, 1) * 86400 +
                  ((int64_t)day - 1) * 86400 + (int64_t)hour * 3600 +
                  (int64_t)minute * 60 + second;
  /* Candidate offsets: those in effect within a day either side. */
  int32_t cand[3] = {offset_at(z, local - 86400), offset_at(z, local),
                     offset_at(z, local + 86400)};
  int found = 0;
  int64_t best = 0, gap_best = INT64_MIN;
  for (int i = 0; i < 3; i++) {
    int64_t t = local - cand[i];
    if (offset_at(z, t) == cand[i]) {
      if (!found || t < best) best = t; /* first occurrence */
      found = 1;
    } else if (t > gap_best) {
      gap_best = t;
    }
  }
  if (adjusted) *adjusted = !found;
  /* In a gap, local - (offset before the gap) is the wall time moved
   * forward by the gap's length. */
  return (found ? best : gap_best) * 1000;
}
