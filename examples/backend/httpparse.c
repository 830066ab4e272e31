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

/* ---- request heads ------------------------------------------------------------------------ */

static int is_tchar(int c)
{
    /* token = 1*tchar (RFC 9110 §5.6.2) */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-vchar, SP or HTAB: what a field value may hold (RFC 9110 §5.5, obs-text included) */
static int is_value_char(int c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

/* uri-host [":" port] (RFC 3986 reg-name, IP-literal, IPv4; percent-encoding allowed) */
static int is_host_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-._~%!$&'()*+,;=:[]", c) != NULL);
}

static int refuse(backend_head *h, int status, const char *why, int byte)
{
    static const struct {
        int status;
        const char *code;
    } codes[] = {{400, "bad_request"},        {413, "too_large"},
                 {417, "expectation_failed"}, {431, "headers_too_large"},
                 {501, "not_implemented"}};
    size_t i;

    h->status = status;
    h->code = "bad_request";
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].status == status)
            h->code = codes[i].code;
    h->why = why;
    h->line = h->lines + 1u;
    h->byte = byte;
    return IOTSEC_E_BAD_ENCODING;
}

/* ASCII case-insensitive: do the n bytes at p equal the lowercase s (of length n)? */
static int same_ci(const uint8_t *p, size_t n, const char *s)
{
    size_t i;

    if (strlen(s) != n)
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

static int request_line(backend_head *h, iotsec_reader *r)
{
    static const struct {
        const char *name;
        enum backend_method m;
    } methods[] = {{"GET", BACKEND_M_GET},         {"HEAD", BACKEND_M_HEAD},
                   {"POST", BACKEND_M_POST},       {"PUT", BACKEND_M_PUT},
                   {"DELETE", BACKEND_M_DELETE},   {"OPTIONS", BACKEND_M_OPTIONS},
                   {"PATCH", BACKEND_M_PATCH}};
    const uint8_t *method = iotsec_reader_bytes(r, 0), *version;
    size_t mlen = 0, tlen = 0, i;
    int c;

    while (is_tchar(iotsec_reader_peek(r))) {
        (void)iotsec_reader_u8(r);
        mlen++;
    }
    if (mlen == 0)
        return refuse(h, 400, iotsec_reader_remaining(r) == 0 ? "empty request line"
                                                              : "request line: no method",
                      iotsec_reader_peek(r));
    if (iotsec_reader_u8(r) != ' ')
        return refuse(h, 400, "request line: method not followed by one SP",
                      iotsec_reader_error(r) == IOTSEC_OK ? method[mlen] : -1);
    while ((c = iotsec_reader_peek(r)) >= 0x21 && c <= 0x7e) {
        (void)iotsec_reader_u8(r);
        tlen++;
    }
    if (tlen == 0)
        return refuse(h, 400, "request line: no request-target after one SP", c);
    if (iotsec_reader_u8(r) != ' ' || iotsec_reader_error(r) != IOTSEC_OK)
        return refuse(h, 400, "request line: request-target not followed by one SP", c);
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive, and nothing after it */
    version = iotsec_reader_bytes(r, 8);
    if (version == NULL || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' ||
        version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9' ||
        iotsec_reader_remaining(r) != 0)
        return refuse(h, 400, "request line: malformed HTTP-version", -1);
    if (version[5] != '1')
        return refuse(h, 400, "request line: HTTP major version other than 1", -1);
    h->minor = (unsigned)(version[7] - '0');
    for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == mlen && memcmp(methods[i].name, method, mlen) == 0)
            h->method = methods[i].m;
    if (h->method == 0)
        return refuse(h, 501, "method not implemented", -1);
    return IOTSEC_OK;
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6); a value above max_body, however long, is 413 */
static int content_length(backend_head *h, const uint8_t *v, size_t n, uint64_t max_body)
{
    uint64_t x = 0;
    size_t i;

    if (++h->lengths > 1)
        return refuse(h, 400, "more than one Content-Length field", -1);
    if (h->encodings > 0)
        return refuse(h, 400, "both Transfer-Encoding and Content-Length", -1);
    if (n == 0)
        return refuse(h, 400, "empty Content-Length", -1);
    for (i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return refuse(h, 400, "Content-Length is not a decimal number", v[i]);
    for (i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(v[i] - '0');
        /* x * 10 + d > max_body, written so that it cannot overflow */
        if (d > max_body || x > max_body / 10u || x * 10u > max_body - d)
            return refuse(h, 413, "Content-Length above --max-body", -1);
        x = x * 10u + d;
    }
    h->length = x;
    return IOTSEC_OK;
}

static int field_line(backend_head *h, iotsec_reader *r, uint64_t max_body)
{
    const uint8_t *name = iotsec_reader_bytes(r, 0), *value;
    size_t nlen = 0, vlen, i;
    int c;

    c = iotsec_reader_peek(r);
    if (c == ' ' || c == '\t')
        return refuse(h, 400, h->lines == 1 ? "whitespace before the first field line"
                                            : "obs-fold (a line starting with whitespace)",
                      c);
    while (is_tchar(iotsec_reader_peek(r))) {
        (void)iotsec_reader_u8(r);
        nlen++;
    }
    c = iotsec_reader_u8(r);
    if (iotsec_reader_error(r) != IOTSEC_OK)
        return refuse(h, 400, "field line without a colon", -1);
    if (c != ':')
        return refuse(h, 400, c == ' ' || c == '\t' ? "whitespace before the colon"
                                                    : "field name is not a token",
                      c);
    if (nlen == 0)
        return refuse(h, 400, "empty field name", -1);
    /* OWS, value, OWS */
    while ((c = iotsec_reader_peek(r)) == ' ' || c == '\t') {
        if (c == '\t' && (same_ci(name, nlen, "content-length") ||
                          same_ci(name, nlen, "transfer-encoding") ||
                          same_ci(name, nlen, "expect")))
            return refuse(h, 400, "HTAB before a framing field's value", c);
        (void)iotsec_reader_u8(r);
    }
    vlen = iotsec_reader_remaining(r);
    value = iotsec_reader_bytes(r, vlen);
    for (i = 0; value != NULL && i < vlen; i++)
        if (!is_value_char(value[i]))
            return refuse(h, 400, "control character in a field value", value[i]);
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        vlen--;

    if (same_ci(name, nlen, "host")) {
        if (++h->hosts > 1)
            return refuse(h, 400, "more than one Host field", -1);
        if (vlen == 0)
            return refuse(h, 400, "empty Host", -1);
        for (i = 0; i < vlen; i++)
            if (!is_host_char(value[i]))
                return refuse(h, 400, "malformed Host", value[i]);
    } else if (same_ci(name, nlen, "content-length")) {
        return content_length(h, value, vlen, max_body);
    } else if (same_ci(name, nlen, "transfer-encoding")) {
        if (++h->encodings > 1 || !same_ci(value, vlen, "chunked"))
            return refuse(h, 501, "Transfer-Encoding other than chunked", -1);
        if (h->minor == 0)
            return refuse(h, 400, "Transfer-Encoding in an HTTP/1.0 request", -1);
        if (h->lengths > 0)
            return refuse(h, 400, "both Transfer-Encoding and Content-Length", -1);
        h->chunked = 1;
    } else if (same_ci(name, nlen, "expect")) {
        if (++h->expects > 1 || !same_ci(value, vlen, "100-continue"))
            return refuse(h, 417, "Expect other than 100-continue", -1);
        h->expect_continue = 1;
    }
    return IOTSEC_OK;
}

/* The head is complete: what only the whole of it shows. */
static int head_end(backend_head *h)
{
    int has_body = h->chunked || (h->lengths > 0 && h->length > 0);

    if (h->minor >= 1 && h->hosts == 0)
        return refuse(h, 400, "no Host field in an HTTP/1.1 request", -1);
    if (has_body && h->method != BACKEND_M_POST && h->method != BACKEND_M_PUT &&
        h->method != BACKEND_M_PATCH)
        return refuse(h, 400, "content on a method that takes none", -1);
    return IOTSEC_OK;
}

int backend_head_check(backend_head *h, const char *buf, size_t len, uint64_t max_body)
{
    iotsec_reader all, line;
    const uint8_t *start, *lf;
    size_t n;
    int rc;

    if (h == NULL || buf == NULL || len < h->pos)
        return IOTSEC_E_INVALID_ARG;
    if (h->status != 0)
        return IOTSEC_E_BAD_ENCODING;
    iotsec_reader_init(&all, buf, len);
    (void)iotsec_reader_bytes(&all, h->pos); /* the lines checked by earlier calls */
    for (;;) {
        start = iotsec_reader_bytes(&all, 0);
        n = iotsec_reader_remaining(&all);
        if (h->pos >= BACKEND_HEAD_MAX)
            return refuse(h, 431, "request head over 8192 bytes", -1);
        if (n > BACKEND_HEAD_MAX - h->pos)
            n = BACKEND_HEAD_MAX - h->pos; /* look no further than the limit */
        lf = start != NULL ? memchr(start, '\n', n) : NULL;
        if (lf == NULL)
            return n == BACKEND_HEAD_MAX - h->pos
                       ? refuse(h, 431, "request head over 8192 bytes", -1)
                       : IOTSEC_E_TRUNCATED;
        n = (size_t)(lf - start); /* the line without its LF */
        if (n == 0 || start[n - 1] != '\r')
            return refuse(h, 400, "line ending in LF without CR", '\n');
        iotsec_reader_init(&line, start, n - 1u);
        if (memchr(start, '\r', n - 1u) != NULL)
            return refuse(h, 400, "CR inside a line", '\r');
        if (h->lines == 0)
            rc = request_line(h, &line);
        else if (n == 1) /* the empty line: end of the head */
            rc = head_end(h);
        else
            rc = field_line(h, &line, max_body);
        if (rc != IOTSEC_OK)
            return rc;
        (void)iotsec_reader_bytes(&all, n + 1u);
        h->pos += n + 1u;
        h->lines++;
        if (n == 1 && h->lines > 1)
            return IOTSEC_OK;
    }
}
