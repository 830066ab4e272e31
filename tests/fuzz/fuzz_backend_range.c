/* Fuzz target: the backend's HTTP parsers (examples/backend/httpparse.c) — the Range header,
 * the manifest query, the payload path and the Content-Type. httpparse.c has no dependency
 * beyond the static library (no libevent); this target links it from the internal library
 * $(BUILD)/internal/libbackend-http.a (tests/fuzz/build.mk).
 *
 * Coverage of httpparse.c from the corpus: every line but the NULL-argument checks (unit
 * tests, tests/unit/test_backend_httpparse.c) and one unreachable defensive return.
 *
 * Invariants checked: a parsed range lies inside the representation (first ≤ last < size);
 * a parsed class is 1–64 bytes inside the input; a parsed digest re-encodes to the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

#include "../../examples/backend/httpparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the path backend_payload_path accepts: this prefix and 64 hex digits (httpparse.h) */
#define PAYLOAD_PREFIX "/v1/firmware/payload/"

static void check_range(const char *text, size_t len, uint64_t rep)
{
    uint64_t first = 0, last = 0;
    int rc = backend_range_parse(text, len, rep, &first, &last);

    if (rc == IOTSEC_OK && (rep == 0 || first > last || last >= rep))
        abort();
    if (rc != IOTSEC_OK && rc != IOTSEC_E_BAD_ENCODING && rc != IOTSEC_E_BAD_VALUE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *cls = NULL;
    size_t cls_len = 0;
    uint8_t digest[32];
    enum backend_ctype ct;
    uint64_t rep = 0;
    size_t i;

    /* representation sizes: a few fixed ones and one taken from the input */
    for (i = 0; i < size && i < 8u; i++)
        rep = (rep << 8) | data[i];
    check_range(text, size, 0);
    check_range(text, size, 1);
    check_range(text, size, 4096);
    check_range(text, size, UINT64_MAX);
    check_range(text, size, rep);

    if (backend_query_class(text, size, &cls, &cls_len) == IOTSEC_OK &&
        (cls_len == 0 || cls_len > BACKEND_CLASS_MAX || cls < text ||
         cls + cls_len > text + size))
        abort();
    if (backend_payload_path(text, size, digest) == IOTSEC_OK) {
        char hex[65];
        if (size != strlen(PAYLOAD_PREFIX) + 64u ||
            iotsec_hex_encode(digest, 32u, hex, sizeof hex) != IOTSEC_OK ||
            memcmp(hex, text + strlen(PAYLOAD_PREFIX), 64u) != 0)
            abort();
    }
    if (backend_content_type(text, size, &ct) == IOTSEC_OK && ct != BACKEND_CT_FRAME &&
        ct != BACKEND_CT_JSON)
        abort();
    /* no Content-Type header at all */
    if (size == 0 && backend_content_type(NULL, 0, &ct) != IOTSEC_E_BAD_ENCODING)
        abort();
    return 0;
}
