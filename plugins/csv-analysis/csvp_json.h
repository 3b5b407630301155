/*
 * csvp_json.h: the little JSON the csv-analysis plugin needs, without a
 * JSON library (the module links only the engine and libc): a growable
 * output buffer with string escaping, and lookups of top-level members of
 * an object (request bodies, job payloads, the plugin's own kv records).
 */
#ifndef CSVP_JSON_H
#define CSVP_JSON_H

#include "csv_internal.h" /* csv_buf: the engine's growable buffer */

#include <stddef.h>
#include <stdint.h>

/** A JSON string literal (quotes included). Invalid UTF-8 bytes become
 * U+FFFD, control characters are escaped; NULL writes null. */
void csvp_buf_str(csv_buf *b, const char *s);

/**
 * Finds member `key` of the top-level object in json[0..len). String
 * values are unescaped into *out (malloc'ed, owned by the caller).
 * Returns 0, -ENOENT when the key is absent or null, -EINVAL when the
 * text is not one JSON object or the member has another type, -ENOMEM.
 */
int csvp_json_string(const char *json, size_t len, const char *key, char **out);
/** As csvp_json_string for a number member. */
int csvp_json_number(const char *json, size_t len, const char *key,
                     double *out);

#endif
