/*
 * sg_verify.h: SendGrid's signed Event Webhook (ECDSA P-256 / SHA-256 over
 * the timestamp header text followed by the raw body, DER signature in
 * base64), verified with OpenSSL. Pure functions: no host, no state beyond
 * the parsed key; safe on any thread.
 */
#ifndef SG_VERIFY_H
#define SG_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_key sg_key_t;

/** Parses a base64 DER SubjectPublicKeyInfo (as SendGrid shows it; spaces
 * and newlines are ignored) into a key. Only EC keys on P-256 are
 * accepted. Returns NULL on any error. The caller owns the key
 * (sg_key_free). b64: borrowed. */
sg_key_t *sg_key_parse(const char *b64);
void sg_key_free(sg_key_t *k);

/** 1 if sig_b64 (base64 of a DER ECDSA signature) is a valid signature by
 * k over timestamp || body, else 0 (also for malformed input). Every
 * argument borrowed; body may contain any bytes. */
int sg_verify(const sg_key_t *k, const char *timestamp, const void *body,
              size_t body_len, const char *sig_b64);

/** Decodes standard base64 (padding required, whitespace skipped) into a
 * malloc'ed buffer (*out, caller frees) of *out_len bytes. 0 or -1. */
int sg_b64_decode(const char *in, unsigned char **out, size_t *out_len);

#endif
