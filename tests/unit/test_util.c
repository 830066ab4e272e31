/* Check suite: dependency-free helpers — errors, constant-time compare, base64 (RFC 4648
 * §10 vectors), hex, decimal, CRC-32 (check value), bounded reader and writer. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- errors -------------------------------------------------------------------------- */

START_TEST(test_error_names_and_ranges)
{
    static const int codes[] = {
        IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_STATE, IOTSEC_E_MALFORMED,
        IOTSEC_E_TRUNCATED, IOTSEC_E_TRAILING_DATA, IOTSEC_E_BAD_VERSION, IOTSEC_E_BAD_LENGTH,
        IOTSEC_E_BAD_ENCODING, IOTSEC_E_NON_CANONICAL, IOTSEC_E_UNKNOWN_CRITICAL,
        IOTSEC_E_MISSING_FIELD, IOTSEC_E_BAD_VALUE, IOTSEC_E_BAD_KEY, IOTSEC_E_BAD_MAC,
        IOTSEC_E_BAD_SIGNATURE, IOTSEC_E_UNKNOWN_KEY, IOTSEC_E_DIGEST_MISMATCH, IOTSEC_E_DECRYPT,
        IOTSEC_E_UNTRUSTED, IOTSEC_E_REPLAY, IOTSEC_E_ROLLBACK, IOTSEC_E_REVOKED,
        IOTSEC_E_EXPIRED, IOTSEC_E_WRONG_TARGET, IOTSEC_E_WRONG_DEVICE,
        IOTSEC_E_COUNTER_EXHAUSTED, IOTSEC_E_WRONG_DIRECTION, IOTSEC_E_IDENTITY_MISMATCH,
        IOTSEC_E_NOT_YET_VALID, IOTSEC_E_POLICY, IOTSEC_E_UNSUPPORTED, IOTSEC_E_BACKEND,
        IOTSEC_E_IO, IOTSEC_E_NO_MEMORY, IOTSEC_E_CORRUPT};
    size_t i;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        int c = codes[i];
        const char *name = iotsec_error_name(c);
        int ranges = iotsec_err_is_misuse(c) + iotsec_err_is_malformed(c) + iotsec_err_is_auth(c) +
                     iotsec_err_is_policy(c) + iotsec_err_is_backend(c);
        ck_assert_ptr_nonnull(name);
        ck_assert_msg(strncmp(iotsec_strerror(c), name, strlen(name)) == 0, "%d", c);
        ck_assert_int_eq(ranges, 1);
    }
    ck_assert_str_eq(iotsec_error_name(IOTSEC_OK), "IOTSEC_OK");
    ck_assert_ptr_null(iotsec_error_name(-99));
    ck_assert_str_eq(iotsec_strerror(-99), "IOTSEC_E_?: unknown error");
    ck_assert(iotsec_err_is_malformed(IOTSEC_E_TRUNCATED));
    ck_assert(iotsec_err_is_auth(IOTSEC_E_BAD_MAC));
    ck_assert(iotsec_err_is_policy(IOTSEC_E_REPLAY));
    ck_assert(iotsec_err_is_backend(IOTSEC_E_UNSUPPORTED));
    ck_assert(iotsec_err_is_misuse(IOTSEC_E_BUFFER_TOO_SMALL));
    ck_assert(!iotsec_err_is_misuse(IOTSEC_OK) && !iotsec_err_is_malformed(IOTSEC_OK));
    ck_assert_str_eq(iotsec_version(), IOTSEC_VERSION_STRING);
}
END_TEST

START_TEST(test_ct_compare_zeroize)
{
    uint8_t a[33], b[33];
    size_t i;

    tu_pattern(a, sizeof a, 1);
    memcpy(b, a, sizeof b);
    ck_assert_int_eq(iotsec_ct_compare(a, b, sizeof a), 0);
    ck_assert_int_eq(iotsec_ct_compare(a, b, 0), 0);
    for (i = 0; i < sizeof a; i++) {
        b[i] ^= 0x80;
        ck_assert_int_eq(iotsec_ct_compare(a, b, sizeof a), -1);
        b[i] ^= 0x80;
    }
    iotsec_zeroize(a, sizeof a);
    for (i = 0; i < sizeof a; i++)
        ck_assert_uint_eq(a[i], 0);
    iotsec_zeroize(NULL, 5); /* harmless */
}
END_TEST

/* ---- base64 -------------------------------------------------------------------------- */

START_TEST(test_base64_rfc4648_vectors)
{
    /* RFC 4648 §10 */
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];
    uint8_t dec[16];
    size_t i, n;

    for (i = 0; i < 7; i++) {
        ck_assert_int_eq(iotsec_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out,
                                              sizeof out, &n),
                         IOTSEC_OK);
        ck_assert_str_eq(out, enc[i]);
        ck_assert_uint_eq(n, strlen(enc[i]));
        ck_assert_uint_eq(IOTSEC_BASE64_ENCODED_LEN(strlen(plain[i])), n);
        ck_assert_int_eq(iotsec_base64_decode(enc[i], strlen(enc[i]), dec, sizeof dec, &n),
                         IOTSEC_OK);
        ck_assert_uint_eq(n, strlen(plain[i]));
        ck_assert(memcmp(dec, plain[i], n) == 0);
    }
}
END_TEST

START_TEST(test_base64_strict)
{
    static const struct {
        const char *in;
        int rc;
    } bad[] = {
        {"Zg=", IOTSEC_E_BAD_ENCODING},       /* missing padding */
        {"Zg", IOTSEC_E_BAD_ENCODING},        /* no padding at all */
        {"Zm9v\n", IOTSEC_E_BAD_ENCODING},    /* whitespace */
        {"Zm 9v", IOTSEC_E_BAD_ENCODING},     /* inner space (and length) */
        {"Zm9 ", IOTSEC_E_BAD_ENCODING},      /* space in a quantum */
        {"Zh==", IOTSEC_E_NON_CANONICAL},     /* non-zero trailing bits, 1 byte */
        {"Zm9=", IOTSEC_E_NON_CANONICAL},     /* non-zero trailing bits, 2 bytes */
        {"Z===", IOTSEC_E_BAD_ENCODING},      /* three pad characters */
        {"====", IOTSEC_E_BAD_ENCODING},      /* only padding */
        {"Zg==Zg==", IOTSEC_E_BAD_ENCODING},  /* padding inside */
        {"Zm9v-_==", IOTSEC_E_BAD_ENCODING},  /* URL alphabet */
        {"Zm9v*A==", IOTSEC_E_BAD_ENCODING},  /* punctuation */
        {"Zm\x80v", IOTSEC_E_BAD_ENCODING},   /* high byte */
    };
    uint8_t dec[16];
    size_t i, n = 99;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(iotsec_base64_decode(bad[i].in, strlen(bad[i].in), dec, sizeof dec, &n) ==
                          bad[i].rc,
                      "input %zu", i);
    ck_assert_uint_eq(n, 99); /* nothing written on error */
    ck_assert_int_eq(iotsec_base64_decode("Zm9vYmFy", 8, dec, 5, &n), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_base64_decode("Zm9vYmFy", 8, dec, 6, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_base64_decode(NULL, 4, dec, 6, &n), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(test_base64_roundtrip_and_capacity)
{
    uint8_t in[300], dec[300];
    char enc[IOTSEC_BASE64_ENCODED_LEN(300) + 1];
    size_t len, n, m;

    for (len = 0; len < sizeof in; len++) {
        tu_pattern(in, len, (uint32_t)len);
        ck_assert_int_eq(iotsec_base64_encode(in, len, enc, sizeof enc, &n), IOTSEC_OK);
        ck_assert_int_eq(iotsec_base64_decode(enc, n, dec, sizeof dec, &m), IOTSEC_OK);
        ck_assert_uint_eq(m, len);
        ck_assert(memcmp(in, dec, len) == 0);
    }
    /* the capacity must include the NUL */
    ck_assert_int_eq(iotsec_base64_encode(in, 3, enc, 4, &n), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_base64_encode(in, 3, enc, 5, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_base64_encode(in, 3, NULL, 5, &n), IOTSEC_E_INVALID_ARG);
}
END_TEST

/* ---- hex ----------------------------------------------------------------------------- */

START_TEST(test_hex)
{
    static const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
    char out[13];
    uint8_t dec[8];
    size_t n = 77;

    ck_assert_int_eq(iotsec_hex_encode(bytes, sizeof bytes, out, sizeof out), IOTSEC_OK);
    ck_assert_str_eq(out, "0001abcdefff");
    ck_assert_int_eq(iotsec_hex_encode(bytes, sizeof bytes, out, 12), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_hex_decode("0001ABcdEFff", 12, dec, sizeof dec, &n, 0), IOTSEC_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert(memcmp(dec, bytes, 6) == 0);
    n = 77;
    ck_assert_int_eq(iotsec_hex_decode("0001ABcdEFff", 12, dec, sizeof dec, &n,
                                       IOTSEC_HEX_LOWER_ONLY),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_hex_decode("abc", 3, dec, sizeof dec, &n, 0), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_hex_decode("0g", 2, dec, sizeof dec, &n, 0), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_hex_decode(" 0", 2, dec, sizeof dec, &n, 0), IOTSEC_E_BAD_ENCODING);
    ck_assert_uint_eq(n, 77);
    ck_assert_int_eq(iotsec_hex_decode("0011", 4, dec, 1, &n, 0), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_hex_decode("", 0, dec, 0, &n, 0), IOTSEC_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* ---- decimal --------------------------------------------------------------------------- */

START_TEST(test_decimal)
{
    uint64_t v = 0;
    char buf[20];
    size_t n;

    ck_assert_int_eq(iotsec_parse_u64_dec("0", 1, 10, &v), IOTSEC_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(iotsec_parse_u64_dec("18446744073709551615", 20, UINT64_MAX, &v), IOTSEC_OK);
    ck_assert(v == UINT64_MAX);
    ck_assert_int_eq(iotsec_parse_u64_dec("18446744073709551616", 20, UINT64_MAX, &v),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_parse_u64_dec("99999999999999999999", 20, UINT64_MAX, &v),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_parse_u64_dec("9007199254740992", 16, 9007199254740991u, &v),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_parse_u64_dec("007", 3, 10, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec("", 0, 10, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec("-1", 2, 10, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec("+1", 2, 10, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec("1e3", 3, 10000, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec("1.0", 3, 10, &v), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_parse_u64_dec(" 1", 2, 10, &v), IOTSEC_E_BAD_ENCODING);
    n = iotsec_format_u64_dec(UINT64_MAX, buf);
    ck_assert_uint_eq(n, 20);
    ck_assert(memcmp(buf, "18446744073709551615", 20) == 0);
    n = iotsec_format_u64_dec(0, buf);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(buf[0], '0');
}
END_TEST

/* ---- CRC-32 ------------------------------------------------------------------------------ */

START_TEST(test_crc32)
{
    /* CRC-32/ISO-HDLC check value (the "123456789" catalogue entry) */
    ck_assert_uint_eq(iotsec_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(iotsec_crc32(0, "", 0), 0);
    /* incremental equals one-shot */
    ck_assert_uint_eq(iotsec_crc32(iotsec_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    /* "The quick brown fox jumps over the lazy dog" */
    ck_assert_uint_eq(iotsec_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
                      0x414FA339u);
}
END_TEST

/* ---- reader / writer ------------------------------------------------------------------------ */

START_TEST(test_reader_integers_and_sticky_error)
{
    static const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    iotsec_reader r;

    iotsec_reader_init(&r, buf, sizeof buf);
    ck_assert_uint_eq(iotsec_reader_u8(&r), 0x01);
    ck_assert_uint_eq(iotsec_reader_u16(&r), 0x0203);
    ck_assert_uint_eq(iotsec_reader_u32(&r), 0x04050607u);
    ck_assert(iotsec_reader_u64(&r) == 0x08090a0b0c0d0e0fULL);
    ck_assert_int_eq(iotsec_reader_finish(&r), IOTSEC_OK);
    ck_assert_int_eq(iotsec_reader_peek(&r), -1);
    /* one read past the end: zero, sticky error, everything after returns 0 / NULL */
    ck_assert_uint_eq(iotsec_reader_u8(&r), 0);
    ck_assert_int_eq(iotsec_reader_error(&r), IOTSEC_E_TRUNCATED);
    ck_assert_ptr_null(iotsec_reader_bytes(&r, 0));
    ck_assert_uint_eq(iotsec_reader_remaining(&r), 0);
    ck_assert_int_eq(iotsec_reader_finish(&r), IOTSEC_E_TRUNCATED);

    /* a partial integer consumes nothing */
    iotsec_reader_init(&r, buf, 3);
    ck_assert_uint_eq(iotsec_reader_u32(&r), 0);
    ck_assert_int_eq(iotsec_reader_error(&r), IOTSEC_E_TRUNCATED);
    ck_assert_uint_eq(r.pos, 0);

    /* trailing data */
    iotsec_reader_init(&r, buf, sizeof buf);
    (void)iotsec_reader_u8(&r);
    ck_assert_int_eq(iotsec_reader_finish(&r), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(iotsec_reader_peek(&r), 0x02);

    /* a huge length cannot wrap the bounds check */
    iotsec_reader_init(&r, buf, sizeof buf);
    (void)iotsec_reader_u8(&r);
    ck_assert_ptr_null(iotsec_reader_bytes(&r, (size_t)-1));
    ck_assert_int_eq(iotsec_reader_error(&r), IOTSEC_E_TRUNCATED);

    /* fail() keeps the first error */
    iotsec_reader_init(&r, buf, sizeof buf);
    iotsec_reader_fail(&r, IOTSEC_E_BAD_LENGTH);
    iotsec_reader_fail(&r, IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_reader_error(&r), IOTSEC_E_BAD_LENGTH);

    /* NULL buffer reads as empty */
    iotsec_reader_init(&r, NULL, 10);
    ck_assert_uint_eq(iotsec_reader_remaining(&r), 0);
}
END_TEST

START_TEST(test_reader_bytes_and_lines)
{
    static const char text[] = "sha256:ab\r\n# comment\n\nlast";
    iotsec_reader r;
    const uint8_t *p;
    size_t n;

    iotsec_reader_init(&r, text, strlen(text));
    p = iotsec_reader_line(&r, 64, &n);
    ck_assert_uint_eq(n, 9);
    ck_assert(memcmp(p, "sha256:ab", 9) == 0);
    p = iotsec_reader_line(&r, 64, &n);
    ck_assert_uint_eq(n, 9);
    ck_assert(memcmp(p, "# comment", 9) == 0);
    p = iotsec_reader_line(&r, 64, &n);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 0);
    p = iotsec_reader_line(&r, 64, &n);
    ck_assert_uint_eq(n, 4);
    ck_assert(memcmp(p, "last", 4) == 0);
    ck_assert_ptr_null(iotsec_reader_line(&r, 64, &n));
    ck_assert_int_eq(iotsec_reader_finish(&r), IOTSEC_OK);

    iotsec_reader_init(&r, text, strlen(text));
    ck_assert_ptr_null(iotsec_reader_line(&r, 8, &n));
    ck_assert_int_eq(iotsec_reader_error(&r), IOTSEC_E_BAD_LENGTH);

    iotsec_reader_init(&r, text, 4);
    p = iotsec_reader_bytes(&r, 4);
    ck_assert_ptr_eq(p, (const uint8_t *)text);
    ck_assert_ptr_null(iotsec_reader_bytes(&r, 1));
}
END_TEST

START_TEST(test_writer)
{
    uint8_t buf[15];
    iotsec_writer w;
    uint8_t *p;

    iotsec_writer_init(&w, buf, sizeof buf);
    iotsec_writer_u8(&w, 0x01);
    iotsec_writer_u16(&w, 0x0203);
    iotsec_writer_u32(&w, 0x04050607u);
    iotsec_writer_u64(&w, 0x08090a0b0c0d0e0fULL);
    ck_assert_int_eq(iotsec_writer_error(&w), IOTSEC_OK);
    ck_assert_uint_eq(w.pos, 15);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_uint_eq(buf[14], 0x0f);
    iotsec_writer_u8(&w, 0xff); /* one past: sticky error, nothing written */
    ck_assert_int_eq(iotsec_writer_error(&w), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(w.pos, 15);

    iotsec_writer_init(&w, buf, 4);
    iotsec_writer_str(&w, "abc");
    p = iotsec_writer_reserve(&w, 1);
    ck_assert_ptr_eq(p, buf + 3);
    ck_assert_ptr_null(iotsec_writer_reserve(&w, 1));

    /* counting writer */
    iotsec_writer_init(&w, NULL, 0);
    iotsec_writer_u64(&w, 1);
    iotsec_writer_bytes(&w, "xyz", 3);
    ck_assert_int_eq(iotsec_writer_error(&w), IOTSEC_OK);
    ck_assert_uint_eq(w.pos, 11);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_error_names_and_ranges);
    tcase_add_test(tc, test_ct_compare_zeroize);
    tcase_add_test(tc, test_base64_rfc4648_vectors);
    tcase_add_test(tc, test_base64_strict);
    tcase_add_test(tc, test_base64_roundtrip_and_capacity);
    tcase_add_test(tc, test_hex);
    tcase_add_test(tc, test_decimal);
    tcase_add_test(tc, test_crc32);
    tcase_add_test(tc, test_reader_integers_and_sticky_error);
    tcase_add_test(tc, test_reader_bytes_and_lines);
    tcase_add_test(tc, test_writer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(util_suite()); }
