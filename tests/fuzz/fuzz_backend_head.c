/* Fuzz target: the backend's strict request-head checker (examples/backend/httpparse.c,
 * backend_head_check, RFC 9112), linked from the internal library libbackend-http.a
 * (tests/fuzz/build.mk), as fuzz_backend_range.c is: it needs the static library only (no
 * libevent).
 *
 * Invariants checked: the result is OK, TRUNCATED or BAD_ENCODING; an accepted head ends in
 * CRLF CRLF within the input and within BACKEND_HEAD_MAX bytes, has a method, and its
 * Content-Length is at most the limit; a refusal names a status, code and reason; and the
 * verdict is the same whether the head comes at once, in two pieces or byte by byte (the
 * server checks it as TLS records arrive). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/error.h"

#include "../../examples/backend/httpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(backend_head *h, const char *text, size_t len, uint64_t max_body)
{
    int rc;

    memset(h, 0, sizeof *h);
    rc = backend_head_check(h, text, len, max_body);
    if (rc == IOTSEC_OK) {
        if (h->pos < 4 || h->pos > len || h->pos > BACKEND_HEAD_MAX ||
            memcmp(text + h->pos - 4, "\r\n\r\n", 4) != 0 || h->method == 0 ||
            h->status != 0 || (h->lengths > 0 && h->length > max_body) || h->lengths > 1 ||
            h->encodings > 1 || h->hosts > 1 || (h->chunked && h->lengths > 0))
            abort();
    } else if (rc == IOTSEC_E_BAD_ENCODING) {
        if ((h->status != 400 && h->status != 413 && h->status != 417 && h->status != 431 &&
             h->status != 501) ||
            h->code == NULL || h->why == NULL || h->line == 0)
            abort();
    } else if (rc != IOTSEC_E_TRUNCATED || h->status != 0) {
        abort();
    }
    return rc;
}

/* The same head in pieces: cut at split, then (for short inputs) one byte at a time. */
static void same_in_pieces(const char *text, size_t len, uint64_t max_body, int want,
                           const backend_head *whole, size_t split)
{
    backend_head h;
    int rc;
    size_t i;

    memset(&h, 0, sizeof h);
    rc = backend_head_check(&h, text, split, max_body);
    if (rc == IOTSEC_E_TRUNCATED)
        rc = backend_head_check(&h, text, len, max_body);
    if (rc != want || h.status != whole->status || h.pos != whole->pos)
        abort();
    if (len > 1024)
        return;
    memset(&h, 0, sizeof h);
    rc = IOTSEC_E_TRUNCATED;
    for (i = 0; i <= len && rc == IOTSEC_E_TRUNCATED; i++)
        rc = backend_head_check(&h, text, i, max_body);
    if (rc != want || h.status != whole->status || h.pos != whole->pos)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static const uint64_t limits[] = {0, 1000, UINT64_MAX};
    backend_head h;
    size_t i;
    int rc;

    for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        rc = check(&h, text, size, limits[i]);
        same_in_pieces(text, size, limits[i], rc, &h, size > 0 ? data[0] % (size + 1u) : 0);
    }
    return 0;
}
