/*
 * csv_engine.h: the CSV profiling engine of the csv-analysis plugin.
 *
 * Pure C11 + libc/libm/pthreads: no libuv, no core symbols. A plugin drives it
 * from thread-pool work items:
 *
 *   csv_doc_open_file()      sniff the dialect, read the header     (any
 * thread) csv_plan()               split the data into record-aligned chunks
 *   csv_profile_chunk()      one call per chunk, several threads at once
 *   csv_merge()              fold partials in chunk order
 *   csv_plan_verify()        chunk boundaries proven, or where to resume
 *   csv_finish()             figures, summary
 *   csv_render_json/html()   report.json, report.html
 *
 * csv_profile_run() is that exact sequence with N pthreads (the CLI uses it).
 *
 * Errors are negative errno values (-ENOMEM, -EIO, -ECANCELED, -EINVAL,
 * -EFBIG for a record over CSV_MAX_RECORD, -EILSEQ for binary input);
 * csv_strerror() explains them.
 */
#ifndef CSV_ENGINE_H
#define CSV_ENGINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CSV_ENGINE_VERSION "0.1.0"

/** Largest single record (bytes) the reader accepts before -EFBIG. */
#define CSV_MAX_RECORD (64u << 20)
/** Columns beyond this are ignored (with a warning). */
#define CSV_MAX_COLUMNS 1024
/** Numeric columns considered for the correlation matrix. */
#define CSV_MAX_CORR 32
/** Ragged rows whose line numbers are kept. */
#define CSV_RAGGED_LINES 10

/** DDSketch relative accuracy: every quantile is within this of the truth. */
#define CSV_QUANTILE_ALPHA 0.005
/** Distinct values counted exactly up to this many, then HyperLogLog. */
#define CSV_DISTINCT_EXACT 4096
/** HyperLogLog precision: m = 2^12 registers, std. error 1.04/sqrt(m). */
#define CSV_HLL_P 12
/** Misra-Gries counters kept per column for top values. */
#define CSV_TOPK 64
/** Histogram bins (equal width between min and max). */
#define CSV_HIST_BINS 20

enum csv_encoding { CSV_ENC_UTF8 = 0, CSV_ENC_LATIN1 = 1 };
enum csv_eol {
  CSV_EOL_LF = 0,
  CSV_EOL_CRLF = 1,
  CSV_EOL_CR = 2,
  CSV_EOL_MIXED = 3
};

typedef struct csv_dialect {
  char delimiter;   /* ',' ';' '\t' '|' */
  char quote;       /* '"' or '\'' */
  char decimal;     /* '.' or ',' (only when delimiter is not ',') */
  int has_header;   /* 1 if the first record names the columns */
  int encoding;     /* enum csv_encoding */
  int bom;          /* 1 if a UTF-8 BOM was skipped */
  int eol;          /* enum csv_eol, as seen in the sample */
  int looks_binary; /* 1 if the sample had NULs/control bytes (warning) */
} csv_dialect;

/** Overrides for the sniffer; zero/negative fields mean "detect". */
typedef struct csv_options {
  char delimiter;   /* 0 = sniff */
  char quote;       /* 0 = sniff */
  int has_header;   /* -1 = detect, 0 = no, 1 = yes */
  int encoding;     /* -1 = detect, else enum csv_encoding */
  int allow_binary; /* 1 = profile even if the sample looks binary */
} csv_options;

/** Sets *o to "detect everything". */
void csv_options_init(csv_options *o);

/** An opened dataset: its bytes (a file or a borrowed buffer), dialect and
 * columns. Read-only after open: safe to share between threads. */
typedef struct csv_doc csv_doc;

/** Opens path, sniffs a sample and reads the header. *out is owned by the
 * caller (csv_doc_free). opt may be NULL. */
int csv_doc_open_file(const char *path, const csv_options *opt, csv_doc **out);
/** Same over memory: data is borrowed and must outlive the doc. */
int csv_doc_open_mem(const void *data, size_t len, const csv_options *opt,
                     csv_doc **out);
void csv_doc_free(csv_doc *doc);

const csv_dialect *csv_doc_dialect(const csv_doc *doc);
/** Number of profiled columns. */
size_t csv_doc_ncols(const csv_doc *doc);
/** Column name as UTF-8 (borrowed from doc). */
const char *csv_doc_colname(const csv_doc *doc, size_t i);
/** Total size in bytes and offset of the first data record. */
uint64_t csv_doc_size(const csv_doc *doc);
uint64_t csv_doc_data_start(const csv_doc *doc);
/** Sets a display name for reports (copied); defaults to the path. */
int csv_doc_set_name(csv_doc *doc, const char *name);

/** A byte range [begin, end); records starting inside it belong to it. */
typedef struct csv_chunk {
  uint64_t begin, end;
  unsigned index;
} csv_chunk;

/** Splits [from, size) into at most n chunks that start right after a
 * newline (chunks smaller than min_bytes are not made; min_bytes 0 means
 * 4 MiB). Fills out[0..*nout). Boundaries are speculative: a newline inside
 * a quoted field is found out by csv_plan_verify(). */
int csv_plan(const csv_doc *doc, uint64_t from, unsigned n, uint64_t min_bytes,
             csv_chunk *out, unsigned *nout);

/** Progress counters readable from any thread while chunks run. */
typedef struct csv_progress {
  _Atomic uint64_t bytes;
  _Atomic uint64_t rows;
} csv_progress;

/** Mergeable statistics of one or more consecutive chunks. */
typedef struct csv_partial csv_partial;

/** Profiles one chunk. Thread-safe for different chunks of the same doc.
 * progress may be NULL; cancel may be NULL, else it is polled every few
 * thousand rows and a non-zero value makes the call return -ECANCELED.
 * *out is owned by the caller (csv_partial_free). */
int csv_profile_chunk(const csv_doc *doc, const csv_chunk *chunk,
                      csv_progress *progress, const atomic_int *cancel,
                      csv_partial **out);
/** Byte offset where this partial's last record ended. */
uint64_t csv_partial_stop(const csv_partial *p);
/** Bytes and rows this partial added to its progress counters (so a caller
 * that drops it after csv_plan_verify() can take them back). */
void csv_partial_counts(const csv_partial *p, uint64_t *bytes, uint64_t *rows);
/** Appends b (the partial of the chunk right after a's) into a. b is left
 * untouched; free it yourself. */
int csv_merge(csv_partial *a, const csv_partial *b);
void csv_partial_free(csv_partial *p);

/** Checks partials[0..n) (of chunks[0..n)) in order. Returns n when every
 * boundary is a true record boundary; else the number k of leading partials
 * that are valid and sets *resume to where parsing must restart (chunks
 * k..n must be re-planned from *resume). */
unsigned csv_plan_verify(const csv_chunk *chunks, csv_partial *const *partials,
                         unsigned n, uint64_t *resume);

/** The finished profile: figures and summary. */
typedef struct csv_result csv_result;

/** Finishes the merged partial of the whole data (borrowed). */
int csv_finish(const csv_doc *doc, const csv_partial *all, csv_result **out);
void csv_result_free(csv_result *r);

/** Plain-language summary (borrowed from r, UTF-8). */
const char *csv_result_summary(const csv_result *r);
/** Replaces the summary (e.g. by an LLM-written one); text is copied. */
int csv_result_set_summary(csv_result *r, const char *text);
uint64_t csv_result_rows(const csv_result *r);

/** report.json / report.html: *out is malloc'ed, NUL-terminated, owned by
 * the caller. */
int csv_render_json(const csv_result *r, char **out, size_t *len);
int csv_render_html(const csv_result *r, char **out, size_t *len);

/** The whole pipeline with nthreads pthreads (0 = online CPUs). */
int csv_profile_run(const csv_doc *doc, unsigned nthreads,
                    csv_progress *progress, const atomic_int *cancel,
                    csv_result **out);

const char *csv_strerror(int err);

#endif
