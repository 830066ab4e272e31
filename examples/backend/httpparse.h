/*
 * iotsec-backend — parsers for the parts of an HTTP request the backend interprets itself:
 * the Range header, the query of /v1/firmware/manifest, the digest in
 * /v1/firmware/payload/<hex> and the Content-Type of /v1/telemetry.
 *
 * No libevent here: the fuzz target tests/fuzz/fuzz_backend_range.c includes httpparse.c
 * directly and links the static library only. Every parser reads through the library's
 * bounded reader (iotsec_reader) and strict decimal / hex decoders; inputs are (pointer,
 * length) and need not be NUL-terminated. Results point into the caller's buffer.
 *
 * Errors are library codes so the server maps them like every other rejection:
 * IOTSEC_E_BAD_ENCODING (syntax → HTTP 400), IOTSEC_E_BAD_VALUE (a well-formed range outside
 * the payload → HTTP 416), IOTSEC_E_INVALID_ARG (NULL arguments).
 */
#ifndef IOTSEC_BACKEND_HTTPPARSE_H
#define IOTSEC_BACKEND_HTTPPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Longest device class accepted in ?class= (the manifest's device_class is 1–64 bytes). */
#define BACKEND_CLASS_MAX 64u

/*
 * Parse a Range header value (RFC 9110 §14.1.2, §14.2) against a representation of size
 * bytes. Exactly one byte range, no whitespace:
 *   "bytes=a-b"  bytes a..b (b is clamped to size − 1)
 *   "bytes=a-"   bytes a..size − 1
 *   "bytes=-n"   the last n bytes (all of them when n ≥ size)
 * a, b and n are plain decimals (no sign, no leading zero) of at most 20 digits.
 * On success *first and *last (inclusive) lie within [0, size).
 * Errors: IOTSEC_E_BAD_ENCODING — another unit, a list of ranges, whitespace, missing or
 * non-decimal numbers, or b < a; IOTSEC_E_BAD_VALUE — unsatisfiable: a ≥ size, n = 0, or
 * size = 0; IOTSEC_E_INVALID_ARG.
 */
int backend_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                        uint64_t *last);

/*
 * Parse the query string of GET /v1/firmware/manifest (the text after '?', without it):
 * exactly one parameter "class=C" where C is 1–64 characters of [A-Za-z0-9._~:@-]
 * (no percent-encoding, no other parameters, no repetition). *cls points into query.
 * Errors: IOTSEC_E_BAD_ENCODING, IOTSEC_E_INVALID_ARG.
 */
int backend_query_class(const char *query, size_t len, const char **cls, size_t *cls_len);

/*
 * Parse the path of GET /v1/firmware/payload/<digest>: the prefix followed by exactly 64
 * lowercase hex digits (a SHA-256). Writes the 32 digest bytes.
 * Errors: IOTSEC_E_BAD_ENCODING, IOTSEC_E_INVALID_ARG.
 */
int backend_payload_path(const char *path, size_t len, uint8_t digest[32]);

/* Telemetry body formats, chosen by Content-Type. */
enum backend_ctype { BACKEND_CT_FRAME = 1, BACKEND_CT_JSON = 2 };

/*
 * Classify a Content-Type value (RFC 9110 §8.3): "application/iotsec-frame" → frame,
 * "application/json" → JSON; type and subtype compared case-insensitively; parameters after
 * ';' are allowed only as "charset=utf-8" (any case, optional spaces before it) on JSON.
 * Errors: IOTSEC_E_BAD_ENCODING (anything else, including a missing header),
 * IOTSEC_E_INVALID_ARG.
 */
int backend_content_type(const char *value, size_t len, enum backend_ctype *out);

#endif
