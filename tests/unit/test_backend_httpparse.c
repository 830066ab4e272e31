/* Check suite: the backend's HTTP parsers (examples/backend/httpparse.c, RFC 9110 §14 for
 * Range). They belong to the example program, not to the library: the suite links them from
 * the internal library $(BUILD)/internal/libbackend-http.a, as their fuzz target does. */
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(make_suite());
}
