/* Check suite: the backend's HTTP parsers (examples/backend/httpparse.c, RFC 9110 §14 for
 * Range, RFC 9112 for request heads). They belong to the example program, not to the library:
 * the suite links them from the internal library $(BUILD)/internal/libbackend-http.a, as
 * their fuzz targets do. */
#include "testutil.h"

#include <string.h>

#include "../../examples/backend/httpparse.h"

static int range(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    return backend_range_parse(v, strlen(v), size, a, b);
}

START_TEST(range_forms)
{
    uint64_t a = 99, b = 99;

    ck_assert_int_eq(range("bytes=0-99", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 99);
    ck_assert_int_eq(range("bytes=100-", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 100);
    ck_assert_uint_eq(b, 999);
    ck_assert_int_eq(range("bytes=-500", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 500);
    ck_assert_uint_eq(b, 999);
    /* suffix longer than the payload: all of it (RFC 9110 §14.1.2) */
    ck_assert_int_eq(range("bytes=-5000", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 999);
    /* last beyond the end is clamped */
    ck_assert_int_eq(range("bytes=900-5000", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 900);
    ck_assert_uint_eq(b, 999);
    ck_assert_int_eq(range("bytes=999-999", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(a, 999);
    ck_assert_uint_eq(b, 999);
    ck_assert_int_eq(range("bytes=0-18446744073709551615", 1000, &a, &b), IOTSEC_OK);
    ck_assert_uint_eq(b, 999);
}
END_TEST

START_TEST(range_unsatisfiable)
{
    uint64_t a = 7, b = 7;

    ck_assert_int_eq(range("bytes=1000-", 1000, &a, &b), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(range("bytes=1000-2000", 1000, &a, &b), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(range("bytes=-0", 1000, &a, &b), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(range("bytes=0-0", 0, &a, &b), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(range("bytes=-1", 0, &a, &b), IOTSEC_E_BAD_VALUE);
    /* nothing written on error */
    ck_assert_uint_eq(a, 7);
    ck_assert_uint_eq(b, 7);
}
END_TEST

START_TEST(range_malformed)
{
    static const char *const bad[] = {
        "",            "bytes",          "bytes=",         "bytes=-",
        "bytes=5-1",   "bytes=0-1,5-6",  "bytes= 0-1",     "bytes=0 -1",
        "bytes=0-1 ",  "Bytes=0-1",      "items=0-1",      "bytes=01-2",
        "bytes=0-02",  "bytes=+1-2",     "bytes=1--2",     "bytes=a-b",
        "bytes=0x1-2", "bytes=1-2-3",    "bytes=--1",
        "bytes=18446744073709551616-",   /* beyond 64 bits */
        "bytes=123456789012345678901-",  /* 21 digits */
    };
    uint64_t a, b;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(range(bad[i], 1000, &a, &b) == IOTSEC_E_BAD_ENCODING, "%s", bad[i]);
    /* an embedded NUL is not the end of the value */
    ck_assert_int_eq(backend_range_parse("bytes=0-1\0x", 11, 1000, &a, &b),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_range_parse(NULL, 0, 1000, &a, &b), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(backend_range_parse("bytes=0-1", 9, 1000, NULL, &b), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(query_class)
{
    const char *cls = NULL;
    size_t n = 0;
    static const char *const bad[] = {
        "",          "class=",        "class",       "klass=a",    "class=a&x=1",
        "class=a b", "class=%41",     "class=a/b",   "x=1&class=a", "class=a&class=b",
        "CLASS=a",   "class=a;",
        "class=12345678901234567890123456789012345678901234567890123456789012345",
    };
    size_t i;

    ck_assert_int_eq(backend_query_class("class=sensor-v2", 15, &cls, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(memcmp(cls, "sensor-v2", 9), 0);
    ck_assert_int_eq(backend_query_class("class=A.b_c~d:e@f-0", 19, &cls, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 13);
    ck_assert_int_eq(backend_query_class(
                         "class=1234567890123456789012345678901234567890123456789012345678901234",
                         70, &cls, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(n, 64);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(backend_query_class(bad[i], strlen(bad[i]), &cls, &n) ==
                          IOTSEC_E_BAD_ENCODING,
                      "%s", bad[i]);
    ck_assert_int_eq(backend_query_class(NULL, 0, &cls, &n), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(payload_path)
{
    static const char ok[] =
        "/v1/firmware/payload/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char bad[sizeof ok];
    uint8_t d[32];

    ck_assert_int_eq(backend_payload_path(ok, strlen(ok), d), IOTSEC_OK);
    ck_assert_uint_eq(d[0], 0xe3);
    ck_assert_uint_eq(d[31], 0x55);
    memcpy(bad, ok, sizeof ok);
    bad[21] = 'E'; /* uppercase */
    ck_assert_int_eq(backend_payload_path(bad, strlen(bad), d), IOTSEC_E_BAD_ENCODING);
    bad[21] = 'g';
    ck_assert_int_eq(backend_payload_path(bad, strlen(bad), d), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_payload_path(ok, strlen(ok) - 1, d), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_payload_path("/v1/firmware/payload/", 21, d),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_payload_path("/v1/firmware/manifest/e3", 24, d),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_payload_path(NULL, 0, d), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(content_type)
{
    enum backend_ctype ct;
    static const char *const json_ok[] = {"application/json", "Application/JSON",
                                          "application/json;charset=utf-8",
                                          "application/json; charset=UTF-8"};
    static const char *const bad[] = {"",
                                      "text/plain",
                                      "application/json; charset=latin1",
                                      "application/jsonx",
                                      "application/iotsec-frame; x=1",
                                      "application/json ;charset=utf-8",
                                      " application/json"};
    size_t i;

    ck_assert_int_eq(backend_content_type("application/iotsec-frame", 24, &ct), IOTSEC_OK);
    ck_assert_int_eq(ct, BACKEND_CT_FRAME);
    for (i = 0; i < sizeof json_ok / sizeof json_ok[0]; i++) {
        ck_assert_int_eq(backend_content_type(json_ok[i], strlen(json_ok[i]), &ct), IOTSEC_OK);
        ck_assert_int_eq(ct, BACKEND_CT_JSON);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(backend_content_type(bad[i], strlen(bad[i]), &ct) ==
                          IOTSEC_E_BAD_ENCODING,
                      "%s", bad[i]);
    ck_assert_int_eq(backend_content_type(NULL, 0, &ct), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(backend_content_type("application/json", 16, NULL), IOTSEC_E_INVALID_ARG);
}
END_TEST

/* ---- request heads (RFC 9112) ---------------------------------------------------------- */

#define HOST "Host: localhost\r\n"

/* Check a whole head in one call. */
static int head(const char *text, uint64_t max_body, backend_head *h)
{
    memset(h, 0, sizeof *h);
    return backend_head_check(h, text, strlen(text), max_body);
}

START_TEST(head_accepted)
{
    static const char *const ok[] = {
        "GET /v1/auth HTTP/1.1\r\n" HOST "\r\n",
        "GET /v1/auth HTTP/1.0\r\n\r\n", /* HTTP/1.0: Host optional */
        "GET /v1/auth HTTP/1.1\r\nhOsT: 127.0.0.1:8443\r\n\r\n",
        "GET /v1/auth HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
        "GET /v1/firmware/manifest?class=a HTTP/1.1\r\n" HOST "Accept: */*\r\n\r\n",
        "POST /v1/telemetry HTTP/1.1\r\n" HOST "Content-Length: 5\r\n\r\n",
        "POST /v1/telemetry HTTP/1.1\r\n" HOST "Content-Length: 0005\r\n\r\n",
        "POST /v1/telemetry HTTP/1.1\r\n" HOST "Transfer-Encoding: Chunked\r\n\r\n",
        "POST /v1/telemetry HTTP/1.1\r\n" HOST "Content-Length: 5\r\nExpect: 100-Continue\r\n\r\n",
        "GET / HTTP/1.1\r\n" HOST "X-A: caf\xe9 \t x\t \r\n\r\n", /* obs-text, inner HTAB, OWS */
        "GET / HTTP/1.1\r\n" HOST "X-A:\r\n\r\n",               /* empty value */
        "GET / HTTP/1.1\r\n" HOST "X-A:\tv\r\n\r\n",             /* HTAB as OWS */
        "GET / HTTP/1.1\r\n" HOST "Content-Length: 0\r\n\r\n",   /* no content on GET */
        "DELETE /x HTTP/1.1\r\n" HOST "\r\n",
        "OPTIONS * HTTP/1.1\r\n" HOST "\r\n",
        "PATCH /x HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.9\r\n" HOST "\r\n", /* a later 1.x: treated as 1.1 */
    };
    backend_head h;
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(head(ok[i], 1000, &h) == IOTSEC_OK, "%s: %s", ok[i], h.why);
        ck_assert_uint_eq(h.pos, strlen(ok[i]));
        ck_assert_int_eq(h.status, 0);
    }
    ck_assert_int_eq(head("POST /t HTTP/1.1\r\n" HOST "Content-Length: 5\r\n"
                          "Expect: 100-continue\r\n\r\nbody!",
                          1000, &h),
                     IOTSEC_OK);
    ck_assert_int_eq(h.method, BACKEND_M_POST);
    ck_assert_uint_eq(h.minor, 1);
    ck_assert_uint_eq(h.lengths, 1);
    ck_assert_uint_eq(h.length, 5);
    ck_assert_int_eq(h.expect_continue, 1);
    ck_assert_int_eq(h.chunked, 0);
    ck_assert_uint_eq(h.pos, strlen("POST /t HTTP/1.1\r\n" HOST "Content-Length: 5\r\n"
                                    "Expect: 100-continue\r\n\r\n")); /* the body is not read */
}
END_TEST

/* heads with a NUL byte: their length is not strlen */
#define NUL_VALUE "GET / HTTP/1.1\r\n" HOST "X-A: a\0b\r\n\r\n"
#define NUL_NAME "GET / HTTP/1.1\r\n" HOST "X-\0A: b\r\n\r\n"
#define NUL_LINE "GET / HTTP/1.1\0\r\n" HOST "\r\n"

START_TEST(head_refused)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        int status;
    } bad[] = {
        /* request line */
        {"\r\nGET / HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"GET  / HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"GET\t/ HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/1.1 \r\n" HOST "\r\n", 0, 400},
        {"GET /\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/1.1000000000000\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/2.0\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/1.x\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/0.9\r\n" HOST "\r\n", 0, 400},
        {"GET / http/1.1\r\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/11\r\n" HOST "\r\n", 0, 400},
        {"GET /a\x01 HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"GET /caf\xe9 HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"G(T / HTTP/1.1\r\n" HOST "\r\n", 0, 400},
        {"FOO / HTTP/1.1\r\n" HOST "\r\n", 0, 501},
        {"TRACE / HTTP/1.1\r\n" HOST "\r\n", 0, 501},
        {"CONNECT a:1 HTTP/1.1\r\n" HOST "\r\n", 0, 501},
        {"get / HTTP/1.1\r\n" HOST "\r\n", 0, 501},
        /* line endings and control characters */
        {"GET / HTTP/1.1\n" HOST "\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost: a\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X-A: a\rb\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X-A: a\x01" "b\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X-A: a\x7f" "b\r\n\r\n", 0, 400},
        {NUL_VALUE, sizeof NUL_VALUE - 1, 400},
        {NUL_NAME, sizeof NUL_NAME - 1, 400},
        {NUL_LINE, sizeof NUL_LINE - 1, 400},
        /* field lines */
        {"GET / HTTP/1.1\r\n" HOST "X-A: one\r\n two\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X-A: one\r\n\ttwo\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n " HOST "\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X-A\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST ": a\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST "X(A): a\r\n\r\n", 0, 400},
        /* Host */
        {"GET / HTTP/1.1\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\n" HOST HOST "\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost: \r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, 400},
        {"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 0, 400},
        /* Content-Length */
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3, 3\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: +3\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: -1\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 0x10\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: \r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 1 0\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length:\t3\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 99999999999999999999999abc\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 1001\r\n\r\n", 0, 413},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 18446744073709551616\r\n\r\n", 0, 413},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 1000000000000000000\r\n\r\n", 0, 413},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n", 0, 413},
        /* Transfer-Encoding */
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: identity\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: \r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked;q=1\r\n\r\n", 0, 501},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding:\tchunked\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0, 400},
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400},
        /* content where libevent would not read it */
        {"GET / HTTP/1.1\r\n" HOST "Content-Length: 5\r\n\r\n", 0, 400},
        {"HEAD / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n", 0, 400},
        {"DELETE / HTTP/1.1\r\n" HOST "Content-Length: 1\r\n\r\n", 0, 400},
        /* Expect */
        {"POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\nExpect: 200-ok\r\n\r\n", 0, 417},
        {"POST / HTTP/1.1\r\n" HOST "Expect: 100-continue\r\nExpect: 100-continue\r\n\r\n", 0, 417},
        {"POST / HTTP/1.1\r\n" HOST "Expect:\t100-continue\r\n\r\n", 0, 400},
    };
    backend_head h;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        memset(&h, 0, sizeof h);
        ck_assert_msg(backend_head_check(&h, bad[i].text, len, 1000) == IOTSEC_E_BAD_ENCODING,
                      "accepted: %s", bad[i].text);
        ck_assert_msg(h.status == bad[i].status, "%s: %d (%s), expected %d", bad[i].text,
                      h.status, h.why, bad[i].status);
        ck_assert_ptr_nonnull(h.code);
        ck_assert_ptr_nonnull(h.why);
        ck_assert_uint_ge(h.line, 1);
        /* a refused head stays refused */
        ck_assert_int_eq(backend_head_check(&h, bad[i].text, len, 1000), IOTSEC_E_BAD_ENCODING);
    }
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST "X-A: a\x01\r\n\r\n", 1000, &h),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_uint_eq(h.line, 3);
    ck_assert_int_eq(h.byte, 1);
    ck_assert_str_eq(h.code, "bad_request");
    ck_assert_int_eq(head("FOO / HTTP/1.1\r\n\r\n", 1000, &h), IOTSEC_E_BAD_ENCODING);
    ck_assert_str_eq(h.code, "not_implemented");
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST "Content-Length: 1001\r\n", 1000, &h),
                     IOTSEC_E_BAD_ENCODING); /* refused as soon as the line is complete */
    ck_assert_str_eq(h.code, "too_large");
}
END_TEST

START_TEST(head_content_length_limits)
{
    backend_head h;

    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST "Content-Length: 1000\r\n\r\n", 1000, &h),
                     IOTSEC_OK);
    ck_assert_uint_eq(h.length, 1000);
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST "Content-Length: 1\r\n\r\n", 0, &h),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(h.status, 413);
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST "Content-Length: 0\r\n\r\n", 0, &h),
                     IOTSEC_OK);
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST
                          "Content-Length: 18446744073709551615\r\n\r\n",
                          UINT64_MAX, &h),
                     IOTSEC_OK);
    ck_assert_uint_eq(h.length, UINT64_MAX);
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST
                          "Content-Length: 18446744073709551616\r\n\r\n",
                          UINT64_MAX, &h),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(h.status, 413);
    ck_assert_int_eq(head("POST / HTTP/1.1\r\n" HOST
                          "Content-Length: 0000000000000000000000000000000000000007\r\n\r\n",
                          1000, &h),
                     IOTSEC_OK);
    ck_assert_uint_eq(h.length, 7);
}
END_TEST

START_TEST(head_in_pieces)
{
    const char *text = "POST /v1/telemetry HTTP/1.1\r\n" HOST
                       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    size_t end = strlen(text) - 2, i;
    backend_head h;

    /* byte by byte: incomplete until the empty line, then complete; the body is ignored */
    memset(&h, 0, sizeof h);
    for (i = 0; i < end; i++)
        ck_assert_int_eq(backend_head_check(&h, text, i, 1000), IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(backend_head_check(&h, text, end, 1000), IOTSEC_OK);
    ck_assert_uint_eq(h.pos, end);
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, text, 10, 1000), IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(backend_head_check(&h, text, strlen(text), 1000), IOTSEC_OK);
    ck_assert_uint_eq(h.pos, end);
    /* a bad line is refused as soon as it is complete, before the head ends */
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, "GET / HTTP/2.0\r\n", 16, 1000),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_uint_eq(h.line, 1);
    /* len below what was checked, NULL */
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, text, 40, 1000), IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(backend_head_check(&h, text, 20, 1000), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(backend_head_check(NULL, text, 20, 1000), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(backend_head_check(&h, NULL, 20, 1000), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(head_size_limit)
{
    static char buf[BACKEND_HEAD_MAX + 64];
    const char *start = "GET / HTTP/1.1\r\n" HOST "X-A: ";
    size_t fill;
    backend_head h;

    /* exactly BACKEND_HEAD_MAX bytes: accepted */
    fill = BACKEND_HEAD_MAX - strlen(start) - 4;
    memcpy(buf, start, strlen(start));
    memset(buf + strlen(start), 'a', fill);
    memcpy(buf + strlen(start) + fill, "\r\n\r\n", 4);
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, buf, BACKEND_HEAD_MAX, 1000), IOTSEC_OK);
    ck_assert_uint_eq(h.pos, BACKEND_HEAD_MAX);
    /* one byte more: 431, whether the bytes come at once or bit by bit */
    memset(buf + strlen(start), 'a', fill + 1);
    memcpy(buf + strlen(start) + fill + 1, "\r\n\r\n", 4);
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, buf, BACKEND_HEAD_MAX + 1, 1000),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(h.status, 431);
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(backend_head_check(&h, buf, BACKEND_HEAD_MAX - 1, 1000),
                     IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(backend_head_check(&h, buf, BACKEND_HEAD_MAX, 1000),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(h.status, 431);
    /* many short lines up to the limit */
    memset(&h, 0, sizeof h);
    memcpy(buf, "GET / HTTP/1.1\r\n", 16);
    for (fill = 16; fill + 5 <= BACKEND_HEAD_MAX; fill += 5)
        memcpy(buf + fill, "A:b\r\n", 5);
    ck_assert_int_eq(backend_head_check(&h, buf, fill, 1000), IOTSEC_E_TRUNCATED);
    memcpy(buf + fill, "A:b\r\n", 5);
    ck_assert_int_eq(backend_head_check(&h, buf, fill + 5, 1000), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(h.status, 431);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("backend_httpparse");
    TCase *tc = tcase_create("parsers");

    tcase_add_test(tc, range_forms);
    tcase_add_test(tc, range_unsatisfiable);
    tcase_add_test(tc, range_malformed);
    tcase_add_test(tc, query_class);
    tcase_add_test(tc, payload_path);
    tcase_add_test(tc, content_type);
    tcase_add_test(tc, head_accepted);
    tcase_add_test(tc, head_refused);
    tcase_add_test(tc, head_content_length_limits);
    tcase_add_test(tc, head_in_pieces);
    tcase_add_test(tc, head_size_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(make_suite());
}
