/* iotsec-backend — Range, query, payload path and Content-Type parsers (httpparse.h). */
#include "httpparse.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

#define RANGE_DIGITS_MAX 20u /* UINT64_MAX has 20 digits */
#define PAYLOAD_PREFIX "/v1/firmware/payload/"

/* Consume the digits at the cursor (at most max of them; more is an error) and parse them
 * as a strict decimal. Returns IOTSEC_OK with *present = 0 when no digit is there. */
static int take_decimal(iotsec_reader *r, size_t max, int *present, uint64_t *out)
{
    size_t n = 0;
    const uint8_t *start = iotsec_reader_bytes(r, 0);
    int c;

    while ((c = iotsec_reader_peek(r)) >= '0' && c <= '9') {
        if (++n > max)
            return IOTSEC_E_BAD_ENCODING;
        (void)iotsec_reader_u8(r);
    }
    *present = n > 0;
    if (n == 0 || start == NULL)
        return iotsec_reader_error(r);
    if (iotsec_parse_u64_dec((const char *)start, n, UINT64_MAX, out) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING; /* leading zero, or beyond 64 bits */
    return IOTSEC_OK;
}

/* Consume the literal text s if the input continues with it; 1 if it did. */
static int take_literal(iotsec_reader *r, const char *s)
{
    size_t n = strlen(s);
    const uint8_t *p;

    if (iotsec_reader_remaining(r) < n)
        return 0;
    p = iotsec_reader_bytes(r, n);
    return p != NULL && memcmp(p, s, n) == 0;
}

int backend_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                        uint64_t *last)
{
    iotsec_reader r;
    uint64_t a = 0, b = 0;
    int have_a, have_b, rc;

    if (value == NULL || first == NULL || last == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, value, len);
    if (!take_literal(&r, "bytes="))
        return IOTSEC_E_BAD_ENCODING;
    if ((rc = take_decimal(&r, RANGE_DIGITS_MAX, &have_a, &a)) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if (iotsec_reader_u8(&r) != '-' || iotsec_reader_error(&r) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if ((rc = take_decimal(&r, RANGE_DIGITS_MAX, &have_b, &b)) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if (iotsec_reader_finish(&r) != IOTSEC_OK) /* a second range, spaces, junk */
        return IOTSEC_E_BAD_ENCODING;
    if (!have_a && !have_b)
        return IOTSEC_E_BAD_ENCODING;
    if (!have_a) { /* suffix range: the last b bytes */
        if (b == 0 || size == 0)
            return IOTSEC_E_BAD_VALUE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1u;
        return IOTSEC_OK;
    }
    if (have_b && b < a)
        return IOTSEC_E_BAD_ENCODING;
    if (a >= size)
        return IOTSEC_E_BAD_VALUE;
    *first = a;
    *last = (!have_b || b >= size) ? size - 1u : b;
    return IOTSEC_OK;
}

static int class_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '~' || c == ':' || c == '@' || c == '-';
}

int backend_query_class(const char *query, size_t len, const char **cls, size_t *cls_len)
{
    iotsec_reader r;
    const uint8_t *start;
    size_t n = 0;

    if (query == NULL || cls == NULL || cls_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, query, len);
    if (!take_literal(&r, "class="))
        return IOTSEC_E_BAD_ENCODING;
    start = iotsec_reader_bytes(&r, 0);
    while (class_char(iotsec_reader_peek(&r))) {
        if (++n > BACKEND_CLASS_MAX)
            return IOTSEC_E_BAD_ENCODING;
        (void)iotsec_reader_u8(&r);
    }
    if (n == 0 || start == NULL || iotsec_reader_finish(&r) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    *cls = (const char *)start;
    *cls_len = n;
    return IOTSEC_OK;
}

int backend_payload_path(const char *path, size_t len, uint8_t digest[32])
{
    iotsec_reader r;
    const uint8_t *hex;
    size_t n = 0;

    if (path == NULL || digest == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, path, len);
    if (!take_literal(&r, PAYLOAD_PREFIX) || iotsec_reader_remaining(&r) != 64u)
        return IOTSEC_E_BAD_ENCODING;
    hex = iotsec_reader_bytes(&r, 64u);
    if (hex == NULL ||
        iotsec_hex_decode((const char *)hex, 64u, digest, 32u, &n, IOTSEC_HEX_LOWER_ONLY) !=
            IOTSEC_OK ||
        n != 32u)
        return IOTSEC_E_BAD_ENCODING;
    return IOTSEC_OK;
}

/* ASCII case-insensitive comparison of the next strlen(s) bytes with the lowercase s. */
static int take_literal_ci(iotsec_reader *r, const char *s)
{
    size_t n = strlen(s), i;
    const uint8_t *p;

    if (iotsec_reader_remaining(r) < n)
        return 0;
    p = iotsec_reader_bytes(r, n);
    if (p == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        int c = p[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != s[i])
            return 0;
    }
    return 1;
}

int backend_content_type(const char *value, size_t len, enum backend_ctype *out)
{
    iotsec_reader r;

    if (out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (value == NULL)
        return IOTSEC_E_BAD_ENCODING;
    iotsec_reader_init(&r, value, len);
    if (take_literal_ci(&r, "application/iotsec-frame") &&
        iotsec_reader_finish(&r) == IOTSEC_OK) {
        *out = BACKEND_CT_FRAME;
        return IOTSEC_OK;
    }
    iotsec_reader_init(&r, value, len);
    if (!take_literal_ci(&r, "application/json"))
        return IOTSEC_E_BAD_ENCODING;
    if (iotsec_reader_remaining(&r) > 0) {
        if (iotsec_reader_u8(&r) != ';')
            return IOTSEC_E_BAD_ENCODING;
        while (iotsec_reader_peek(&r) == ' ')
            (void)iotsec_reader_u8(&r);
        if (!take_literal_ci(&r, "charset=utf-8") || iotsec_reader_finish(&r) != IOTSEC_OK)
            return IOTSEC_E_BAD_ENCODING;
    }
    *out = BACKEND_CT_JSON;
    return IOTSEC_OK;
}
