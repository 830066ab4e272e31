/*
 * iotsec-backend — parsers for the parts of an HTTP request the backend interprets itself:
 * the request head (strict RFC 9112 framing, checked before libevent reads it),
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

/* ---- request heads (RFC 9112 §2–§3, §5, §6) ------------------------------------------ */

/* Longest request head, bytes, from the request line to the empty line included. */
#define BACKEND_HEAD_MAX 8192u

/* Methods the backend routes (its handlers answer 405 where one does not apply). */
enum backend_method {
    BACKEND_M_GET = 1, BACKEND_M_HEAD, BACKEND_M_POST, BACKEND_M_PUT, BACKEND_M_DELETE,
    BACKEND_M_OPTIONS, BACKEND_M_PATCH
};

/* The state of one request head being checked, and what it says. The caller zeroes it
 * before the first call of backend_head_check and keeps it across calls for the same head. */
typedef struct backend_head {
    size_t pos;               /* bytes checked: complete lines (the head's length once done) */
    unsigned lines;           /* lines checked */
    /* what the head says */
    enum backend_method method;
    unsigned minor;           /* HTTP/1.<minor> */
    unsigned hosts, lengths, encodings, expects; /* how many of these fields */
    int chunked;              /* Transfer-Encoding: chunked */
    int expect_continue;      /* Expect: 100-continue */
    uint64_t length;          /* Content-Length, when lengths == 1 */
    /* the refusal */
    int status;               /* 400, 413, 417, 431 or 501; 0 while none */
    const char *code;         /* "bad_request", "too_large", "expectation_failed",
                                 "headers_too_large", "not_implemented" */
    const char *why;          /* what is wrong, one static phrase */
    unsigned line;            /* on which line (1: the request line) */
    int byte;                 /* the offending byte, or -1 */
} backend_head;

/*
 * Check a request head (RFC 9112) strictly, line by line, as its bytes arrive: buf[0..len)
 * is the head received so far (from its first byte; bytes after its end are ignored),
 * max_body the largest Content-Length accepted. Each call goes on from h->pos, so checking
 * a head that arrives in many pieces costs its length once.
 *
 * Accepted: request-line = method SP request-target SP HTTP-version CRLF with a method of
 * enum backend_method (case-sensitive), a target of 1 or more visible ASCII characters and
 * "HTTP/1." DIGIT; then field lines name ":" OWS value OWS CRLF, name a token, the value of
 * visible ASCII, obs-text (0x80-0xFF), SP and HTAB; then CRLF. Refused (h->status):
 *   400  bytes outside those grammars: a line ending in LF alone, CR alone, NUL or any other
 *        control character, obs-fold or whitespace before a field name, whitespace before
 *        the colon, a missing or malformed HTTP-version (HTTP/2.0, HTTP/1.x, HTTP/1.10, ...);
 *        no Host on HTTP/1.1, two Host fields, an empty or malformed Host; a Content-Length
 *        that is not one decimal number, two Content-Length fields, both Content-Length and
 *        Transfer-Encoding, Transfer-Encoding on HTTP/1.0; content on a method other than
 *        POST, PUT and PATCH (libevent would not read it: it would become the next request);
 *        an HTAB before the value of Content-Length, Transfer-Encoding or Expect (libevent
 *        keeps it in the value, so it would read another framing than this check);
 *   413  a Content-Length above max_body (however many digits: never read);
 *   417  an Expect other than one "100-continue";
 *   431  no end of the head within BACKEND_HEAD_MAX bytes;
 *   501  a method not in enum backend_method (any token), a Transfer-Encoding other than
 *        exactly one "chunked" (compared case-insensitively).
 * Returns IOTSEC_OK when the head is complete and acceptable (h->pos is its length),
 * IOTSEC_E_TRUNCATED when it is acceptable so far but incomplete, IOTSEC_E_BAD_ENCODING when
 * refused (h->status, code, why, line and byte say how), IOTSEC_E_INVALID_ARG (NULL, or len
 * below h->pos). A refused head stays refused: later calls return IOTSEC_E_BAD_ENCODING.
 */
int backend_head_check(backend_head *h, const char *buf, size_t len, uint64_t max_body);

#endif
